/* test_errors.c - plugin mistakes the core must catch and name: a forward
 * that returns NULL without recording why, a module whose output differs
 * from the shape its init declared, a loss that is not one element, a
 * dataset that fails to read a sample, or a part of a batch gathered on
 * the device's threads; and nn_ctx_set_error, the call a
 * plugin records its own reason with. The components are the program's own
 * (nn_registry_add), added to the shared registry on first use. */
#include "test.h"

#include <nn/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the components ------------------------------------------------------- */

static nn_status same_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                           char **err)
{
    (void)m, (void)p, (void)err;
    *out = *in;
    return NN_OK;
}

/* Declares one output per sample but passes its input through. */
static nn_status one_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                          char **err)
{
    (void)m, (void)p, (void)in, (void)err;
    *out = (nn_shape){1, {1}};
    return NN_OK;
}

static nn_tensor *noout_forward(nn_module *m, nn_tensor *x)
{
    (void)m, (void)x;
    return NULL; /* and no error recorded: the mistake under test */
}

static nn_tensor *failfwd_forward(nn_module *m, nn_tensor *x)
{
    (void)m;
    nn_ctx_set_error(nn_tensor_ctx(x), NN_INVALID, "failfwd: %s", "the weights are not loaded");
    return NULL;
}

static nn_tensor *sigmoid_forward(nn_module *m, nn_tensor *x)
{
    (void)m;
    return nn_sigmoid(x);
}

static const nn_module_vt noout_vt = {
    NN_VT_HEADER(nn_module_vt), .type_name = "NoOut", .init = same_init, .forward = noout_forward,
};
static const nn_module_vt failfwd_vt = {
    NN_VT_HEADER(nn_module_vt), .type_name = "FailFwd", .init = same_init,
    .forward = failfwd_forward,
};
static const nn_module_vt wrongshape_vt = {
    NN_VT_HEADER(nn_module_vt), .type_name = "WrongShape", .init = one_init,
    .forward = sigmoid_forward,
};

static nn_tensor *noloss_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    (void)l, (void)pred, (void)target;
    return NULL;
}

static nn_tensor *vecloss_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    (void)l;
    nn_tensor *d = nn_sub(pred, target);
    return nn_mul(d, d); /* forgot the mean */
}

static const nn_loss_vt noloss_vt = {
    NN_VT_HEADER(nn_loss_vt), .type_name = "NoLoss", .forward = noloss_forward,
};
static const nn_loss_vt vecloss_vt = {
    NN_VT_HEADER(nn_loss_vt), .type_name = "VecLoss", .forward = vecloss_forward,
};

/* n samples of [2] -> [1]; sample 2 and later cannot be read. */
static const nn_prop_def bad_props[] = {
    {"n", NN_PROP_INT, "300", 1, 100000, NULL, "number of samples"},
};

static nn_status bad_open(const nn_props *p, void **priv, int64_t *len, nn_shape *input,
                          nn_shape *target, char **err)
{
    (void)err;
    *priv = NULL;
    *len = nn_props_int(p, 0);
    *input = (nn_shape){1, {2}};
    *target = (nn_shape){1, {1}};
    return NN_OK;
}

static nn_status bad_get(void *priv, int64_t i, float *x, float *y, char **err)
{
    (void)priv;
    if (i >= 2) return nn_fail(err, NN_IO, "the file ends before sample %lld", (long long)i);
    x[0] = x[1] = y[0] = 0.5f;
    return NN_OK;
}

static nn_status bad_get_batch(void *priv, const int64_t *idx, int64_t n, float *x, float *y,
                               char **err)
{
    (void)priv, (void)idx, (void)n, (void)x, (void)y;
    return nn_fail(err, NN_IO, "the batch file is truncated");
}

/* n samples of [1024] -> [1], whose get_batch may run on several threads
 * at once: sample i's row is i, i + 1, ...; a call asked for sample 60 or
 * later fails. */
static nn_status wide_open(const nn_props *p, void **priv, int64_t *len, nn_shape *input,
                           nn_shape *target, char **err)
{
    (void)err;
    *priv = NULL;
    *len = nn_props_int(p, 0);
    *input = (nn_shape){1, {1024}};
    *target = (nn_shape){1, {1}};
    return NN_OK;
}

static nn_status wide_get_batch(void *priv, const int64_t *idx, int64_t n, float *x, float *y,
                                char **err)
{
    (void)priv;
    for (int64_t k = 0; k < n; k++) {
        if (idx[k] >= 60) return nn_fail(err, NN_IO, "sample %lld is gone", (long long)idx[k]);
        for (int j = 0; j < 1024; j++) x[k * 1024 + j] = (float)(idx[k] + j);
        y[k] = (float)(idx[k] % 2);
    }
    return NN_OK;
}

