/* test_checkpoint.c - save, load and validation of nn.Checkpoint files.
 *
 * Round trip of every field through the C API, exact continuation of the
 * optimizer's momentum, load_state_dict refusals that leave the model and
 * the optimizer unchanged, every prefix and every flipped byte of a small
 * file, and hand-made files (protobuf-c, with the trailer computed here)
 * that are framed correctly but malformed, to show that the validator and
 * not only the checksum protects the loader. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

/* The generated protobuf-c code is compiled into the test program too: libnn
 * hides its own copy (-fvisibility=hidden), and the hand-made files below
 * need the packer. */
#include "nn.pb-c.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHAIN "linear out=5 ! sigmoid ! linear out=1 ! sigmoid"
#define CHAIN4 "linear out=4 ! sigmoid ! linear out=1 ! sigmoid"
#define CHAIN_NOBIAS "linear out=5 bias=false ! sigmoid ! linear out=1 bias=false ! sigmoid"
#define SAVED_CHAIN "linear in=0 out=5 bias=true ! sigmoid ! linear in=0 out=1 bias=true ! sigmoid"
#define SMALL "linear out=2 ! sigmoid ! linear out=1 ! sigmoid"
#define INFO "\xd0\xad\xd1\x82\xd0\xbe \xd0\xbc\xd0\xbe\xd1\x8f \xd1\x81\xd0\xb5\xd1\x82\xd1\x8c" /* Это моя сеть */

/* ---- a private temporary folder per test ------------------------------------ */

typedef struct {
    char dir[512];
    char path[640];
} tdir;

static void tdir_open(tdir *d)
{
    const char *base = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/nn-ckpt.XXXXXX", base && *base ? base : "/tmp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(d->dir));
}

/* d->dir/name (valid until the next call). */
static const char *tpath(tdir *d, const char *name)
{
    snprintf(d->path, sizeof d->path, "%s/%s", d->dir, name);
    return d->path;
}

/* Number of entries in the folder whose name contains sub. */
static int tdir_count(tdir *d, const char *sub)
{
    DIR *dp = opendir(d->dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, sub)) n++;
    closedir(dp);
    return n;
}

