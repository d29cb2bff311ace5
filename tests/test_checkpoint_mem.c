/* test_checkpoint_mem.c - nn_checkpoint_load_mem, the loader on bytes in
 * memory that the fuzz target fuzz/checkpoint_load.c drives: it reads what
 * nn_checkpoint_load reads from the same bytes, and refuses every prefix,
 * every flipped byte, an empty or NULL buffer with one line, never reading
 * past the n bytes it is given (each prefix is copied into a block of
 * exactly its size, so that a sanitizer would catch a read beyond it). */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void register_checkpoint_mem_tests(void)
{
    CU_pSuite s = fx_add_suite("checkpoint_mem");
    FX_ADD(s, test_ckmem_same_as_file);
    FX_ADD(s, test_ckmem_refusals);
}
