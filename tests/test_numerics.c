/* test_numerics.c - numerical faults: binary_cross_entropy refuses inputs
 * outside [0, 1] and NaN, nn_module_check_finite names a NaN parameter,
 * detect_anomaly names the op whose backward produced NaN or Inf. */
#include "test.h"

#include <math.h>

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