static void tdir_close(tdir *d)
{
    DIR *dp = opendir(d->dir);
    if (!dp) return;
    struct dirent *e;
    char p[1200];
    while ((e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", d->dir, e->d_name);
        if (unlink(p)) rmdir(p);
    }
    closedir(dp);
    rmdir(d->dir);
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t cap = 4096, len = 0;
    unsigned char *b = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    size_t r;
    while ((r = fread(b + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            CU_ASSERT_PTR_NOT_NULL_FATAL(nb);
            b = nb;
        }
    }
    fclose(f);
    *n = len;
    return b;
}

static void write_all(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL_FATAL(fwrite(p, 1, n, f), n);
    CU_ASSERT_EQUAL_FATAL(fclose(f), 0);
}

/* ---- models, optimizers, data ------------------------------------------------- */

static nn_module *model_new(nn_ctx *ctx, const char *chain)
{
    nn_shape in = shp1(2);
    nn_module *m = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_from_chain(ctx, chain, &in, &m, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    return m;
}

static nn_optim *optim_new(nn_ctx *ctx, nn_module *m, const char *words)
{
    nn_optim *o = NULL;
    char *err = NULL;
    CHECK_OK(nn_optim_create(ctx, "sgd", words, m, &o, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    return o;
}

typedef struct {
    nn_dataset *data;
    nn_loss *loss;
} task;

static void task_open(task *t, nn_ctx *ctx)
{
    char *err = NULL;
    CHECK_OK(nn_dataset_open(ctx, "circle", "n=1200", &t->data, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t->data);
    CHECK_OK(nn_loss_create(ctx, "bce", "", &t->loss, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t->loss);
    nn_free(err);
}

static void task_close(task *t)
{
    nn_loss_free(t->loss);
    nn_dataset_free(t->data);
}

/* One pass over the data in batches of `batch`, an optimizer step per batch. */
static void train_pass(task *t, nn_module *m, nn_optim *o, int64_t batch)
{
    nn_epoch_stats s;
    char *err = NULL;
    CHECK_OK(nn_fit_epoch(m, t->loss, o, t->data, batch, NULL, &s, &err), err);
    nn_free(err);
}

/* Every parameter of m, concatenated into one host array (caller frees). */
static float *params_copy(nn_module *m, int64_t *total)
{
    int n = nn_module_param_count(m);
    int64_t sum = 0;
    for (int i = 0; i < n; i++) sum += nn_tensor_numel(nn_module_param(m, i, NULL));
    float *v = malloc((size_t)(sum ? sum : 1) * sizeof *v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        nn_tensor *t = nn_module_param(m, i, NULL);
        to_host(t, v + at, nn_tensor_numel(t));
        at += nn_tensor_numel(t);
    }
    *total = sum;
    return v;
}

/* 1 when both models hold bit-identical parameters of the same sizes. */
static int same_params(nn_module *a, nn_module *b)
{
    int64_t na, nb;
    float *va = params_copy(a, &na), *vb = params_copy(b, &nb);
    int same = na == nb && memcmp(va, vb, (size_t)na * sizeof *va) == 0;
    free(va);
    free(vb);
    return same;
}

static nn_checkpoint *load_ok(const char *path)
{
    nn_checkpoint *c = NULL;
    char *err = NULL;
    CHECK_OK(nn_checkpoint_load(path, &c, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    return c;
}

static void save_ok(const char *path, const nn_save_opts *so)
{
    char *err = NULL;
    CHECK_OK(nn_checkpoint_save(path, so, &err), err);
    nn_free(err);
}

/* Loading path fails with want and a one-line message containing sub and the path. */
#define LOAD_FAILS(path, want, sub) load_fails_((path), (want), (sub), __LINE__)
static void load_fails_(const char *path, nn_status want, const char *sub, unsigned line)
{
    nn_checkpoint *c = (nn_checkpoint *)&c; /* must be reset to NULL */
    char *err = NULL;
    nn_status st = nn_checkpoint_load(path, &c, &err);
    char what[64];
    snprintf(what, sizeof what, "load (line %u)", line);
    check_status_(st, want, what, err, line, __FILE__, "load_fails");
    CU_ASSERT_PTR_NULL(c);
    check_contains_(err, sub, what, line, __FILE__, "load_fails");
    check_contains_(err, path, what, line, __FILE__, "load_fails");
    CU_ASSERT_TRUE(err && !strchr(err, '\n'));
    if (st == NN_OK) nn_checkpoint_free(c);
    nn_free(err);
}

/* ---- the round trip ------------------------------------------------------------ */

static void test_ckpt_roundtrip(void)
{
    nn_ctx *ctx = fx_ctx();
    tdir d;
    tdir_open(&d);
    task tk;
    task_open(&tk, ctx);
    nn_module *net = model_new(ctx, CHAIN);
    nn_optim *opt = optim_new(ctx, net, "lr=0.25 momentum=0.9 dampening=0.125 weight_decay=0.001");
    train_pass(&tk, net, opt, 100); /* 12 steps: momentum buffers for every parameter */
    CU_ASSERT_EQUAL_FATAL(nn_optim_steps(opt), 12);

    int64_t order[1200];
    nn_rng pr;
    nn_rng_seed(&pr, 99, 1);
    nn_rng_permutation(&pr, order, 1200);
    nn_train_state ts = {
        .epoch = 7,
        .step = 12,
        .batch = 100,
        .shuffle = NN_SHUFFLE_EPOCH,
        .seed = 0xFFFFFFFFFFFFFFF1ull,
        .rng = {0x8000000000000001ull, 0xDEADBEEFCAFEBABFull},
        .data = "circle n=1200",
        .loss = "bce",
        .device = "cpu",
        .order = order,
        .norder = 1200,
    };
    const char *meta[] = {"author", "\xd0\x9c\xd0\xb0\xd1\x80\xd0\xb8\xd1\x8f", "purpose", "tests",
                          "empty", ""};
    nn_save_opts so = {.info = INFO, .date = "2024-02-29T23:59:58+01:00", .model = net,
                       .optim = opt, .train = &ts, .metadata = meta, .nmetadata = 3};
    const char *path = tpath(&d, "rt.pb");
    save_ok(path, &so);
    nn_checkpoint *c = load_ok(path);

    CU_ASSERT_STRING_EQUAL(nn_checkpoint_info(c), INFO);
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_date(c), "2024-02-29T23:59:58+01:00");
    CU_ASSERT_EQUAL(nn_checkpoint_format(c), NN_CHECKPOINT_FORMAT);
    CU_ASSERT_EQUAL(nn_checkpoint_format(c), 1);
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_metadata(c, "author"), meta[1]);
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_metadata(c, "purpose"), "tests");
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_metadata(c, "empty"), "");
    CU_ASSERT_PTR_NULL(nn_checkpoint_metadata(c, "nosuch"));

    char *chain = nn_checkpoint_model_chain(c);
    CU_ASSERT_PTR_NOT_NULL(chain);
    if (chain) CU_ASSERT_STRING_EQUAL(chain, SAVED_CHAIN);
    nn_free(chain);
    const nn_shape *in = nn_checkpoint_input_shape(c);
    CU_ASSERT_EQUAL(in->ndim, 1);
    CU_ASSERT_EQUAL(in->dim[0], 2);
    char *spec = nn_checkpoint_optim_spec(c);
    CU_ASSERT_PTR_NOT_NULL(spec);
    if (spec)
        CU_ASSERT_STRING_EQUAL(spec, "sgd lr=0.25 momentum=0.9 dampening=0.125 "
                                     "weight_decay=0.001 nesterov=false");
    nn_free(spec);

    nn_train_state got;
    memset(&got, 0x5a, sizeof got);
    CHECK_OK(nn_checkpoint_train_state(c, &got), NULL);
    CU_ASSERT_EQUAL(got.epoch, 7);
    CU_ASSERT_EQUAL(got.step, 12);
    CU_ASSERT_EQUAL(got.batch, 100);
    CU_ASSERT_EQUAL(got.shuffle, NN_SHUFFLE_EPOCH);
    CU_ASSERT_TRUE(got.seed == 0xFFFFFFFFFFFFFFF1ull);
    CU_ASSERT_TRUE(got.rng.state == 0x8000000000000001ull);
    CU_ASSERT_TRUE(got.rng.inc == 0xDEADBEEFCAFEBABFull);
    CU_ASSERT_STRING_EQUAL(got.data, "circle n=1200");
    CU_ASSERT_STRING_EQUAL(got.loss, "bce");
    CU_ASSERT_STRING_EQUAL(got.device, "cpu");
    CU_ASSERT_EQUAL_FATAL(got.norder, 1200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got.order);
    CU_ASSERT_EQUAL(memcmp(got.order, order, sizeof order), 0);

    /* the tensors: names and shapes of the model's parameters, in order */
    CU_ASSERT_EQUAL_FATAL(nn_checkpoint_tensor_count(c), 4);
    static const char *const names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    static const nn_shape shapes[] = {{2, {5, 2}}, {1, {5}}, {2, {1, 5}}, {1, {1}}};
    for (int i = 0; i < 4; i++) {
        nn_shape s;
        memset(&s, 0x5a, sizeof s);
        const char *name = nn_checkpoint_tensor(c, i, &s);
        CU_ASSERT_PTR_NOT_NULL(name);
        if (name) CU_ASSERT_STRING_EQUAL(name, names[i]);
        CU_ASSERT_EQUAL(s.ndim, shapes[i].ndim);
        for (int k = 0; k < shapes[i].ndim; k++) CU_ASSERT_EQUAL(s.dim[k], shapes[i].dim[k]);
    }
    CU_ASSERT_PTR_NULL(nn_checkpoint_tensor(c, 4, NULL));
    CU_ASSERT_PTR_NULL(nn_checkpoint_tensor(c, -1, NULL));

    /* the model: the same tree, bit-identical parameters */
    char *err = NULL;
    nn_module *m2 = NULL;
    CHECK_OK(nn_checkpoint_build_model(c, ctx, &m2, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m2);
    CU_ASSERT_EQUAL(nn_module_child_count(m2), 4);
    CU_ASSERT_EQUAL_FATAL(nn_module_param_count(m2), 4);
    for (int i = 0; i < 4; i++) {
        const char *pn = NULL;
        nn_module_param(m2, i, &pn);
        CU_ASSERT_STRING_EQUAL(pn, names[i]);
    }
    CU_ASSERT_TRUE(same_params(net, m2));

    /* the optimizer: the same hyper-parameters, steps and momentum buffers */
    nn_optim *o2 = NULL;
    CHECK_OK(nn_checkpoint_build_optim(c, m2, &o2, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o2);
    CU_ASSERT_STRING_EQUAL(nn_optim_name(o2), "sgd");
    CU_ASSERT_EQUAL(nn_optim_steps(o2), 12);
    static const char *const keys[] = {"lr", "momentum", "dampening", "weight_decay", "nesterov"};
    for (int i = 0; i < 5; i++) {
        double a = -1, b = -2;
        CHECK_OK(nn_optim_get(opt, keys[i], &a), keys[i]);
        CHECK_OK(nn_optim_get(o2, keys[i], &b), keys[i]);
        CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0);
    }

    /* A third copy with a fresh optimizer (no momentum) shows that the
     * buffers matter for the next step. */
    nn_module *m3 = NULL;
    CHECK_OK(nn_checkpoint_build_model(c, ctx, &m3, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m3);
    nn_optim *o3 = optim_new(ctx, m3, "lr=0.25 momentum=0.9 dampening=0.125 weight_decay=0.001");

    /* one more step on the same (whole-data) batch from each */
    train_pass(&tk, net, opt, 1200);
    train_pass(&tk, m2, o2, 1200);
    train_pass(&tk, m3, o3, 1200);
    CU_ASSERT_EQUAL(nn_optim_steps(opt), 13);
    CU_ASSERT_EQUAL(nn_optim_steps(o2), 13);
    CU_ASSERT_TRUE(same_params(net, m2));  /* bit for bit */
    CU_ASSERT_FALSE(same_params(net, m3)); /* without the buffers: different */

    nn_optim_free(o3);
    nn_module_free(m3);
    nn_optim_free(o2);
    nn_module_free(m2);
    nn_checkpoint_free(c);
    nn_optim_free(opt);
    nn_module_free(net);
    task_close(&tk);
    nn_free(err);
    tdir_close(&d);
}

/* Only the model: no optimizer, no training state, no metadata, date = now. */
static void test_ckpt_model_only(void)
{
    nn_ctx *ctx = fx_ctx();
    tdir d;
    tdir_open(&d);
    nn_module *net = model_new(ctx, CHAIN);
    nn_save_opts so = {.model = net};
    const char *path = tpath(&d, "m.pb");
    save_ok(path, &so);
    nn_checkpoint *c = load_ok(path);
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_info(c), "");
    int y, mo, da, h, mi, s;
    char rest[16] = "";
    const char *date = nn_checkpoint_date(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(date);
    CU_ASSERT_EQUAL(sscanf(date, "%4d-%2d-%2dT%2d:%2d:%2d%15s", &y, &mo, &da, &h, &mi, &s, rest), 7);
    CU_ASSERT_TRUE(y >= 2020 && mo >= 1 && mo <= 12 && da >= 1 && da <= 31);
    CU_ASSERT_TRUE(rest[0] == '+' || rest[0] == '-' || rest[0] == 'Z');
    CU_ASSERT_PTR_NULL(nn_checkpoint_optim_spec(c));
    CU_ASSERT_PTR_NULL(nn_checkpoint_metadata(c, "author"));
    nn_train_state ts;
    CU_ASSERT_EQUAL(nn_checkpoint_train_state(c, &ts), NN_NOT_FOUND);
    char *err = NULL;
    nn_optim *o = (nn_optim *)&o;
    CU_ASSERT_EQUAL(nn_checkpoint_build_optim(c, net, &o, &err), NN_NOT_FOUND);
    CU_ASSERT_PTR_NULL(o);
    CHECK_CONTAINS(err, "optimizer");
    nn_free(err);
    err = NULL;
    nn_optim *sgd = optim_new(ctx, net, "lr=0.1");
    CU_ASSERT_EQUAL(nn_checkpoint_load_optim(c, sgd, &err), NN_NOT_FOUND);
    CHECK_CONTAINS(err, "optimizer");
    nn_free(err);
    err = NULL;
    nn_module *m2 = NULL;
    CHECK_OK(nn_checkpoint_build_model(c, ctx, &m2, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m2);
    CU_ASSERT_TRUE(same_params(net, m2));
    nn_module_free(m2);
    nn_optim_free(sgd);
    nn_checkpoint_free(c);
    nn_module_free(net);
    tdir_close(&d);
}

/* A second save replaces the first, atomically, and leaves no temporary file. */
static void test_ckpt_replace(void)
{
    nn_ctx *ctx = fx_ctx();
    tdir d;
    tdir_open(&d);
    nn_module *a = model_new(ctx, CHAIN), *b = model_new(ctx, CHAIN);
    CU_ASSERT_FALSE(same_params(a, b));
    char path[700];
    snprintf(path, sizeof path, "%s", tpath(&d, "r.pb"));
    nn_save_opts sa = {.info = "first", .model = a}, sb = {.info = "second", .model = b};
    save_ok(path, &sa);
    save_ok(path, &sb);
    CU_ASSERT_EQUAL(tdir_count(&d, ""), 1);
    CU_ASSERT_EQUAL(tdir_count(&d, ".tmp."), 0);
    nn_checkpoint *c = load_ok(path);
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_info(c), "second");
    char *err = NULL;
    CHECK_OK(nn_checkpoint_load_model(c, a, &err), err);
    nn_free(err);
    CU_ASSERT_TRUE(same_params(a, b));
    nn_checkpoint_free(c);
    nn_module_free(a);
    nn_module_free(b);
    tdir_close(&d);
}

/* ---- file errors ---------------------------------------------------------------- */

static void test_ckpt_file_errors(void)
{
    nn_ctx *ctx = fx_ctx();
    tdir d;
    tdir_open(&d);
    nn_module *net = model_new(ctx, CHAIN);
    char *err = NULL;

    /* saving into a missing folder */
    nn_save_opts so = {.model = net};
    char path[700];
    snprintf(path, sizeof path, "%s", tpath(&d, "missing/x.pb"));
    CU_ASSERT_EQUAL(nn_checkpoint_save(path, &so, &err), NN_IO);
    CHECK_CONTAINS(err, path);
    CHECK_CONTAINS(err, strerror(ENOENT));
    nn_free(err);
    err = NULL;

    /* saving over a folder: the rename fails, nothing is left behind */
    snprintf(path, sizeof path, "%s", tpath(&d, "adir"));
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
    nn_status st = nn_checkpoint_save(path, &so, &err);
    CU_ASSERT_NOT_EQUAL(st, NN_OK);
    CHECK_CONTAINS(err, path);
    nn_free(err);
    err = NULL;
    CU_ASSERT_EQUAL(tdir_count(&d, ".tmp."), 0);
    CU_ASSERT_EQUAL(tdir_count(&d, ""), 1);
    struct stat sb;
    CU_ASSERT_TRUE(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));

    /* no path, no model */
    CU_ASSERT_EQUAL(nn_checkpoint_save(tpath(&d, "x.pb"), &(nn_save_opts){0}, &err), NN_INVALID);
    CU_ASSERT_PTR_NOT_NULL(err);
    nn_free(err);
    err = NULL;
    CU_ASSERT_EQUAL(nn_checkpoint_save("", &so, &err), NN_INVALID);
    nn_free(err);
    err = NULL;
    CU_ASSERT_EQUAL(tdir_count(&d, ""), 1);

    /* loading what is not a checkpoint */
    snprintf(path, sizeof path, "%s", tpath(&d, "missing.pb"));
    LOAD_FAILS(path, NN_IO, strerror(ENOENT));
    snprintf(path, sizeof path, "%s", tpath(&d, "adir"));
    LOAD_FAILS(path, NN_FORMAT, "not a regular file");
    snprintf(path, sizeof path, "%s", tpath(&d, "text.pb"));
    write_all(path, "model linear out=5\n", 19);
    LOAD_FAILS(path, NN_FORMAT, "not an nn checkpoint");
    snprintf(path, sizeof path, "%s", tpath(&d, "empty.pb"));
    write_all(path, "", 0);
    LOAD_FAILS(path, NN_FORMAT, "not an nn checkpoint");
    nn_module_free(net);
    tdir_close(&d);
}

/* ---- every prefix, every flipped byte ---------------------------------------------- */

static void test_ckpt_damage(void)
{
    nn_ctx *ctx = fx_ctx();
    tdir d;
    tdir_open(&d);
    task tk;
    task_open(&tk, ctx);
    nn_module *net = model_new(ctx, SMALL);
    nn_optim *opt = optim_new(ctx, net, "lr=0.5 momentum=0.8");
    train_pass(&tk, net, opt, 600); /* 2 steps: momentum state */
    int64_t order[12] = {11, 3, 5, 7, 0, 1, 2, 4, 6, 8, 9, 10};
    nn_train_state ts = {.epoch = 2, .step = 2, .batch = 600, .shuffle = NN_SHUFFLE_EPOCH,
                         .seed = 1, .rng = {12345, 77}, .data = "circle n=1200", .loss = "bce",
                         .device = "cpu", .order = order, .norder = 12};
    const char *meta[] = {"k", "v"};
    nn_save_opts so = {.info = INFO, .date = "2024-01-01T00:00:00Z", .model = net, .optim = opt,
                       .train = &ts, .metadata = meta, .nmetadata = 1};
    char good[700], bad[700];
    snprintf(good, sizeof good, "%s", tpath(&d, "good.pb"));
    snprintf(bad, sizeof bad, "%s", tpath(&d, "bad.pb"));
    save_ok(good, &so);
    size_t n;
    unsigned char *b = read_all(good, &n);
    CU_ASSERT_FATAL(n > 100);
    unsigned char *copy = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);

    long accepted = 0, no_message = 0, tried = 0;
    long first_len = -1, first_pos = -1, first_mask = -1;
    /* every prefix: lengths 0 .. n-1 */
    for (size_t len = 0; len < n; len++) {
        write_all(bad, b, len);
        nn_checkpoint *c = NULL;
        char *err = NULL;
        nn_status st = nn_checkpoint_load(bad, &c, &err);
        tried++;
        if (st == NN_OK || c) {
            accepted++;
            if (first_len < 0) first_len = (long)len;
            nn_checkpoint_free(c);
        } else if (!err || !*err || strchr(err, '\n')) {
            no_message++;
        }
        nn_free(err);
    }
    /* every byte: each single bit, and all eight bits at once */
    for (size_t pos = 0; pos < n; pos++) {
        for (int k = 0; k <= 8; k++) {
            unsigned mask = k < 8 ? 1u << k : 0xffu;
            memcpy(copy, b, n);
            copy[pos] ^= (unsigned char)mask;
            write_all(bad, copy, n);
            nn_checkpoint *c = NULL;
            char *err = NULL;
            nn_status st = nn_checkpoint_load(bad, &c, &err);
            tried++;
            if (st == NN_OK || c) {
                accepted++;
                if (first_pos < 0) {
                    first_pos = (long)pos;
                    first_mask = (long)mask;
                }
                nn_checkpoint_free(c);
            } else if (!err || !*err || strchr(err, '\n')) {
                no_message++;
            }
            nn_free(err);
        }
    }
    if (accepted || no_message)
        fprintf(stderr, "\n  damaged files: %ld of %ld accepted (first prefix %ld, first byte %ld "
                        "^ 0x%lx), %ld refused without a message\n",
                accepted, tried, first_len, first_pos, first_mask, no_message);
    CU_ASSERT_EQUAL(tried, (long)n * 10);
    CU_ASSERT_EQUAL(accepted, 0);
    CU_ASSERT_EQUAL(no_message, 0);

    /* the harness itself: the undamaged bytes written the same way load */
    write_all(bad, b, n);
    nn_checkpoint *c = load_ok(bad);
    nn_module *m2 = NULL;
    char *err = NULL;
    CHECK_OK(nn_checkpoint_build_model(c, ctx, &m2, &err), err);
    nn_free(err);
    if (m2) CU_ASSERT_TRUE(same_params(net, m2));
    nn_module_free(m2);
    nn_checkpoint_free(c);
    /* and the messages say what is wrong */
    write_all(bad, b, n - 1);
    LOAD_FAILS(bad, NN_FORMAT, "truncated");
    memcpy(copy, b, n);
    copy[n / 2] ^= 0x10;
    write_all(bad, copy, n);
    LOAD_FAILS(bad, NN_FORMAT, "checksum");

    free(copy);
    free(b);
    nn_optim_free(opt);
    nn_module_free(net);
    task_close(&tk);
    tdir_close(&d);
}

/* ---- mismatched models and optimizers -------------------------------------------------- */

/* Saves a model of `chain` (with an sgd optimizer after one pass) to path. */
static void save_trained(nn_ctx *ctx, const char *chain, const char *path)
{
    task tk;
    task_open(&tk, ctx);
    nn_module *net = model_new(ctx, chain);
    nn_optim *opt = optim_new(ctx, net, "lr=0.5 momentum=0.8");
    train_pass(&tk, net, opt, 400);
    nn_save_opts so = {.model = net, .optim = opt};
    save_ok(path, &so);
    nn_optim_free(opt);
    nn_module_free(net);
    task_close(&tk);
}

/* load_model fails with NN_SHAPE, a message containing the given parts,
 * and leaves m's parameters as they were. */
static void load_model_refused(const nn_checkpoint *c, nn_module *m, const char *const *parts)
{
    int64_t n0, n1;
    float *before = params_copy(m, &n0);
    char *err = NULL;
    nn_status st = nn_checkpoint_load_model(c, m, &err);
    CHECK_STATUS(st, NN_SHAPE, err);
    for (; *parts; parts++) CHECK_CONTAINS(err, *parts);
    nn_free(err);
    float *after = params_copy(m, &n1);
    CU_ASSERT_EQUAL(n0, n1);
    CU_ASSERT_EQUAL(memcmp(before, after, (size_t)n0 * sizeof *before), 0);
    free(before);
    free(after);
}

static void test_ckpt_model_mismatch(void)
{
    nn_ctx *ctx = fx_ctx();
    tdir d;
    tdir_open(&d);
    char five[700], nobias[700];
    snprintf(five, sizeof five, "%s", tpath(&d, "five.pb"));
    snprintf(nobias, sizeof nobias, "%s", tpath(&d, "nobias.pb"));
    save_trained(ctx, CHAIN, five);
    save_trained(ctx, CHAIN_NOBIAS, nobias);
    nn_checkpoint *c5 = load_ok(five), *cnb = load_ok(nobias);

    /* out=4 where the file has out=5: the first mismatch, both shapes */
    nn_module *m4 = model_new(ctx, CHAIN4);
    load_model_refused(c5, m4, (const char *const[]){"'0.weight'", "[5, 2]", "[4, 2]", NULL});

    /* the file has biases the model lacks: an extra tensor */
    nn_module *mnb = model_new(ctx, CHAIN_NOBIAS);
    load_model_refused(c5, mnb, (const char *const[]){"'0.bias'", NULL});

    /* the model has biases the file lacks: a missing tensor. The model's
     * weights would match, so a partial load would show. */
    nn_module *m5 = model_new(ctx, CHAIN);
    load_model_refused(cnb, m5, (const char *const[]){"'0.bias'", NULL});

    /* and build_model of the matching kind still works */
    char *err = NULL;
    nn_module *ok = NULL;
    CHECK_OK(nn_checkpoint_build_model(cnb, ctx, &ok, &err), err);
    CU_ASSERT_PTR_NOT_NULL(ok);
    if (ok) CU_ASSERT_EQUAL(nn_module_param_count(ok), 2);
    nn_module_free(ok);
    nn_free(err);

    nn_module_free(m4);
    nn_module_free(mnb);
    nn_module_free(m5);
    nn_checkpoint_free(c5);
    nn_checkpoint_free(cnb);
    tdir_close(&d);
}

/* load_optim fails with want and a message containing sub; o keeps its
 * hyper-parameters, step count and (absent) state. */
static void load_optim_refused(const nn_checkpoint *c, nn_optim *o, nn_status want,
                               const char *sub)
{
    double lr0 = -1, lr1 = -2;
    CHECK_OK(nn_optim_get(o, "lr", &lr0), NULL);
    int64_t steps0 = nn_optim_steps(o);
    char *err = NULL;
    nn_status st = nn_checkpoint_load_optim(c, o, &err);
    CHECK_STATUS(st, want, err);
    CHECK_CONTAINS(err, sub);
    nn_free(err);
    CHECK_OK(nn_optim_get(o, "lr", &lr1), NULL);
    CU_ASSERT_EQUAL(lr0, lr1);
    CU_ASSERT_EQUAL(nn_optim_steps(o), steps0);
}

static void test_ckpt_optim_mismatch(void)
{
    nn_ctx *ctx = fx_ctx();
    tdir d;
    tdir_open(&d);
    char five[700];
    snprintf(five, sizeof five, "%s", tpath(&d, "five.pb"));
    save_trained(ctx, CHAIN, five);
    nn_checkpoint *c = load_ok(five);

    /* state for parameters ('0.bias') that the model lacks */
    nn_module *mnb = model_new(ctx, CHAIN_NOBIAS);
    nn_optim *onb = optim_new(ctx, mnb, "lr=0.125 momentum=0.5");
    load_optim_refused(c, onb, NN_SHAPE, "'0.bias'");
    /* the same through build_optim */
    char *err = NULL;
    nn_optim *o = (nn_optim *)&o;
    CU_ASSERT_NOT_EQUAL(nn_checkpoint_build_optim(c, mnb, &o, &err), NN_OK);
    CU_ASSERT_PTR_NULL(o);
    CHECK_CONTAINS(err, "'0.bias'");
    nn_free(err);
    err = NULL;

    /* state of the wrong shape */
    nn_module *m4 = model_new(ctx, CHAIN4);
    nn_optim *o4 = optim_new(ctx, m4, "lr=0.125 momentum=0.5");
    load_optim_refused(c, o4, NN_SHAPE, "[5, 2]");
    load_optim_refused(c, o4, NN_SHAPE, "[4, 2]");

    /* the right model: it loads, hyper-parameters and steps included */
    nn_module *m5 = model_new(ctx, CHAIN);
    nn_optim *o5 = optim_new(ctx, m5, "lr=0.125");
    CHECK_OK(nn_checkpoint_load_optim(c, o5, &err), err);
    double lr = 0, mom = 0;
    CHECK_OK(nn_optim_get(o5, "lr", &lr), NULL);
    CHECK_OK(nn_optim_get(o5, "momentum", &mom), NULL);
    CU_ASSERT_EQUAL(lr, 0.5);
    CU_ASSERT_EQUAL(mom, 0.8);
    CU_ASSERT_EQUAL(nn_optim_steps(o5), 3);

    nn_free(err);
    nn_optim_free(o5);
    nn_module_free(m5);
    nn_optim_free(o4);
    nn_module_free(m4);
    nn_optim_free(onb);
    nn_module_free(mnb);
    nn_checkpoint_free(c);
    tdir_close(&d);
}

/* ---- hand-made files ------------------------------------------------------------------- */

static uint32_t crc32_zlib(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* payload || 0x7a 0x0e 0x09 <u64 LE length> 0x15 <u32 LE crc32> */
static void write_framed(const char *path, const unsigned char *payload, size_t n)
{
    unsigned char *b = malloc(n + 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    memcpy(b, payload, n);
    unsigned char *t = b + n;
    t[0] = 0x7a;
    t[1] = 0x0e;
    t[2] = 0x09;
    for (int i = 0; i < 8; i++) t[3 + i] = (unsigned char)((uint64_t)n >> (8 * i));
    t[11] = 0x15;
    uint32_t crc = crc32_zlib(payload, n);
    for (int i = 0; i < 4; i++) t[12 + i] = (unsigned char)(crc >> (8 * i));
    write_all(path, b, n + 16);
    free(b);
}

static void write_message(const char *path, const Nn__Checkpoint *ck)
{
    size_t n = nn__checkpoint__get_packed_size(ck);
    unsigned char *p = malloc(n ? n : 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(nn__checkpoint__pack(ck, p), n);
    write_framed(path, p, n);
    free(p);
}

/* A complete, valid checkpoint of CHAIN built field by field; the tests
 * below break one thing at a time. Every pointer is into this struct or a
 * literal, so nothing is freed. */
typedef struct craft {
    Nn__Checkpoint ck;
    Nn__Model model;
    Nn__ModuleRef ref[4];
    Nn__ModuleRef *refp[4];
    Nn__Property lprop[2][3];
    Nn__Property *lpropp[2][3];
    int64_t input[1];
    Nn__Tensor t[4];
    Nn__Tensor *tp[4];
    int64_t shape[4][NN_MAX_DIMS + 2];
    float data[4][10];
    Nn__Optimizer opt;
    Nn__Property hp[2];
    Nn__Property *hpp[2];
    Nn__ParamState ps[2];
    Nn__ParamState *psp[2];
    Nn__Tensor slot[2];
    Nn__Tensor *slotp[2][1];
    int64_t slotshape[2][2];
    float slotdata[2][10];
    Nn__TrainState train;
    Nn__Checkpoint__MetadataEntry meta;
    Nn__Checkpoint__MetadataEntry *metap[1];
} craft;

static void set_prop(Nn__Property *p, const char *k, const char *v)
{
    nn__property__init(p);
    p->key = (char *)k;
    p->value = (char *)v;
}

static void set_tensor(Nn__Tensor *t, const char *name, int64_t *shape, int ndim, const int64_t *dims,
                       float *data, int seed)
{
    nn__tensor__init(t);
    t->name = (char *)name;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        shape[i] = dims[i];
        numel *= dims[i];
    }
    t->n_shape = (size_t)ndim;
    t->shape = shape;
    for (int64_t i = 0; i < numel; i++) data[i] = 0.125f * (float)(seed + i) - 0.5f;
    t->data.len = (size_t)numel * sizeof(float);
    t->data.data = (uint8_t *)data;
}

static void craft_init(craft *c)
{
    memset(c, 0, sizeof *c);
    nn__checkpoint__init(&c->ck);
    c->ck.magic = "nn.Checkpoint";
    c->ck.format_version = 1;
    c->ck.info = "crafted";
    c->ck.date = "2024-01-01T00:00:00Z";
    nn__model__init(&c->model);
    static const char *const mods[] = {"linear", "sigmoid", "linear", "sigmoid"};
    static const char *const types[] = {"Linear", "Sigmoid", "Linear", "Sigmoid"};
    for (int i = 0; i < 4; i++) {
        nn__module_ref__init(&c->ref[i]);
        c->ref[i].name = (char *)mods[i];
        c->ref[i].version = "1.0";
        c->ref[i].type = (char *)types[i];
        c->refp[i] = &c->ref[i];
    }
    for (int l = 0; l < 2; l++) {
        set_prop(&c->lprop[l][0], "in", "0");
        set_prop(&c->lprop[l][1], "out", l == 0 ? "5" : "1");
        set_prop(&c->lprop[l][2], "bias", "true");
        for (int k = 0; k < 3; k++) c->lpropp[l][k] = &c->lprop[l][k];
        c->ref[2 * l].properties = c->lpropp[l];
        c->ref[2 * l].n_properties = 3;
    }
    c->model.chain = c->refp;
    c->model.n_chain = 4;
    c->input[0] = 2;
    c->model.input_shape = c->input;
    c->model.n_input_shape = 1;
    c->ck.model = &c->model;

    static const char *const names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    static const int64_t dims[4][2] = {{5, 2}, {5, 0}, {1, 5}, {1, 0}};
    static const int nd[] = {2, 1, 2, 1};
    for (int i = 0; i < 4; i++) {
        set_tensor(&c->t[i], names[i], c->shape[i], nd[i], dims[i], c->data[i], i);
        c->tp[i] = &c->t[i];
    }
    c->ck.tensors = c->tp;
    c->ck.n_tensors = 4;

    nn__optimizer__init(&c->opt);
    c->opt.name = "sgd";
    c->opt.version = "1.0";
    set_prop(&c->hp[0], "lr", "0.5");
    set_prop(&c->hp[1], "momentum", "0.8");
    c->hpp[0] = &c->hp[0];
    c->hpp[1] = &c->hp[1];
    c->opt.hyperparameters = c->hpp;
    c->opt.n_hyperparameters = 2;
    static const char *const pnames[] = {"0.weight", "2.bias"};
    for (int i = 0; i < 2; i++) {
        nn__param_state__init(&c->ps[i]);
        c->ps[i].param = (char *)pnames[i];
        set_tensor(&c->slot[i], "momentum_buffer", c->slotshape[i], nd[3 * i], dims[3 * i],
                   c->slotdata[i], 10 + i);
        c->slotp[i][0] = &c->slot[i];
        c->ps[i].slots = c->slotp[i];
        c->ps[i].n_slots = 1;
        c->psp[i] = &c->ps[i];
    }
    c->opt.state = c->psp;
    c->opt.n_state = 2;
    c->opt.steps = 3;
    c->ck.optimizer = &c->opt;

    nn__train_state__init(&c->train);
    c->train.epoch = 1;
    c->train.step = 3;
    c->train.rng_state = 42;
    c->train.rng_inc = 7;
    c->train.data = "circle n=1200";
    c->train.loss = "bce";
    c->train.batch = 400;
    c->train.shuffle = "epoch";
    c->train.seed = 1;
    c->train.device = "cpu";
    c->ck.train = &c->train;

    nn__checkpoint__metadata_entry__init(&c->meta);
    c->meta.key = "k";
    c->meta.value = "v";
    c->metap[0] = &c->meta;
    c->ck.metadata = c->metap;
    c->ck.n_metadata = 1;
}

/* The hand-made file, unchanged, is a good checkpoint: the harness is right. */
static void test_ckpt_crafted_valid(void)
{
    nn_ctx *ctx = fx_ctx();
    tdir d;
    tdir_open(&d);
    craft cr;
    craft_init(&cr);
    const char *path = tpath(&d, "valid.pb");
    write_message(path, &cr.ck);
    nn_checkpoint *c = load_ok(path);
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_info(c), "crafted");
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_metadata(c, "k"), "v");
    char *chain = nn_checkpoint_model_chain(c);
    CU_ASSERT_PTR_NOT_NULL(chain);
    if (chain) CU_ASSERT_STRING_EQUAL(chain, SAVED_CHAIN);
    nn_free(chain);
    char *err = NULL;
    nn_module *m = NULL;
    CHECK_OK(nn_checkpoint_build_model(c, ctx, &m, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    float w[10];
    to_host(nn_module_param(m, 0, NULL), w, 10);
    CU_ASSERT_EQUAL(memcmp(w, cr.data[0], sizeof w), 0);
    nn_optim *o = NULL;
    CHECK_OK(nn_checkpoint_build_optim(c, m, &o, &err), err);
    CU_ASSERT_PTR_NOT_NULL(o);
    if (o) CU_ASSERT_EQUAL(nn_optim_steps(o), 3);
    nn_train_state ts;
    CHECK_OK(nn_checkpoint_train_state(c, &ts), NULL);
    CU_ASSERT_EQUAL(ts.batch, 400);
    CU_ASSERT_EQUAL(ts.norder, 0);
    nn_optim_free(o);
    nn_module_free(m);
    nn_checkpoint_free(c);
    nn_free(err);

    /* the trailer as the writer makes it: the same bytes for the same message */
    nn_module *net = model_new(ctx, CHAIN);
    nn_save_opts so = {.info = "x", .date = "d", .model = net};
    char saved[700];
    snprintf(saved, sizeof saved, "%s", tpath(&d, "saved.pb"));
    save_ok(saved, &so);
    size_t n;
    unsigned char *b = read_all(saved, &n);
    CU_ASSERT_FATAL(n > 16);
    write_framed(tpath(&d, "reframed.pb"), b, n - 16);
    size_t n2;
    unsigned char *b2 = read_all(tpath(&d, "reframed.pb"), &n2);
    CU_ASSERT_EQUAL(n, n2);
    CU_ASSERT_EQUAL(memcmp(b, b2, n < n2 ? n : n2), 0);
    free(b);
    free(b2);
    nn_module_free(net);
    tdir_close(&d);
}

/* Each case: one change to a valid craft, refused at load with NN_FORMAT and a
 * message containing `sub`. */
typedef void (*breaker)(craft *c);

static void brk_data_len(craft *c) { c->t[0].data.len = 9 * sizeof(float); }
static void brk_negative_dim(craft *c) { c->shape[0][0] = -5; }
static void brk_dim_2_62(craft *c) { c->shape[0][0] = (int64_t)1 << 62; }
static void brk_dim_2_63m(craft *c) { c->shape[0][0] = INT64_MAX; }
/* each dimension small enough, their product 2^64 * 10 wraps to 0 bytes */
static void brk_wrap(craft *c)
{
    c->t[0].n_shape = 3;
    c->shape[0][0] = (int64_t)1 << 40;
    c->shape[0][1] = (int64_t)1 << 22;
    c->shape[0][2] = 10;
    c->t[0].data.len = 0;
}
/* 2^40 in each of eight dimensions, with 40 bytes of data */
static void brk_overflow8(craft *c)
{
    c->t[0].n_shape = 8;
    for (int i = 0; i < 8; i++) c->shape[0][i] = (int64_t)1 << 40;
}
static void brk_nine_dims(craft *c)
{
    c->t[3].n_shape = 9;
    for (int i = 0; i < 9; i++) c->shape[3][i] = 1;
}
static void brk_duplicate(craft *c) { c->t[3].name = "0.bias"; }
static void brk_format2(craft *c) { c->ck.format_version = 2; }
static void brk_format0(craft *c) { c->ck.format_version = 0; }
static void brk_no_model(craft *c) { c->ck.model = NULL; }
static void brk_empty_chain(craft *c) { c->model.n_chain = 0; }
static void brk_no_name(craft *c) { c->t[1].name = ""; }
static void brk_dtype(craft *c) { c->t[2].dtype = (Nn__Tensor__DType)7; }
static void brk_magic(craft *c) { c->ck.magic = "nn.Checkpoinx"; }
static void brk_no_magic(craft *c) { c->ck.magic = ""; }
static void brk_input_dim(craft *c) { c->input[0] = -2; }
static void brk_prop_inject(craft *c) { c->lprop[0][1].value = "5 ! nosuch"; }
static void brk_prop_key(craft *c) { c->lprop[0][1].key = "out=5"; }
static void brk_module_name(craft *c) { c->ref[1].name = ""; }
static void brk_module_space(craft *c) { c->ref[1].name = "sig moid"; }
static void brk_optim_name(craft *c) { c->opt.name = ""; }
static void brk_hparam(craft *c) { c->hp[0].value = "0.5 momentum=0"; }
static void brk_state_dup(craft *c) { c->ps[1].param = "0.weight"; }
static void brk_state_noname(craft *c) { c->ps[1].param = ""; }
static void brk_slot_len(craft *c) { c->slot[0].data.len = 4; }
static void brk_slot_dim(craft *c) { c->slotshape[0][1] = -1; }
static void brk_epoch(craft *c) { c->train.epoch = -1; }
static void brk_rng_inc(craft *c) { c->train.rng_inc = 8; }
static void brk_shuffle(craft *c) { c->train.shuffle = "sometimes"; }
static void brk_batch(craft *c) { c->train.batch = -100; }

typedef struct {
    const char *what;
    breaker fn;
    const char *sub; /* in the message */
} brk_case;

static const brk_case brk_cases[] = {
    {"shape x 4 != data length", brk_data_len, "0.weight"},
    {"a negative dimension", brk_negative_dim, "-5"},
    {"a dimension of 2^62", brk_dim_2_62, "0.weight"},
    {"a dimension of 2^63-1", brk_dim_2_63m, "0.weight"},
    {"dimensions whose byte count wraps to 0", brk_wrap, "0.weight"},
    {"eight dimensions of 2^40", brk_overflow8, "0.weight"},
    {"nine dimensions", brk_nine_dims, "9 dimensions"},
    {"duplicate tensor names", brk_duplicate, "'0.bias' appears twice"},
    {"format_version 2", brk_format2, "newer"},
    {"format_version 0", brk_format0, "format version"},
    {"no model", brk_no_model, "without a model"},
    {"an empty chain", brk_empty_chain, "without a model"},
    {"a tensor without a name", brk_no_name, "without a name"},
    {"an unknown dtype", brk_dtype, "dtype"},
    {"a wrong magic", brk_magic, "not an nn checkpoint"},
    {"no magic", brk_no_magic, "not an nn checkpoint"},
    {"a negative input dimension", brk_input_dim, "model input"},
    {"a property value with a '!'", brk_prop_inject, "malformed"},
    {"a property key with a '='", brk_prop_key, "malformed"},
    {"a module without a name", brk_module_name, "malformed"},
    {"a module name with a space", brk_module_space, "malformed"},
    {"an optimizer without a name", brk_optim_name, "optimizer"},
    {"a hyper-parameter value with a space", brk_hparam, "optimizer"},
    {"optimizer state for one parameter twice", brk_state_dup, "appears twice"},
    {"optimizer state without a parameter name", brk_state_noname, "parameter name"},
    {"a state tensor with the wrong data length", brk_slot_len, "momentum_buffer"},
    {"a state tensor with a negative dimension", brk_slot_dim, "-1"},
    {"a negative epoch", brk_epoch, "training state"},
    {"an even RNG increment", brk_rng_inc, "training state"},
    {"shuffle 'sometimes'", brk_shuffle, "training state"},
    {"a negative batch", brk_batch, "training state"},
};

static void test_ckpt_crafted_invalid(void)
{
    tdir d;
    tdir_open(&d);
    for (size_t i = 0; i < sizeof brk_cases / sizeof *brk_cases; i++) {
        craft cr;
        craft_init(&cr);
        brk_cases[i].fn(&cr);
        char path[700];
        snprintf(path, sizeof path, "%s/case%02zu.pb", d.dir, i);
        write_message(path, &cr.ck);
        nn_checkpoint *c = (nn_checkpoint *)&c;
        char *err = NULL;
        nn_status st = nn_checkpoint_load(path, &c, &err);
        char what[160];
        snprintf(what, sizeof what, "case %zu (%s)", i, brk_cases[i].what);
        check_status_(st, NN_FORMAT, what, err, __LINE__, __FILE__, __func__);
        CU_ASSERT_PTR_NULL(c);
        check_contains_(err, brk_cases[i].sub, what, __LINE__, __FILE__, __func__);
        check_contains_(err, path, what, __LINE__, __FILE__, __func__);
        if (st == NN_OK) nn_checkpoint_free(c);
        nn_free(err);
    }
    /* format 2 asks for an upgrade */
    craft cr;
    craft_init(&cr);
    brk_format2(&cr);
    write_message(tpath(&d, "f2.pb"), &cr.ck);
    LOAD_FAILS(d.path, NN_FORMAT, "upgrade");

    /* correctly framed, the right magic, then bytes that are no message */
    static const unsigned char junk[] = {0x0a, 0x0d, 'n', 'n', '.', 'C', 'h', 'e', 'c', 'k', 'p',
                                         'o',  'i',  'n', 't', 0x12, 0xff, 0xff, 0xff, 0xff, 0xff};
    write_framed(tpath(&d, "junk.pb"), junk, sizeof junk);
    LOAD_FAILS(d.path, NN_FORMAT, "not a valid nn.Checkpoint message");
    /* a length-delimited field that claims more bytes than there are */
    static const unsigned char longer[] = {0x0a, 0x0d, 'n', 'n', '.', 'C', 'h', 'e', 'c', 'k', 'p',
                                           'o',  'i',  'n', 't', 0x32, 0x80, 0x80, 0x80, 0x80, 0x10};
    write_framed(tpath(&d, "longer.pb"), longer, sizeof longer);
    LOAD_FAILS(d.path, NN_FORMAT, "not a valid nn.Checkpoint message");
    tdir_close(&d);
}

/* Well-formed files that do not fit the optimizer they are loaded into. */
static void test_ckpt_crafted_optim(void)
{
    nn_ctx *ctx = fx_ctx();
    tdir d;
    tdir_open(&d);
    char *err = NULL;

    /* another optimizer kind */
    craft cr;
    craft_init(&cr);
    cr.opt.name = "adam";
    cr.hp[1].key = "beta1";
    cr.hp[1].value = "0.9";
    cr.slot[0].name = "exp_avg";
    cr.slot[1].name = "exp_avg";
    write_message(tpath(&d, "adam.pb"), &cr.ck);
    nn_checkpoint *c = load_ok(d.path);
    char *spec = nn_checkpoint_optim_spec(c);
    CU_ASSERT_PTR_NOT_NULL(spec);
    if (spec) CU_ASSERT_STRING_EQUAL(spec, "adam lr=0.5 beta1=0.9");
    nn_free(spec);
    nn_module *m = NULL;
    CHECK_OK(nn_checkpoint_build_model(c, ctx, &m, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    nn_optim *sgd = optim_new(ctx, m, "lr=0.125 momentum=0.5");
    load_optim_refused(c, sgd, NN_INVALID, "'adam'");
    load_optim_refused(c, sgd, NN_INVALID, "'sgd'");
    nn_optim *o = (nn_optim *)&o;
    CU_ASSERT_NOT_EQUAL(nn_checkpoint_build_optim(c, m, &o, &err), NN_OK);
    CU_ASSERT_PTR_NULL(o);
    CHECK_CONTAINS(err, "adam");
    nn_free(err);
    err = NULL;
    nn_checkpoint_free(c);

    /* sgd, but a state slot sgd does not have */
    craft_init(&cr);
    cr.slot[1].name = "exp_avg";
    write_message(tpath(&d, "slot.pb"), &cr.ck);
    c = load_ok(d.path);
    load_optim_refused(c, sgd, NN_INVALID, "'exp_avg'");
    nn_checkpoint_free(c);

    /* sgd, state for a parameter this model does not have */
    craft_init(&cr);
    cr.ps[1].param = "4.weight";
    write_message(tpath(&d, "param.pb"), &cr.ck);
    c = load_ok(d.path);
    load_optim_refused(c, sgd, NN_SHAPE, "'4.weight'");
    nn_checkpoint_free(c);

    /* sgd, a hyper-parameter it does not know, and a value it refuses */
    craft_init(&cr);
    cr.hp[1].key = "beta1";
    write_message(tpath(&d, "hkey.pb"), &cr.ck);
    c = load_ok(d.path);
    load_optim_refused(c, sgd, NN_INVALID, "beta1");
    nn_checkpoint_free(c);
    craft_init(&cr);
    cr.hp[0].value = "abc";
    write_message(tpath(&d, "hval.pb"), &cr.ck);
    c = load_ok(d.path);
    load_optim_refused(c, sgd, NN_INVALID, "lr");
    nn_checkpoint_free(c);
    craft_init(&cr);
    cr.hp[0].key = "nesterov";
    cr.hp[0].value = "true"; /* without momentum: refused by sgd's validate */
    cr.hp[1].value = "0";
    write_message(tpath(&d, "nest.pb"), &cr.ck);
    c = load_ok(d.path);
    load_optim_refused(c, sgd, NN_INVALID, "nesterov");
    nn_checkpoint_free(c);

    /* a module the registry does not know: the model cannot be built */
    craft_init(&cr);
    cr.ref[1].name = "nosuch";
    write_message(tpath(&d, "mod.pb"), &cr.ck);
    c = load_ok(d.path);
    nn_module *m2 = (nn_module *)&m2;
    CU_ASSERT_NOT_EQUAL(nn_checkpoint_build_model(c, ctx, &m2, &err), NN_OK);
    CU_ASSERT_PTR_NULL(m2);
    CHECK_CONTAINS(err, "nosuch");
    nn_free(err);
    err = NULL;
    nn_checkpoint_free(c);

    nn_optim_free(sgd);
    nn_module_free(m);
    tdir_close(&d);
}

void register_checkpoint_tests(void)
{
    CU_pSuite s = fx_add_suite("checkpoint");
    FX_ADD(s, test_ckpt_roundtrip);
    FX_ADD(s, test_ckpt_model_only);
    FX_ADD(s, test_ckpt_replace);
    FX_ADD(s, test_ckpt_file_errors);
    FX_ADD(s, test_ckpt_damage);
    FX_ADD(s, test_ckpt_model_mismatch);
    FX_ADD(s, test_ckpt_optim_mismatch);
    FX_ADD(s, test_ckpt_crafted_valid);
    FX_ADD(s, test_ckpt_crafted_invalid);
    FX_ADD(s, test_ckpt_crafted_optim);
}
