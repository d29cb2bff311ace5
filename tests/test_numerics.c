/* test_numerics.c - numerical faults: binary_cross_entropy refuses inputs
 * outside [0, 1] and NaN, nn_module_check_finite names a NaN parameter,
 * detect_anomaly names the op whose backward produced NaN or Inf, and
 * nn_clip_grad_norm matches PyTorch's clip_grad_norm_. */
#include "golden.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void test_bce_refuses_nan_and_out_of_range(void)
{
    nn_ctx *ctx = fx_ctx();
    const float bad[][2] = {{0.5f, NAN}, {1.5f, 0.5f}, {-0.25f, 0.5f}};
    const float tv[2] = {1.0f, 0.0f};
    for (int k = 0; k < 3; k++) {
        nn_tensor *p = t1d(2, bad[k], 1), *t = t1d(2, tv, 0);
        nn_tensor *in[] = {p, t};
        nn_op *op = fx_op("binary_cross_entropy");
        CU_ASSERT_PTR_NULL(nn_op_call(op, in, NULL, NULL));
        CHECK_CTX_ERROR(ctx, NN_INVALID, "all elements of input should be between 0 and 1");
        nn_ctx_scratch_reset(ctx);
    }
    const float good[2] = {0.0f, 1.0f}; /* the ends are allowed; logs clamp at -100 */
    nn_tensor *in[] = {t1d(2, good, 1), t1d(2, tv, 0)};
    CHECK_CLOSE(item(nn_op_call(fx_op("binary_cross_entropy"), in, NULL, NULL)), 100.0, 1e-4,
                0);
    CHECK_CTX_OK(ctx);
}

static void test_check_finite_names_the_parameter(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_module *m = NULL;
    char *err = NULL;
    nn_shape in = shp1(2);
    CHECK_OK(nn_module_from_chain(ctx, "linear out=3 ! sigmoid ! linear out=1", &in, &m, &err),
             err);
    const char *name = "x";
    float v = 0;
    CHECK_OK(nn_module_check_finite(m, &name, &v), NULL);
    CU_ASSERT_PTR_NULL(name);
    const char *pname;
    nn_tensor *w = nn_module_param(m, 3, &pname); /* 2.bias */
    CU_ASSERT_STRING_EQUAL(pname, "2.bias");
    float inf = -INFINITY;
    CHECK_OK(nn_tensor_from_host(w, &inf, 1), NULL);
    CHECK_STATUS(nn_module_check_finite(m, &name, &v), NN_INVALID, NULL);
    CU_ASSERT(name && !strcmp(name, "2.bias"));
    CU_ASSERT(isinf(v) && v < 0);
    nn_module_free(m);
}

/* sum(log(x)) at x = (1, 0): LogBackward0 writes 1/x, Inf at 0. */
static void test_detect_anomaly_names_the_op(void)
{
    nn_ctx *ctx = fx_ctx();
    const float xv[2] = {1.0f, 0.0f};
    for (int on = 0; on <= 1; on++) {
        nn_tensor *x = t1d(2, xv, 1);
        CU_ASSERT_EQUAL(nn_ctx_detect_anomaly(ctx), 0);
        nn_ctx_set_detect_anomaly(ctx, on);
        nn_tensor *y = nn_sum(nn_log(x));
        CU_ASSERT_PTR_NOT_NULL_FATAL(y);
        nn_status st = nn_backward(y);
        if (on) {
            CU_ASSERT_EQUAL(st, NN_INVALID);
            CHECK_CTX_ERROR(ctx, NN_INVALID, "op 'LogBackward0' produced Inf in its backward");
        } else { /* off: the Inf passes unnoticed, as PyTorch without the mode */
            CHECK_OK(st, NULL);
            CHECK_CTX_OK(ctx);
        }
        nn_ctx_set_detect_anomaly(ctx, 0);
        nn_ctx_scratch_reset(ctx);
    }
}

void register_numerics_tests(void)
{
    CU_pSuite s = fx_add_suite("numerics");
    FX_ADD(s, test_bce_refuses_nan_and_out_of_range);
    FX_ADD(s, test_check_finite_names_the_parameter);
    FX_ADD(s, test_detect_anomaly_names_the_op);
}

/* ---- clip_grad_norm against PyTorch (tests/golden/clip.txt) ---- */

/* Leaves p0..p2 whose gradients are the golden g0..g2: the backward of
 * sum(p_i * g_i) summed over i. */
static void clip_case(const char *c)
{
    nn_ctx *ctx = fx_ctx();
    golden *g = golden_open("clip.txt");
    nn_tensor *p[3];
    nn_tensor *L = NULL;
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "g%d", i);
        nn_tensor *w = golden_tensor(g, name, 0);
        nn_shape s;
        golden_get(g, name, &s);
        p[i] = tensor_from(&s, NULL, 1);
        nn_tensor *term = nn_sum(nn_mul(p[i], w));
        L = L ? nn_add(L, term) : term;
    }
    CHECK_OK(nn_backward(L), NULL);
    char key[32];
    snprintf(key, sizeof key, "%s_max_norm", c);
    double max_norm = golden_scalar(g, key), total = -1;
    CHECK_OK(nn_clip_grad_norm_params(p, 3, max_norm, &total), NULL);
    snprintf(key, sizeof key, "%s_total", c);
    CHECK_CLOSE(total, golden_scalar(g, key), 1e-6, 1e-6);
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s_g%d", c, i);
        GOLDEN_CHECK(g, nn_tensor_grad(p[i]), key, 1e-7, 1e-6);
    }
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
    golden_close(g);
}

static void test_clip_grad_norm_scales_as_pytorch(void) { clip_case("small"); }
static void test_clip_grad_norm_leaves_small_norms(void) { clip_case("large"); }

static void test_clip_grad_norm_refuses_bad_max_norm(void)
{
    const float v[2] = {3, 4};
    nn_tensor *p = t1d(2, v, 1);
    double total = -1;
    CHECK_STATUS(nn_clip_grad_norm_params(&p, 1, -1.0, &total), NN_INVALID, NULL);
    CHECK_STATUS(nn_clip_grad_norm_params(&p, 1, NAN, &total), NN_INVALID, NULL);
    CHECK_OK(nn_clip_grad_norm_params(&p, 1, 1.0, &total), NULL); /* no gradient yet */
    CHECK_CLOSE(total, 0.0, 0, 0);
}

void register_clip_tests(void)
{
    CU_pSuite s = fx_add_suite("clip");
    FX_ADD(s, test_clip_grad_norm_scales_as_pytorch);
    FX_ADD(s, test_clip_grad_norm_leaves_small_norms);
    FX_ADD(s, test_clip_grad_norm_refuses_bad_max_norm);
}