static nn_status wide_get(void *priv, int64_t i, float *x, float *y, char **err)
{
    return wide_get_batch(priv, &i, 1, x, y, err);
}

static const nn_dataset_vt wide_vt = {
    NN_VT_HEADER(nn_dataset_vt), .open = wide_open, .get = wide_get,
    .get_batch = wide_get_batch, .flags = NN_DATASET_BATCH_THREADS,
};

static const nn_dataset_vt baddata_vt = {
    NN_VT_HEADER(nn_dataset_vt), .open = bad_open, .get = bad_get,
};
static const nn_dataset_vt badbatch_vt = {
    NN_VT_HEADER(nn_dataset_vt), .open = bad_open, .get = bad_get, .get_batch = bad_get_batch,
};

static const nn_component_def components[] = {
    {NN_KIND_MODULE, "noout", "returns NULL, records nothing", &noout_vt, NULL, 0},
    {NN_KIND_MODULE, "failfwd", "records its own error", &failfwd_vt, NULL, 0},
    {NN_KIND_MODULE, "wrongshape", "declares [1], returns its input's shape", &wrongshape_vt,
     NULL, 0},
    {NN_KIND_LOSS, "noloss", "returns NULL, records nothing", &noloss_vt, NULL, 0},
    {NN_KIND_LOSS, "vecloss", "returns one loss per element", &vecloss_vt, NULL, 0},
    {NN_KIND_DATASET, "baddata", "fails from sample 2 on", &baddata_vt, bad_props, 1},
    {NN_KIND_DATASET, "badbatch", "get_batch always fails", &badbatch_vt, bad_props, 1},
    {NN_KIND_DATASET, "badwide", "batches on threads; fails from sample 60 on", &wide_vt,
     bad_props, 1},
};

static const nn_plugin_desc plugin = {
    NN_ABI_MAJOR, NN_ABI_MINOR, sizeof(nn_plugin_desc), "errors", "1.0", components,
    NN_COUNT_OF(components),
};

static void add_components(void)
{
    static int added;
    char *err = NULL;
    if (!added) CHECK_OK(nn_registry_add(g_reg, &plugin, &err), err);
    added = 1;
    nn_free(err);
}

/* ---- a run ----------------------------------------------------------------- */

typedef struct {
    nn_module *net;
    nn_loss *loss;
    nn_optim *opt;
    nn_dataset *data;
} run;

