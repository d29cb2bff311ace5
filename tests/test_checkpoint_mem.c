/* test_checkpoint_mem.c - nn_checkpoint_load_mem, the loader on bytes in
 * memory that the fuzz target fuzz/checkpoint_load.c drives: it reads what
 * nn_checkpoint_load reads from the same bytes, and refuses every prefix,
 * every flipped byte, an empty or NULL buffer with one line, never reading
 * past the n bytes it is given (each prefix is copied into a block of
 * exactly its size, so that a sanitizer would catch a read beyond it). */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

/* The generated protobuf-c code is compiled into the test program (libnn
 * hides its copy): the crafted messages below need the packer. */
#include "nn.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static uint8_t *saved_bytes(size_t *n, char *path, size_t len)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape in = shp1(2);
    nn_module *m = NULL;
    nn_optim *o = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_from_chain(ctx, "linear out=3 ! sigmoid ! linear out=1", &in, &m, &err), err);
    CHECK_OK(nn_optim_create(ctx, "sgd", "lr=0.1 momentum=0.9", m, &o, &err), err);
    const char *tmp = getenv("TMPDIR");
    snprintf(path, len, "%s/nn-ckmem.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    const char *meta[] = {"k", "v"};
    nn_save_opts so = {.info = "mem", .date = "2024-01-01T00:00:00Z", .model = m, .optim = o,
                       .metadata = meta, .nmetadata = 1};
    CHECK_OK(nn_checkpoint_save(path, &so, &err), err);
    nn_optim_free(o);
    nn_module_free(m);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint8_t *b = malloc(1 << 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    *n = fread(b, 1, 1 << 16, f);
    fclose(f);
    CU_ASSERT_FATAL(*n > 16 && *n < 1 << 16);
    return b;
}

static void check_refused(const void *buf, size_t n)
{
    nn_checkpoint *c = (nn_checkpoint *)&c;
    char *err = NULL;
    nn_status st = nn_checkpoint_load_mem(buf, n, &c, &err);
    CU_ASSERT_EQUAL(st, NN_FORMAT);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NOT_NULL(err);
    if (err) CU_ASSERT_PTR_NULL(strchr(err, '\n'));
    nn_free(err);
    if (c && c != (nn_checkpoint *)&c) nn_checkpoint_free(c);
}

static void test_ckmem_same_as_file(void)
{
    char path[600];
    size_t n = 0;
    uint8_t *b = saved_bytes(&n, path, sizeof path);
    nn_checkpoint *a = NULL, *c = NULL;
    char *err = NULL;
    CHECK_OK(nn_checkpoint_load(path, &a, &err), err);
    CHECK_OK(nn_checkpoint_load_mem(b, n, &c, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_info(c), "mem");
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_date(c), nn_checkpoint_date(a));
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_metadata(c, "k"), "v");
    CU_ASSERT_EQUAL(nn_checkpoint_tensor_count(c), 4);
    CU_ASSERT_EQUAL(nn_checkpoint_tensor_count(c), nn_checkpoint_tensor_count(a));
    char *ca = nn_checkpoint_model_chain(a), *cc = nn_checkpoint_model_chain(c);
    CU_ASSERT_STRING_EQUAL(cc, ca);
    nn_free(ca);
    nn_free(cc);
    char *oa = nn_checkpoint_optim_spec(a), *oc = nn_checkpoint_optim_spec(c);
    CU_ASSERT_STRING_EQUAL(oc, oa);
    nn_free(oa);
    nn_free(oc);
    /* and the model it builds holds the same tensors */
    nn_module *ma = NULL, *mc = NULL;
    CHECK_OK(nn_checkpoint_build_model(a, fx_ctx(), &ma, &err), err);
    CHECK_OK(nn_checkpoint_build_model(c, fx_ctx(), &mc, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ma);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mc);
    nn_module_free(ma);
    nn_module_free(mc);
    nn_checkpoint_free(a);
    nn_checkpoint_free(c);
    unlink(path);
    free(b);
}

static void test_ckmem_refusals(void)
{
    char path[600];
    size_t n = 0;
    uint8_t *b = saved_bytes(&n, path, sizeof path);
    unlink(path);
    check_refused(NULL, 0);
    check_refused(NULL, 100);
    check_refused(b, 0);
    for (size_t k = 1; k < n; k++) {
        uint8_t *p = malloc(k);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        memcpy(p, b, k);
        check_refused(p, k);
        free(p);
    }
    for (size_t i = 0; i < n; i++) {
        b[i] ^= 0x20;
        check_refused(b, n);
        b[i] ^= 0x20;
    }
    free(b);
}

