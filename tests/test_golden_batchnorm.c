/* test_golden_batchnorm.c - the batchnorm1d plugin against PyTorch's
 * BatchNorm1d (tests/golden/batchnorm.txt, from gen_batchnorm.py): three
 * train steps (forward; gradients of sum(y * w) for the input, weight and
 * bias at the first), the running statistics after them, then eval mode
 * (forward and gradients); defaults, affine=false, track_running_stats=false,
 * another momentum and eps, and (N, C, L) input; and a whole network with
 * batchnorm1d trained by SGD, then evaluated.
 *
 * Tolerances: relative 1e-5 everywhere (gradients included), plus an
 * absolute 1e-7 for forward values near zero: PyTorch accumulates the batch
 * statistics in double, batchnorm1d composes float32 ops, so a centred value
 * that is a difference of two O(1) numbers near each other keeps an absolute
 * error of about one float32 ulp of those numbers (measured: 2.6e-8 on
 * ncl.y1[50] = -0.0024; every other value agrees to relative 1e-5). */
#include "golden.h"

#include <stdio.h>
#include <string.h>

#define RTOL 1e-5
#define ATOL 1e-7
#define ATOL_DX 0 /* the input gradient agrees to relative 1e-5 */

static nn_tensor *named(nn_module *m, const char *name, int buffer)
{
    int n = buffer ? nn_module_buffer_count(m) : nn_module_param_count(m);
    for (int i = 0; i < n; i++) {
        const char *got;
        nn_tensor *t = buffer ? nn_module_buffer(m, i, &got) : nn_module_param(m, i, &got);
        if (!strcmp(got, name)) return t;
    }
    return NULL;
}

static void key(char *buf, size_t len, const char *prefix, const char *what)
{
    snprintf(buf, len, "%s.%s", prefix, what);
}

/* One case of gen_batchnorm.py: module made with words on samples of shape in. */
static void run_case(golden *g, const char *prefix, const char *words, const nn_shape *in)
{
    nn_ctx *ctx = fx_ctx();
    char k[64], *err = NULL;
    nn_shape s = *in;
    nn_module *m = NULL;
    CHECK_OK(nn_module_create(ctx, "batchnorm1d", words, &s, &m, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    nn_tensor *weight = named(m, "weight", 0), *bias = named(m, "bias", 0);
    key(k, sizeof k, prefix, "weight");
    int affine = golden_has(g, k);
    CU_ASSERT_EQUAL(weight != NULL, affine);
    CU_ASSERT_EQUAL(nn_module_param_count(m), affine ? 2 : 0);
    if (affine && weight && bias) {
        CU_ASSERT_EQUAL(nn_tensor_copy_(weight, golden_tensor(g, k, 0)), NN_OK);
        key(k, sizeof k, prefix, "bias");
        CU_ASSERT_EQUAL(nn_tensor_copy_(bias, golden_tensor(g, k, 0)), NN_OK);
    }
    CU_ASSERT_TRUE(nn_module_is_training(m));
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "x%d", i);
        key(k, sizeof k, prefix, name);
        nn_tensor *x = golden_tensor(g, k, i == 0);
        nn_tensor *y = nn_module_forward(m, x);
        snprintf(name, sizeof name, "y%d", i);
        key(k, sizeof k, prefix, name);
        GOLDEN_CHECK(g, y, k, ATOL, RTOL);
        if (i == 0) {
            key(k, sizeof k, prefix, "w");
            CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, golden_tensor(g, k, 0)))), NN_OK);
            key(k, sizeof k, prefix, "dx");
            GOLDEN_CHECK(g, nn_tensor_grad(x), k, ATOL_DX, RTOL);
            if (affine) {
                key(k, sizeof k, prefix, "dweight");
                GOLDEN_CHECK(g, nn_tensor_grad(weight), k, ATOL, RTOL);
                key(k, sizeof k, prefix, "dbias");
                GOLDEN_CHECK(g, nn_tensor_grad(bias), k, ATOL, RTOL);
            }
        }
        CHECK_CTX_OK(ctx);
        nn_ctx_scratch_reset(ctx);
    }
    key(k, sizeof k, prefix, "running_mean");
    int track = golden_has(g, k);
    CU_ASSERT_EQUAL(nn_module_buffer_count(m), track ? 3 : 0);
    if (track) {
        GOLDEN_CHECK(g, named(m, "running_mean", 1), k, ATOL, RTOL);
        key(k, sizeof k, prefix, "running_var");
        GOLDEN_CHECK(g, named(m, "running_var", 1), k, ATOL, RTOL);
        key(k, sizeof k, prefix, "num_batches_tracked");
        GOLDEN_CHECK(g, named(m, "num_batches_tracked", 1), k, 0, 0);
    }
    nn_module_zero_grad(m);
    nn_module_train(m, 0);
    CU_ASSERT_FALSE(nn_module_is_training(m));
    key(k, sizeof k, prefix, "x_eval");
    nn_tensor *x = golden_tensor(g, k, 1);
    nn_tensor *y = nn_module_forward(m, x);
    key(k, sizeof k, prefix, "y_eval");
    GOLDEN_CHECK(g, y, k, ATOL, RTOL);
    key(k, sizeof k, prefix, "w_eval");
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, golden_tensor(g, k, 0)))), NN_OK);
    key(k, sizeof k, prefix, "dx_eval");
    GOLDEN_CHECK(g, nn_tensor_grad(x), k, ATOL_DX, RTOL);
    if (affine) {
        key(k, sizeof k, prefix, "dweight_eval");
        GOLDEN_CHECK(g, nn_tensor_grad(weight), k, ATOL, RTOL);
        key(k, sizeof k, prefix, "dbias_eval");
        GOLDEN_CHECK(g, nn_tensor_grad(bias), k, ATOL, RTOL);
    }
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
    if (track) { /* eval mode left the running statistics alone */
        key(k, sizeof k, prefix, "running_mean");
        GOLDEN_CHECK(g, named(m, "running_mean", 1), k, ATOL, RTOL);
        key(k, sizeof k, prefix, "num_batches_tracked");
        GOLDEN_CHECK(g, named(m, "num_batches_tracked", 1), k, 0, 0);
    }
    nn_module_free(m);
}