static void run_open(run *r, const char *data, const char *chain, const char *loss)
{
    nn_ctx *ctx = fx_ctx();
    add_components();
    memset(r, 0, sizeof *r);
    char *err = NULL, name[32];
    size_t n = strcspn(data, " ");
    snprintf(name, sizeof name, "%.*s", (int)n, data);
    CHECK_OK(nn_dataset_open(ctx, name, data + n, &r->data, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->data);
    CHECK_OK(nn_module_from_chain(ctx, chain, nn_dataset_input_shape(r->data), &r->net, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->net);
    CHECK_OK(nn_loss_create(ctx, loss, "", &r->loss, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->loss);
    CHECK_OK(nn_optim_create(ctx, "sgd", "lr=0.1", r->net, &r->opt, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->opt);
    nn_free(err);
}

static void run_close(run *r)
{
    nn_optim_free(r->opt);
    nn_loss_free(r->loss);
    nn_module_free(r->net);
    nn_dataset_free(r->data);
}

static int epochs_seen;
static int count_epoch(const nn_epoch_stats *s, void *user)
{
    (void)s, (void)user;
    epochs_seen++;
    return 0;
}

/* nn_fit for 3 epochs must fail with `want` and a message containing sub,
 * before any epoch completes; so must an evaluation pass (no optimizer). */
static void fit_fails(run *r, nn_status want, const char *sub)
{
    char *err = NULL;
    epochs_seen = 0;
    nn_fit_opts o = {.epochs = 3, .batch = 100, .shuffle = NN_SHUFFLE_EPOCH,
                     .on_epoch = count_epoch};
    CHECK_STATUS(nn_fit(r->net, r->loss, r->opt, r->data, &o, &err), want, err);
    CHECK_CONTAINS(err, sub);
    CU_ASSERT_EQUAL(epochs_seen, 0);
    nn_epoch_stats s;
    CHECK_STATUS(nn_fit_epoch(r->net, r->loss, NULL, r->data, 100, NULL, &s, &err), want, err);
    CHECK_CONTAINS(err, sub);
    CHECK_CTX_OK(fx_ctx()); /* the loop clears what it reported */
    nn_free(err);
}

/* ---- the tests ------------------------------------------------------------- */

static void test_ctx_set_error(void)
{
    nn_ctx *ctx = fx_ctx();
    CU_ASSERT_EQUAL(nn_ctx_set_error(ctx, NN_OK, "nothing"), NN_OK);
    CHECK_CTX_OK(ctx);
    CU_ASSERT_EQUAL(nn_ctx_set_error(ctx, NN_SHAPE, "swish: %d-d input", 3), NN_SHAPE);
    CU_ASSERT_EQUAL(nn_ctx_set_error(ctx, NN_IO, "a later error"), NN_IO); /* first one wins */
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "swish: 3-d input");
    CHECK_CTX_OK(ctx);
    /* ops refuse to run while it is set, as after any op error */
    nn_ctx_set_error(ctx, NN_INVALID, "stop");
    CU_ASSERT_PTR_NULL(nn_sigmoid(t1d(2, NULL, 0)));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "stop");
}

static void test_module_returns_nothing(void)
{
    run r;
    run_open(&r, "circle n=300", "linear out=3 ! noout ! linear out=1 ! sigmoid", "bce");
    fit_fails(&r, NN_INTERNAL, "module 'noout' (NoOut) returned no tensor and recorded no error");
    /* and a direct forward records it in the context */
    nn_ctx *ctx = fx_ctx();
    CU_ASSERT_PTR_NULL(nn_module_forward(r.net, t2d(4, 2, NULL, 0)));
    CHECK_CTX_ERROR(ctx, NN_INTERNAL, "module 'noout' (NoOut) returned no tensor");
    nn_ctx_scratch_reset(ctx);
    run_close(&r);
}

static void test_module_own_error(void)
{
    run r;
    run_open(&r, "circle n=300", "linear out=1 ! failfwd", "bce");
    fit_fails(&r, NN_INVALID, "failfwd: the weights are not loaded");
    run_close(&r);
}

static void test_loss_returns_nothing(void)
{
    run r;
    run_open(&r, "circle n=300", "linear out=1 ! sigmoid", "noloss");
    fit_fails(&r, NN_INTERNAL, "loss 'noloss' (NoLoss) returned no tensor and recorded no error");
    run_close(&r);
}

static void test_module_shape_differs(void)
{
    run r;
    /* circle's input is [2]; wrongshape declares [1] (so the target fits) and returns [N, 2] */
    run_open(&r, "circle n=300", "wrongshape", "bce");
    fit_fails(&r, NN_SHAPE,
              "module 'wrongshape' (WrongShape) returned shape [100, 2], but its init declared "
              "the output [1] per sample ([100, 1] for this batch)");
    run_close(&r);
    /* inside a chain too; a correct module's output is left alone */
    run_open(&r, "circle n=300", "linear out=4 ! sigmoid ! wrongshape", "bce");
    fit_fails(&r, NN_SHAPE, "module 'wrongshape' (WrongShape) returned shape [100, 4]");
    run_close(&r);
}

static void test_loss_not_scalar(void)
{
    run r;
    run_open(&r, "circle n=300", "linear out=1 ! sigmoid", "vecloss");
    fit_fails(&r, NN_SHAPE, "loss 'vecloss' (VecLoss) returned shape [100, 1]; a loss returns one element");
    run_close(&r);
}

static void test_dataset_says_why(void)
{
    run r;
    run_open(&r, "baddata n=300", "linear out=1 ! sigmoid", "bce");
    fit_fails(&r, NN_IO, "dataset 'baddata': sample 2: the file ends before sample 2");
    /* one sample: the message goes to the context */
    nn_ctx *ctx = fx_ctx();
    float x[2], y[1];
    CU_ASSERT_EQUAL(nn_dataset_get(r.data, 1, x, y), NN_OK);
    CHECK_CTX_OK(ctx);
    CU_ASSERT_EQUAL(nn_dataset_get(r.data, 7, x, y), NN_IO);
    CHECK_CTX_ERROR(ctx, NN_IO, "dataset 'baddata': sample 7: the file ends before sample 7");
    CU_ASSERT_EQUAL(nn_dataset_get(r.data, 300, x, y), NN_INVALID); /* outside: nothing recorded */
    CHECK_CTX_OK(ctx);
    run_close(&r);

    /* get_batch is called for each batch: a shuffled one is named by its
     * first sample, one in order by its range */
    run_open(&r, "badbatch n=300", "linear out=1 ! sigmoid", "bce");
    fit_fails(&r, NN_IO, ": the batch file is truncated");
    char *err = NULL;
    nn_epoch_stats s;
    CHECK_STATUS(nn_fit_epoch(r.net, r.loss, NULL, r.data, 100, NULL, &s, &err), NN_IO, err);
    CHECK_CONTAINS(err, "dataset 'badbatch': samples 0..99: the batch file is truncated");
    nn_free(err);
    err = NULL;
    nn_fit_opts o = {.epochs = 1, .batch = 100, .shuffle = NN_SHUFFLE_EPOCH};
    CHECK_STATUS(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), NN_IO, err);
    CHECK_CONTAINS(err, "dataset 'badbatch': a batch of 100 samples from sample ");
    nn_free(err);
    run_close(&r);
}

/* A batch large enough to be cut among the device's threads
 * (NN_DATASET_BATCH_THREADS): every row from its own sample, and a part
 * that fails is named by its own samples. */
static void test_dataset_batch_threads(void)
{
    nn_ctx *ctx = fx_ctx();
    add_components();
    char *err = NULL;
    nn_dataset *d = NULL;
    CHECK_OK(nn_dataset_open(ctx, "badwide", "n=100", &d, &err), err);
    nn_loader *l = NULL;
    CHECK_OK(nn_loader_open(d, 60, NN_SHUFFLE_NONE, 0, &l, &err), err);
    nn_tensor *x = NULL, *y = NULL;
    CU_ASSERT_EQUAL(nn_loader_next(l, &x, &y), 1);
    if (x && y) {
        float *hx = malloc(60 * 1024 * sizeof *hx), hy[60];
        CU_ASSERT_PTR_NOT_NULL_FATAL(hx);
        CU_ASSERT_EQUAL(nn_tensor_to_host(x, hx, 60 * 1024), NN_OK);
        CU_ASSERT_EQUAL(nn_tensor_to_host(y, hy, 60), NN_OK);
        int bad = 0;
        for (int k = 0; k < 60; k++) {
            bad += hy[k] != (float)(k % 2);
            for (int j = 0; j < 1024; j++) bad += hx[k * 1024 + j] != (float)(k + j);
        }
        CU_ASSERT_EQUAL(bad, 0);
        free(hx);
    }
    /* samples 60..99: the part with sample 60 fails first */
    CU_ASSERT_EQUAL(nn_loader_next(l, &x, &y), -1);
    const char *msg = NULL;
    CU_ASSERT_EQUAL(nn_ctx_error(ctx, &msg), NN_IO);
    long a = -1, b = -1;
    const char *at = msg ? strstr(msg, "dataset 'badwide': samples ") : NULL;
    CU_ASSERT_PTR_NOT_NULL(at);
    if (at) CU_ASSERT_EQUAL(sscanf(at, "dataset 'badwide': samples %ld..%ld", &a, &b), 2);
    CU_ASSERT(a == 60 && b >= 60 && b <= 99);
    CU_ASSERT_PTR_NOT_NULL(msg ? strstr(msg, ": sample 60 is gone") : NULL);
    nn_ctx_clear_error(ctx);
    nn_loader_free(l);
    nn_dataset_free(d);
}

/* In a pass, the next batch is gathered while the current one trains
 * (nn_dataset_gather_post), on the device's threads where it has them:
 * a part that fails there is reported when its batch comes, as a batch
 * gathered then would be, by its own samples, in training and in an
 * evaluation pass. */
static void test_dataset_batch_ahead(void)
{
    run r;
    run_open(&r, "badwide n=100", "linear out=1 ! sigmoid", "bce");
    char *err = NULL;
    /* batches of 20: samples 60..79 are the fourth, gathered while the third trains */
    nn_fit_opts o = {.epochs = 1, .batch = 20, .shuffle = NN_SHUFFLE_NONE};
    CHECK_STATUS(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), NN_IO, err);
    CHECK_CONTAINS(err, "dataset 'badwide': samples 60..");
    CHECK_CONTAINS(err, ": sample 60 is gone");
    nn_free(err);
    err = NULL;
    nn_epoch_stats s;
    CHECK_STATUS(nn_fit_epoch(r.net, r.loss, NULL, r.data, 20, NULL, &s, &err), NN_IO, err);
    CHECK_CONTAINS(err, "dataset 'badwide': samples 60..");
    CHECK_CONTAINS(err, ": sample 60 is gone");
    CHECK_CTX_OK(fx_ctx());
    nn_free(err);
    run_close(&r);
}

void register_error_tests(void)
{
    CU_pSuite s = fx_add_suite("errors");
    if (!s) return;
    FX_ADD(s, test_ctx_set_error);
    FX_ADD(s, test_module_returns_nothing);
    FX_ADD(s, test_module_own_error);
    FX_ADD(s, test_loss_returns_nothing);
    FX_ADD(s, test_module_shape_differs);
    FX_ADD(s, test_loss_not_scalar);
    FX_ADD(s, test_dataset_says_why);
    FX_ADD(s, test_dataset_batch_threads);
    FX_ADD(s, test_dataset_batch_ahead);
}