/* ---- names with control characters (found by fuzz/checkpoint_load.c) ---- */

enum { BAD_STATE, BAD_TENSOR, BAD_MODULE, BAD_PROP, BAD_DATA, BAD_NONE };

/* A framed checkpoint: linear in=2 out=1 whose names are fine, except the
 * one that `bad` picks, which holds a control character. */
static uint8_t *crafted(int bad, size_t *n)
{
    Nn__Checkpoint ck = NN__CHECKPOINT__INIT;
    Nn__Model model = NN__MODEL__INIT;
    Nn__ModuleRef ref = NN__MODULE_REF__INIT;
    Nn__Property prop = NN__PROPERTY__INIT, *props[] = {&prop};
    Nn__ModuleRef *chain[] = {&ref};
    int64_t in[] = {2}, wshape[] = {1, 2}, bshape[] = {1};
    float w[2] = {0.5f, -0.5f}, bias = 0.25f, mom[2] = {0};
    Nn__Tensor tw = NN__TENSOR__INIT, tb = NN__TENSOR__INIT, ts = NN__TENSOR__INIT;
    Nn__Tensor *tensors[] = {&tw, &tb}, *slots[] = {&ts};
    Nn__ParamState ps = NN__PARAM_STATE__INIT, *states[] = {&ps};
    Nn__Optimizer opt = NN__OPTIMIZER__INIT;
    Nn__TrainState tr = NN__TRAIN_STATE__INIT;
    ck.magic = "nn.Checkpoint";
    ck.format_version = 1;
    ck.model = &model;
    model.n_chain = 1;
    model.chain = chain;
    model.n_input_shape = 1;
    model.input_shape = in;
    ref.name = bad == BAD_MODULE ? "lin\rear" : "linear";
    ref.n_properties = 1;
    ref.properties = props;
    prop.key = "out";
    prop.value = bad == BAD_PROP ? "1\x1b" : "1";
    tw.name = bad == BAD_TENSOR ? "weight\n" : "weight";
    tw.n_shape = 2;
    tw.shape = wshape;
    tw.data = (ProtobufCBinaryData){sizeof w, (uint8_t *)w};
    tb.name = "bias";
    tb.n_shape = 1;
    tb.shape = bshape;
    tb.data = (ProtobufCBinaryData){sizeof bias, (uint8_t *)&bias};
    ck.n_tensors = 2;
    ck.tensors = tensors;
    ck.optimizer = &opt;
    opt.name = "sgd";
    opt.n_state = 1;
    opt.state = states;
    ps.param = bad == BAD_STATE ? "s\nquare_avg" : "weight";
    ps.n_slots = 1;
    ps.slots = slots;
    ts.name = "momentum_buffer";
    ts.n_shape = 2;
    ts.shape = wshape;
    ts.data = (ProtobufCBinaryData){sizeof mom, (uint8_t *)mom};
    ck.train = &tr;
    tr.rng_inc = 1;
    tr.data = bad == BAD_DATA ? "circle\nn=10" : "circle n=10";
    tr.loss = "bce";
    tr.shuffle = "epoch";
    size_t m = nn__checkpoint__get_packed_size(&ck);
    uint8_t *b = malloc(m + 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    nn__checkpoint__pack(&ck, b);
    uint8_t *t = b + m;
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)m);
    t[0] = 0x7a, t[1] = 0x0e, t[2] = 0x09, t[11] = 0x15;
    for (int i = 0; i < 8; i++) t[3 + i] = (uint8_t)((uint64_t)m >> (8 * i));
    for (int i = 0; i < 4; i++) t[12 + i] = (uint8_t)(crc >> (8 * i));
    *n = m + 16;
    return b;
}

static void test_ckmem_control_chars(void)
{
    size_t n;
    /* the names are fine: it loads (and its state is for a known parameter) */
    uint8_t *b = crafted(BAD_NONE, &n);
    nn_checkpoint *c = NULL;
    char *err = NULL;
    CHECK_OK(nn_checkpoint_load_mem(b, n, &c, &err), err);
    nn_checkpoint_free(c);
    free(b);
    for (int bad = BAD_STATE; bad < BAD_NONE; bad++) {
        b = crafted(bad, &n);
        check_refused(b, n);
        free(b);
    }
}

void register_checkpoint_mem_tests(void)
{
    CU_pSuite s = fx_add_suite("checkpoint_mem");
    FX_ADD(s, test_ckmem_same_as_file);
    FX_ADD(s, test_ckmem_refusals);
    FX_ADD(s, test_ckmem_control_chars);
}