static void test_golden_batchnorm_defaults(void)
{
    golden *g = golden_open("batchnorm.txt");
    run_case(g, "bn", "", &(nn_shape){1, {5}});
    golden_close(g);
}

static void test_golden_batchnorm_no_affine(void)
{
    golden *g = golden_open("batchnorm.txt");
    run_case(g, "noaffine", "affine=false", &(nn_shape){1, {4}});
    golden_close(g);
}

static void test_golden_batchnorm_no_running_stats(void)
{
    golden *g = golden_open("batchnorm.txt");
    run_case(g, "notrack", "track_running_stats=false", &(nn_shape){1, {4}});
    golden_close(g);
}

static void test_golden_batchnorm_momentum(void)
{
    golden *g = golden_open("batchnorm.txt");
    run_case(g, "mom", "momentum=0.3 eps=1e-3", &(nn_shape){1, {3}});
    golden_close(g);
}

static void test_golden_batchnorm_ncl(void)
{
    golden *g = golden_open("batchnorm.txt");
    run_case(g, "ncl", "num_features=3", &(nn_shape){2, {3, 5}});
    golden_close(g);
}

/* The network of the shell test, trained by SGD for three steps of BCELoss
 * (train mode), then its loss in eval mode: the buffers through the
 * optimizer steps and the mode switch, every state_dict entry against
 * PyTorch's, to relative 1e-5. */
static void test_golden_batchnorm_network(void)
{
    nn_ctx *ctx = fx_ctx();
    golden *g = golden_open("batchnorm.txt");
    nn_shape in = {1, {2}};
    nn_module *m = NULL;
    nn_optim *o = NULL;
    char *err = NULL, k[96];
    CHECK_OK(nn_module_from_chain(ctx, "linear out=8 ! batchnorm1d ! sigmoid ! linear out=1 ! sigmoid",
                                  &in, &m, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    int n = nn_module_state_count(m);
    CU_ASSERT_EQUAL(n, 9);
    for (int i = 0; i < n; i++) {
        const char *name;
        nn_tensor *t = nn_module_state(m, i, &name, NULL);
        snprintf(k, sizeof k, "net.init.%s", name);
        CU_ASSERT_EQUAL(nn_tensor_copy_(t, golden_tensor(g, k, 0)), NN_OK);
    }
    CHECK_OK(nn_optim_create(ctx, "sgd", "lr=0.5 momentum=0.8", m, &o, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    for (int i = 0; i < 3; i++) {
        char xn[32], tn[32];
        snprintf(xn, sizeof xn, "net.x%d", i);
        snprintf(tn, sizeof tn, "net.t%d", i);
        nn_optim_zero_grad(o);
        nn_tensor *loss = fx_bce(nn_module_forward(m, golden_tensor(g, xn, 0)), golden_tensor(g, tn, 0));
        snprintf(k, sizeof k, "net.loss%d", i);
        CHECK_CLOSE(item(loss), golden_scalar(g, k), 0, RTOL);
        CU_ASSERT_EQUAL(nn_backward(loss), NN_OK);
        CU_ASSERT_EQUAL(nn_optim_step(o), NN_OK);
        CHECK_CTX_OK(ctx);
        nn_ctx_scratch_reset(ctx);
    }
    for (int i = 0; i < n; i++) {
        const char *name;
        nn_tensor *t = nn_module_state(m, i, &name, NULL);
        snprintf(k, sizeof k, "net.after.%s", name);
        GOLDEN_CHECK(g, t, k, 0, RTOL);
    }
    nn_module_train(m, 0);
    nn_tensor *loss = fx_bce(nn_module_forward(m, golden_tensor(g, "net.x_eval", 0)),
                             golden_tensor(g, "net.t_eval", 0));
    CHECK_CLOSE(item(loss), golden_scalar(g, "net.loss_eval"), 0, RTOL);
    CHECK_CTX_OK(ctx);
    nn_free(err);
    nn_optim_free(o);
    nn_module_free(m);
    golden_close(g);
}

void register_golden_batchnorm_tests(void)
{
    CU_pSuite s = fx_add_suite("golden_batchnorm");
    if (!s) return;
    FX_ADD(s, test_golden_batchnorm_defaults);
    FX_ADD(s, test_golden_batchnorm_no_affine);
    FX_ADD(s, test_golden_batchnorm_no_running_stats);
    FX_ADD(s, test_golden_batchnorm_momentum);
    FX_ADD(s, test_golden_batchnorm_ncl);
    FX_ADD(s, test_golden_batchnorm_network);
}
