/* test_ops_math.c - the element-wise math ops, the in-place updates, the
 * reductions along a dimension and reshape / view / detach: values against
 * PyTorch's (torch 2 on CPU, float32), gradients against finite differences
 * (test_grad.c's gc_run) and, at kinks and ties, against PyTorch's, shapes,
 * errors and node names. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static nn_shape shp3(int64_t a, int64_t b, int64_t c)
{
    nn_shape s = {3, {a, b, c}};
    return s;
}

/* t is not NULL, has shape s and holds want (n values; NaN matches NaN). */
static void check_t_(nn_tensor *t, const nn_shape *s, const double *want, int64_t n, double tol,
                     const char *what, unsigned line, const char *func)
{
    char msg[512], got[96], exp[96];
    snprintf(msg, sizeof msg, "%s is not NULL", what);
    CU_assertImplementation(t != NULL, line, msg, __FILE__, func, CU_TRUE);
    nn_shape_format(nn_tensor_shape(t), 0, got, sizeof got);
    nn_shape_format(s, 0, exp, sizeof exp);
    snprintf(msg, sizeof msg, "%s has shape %s, expected %s", what, got, exp);
    CU_assertImplementation(strcmp(got, exp) == 0 && nn_tensor_numel(t) == n ? CU_TRUE : CU_FALSE,
                            line, msg, __FILE__, func, CU_TRUE);
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    to_host(t, h, n);
    check_array_(h, want, n, tol, tol, what, line, __FILE__, func);
    free(h);
}
#define NV(want) ((int64_t)(sizeof(want) / sizeof((want)[0])))
/* CHECK_T(t, shape, ((const double[]){...})): shape and values, to 1e-6. */
#define CHECK_T(t, s, want) check_t_((t), (s), (want), NV(want), 1e-6, #t, __LINE__, __func__)
#define CHECK_GRAD(x, s, want) \
    check_t_(nn_tensor_grad(x), (s), (want), NV(want), 1e-6, "grad of " #x, __LINE__, __func__)

#define D(...) ((const double[]){__VA_ARGS__})

static const float A23[6] = {1, -2, 3, 0.5f, 5, -6};
static const float B23[6] = {2, 4, -1, 0.25f, 10, 3};

/* ---- forward values --------------------------------------------------------------- */

static void test_div_values(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape s = shp2(2, 3);
    nn_tensor *a = t2d(2, 3, A23, 0), *b = t2d(2, 3, B23, 0);
    nn_tensor *row = t1d(3, (const float[]){2, -4, 0.5f}, 0), *one = t1d(1, (const float[]){4}, 0);
    CHECK_T(nn_div(a, b), &s, D(0.5, -0.5, -3, 2, 0.5, -2));
    CHECK_T(nn_div(a, row), &s, D(0.5, 0.5, 6, 0.25, -1.25, -12)); /* along rows */
    CHECK_T(nn_div(a, one), &s, D(0.25, -0.5, 0.75, 0.125, 1.25, -1.5));
    nn_shape s0 = shp0();
    nn_tensor *four = tensor_from(&s0, (const float[]){4}, 0); /* a 0-d b is one element too */
    CHECK_T(nn_div(a, four), &s, D(0.25, -0.5, 0.75, 0.125, 1.25, -1.5));
    /* a transposed view as a: its values in the view's order */
    nn_shape st = shp2(3, 2);
    CHECK_T(nn_div(nn_t(a), one), &st, D(0.25, 0.125, -0.5, 1.25, 0.75, -1.5));
    float h[2];
    nn_tensor *z = nn_div(t1d(2, (const float[]){1, -1}, 0), t1d(2, NULL, 0));
    to_host(z, h, 2);
    CU_ASSERT_TRUE(isinf(h[0]) && h[0] > 0);
    CU_ASSERT_TRUE(isinf(h[1]) && h[1] < 0);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_pow_values(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape s = shp2(2, 3);
    nn_tensor *p = t2d(2, 3, (const float[]){1, 2, 3, 0.5f, 4, 9}, 0);
    nn_tensor *e = t2d(2, 3, (const float[]){2, 0.5f, -1, 3, 1.5f, 0}, 0);
    CHECK_T(nn_pow(p, e), &s, D(1, 1.41421354, 0.333333343, 0.125, 8, 1));
    CHECK_T(nn_pow(p, t1d(3, (const float[]){2, 0, -0.5f}, 0)), &s,
            D(1, 1, 0.577350259, 0.25, 1, 0.333333343));
    CHECK_T(nn_pow(p, t1d(1, (const float[]){2}, 0)), &s, D(1, 4, 9, 0.25, 16, 81));
    /* negative bases with whole exponents, 0^0 = 1, 0^-1 = inf */
    nn_tensor *x = t1d(4, (const float[]){-2, 0, -1.5f, 0}, 0);
    nn_tensor *y = nn_pow(x, t1d(4, (const float[]){3, 0, 2, -1}, 0));
    float h[4];
    to_host(y, h, 4);
    CHECK_ARRAY(h, D(-8, 1, 2.25), 3, 0, 0);
    CU_ASSERT_TRUE(isinf(h[3]) && h[3] > 0);

    nn_shape s5 = shp1(5);
    nn_tensor *v = t1d(5, (const float[]){-2, -0.5f, 0, 0.75f, 3}, 0);
    CHECK_T(nn_pow_scalar(v, 2), &s5, D(4, 0.25, 0, 0.5625, 9));
    CHECK_T(nn_pow_scalar(v, 3), &s5, D(-8, -0.125, 0, 0.421875, 27));
    CHECK_T(nn_pow_scalar(v, 0), &s5, D(1, 1, 1, 1, 1));
    nn_shape s4 = shp1(4), s3 = shp1(3);
    CHECK_T(nn_pow_scalar(t1d(4, (const float[]){0, 0.25f, 2, 9}, 0), 0.5f), &s4,
            D(0, 0.5, 1.41421354, 3));
    CHECK_T(nn_pow_scalar(t1d(3, (const float[]){0.25f, 2, 9}, 0), -1.5f), &s3,
            D(8, 0.353553385, 0.0370370373));
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_maximum_minimum_values(void)
{
    nn_ctx *ctx = fx_ctx();
    /* ties, and a NaN on either side wins, as torch.maximum and minimum */
    nn_tensor *a = t1d(6, (const float[]){1, -2, 3, NAN, 5, 2}, 0);
    nn_tensor *b = t1d(6, (const float[]){2, -2, -1, 0, NAN, 2}, 0);
    nn_shape s6 = shp1(6), s = shp2(2, 3);
    CHECK_T(nn_maximum(a, b), &s6, D(2, -2, 3, NAN, NAN, 2));
    CHECK_T(nn_minimum(a, b), &s6, D(1, -2, -1, NAN, NAN, 2));
    nn_tensor *m = t2d(2, 3, A23, 0);
    CHECK_T(nn_maximum(m, t1d(3, (const float[]){0, 0, 0}, 0)), &s, D(1, 0, 3, 0.5, 5, 0));
    CHECK_T(nn_minimum(m, t1d(1, (const float[]){1}, 0)), &s, D(1, -2, 1, 0.5, 1, -6));
    CHECK_T(nn_maximum(m, t1d(3, (const float[]){0, 4, -10}, 0)), &s, D(1, 4, 3, 0.5, 5, -6));
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_unary_math_values(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape s5 = shp1(5), s4 = shp1(4);
    nn_tensor *x = t1d(5, (const float[]){-2, -0.5f, 0, 0.75f, 3}, 0);
    CHECK_T(nn_add_scalar(x, 1.5f), &s5, D(-0.5, 1, 1.5, 2.25, 4.5));
    CHECK_T(nn_add_scalar(x, -2.0f), &s5, D(-4, -2.5, -2, -1.25, 1));
    CHECK_T(nn_abs(x), &s5, D(2, 0.5, 0, 0.75, 3));
    CHECK_T(nn_sqrt(t1d(4, (const float[]){0, 0.25f, 2, 9}, 0)), &s4, D(0, 0.5, 1.41421354, 3));
    nn_shape s1 = shp1(1);
    CHECK_T(nn_sqrt(t1d(1, (const float[]){-1}, 0)), &s1, D(NAN));

    CHECK_T(nn_clamp(x, -1, 1), &s5, D(-1, -0.5, 0, 0.75, 1));
    CHECK_T(nn_clamp(x, 0, INFINITY), &s5, D(0, 0, 0, 0.75, 3));       /* clamp(min=0) */
    CHECK_T(nn_clamp(x, -INFINITY, 0.5f), &s5, D(-2, -0.5, 0, 0.5, 0.5)); /* clamp(max=0.5) */
    CHECK_T(nn_clamp(x, -INFINITY, INFINITY), &s5, D(-2, -0.5, 0, 0.75, 3));
    CHECK_T(nn_clamp(x, 1, -1), &s5, D(-1, -1, -1, -1, -1)); /* lo > hi: all hi, as torch */
    CHECK_T(nn_clamp(t1d(1, (const float[]){NAN}, 0), -1, 1), &s1, D(NAN));
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_where_values(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape s = shp2(2, 3);
    nn_tensor *a = t2d(2, 3, A23, 0), *b = t2d(2, 3, B23, 0);
    nn_tensor *c = t2d(2, 3, (const float[]){1, 0, 2, 0, -1, 0}, 0); /* nonzero picks a */
    CHECK_T(nn_where(c, a, b), &s, D(1, 4, 3, 0.25, 5, 3));
    CHECK_T(nn_where(c, a, t1d(3, (const float[]){10, 20, 30}, 0)), &s, D(1, 20, 3, 10, 5, 30));
    CHECK_T(nn_where(c, t1d(1, (const float[]){7}, 0), a), &s, D(7, -2, 7, 0.5, 7, -6));
    /* the condition along rows; the result takes the largest shape */
    nn_tensor *crow = t1d(3, (const float[]){1, 0, 1}, 0);
    CHECK_T(nn_where(crow, a, t1d(1, (const float[]){-1}, 0)), &s, D(1, -1, 3, 0.5, -1, -6));
    nn_tensor *one = t1d(1, (const float[]){1}, 0), *zero = t1d(1, (const float[]){0}, 0);
    CHECK_T(nn_where(c, one, zero), &s, D(1, 0, 1, 0, 1, 0));
    CHECK_T(nn_where(crow, t1d(1, (const float[]){5}, 0), b), &s, D(5, 4, 5, 5, 10, 5));
    nn_shape s3 = shp1(3);
    CHECK_T(nn_where(crow, one, zero), &s3, D(1, 0, 1));
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

/* ---- in-place updates ----------------------------------------------------------------- */

static void test_addc_values(void)
{
    nn_ctx *ctx = fx_ctx();
    const float tv[6] = {1, 2, 3, 4, 0, -1};
    nn_shape s = shp2(2, 3);
    nn_tensor *t = t2d(2, 3, tv, 0);
    nn_tensor *a = t2d(2, 3, (const float[]){1, 2, 3, 4, 5, 6}, 0);
    nn_tensor *b = t2d(2, 3, (const float[]){0.5f, 1, -1, 2, 0, 1}, 0);
    CHECK_OK(nn_addcmul_(t, -0.5f, a, b), NULL);
    CHECK_T(t, &s, D(0.75, 1, 4.5, 0, 0, -4));

    CU_ASSERT_EQUAL(nn_tensor_from_host(t, tv, 6), NN_OK);
    nn_tensor *b2 = t2d(2, 3, (const float[]){0.5f, 1, -1, 2, 4, 1}, 0);
    CHECK_OK(nn_addcdiv_(t, 2, a, b2), NULL);
    CHECK_T(t, &s, D(5, 6, -3, 8, 2.5, 11));

    /* b along rows, b of one element */
    CU_ASSERT_EQUAL(nn_tensor_from_host(t, tv, 6), NN_OK);
    CHECK_OK(nn_addcmul_(t, 2, a, t1d(3, (const float[]){1, -1, 0.5f}, 0)), NULL);
    CHECK_T(t, &s, D(3, -2, 6, 12, -10, 5));
    CU_ASSERT_EQUAL(nn_tensor_from_host(t, tv, 6), NN_OK);
    CHECK_OK(nn_addcdiv_(t, 1, a, t1d(1, (const float[]){4}, 0)), NULL);
    CHECK_T(t, &s, D(1.25, 2.5, 3.75, 5, 1.25, 0.5));

    /* a transposed view as tensor1 reads its values in the view's order */
    CU_ASSERT_EQUAL(nn_tensor_from_host(t, tv, 6), NN_OK);
    nn_tensor *at = t2d(3, 2, (const float[]){1, 4, 2, 5, 3, 6}, 0);
    CHECK_OK(nn_addcmul_(t, -0.5f, nn_t(at), b), NULL);
    CHECK_T(t, &s, D(0.75, 1, 4.5, 0, 0, -4));

    /* outside autograd: a leaf that requires grad is updated, nothing is recorded */
    nn_tensor *p = t2d(2, 3, tv, 1), *g = t2d(2, 3, B23, 1);
    CHECK_OK(nn_addcmul_(p, 1, g, g), NULL);
    CHECK_T(p, &s, D(5, 18, 4, 4.0625, 100, 8));
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(p));
    CU_ASSERT_PTR_NULL(nn_tensor_grad(g));
    CU_ASSERT_TRUE(nn_grad_enabled(ctx)); /* grad mode as it was */
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_addc_errors(void)
{
    nn_ctx *ctx = fx_ctx();
    const float tv[6] = {1, 2, 3, 4, 0, -1};
    nn_shape s = shp2(2, 3);
    nn_tensor *t = t2d(2, 3, tv, 0), *a = t2d(2, 3, A23, 0), *b = t2d(2, 3, B23, 0);
    nn_tensor *v2 = t1d(2, NULL, 0);

    CHECK_STATUS(nn_addcmul_(t, 1, v2, b), NN_SHAPE, NULL);
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "addcmul_: tensor1 [2] differs from the updated tensor [2, 3]");
    CHECK_STATUS(nn_addcdiv_(t, 1, a, v2), NN_SHAPE, NULL);
    CHECK_CTX_ERROR(ctx, NN_SHAPE,
                    "addcdiv_: tensor2 [2] does not broadcast to the updated tensor [2, 3]");
    nn_tensor *sq = t2d(3, 3, NULL, 0), *a33 = t2d(3, 3, NULL, 0);
    CHECK_STATUS(nn_addcmul_(nn_t(sq), 1, a33, a33), NN_UNSUPPORTED, NULL);
    CHECK_CTX_ERROR(ctx, NN_UNSUPPORTED, "addcmul_: the updated tensor is not contiguous");
    CHECK_T(t, &s, D(1, 2, 3, 4, 0, -1)); /* refused updates change nothing */

    CU_ASSERT_EQUAL(nn_addcmul_(NULL, 1, a, b), NN_INVALID);
    CU_ASSERT_EQUAL(nn_addcdiv_(t, 1, NULL, b), NN_INVALID);
    CU_ASSERT_EQUAL(nn_addcdiv_(t, 1, a, NULL), NN_INVALID);
    CU_ASSERT_EQUAL(nn_ctx_error(ctx, NULL), NN_OK);

    /* an earlier error is returned and nothing changes */
    CU_ASSERT_PTR_NULL(nn_div(a, v2));
    CU_ASSERT_EQUAL(nn_addcmul_(t, 1, a, b), NN_SHAPE);
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "div: shapes [2, 3] and [2] do not broadcast");
    CHECK_T(t, &s, D(1, 2, 3, 4, 0, -1));
    nn_ctx_scratch_reset(ctx);
}

/* One step of torch.optim.Adam (lr 0.1, betas (0.9, 0.999), eps 1e-8) written
 * with the ops, as an optimizer plugin would: every value stays on the device. */
static void adam_step(nn_tensor *p, nn_tensor *g, nn_tensor *m, nn_tensor *v, int step)
{
    /* hyper-parameters in double, as Python floats, rounded once */
    const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    nn_ctx *ctx = nn_tensor_ctx(p);
    int prev = nn_grad_set_enabled(ctx, 0);
    CHECK_OK(nn_tensor_scale_(m, (float)b1), NULL);           /* exp_avg.lerp_(grad, 1 - b1) */
    CHECK_OK(nn_tensor_add_(m, g, (float)(1 - b1)), NULL);
    CHECK_OK(nn_tensor_scale_(v, (float)b2), NULL);           /* exp_avg_sq.mul_(b2) */
    CHECK_OK(nn_addcmul_(v, (float)(1 - b2), g, g), NULL);    /*   .addcmul_(grad, grad, 1 - b2) */
    double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
    nn_tensor *denom = nn_add_scalar(nn_mul_scalar(nn_sqrt(v), (float)(1 / sqrt(bc2))), (float)eps);
    CHECK_OK(nn_addcdiv_(p, (float)(-lr / bc1), m, denom), NULL);
    nn_grad_set_enabled(ctx, prev);
}

static void test_adam_with_ops(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape s = shp1(4);
    nn_tensor *p = t1d(4, (const float[]){1, -2, 3, 0.5f}, 1);
    nn_tensor *m = t1d(4, NULL, 0), *v = t1d(4, NULL, 0);
    nn_tensor *g1 = t1d(4, (const float[]){0.1f, -0.2f, 0.3f, 0.4f}, 0);
    nn_tensor *g2 = t1d(4, (const float[]){-0.5f, 0.1f, 0.2f, 0}, 0);
    adam_step(p, g1, m, v, 1);
    CHECK_T(p, &s, D(0.899999976, -1.89999998, 2.9000001, 0.400000006));
    adam_step(p, g2, m, v, 2);
    check_t_(p, &s, D(0.95983541, -1.87336624, 2.80296493, 0.332994163), 4, 1e-6, "p", __LINE__,
             __func__);
    check_t_(m, &s, D(-0.0410000011, -0.00800000038, 0.0470000021, 0.0360000022), 4, 1e-7, "m",
             __LINE__, __func__);
    check_t_(v, &s, D(0.000259990018, 4.99600028e-05, 0.000129910011, 0.000159840012), 4, 1e-9,
             "v", __LINE__, __func__);
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(p));
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

/* ---- reductions along a dimension ---------------------------------------------------- */

/* (2, 3, 4): (i * 7 % 11) - 5 for i = 0..23, no two equal along any dimension */
static const float T234[24] = {-5, 2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5,
                               2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 2};

static void test_reduce_dim_values(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape s234 = shp3(2, 3, 4);
    nn_tensor *t = tensor_from(&s234, T234, 0);
    nn_shape s34 = shp2(3, 4), s24 = shp2(2, 4), s23 = shp2(2, 3);
    nn_shape k34 = shp3(1, 3, 4), k24 = shp3(2, 1, 4), k23 = shp3(2, 3, 1);

    static const double sum0[12] = {-3, 0, 3, 6, -2, 1, 4, -4, -1, 2, -6, -3};
    static const double mean0[12] = {-1.5, 0, 1.5, 3, -1, 0.5, 2, -2, -0.5, 1, -3, -1.5};
    static const double max0[12] = {2, 2, 5, 5, 1, 4, 4, 0, 3, 3, -1, 2};
    static const double arg0[12] = {1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1};
    CHECK_T(nn_sum_dim(t, 0, 0), &s34, sum0);
    CHECK_T(nn_sum_dim(t, -3, 1), &k34, sum0);
    CHECK_T(nn_mean_dim(t, 0, 0), &s34, mean0);
    nn_tensor *ix = NULL;
    CHECK_T(nn_max_dim(t, 0, 0, &ix), &s34, max0);
    CHECK_T(ix, &s34, arg0);
    CHECK_T(nn_argmax(t, -3, 1), &k34, arg0);

    CHECK_T(nn_sum_dim(t, 1, 0), &s24, D(-8, 2, 1, 0, 2, 1, 0, -1));
    CHECK_T(nn_mean_dim(t, -2, 1), &k24,
            D(-2.66666675, 0.666666687, 0.333333343, 0, 0.666666687, 0.333333343, 0, -0.333333343));
    CHECK_T(nn_max_dim(t, 1, 1, &ix), &k24, D(1, 3, 4, 5, 3, 4, 5, 2));
    CHECK_T(ix, &k24, D(1, 2, 1, 0, 2, 1, 0, 2));
    CHECK_T(nn_argmax(t, 1, 0), &s24, D(1, 2, 1, 0, 2, 1, 0, 2));

    static const double sum2[6] = {0, 2, -7, 6, -3, -1};
    CHECK_T(nn_sum_dim(t, 2, 0), &s23, sum2);
    CHECK_T(nn_sum_dim(t, -1, 1), &k23, sum2);
    CHECK_T(nn_mean_dim(t, -1, 0), &s23, D(0, 0.5, -1.75, 1.5, -0.75, -0.25));
    CHECK_T(nn_max_dim(t, -1, 0, NULL), &s23, D(5, 4, 3, 5, 4, 3));
    CHECK_T(nn_argmax(t, 2, 1), &k23, D(3, 2, 1, 2, 1, 0));

    /* ties: the first maximum; a NaN is the maximum, as torch */
    nn_tensor *ties = t2d(2, 4, (const float[]){1, 3, 3, 2, 5, 5, NAN, 5}, 0);
    nn_shape s2 = shp1(2);
    CHECK_T(nn_max_dim(ties, 1, 0, &ix), &s2, D(3, NAN));
    CHECK_T(ix, &s2, D(1, 2));
    CHECK_T(nn_argmax(ties, -1, 0), &s2, D(1, 2));
    CU_ASSERT_FALSE(nn_tensor_requires_grad(ix));

    /* a transposed view is reduced as its values read */
    nn_tensor *a = t2d(2, 3, A23, 0);
    nn_shape s3 = shp1(3);
    CHECK_T(nn_sum_dim(nn_t(a), 0, 0), &s2, D(2, -0.5)); /* t(a) is (3, 2): sums of a's rows */
    CHECK_T(nn_max_dim(nn_t(a), 1, 0, NULL), &s3, D(1, 5, 3));

    /* 1-d to 0-d; a 0-d tensor has dimension 0 (or -1) of size 1 */
    nn_shape s0 = shp0(), s1 = shp1(1);
    CHECK_T(nn_sum_dim(t1d(3, (const float[]){1, 2, 4}, 0), 0, 0), &s0, D(7));
    CHECK_T(nn_mean_dim(t1d(3, (const float[]){1, 2, 4}, 0), -1, 1), &s1, D(7.0 / 3));
    nn_tensor *sc = tensor_from(&s0, (const float[]){2.5f}, 0);
    CHECK_T(nn_sum_dim(sc, 0, 0), &s0, D(2.5));
    CHECK_T(nn_max_dim(sc, -1, 1, &ix), &s0, D(2.5));
    CHECK_T(ix, &s0, D(0));

    /* an empty dimension: sum 0, mean NaN, as torch */
    nn_shape e = shp2(2, 0);
    nn_tensor *empty = tensor_from(&e, NULL, 0);
    CHECK_T(nn_sum_dim(empty, 1, 0), &s2, D(0, 0));
    CHECK_T(nn_mean_dim(empty, 1, 0), &s2, D(NAN, NAN));
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

/* ---- reshape, view, detach --------------------------------------------------------------- */

static void test_reshape_view_values(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *a = t2d(2, 3, A23, 0);
    nn_shape s32 = shp2(3, -1), r32 = shp2(3, 2), flat = shp1(-1), r6 = shp1(6);
    static const double av[6] = {1, -2, 3, 0.5, 5, -6};
    nn_tensor *r = nn_reshape(a, &s32);
    CHECK_T(r, &r32, av);
    CU_ASSERT_TRUE(nn_tensor_is_contiguous(r));
    nn_shape s3 = shp3(1, -1, 1), r3 = shp3(1, 6, 1);
    CHECK_T(nn_reshape(a, &s3), &r3, av);
    nn_tensor *v = nn_view(a, &flat);
    CHECK_T(v, &r6, av);
    nn_shape s0 = shp0(), one = shp1(1);
    CHECK_T(nn_view(t1d(1, (const float[]){4}, 0), &s0), &s0, D(4)); /* to 0-d */
    CHECK_T(nn_reshape(tensor_from(&s0, (const float[]){4}, 0), &flat), &one, D(4));

    /* views share storage: a write to a shows through both */
    CU_ASSERT_EQUAL(nn_tensor_fill_(a, 7), NN_OK);
    CHECK_T(v, &r6, D(7, 7, 7, 7, 7, 7));
    CHECK_T(r, &r32, D(7, 7, 7, 7, 7, 7));
    CU_ASSERT_EQUAL(nn_tensor_from_host(a, A23, 6), NN_OK);

    /* reshape of a transposed view copies, in the view's order; view refuses */
    nn_tensor *at = nn_t(a);
    nn_tensor *c = nn_reshape(at, &flat);
    CHECK_T(c, &r6, D(1, 0.5, -2, 5, 3, -6));
    CU_ASSERT_EQUAL(nn_tensor_fill_(a, 7), NN_OK);
    CHECK_T(c, &r6, D(1, 0.5, -2, 5, 3, -6)); /* a copy: a's change does not show */
    CU_ASSERT_EQUAL(nn_tensor_from_host(a, A23, 6), NN_OK);
    CU_ASSERT_PTR_NULL(nn_view(at, &flat));
    CHECK_CTX_ERROR(ctx, NN_UNSUPPORTED, "view: the tensor is not contiguous");
    CU_ASSERT_PTR_NULL(nn_view(at, &flat));
    CHECK_CTX_ERROR(ctx, NN_UNSUPPORTED, "use reshape()");
    nn_ctx_scratch_reset(ctx);
}

static void test_reshape_errors(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *a = t2d(2, 3, A23, 0);
    nn_shape two = shp2(-1, -1), neg = shp2(-2, -3), bad = shp2(4, 2), odd = shp1(-1);
    nn_shape inf = shp2(4, -1), zero = shp2(0, -1);
    CU_ASSERT_PTR_NULL(nn_reshape(a, &two));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "reshape: only one dimension can be inferred (shape [-1, -1])");
    CU_ASSERT_PTR_NULL(nn_view(a, &neg));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "view: invalid shape dimension -2 in [-2, -3]");
    CU_ASSERT_PTR_NULL(nn_reshape(a, &bad));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "reshape: shape [4, 2] is invalid for input of size 6");
    CU_ASSERT_PTR_NULL(nn_view(a, &inf));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "view: shape [4, -1] is invalid for input of size 6");
    CU_ASSERT_PTR_NULL(nn_reshape(a, &zero));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "shape [0, -1] is invalid for input of size 6");
    nn_shape huge = {3, {(int64_t)1 << 40, (int64_t)1 << 40, -1}};
    CU_ASSERT_PTR_NULL(nn_reshape(a, &huge));
    CHECK_CTX_ERROR(ctx, NN_SHAPE,
                    "reshape: shape [1099511627776, 1099511627776, -1] is too large");
    nn_shape big = {NN_MAX_DIMS + 1, {1}};
    CU_ASSERT_PTR_NULL(nn_reshape(a, &big));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "reshape: rank 9 outside 0..8");
    CU_ASSERT_PTR_NULL(nn_reshape(a, NULL));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "reshape: no shape given");
    CU_ASSERT_PTR_NULL(nn_view(NULL, &odd));
    CU_ASSERT_PTR_NULL(nn_reshape(NULL, &odd));
    CU_ASSERT_PTR_NULL(nn_detach(NULL));
    CU_ASSERT_EQUAL(nn_ctx_error(ctx, NULL), NN_OK);
    nn_ctx_scratch_reset(ctx);
}

static void test_detach(void)
{
    nn_ctx *ctx = fx_ctx();
    const float xv[3] = {1, -2, 0.5f};
    nn_shape s = shp1(3);
    nn_tensor *x = t1d(3, xv, 1);
    nn_tensor *h = nn_mul_scalar(x, 2);
    nn_tensor *d = nn_detach(h);
    CHECK_T(d, &s, D(2, -4, 1));
    CU_ASSERT_FALSE(nn_tensor_requires_grad(d));
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(d));
    CU_ASSERT_STRING_EQUAL(nn_tensor_grad_fn_name(h), "MulBackward0"); /* h keeps its node */
    nn_tensor *dx = nn_detach(x); /* shares storage with the leaf */
    CU_ASSERT_EQUAL(nn_tensor_fill_(x, 3), NN_OK);
    CHECK_T(dx, &s, D(3, 3, 3));
    CU_ASSERT_EQUAL(nn_tensor_from_host(x, xv, 3), NN_OK);

    /* no gradient through it: d/dx sum(x * detach(x) * w) = detach(x) * w */
    nn_tensor *w = t1d(3, (const float[]){1, 2, 3}, 0);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(nn_mul(x, nn_detach(x)), w))), NN_OK);
    CHECK_GRAD(x, &s, D(1, -4, 1.5));

    /* a detached transposed view stays one */
    nn_tensor *a = t2d(2, 3, A23, 1);
    nn_tensor *dt = nn_detach(nn_t(a));
    nn_shape s32 = shp2(3, 2);
    CU_ASSERT_FALSE(nn_tensor_is_contiguous(dt));
    CHECK_T(dt, &s32, D(1, 0.5, -2, 5, 3, -6));
    CU_ASSERT_FALSE(nn_tensor_requires_grad(dt));
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

/* ---- errors ---------------------------------------------------------------------------- */

static void test_op_errors(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *a = t2d(2, 3, A23, 0), *b = t2d(2, 3, B23, 0);
    nn_tensor *v2 = t1d(2, NULL, 0), *v3 = t1d(3, NULL, 0);
    nn_tensor *(*bin[])(nn_tensor *, nn_tensor *) = {nn_div, nn_pow, nn_maximum, nn_minimum};
    const char *names[] = {"div", "pow", "maximum", "minimum"};
    for (int i = 0; i < 4; i++) {
        char want[96];
        CU_ASSERT_PTR_NULL(bin[i](a, v2));
        snprintf(want, sizeof want, "%s: shapes [2, 3] and [2] do not broadcast", names[i]);
        CHECK_CTX_ERROR(ctx, NN_SHAPE, want);
        CU_ASSERT_PTR_NULL(bin[i](v3, a)); /* only b broadcasts */
        snprintf(want, sizeof want, "%s: shapes [3] and [2, 3] do not broadcast", names[i]);
        CHECK_CTX_ERROR(ctx, NN_SHAPE, want);
        CU_ASSERT_PTR_NULL(bin[i](NULL, a)); /* NULL in, NULL out, no error of its own */
        CU_ASSERT_PTR_NULL(bin[i](a, NULL));
        CU_ASSERT_EQUAL(nn_ctx_error(ctx, NULL), NN_OK);
    }
    CU_ASSERT_PTR_NULL(nn_where(v2, a, b));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "where: condition [2], a [2, 3] and b [2, 3] do not broadcast");
    CU_ASSERT_PTR_NULL(nn_where(a, v3, v2));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "where: condition [2, 3], a [3] and b [2] do not broadcast");

    CU_ASSERT_PTR_NULL(nn_sum_dim(a, 2, 0));
    CHECK_CTX_ERROR(ctx, NN_INVALID,
                    "sum: dimension out of range (expected to be in range of [-2, 1], but got 2)");
    CU_ASSERT_PTR_NULL(nn_mean_dim(a, -3, 1));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "mean: dimension out of range");
    nn_tensor *ix = a; /* reset to NULL on failure */
    CU_ASSERT_PTR_NULL(nn_max_dim(v3, 1, 0, &ix));
    CU_ASSERT_PTR_NULL(ix);
    CHECK_CTX_ERROR(ctx, NN_INVALID,
                    "max: dimension out of range (expected to be in range of [-1, 0], but got 1)");
    nn_shape s0 = shp0();
    CU_ASSERT_PTR_NULL(nn_argmax(tensor_from(&s0, NULL, 0), 1, 0));
    CHECK_CTX_ERROR(ctx, NN_INVALID,
                    "argmax: dimension out of range (expected to be in range of [-1, 0], but "
                    "got 1)");
    nn_shape e = shp2(2, 0);
    nn_tensor *empty = tensor_from(&e, NULL, 0);
    CU_ASSERT_PTR_NULL(nn_max_dim(empty, 1, 0, NULL));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "max: dimension 1 has size 0");
    CU_ASSERT_PTR_NULL(nn_argmax(empty, -1, 0));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "argmax: dimension 1 has size 0");

    /* NULL in, NULL out, and no error of its own */
    CU_ASSERT_PTR_NULL(nn_pow_scalar(NULL, 2));
    CU_ASSERT_PTR_NULL(nn_add_scalar(NULL, 2));
    CU_ASSERT_PTR_NULL(nn_sqrt(NULL));
    CU_ASSERT_PTR_NULL(nn_abs(NULL));
    CU_ASSERT_PTR_NULL(nn_clamp(NULL, 0, 1));
    CU_ASSERT_PTR_NULL(nn_where(NULL, a, b));
    CU_ASSERT_PTR_NULL(nn_where(a, NULL, b));
    CU_ASSERT_PTR_NULL(nn_where(a, b, NULL));
    CU_ASSERT_PTR_NULL(nn_sum_dim(NULL, 0, 0));
    CU_ASSERT_PTR_NULL(nn_mean_dim(NULL, 0, 1));
    ix = a;
    CU_ASSERT_PTR_NULL(nn_max_dim(NULL, 0, 0, &ix));
    CU_ASSERT_PTR_NULL(ix);
    CU_ASSERT_PTR_NULL(nn_argmax(NULL, 0, 0));
    CU_ASSERT_EQUAL(nn_ctx_error(ctx, NULL), NN_OK);

    /* sticky: after an error every op returns NULL */
    CU_ASSERT_PTR_NULL(nn_div(a, v2));
    CU_ASSERT_PTR_NULL(nn_sqrt(a));
    CU_ASSERT_PTR_NULL(nn_sum_dim(a, 0, 0));
    nn_shape fl = shp1(-1);
    CU_ASSERT_PTR_NULL(nn_reshape(a, &fl));
    CU_ASSERT_PTR_NULL(nn_detach(a));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "div: shapes [2, 3] and [2] do not broadcast");
    nn_ctx_scratch_reset(ctx);
}

static void test_two_contexts(void)
{
    nn_ctx *ctx = fx_ctx(), *other = NULL;
    char *err = NULL;
    CHECK_OK(nn_ctx_open(g_reg, "cpu", 1, &other, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    nn_shape s = shp1(3);
    nn_tensor *b = nn_tensor_new(other, &s, 0);
    nn_tensor *a = t1d(3, NULL, 0);
    CU_ASSERT_PTR_NULL(nn_div(a, b));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "two contexts");
    CU_ASSERT_PTR_NULL(nn_where(b, a, a));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "two contexts");
    CU_ASSERT_EQUAL(nn_addcmul_(a, 1, a, b), NN_INVALID);
    CHECK_CTX_ERROR(ctx, NN_INVALID, "two contexts");
    nn_tensor_free(b);
    nn_ctx_free(other);
    nn_free(err);
}

/* ---- autograd bookkeeping ---------------------------------------------------------------- */

static void test_node_names(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *a = t2d(2, 3, A23, 1), *b = t2d(2, 3, B23, 1), *c = t2d(2, 3, B23, 0);
    nn_shape fl = shp1(-1), s32 = shp2(3, 2);
    struct {
        nn_tensor *t;
        const char *name;
    } cases[] = {
        {nn_div(a, b), "DivBackward0"},
        {nn_pow(a, b), "PowBackward1"},
        {nn_pow_scalar(a, 2), "PowBackward0"},
        {nn_maximum(a, c), "MaximumBackward0"},
        {nn_minimum(c, a), "MinimumBackward0"},
        {nn_add_scalar(a, 1), "AddBackward0"},
        {nn_sqrt(a), "SqrtBackward0"},
        {nn_abs(a), "AbsBackward0"},
        {nn_clamp(a, -1, 1), "ClampBackward1"},
        {nn_clamp(a, 0, INFINITY), "ClampBackward1"},
        {nn_where(c, a, b), "WhereBackward0"},
        {nn_where(c, c, b), "WhereBackward0"},
        {nn_sum_dim(a, 1, 0), "SumBackward1"},
        {nn_mean_dim(a, -1, 1), "MeanBackward1"},
        {nn_max_dim(a, 0, 0, NULL), "MaxBackward0"},
        {nn_reshape(a, &fl), "ViewBackward0"},
        {nn_view(a, &s32), "ViewBackward0"},
        {nn_reshape(nn_t(a), &fl), "UnsafeViewBackward0"}, /* a copy, as torch */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(cases[i].t);
        const char *n = nn_tensor_grad_fn_name(cases[i].t);
        CU_ASSERT_PTR_NOT_NULL(n);
        if (n) CU_ASSERT_STRING_EQUAL(n, cases[i].name);
        CU_ASSERT_TRUE(nn_tensor_requires_grad(cases[i].t));
    }
    /* argmax, detach and max's indices have no node */
    nn_tensor *ix = NULL;
    CU_ASSERT_PTR_NOT_NULL(nn_max_dim(a, 1, 0, &ix));
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(ix));
    CU_ASSERT_FALSE(nn_tensor_requires_grad(ix));
    nn_tensor *am = nn_argmax(a, 1, 0), *d = nn_detach(a);
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(am));
    CU_ASSERT_FALSE(nn_tensor_requires_grad(am));
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(d));
    /* the condition of where counts for nothing: a requires-grad cond alone records nothing */
    nn_tensor *y = nn_where(a, c, c);
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(y));
    CU_ASSERT_FALSE(nn_tensor_requires_grad(y));
    /* no node without an input that requires grad, nor under no-grad */
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(nn_div(c, c)));
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(nn_reshape(c, &fl)));
    nn_grad_set_enabled(ctx, 0);
    nn_tensor *ys[] = {nn_div(a, b), nn_clamp(a, 0, 1), nn_sum_dim(a, 0, 0), nn_view(a, &fl),
                       nn_where(c, a, b), nn_max_dim(a, 1, 1, NULL)};
    for (size_t i = 0; i < sizeof ys / sizeof ys[0]; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(ys[i]);
        CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(ys[i]));
        CU_ASSERT_FALSE(nn_tensor_requires_grad(ys[i]));
    }
    nn_grad_set_enabled(ctx, 1);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

/* ---- gradients at kinks and ties, against PyTorch's ------------------------------------ *
 * Each case backpropagates L = sum(y * w), w = 1, 2, 3, ... */

static nn_tensor *weights_like(nn_tensor *y)
{
    int64_t n = nn_tensor_numel(y);
    float *w = malloc((size_t)n * sizeof *w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    for (int64_t i = 0; i < n; i++) w[i] = (float)(i + 1);
    nn_tensor *t = tensor_from(nn_tensor_shape(y), w, 0);
    free(w);
    return t;
}

static void backward_weighted(nn_tensor *y)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, weights_like(y)))), NN_OK);
    CHECK_CTX_OK(nn_tensor_ctx(y));
}

static void test_grad_kinks(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape s5 = shp1(5), s3 = shp1(3), s2 = shp1(2);
    /* maximum / minimum: ties split in halves; NaN on a's side passes to both */
    const float av[5] = {1, -2, 3, 5, NAN}, bv[5] = {2, -2, -1, 5, 0};
    nn_tensor *a = t1d(5, av, 1), *b = t1d(5, bv, 1);
    backward_weighted(nn_maximum(a, b));
    CHECK_GRAD(a, &s5, D(0, 1, 3, 2, 5));
    CHECK_GRAD(b, &s5, D(1, 1, 0, 2, 5));
    nn_tensor_zero_grad(a);
    nn_tensor_zero_grad(b);
    backward_weighted(nn_minimum(a, b));
    CHECK_GRAD(a, &s5, D(1, 1, 0, 2, 5));
    CHECK_GRAD(b, &s5, D(0, 1, 3, 2, 5));

    /* abs'(0) = 0 */
    nn_tensor *x = t1d(3, (const float[]){-2, 0, 3}, 1);
    backward_weighted(nn_abs(x));
    CHECK_GRAD(x, &s3, D(-1, 0, 3));
    /* pow with exponent 0: no gradient; x^2 at 0: 0 */
    nn_tensor_zero_grad(x);
    backward_weighted(nn_pow_scalar(x, 0));
    CHECK_GRAD(x, &s3, D(0, 0, 0));
    nn_tensor_zero_grad(x);
    backward_weighted(nn_pow_scalar(x, 2));
    CHECK_GRAD(x, &s3, D(-4, 0, 18));

    /* clamp passes the gradient where lo <= x <= hi, the bounds included */
    nn_tensor *c = t1d(5, (const float[]){-2, -1, 0, 1, 2}, 1);
    backward_weighted(nn_clamp(c, -1, 1));
    CHECK_GRAD(c, &s5, D(0, 2, 3, 4, 0));
    nn_tensor_zero_grad(c);
    backward_weighted(nn_clamp(c, 0, INFINITY));
    CHECK_GRAD(c, &s5, D(0, 0, 3, 4, 5));
    nn_tensor_zero_grad(c);
    backward_weighted(nn_clamp(c, 1, -1));
    CHECK_GRAD(c, &s5, D(0, 0, 0, 0, 0));

    /* sqrt'(0) = inf */
    nn_tensor *r = t1d(2, (const float[]){0, 4}, 1);
    backward_weighted(nn_sqrt(r));
    float g[5];
    to_host(nn_tensor_grad(r), g, 2);
    CU_ASSERT_TRUE(isinf(g[0]) && g[0] > 0);
    CHECK_CLOSE(g[1], 0.5, 1e-7, 0);

    /* pow(a, b): 0 for a where b == 0, 0 for b where a == 0 <= b */
    nn_tensor *pa = t1d(5, (const float[]){0, 0, 2, 0, -2}, 1);
    nn_tensor *pb = t1d(5, (const float[]){2, 0, 0, -1, 3}, 1);
    backward_weighted(nn_pow(pa, pb));
    to_host(nn_tensor_grad(pa), g, 5);
    CHECK_ARRAY(g, D(0, 0, 0), 3, 0, 0);
    CU_ASSERT_TRUE(isinf(g[3]) && g[3] < 0);
    CHECK_CLOSE(g[4], 60, 1e-5, 0);
    to_host(nn_tensor_grad(pb), g, 5);
    CHECK_ARRAY(g, D(0, 0, 2.07944155), 3, 1e-6, 1e-6);
    CU_ASSERT_TRUE(isinf(g[3]) && g[3] < 0);
    CU_ASSERT_TRUE(isnan(g[4])); /* log(-2) */

    /* max along a dimension: all of it to the index returned, the first */
    nn_tensor *m = t2d(2, 4, (const float[]){1, 3, 3, 2, 5, 5, 4, 5}, 1);
    nn_tensor *ix = NULL;
    backward_weighted(nn_max_dim(m, 1, 0, &ix));
    nn_shape s24 = shp2(2, 4);
    CHECK_T(ix, &s2, D(1, 0));
    CHECK_GRAD(m, &s24, D(0, 1, 0, 0, 2, 0, 0, 0));
    nn_tensor_zero_grad(m); /* the buffer is kept: overwritten, not added to */
    backward_weighted(nn_max_dim(m, 0, 1, NULL));
    CHECK_GRAD(m, &s24, D(0, 0, 0, 0, 1, 2, 3, 4));

    /* where: no gradient for the condition, even when it requires grad */
    nn_tensor *cond = t1d(3, (const float[]){1, 0, -1}, 1);
    nn_tensor *wa = t1d(3, (const float[]){1, 2, 3}, 1), *wb = t1d(1, (const float[]){5}, 1);
    backward_weighted(nn_where(cond, wa, wb));
    CU_ASSERT_PTR_NULL(nn_tensor_grad(cond));
    CHECK_GRAD(wa, &s3, D(1, 0, 3));
    nn_shape s1 = shp1(1);
    CHECK_GRAD(wb, &s1, D(2));
    nn_ctx_scratch_reset(ctx);
}

/* ---- gradients against finite differences -------------------------------------------- */

static uint64_t seed = 900;

static nn_tensor *rnd(const nn_shape *s, float lo, float hi, int requires_grad)
{
    nn_tensor *t = tensor_from(s, NULL, requires_grad);
    nn_rng rng;
    nn_rng_seed(&rng, seed++, 3);
    CU_ASSERT_EQUAL_FATAL(nn_tensor_uniform_(t, &rng, lo, hi), NN_OK);
    return t;
}

/* |values| in [lo, hi], every other one negated: away from 0 by lo. */
static nn_tensor *rnd_signed(const nn_shape *s, float lo, float hi)
{
    nn_tensor *t = rnd(s, lo, hi, 1);
    int64_t n = nn_tensor_numel(t);
    float *h = malloc((size_t)n * sizeof *h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    to_host(t, h, n);
    for (int64_t i = 0; i < n; i += 2) h[i] = -h[i];
    CU_ASSERT_EQUAL(nn_tensor_from_host(t, h, n), NN_OK);
    free(h);
    return t;
}

/* b = a + d with |d| in [0.1, 0.5] of either sign, so that maximum and
 * minimum are smooth at the finite differences. */
static nn_tensor *apart_from(nn_tensor *a)
{
    int64_t n = nn_tensor_numel(a);
    float *h = malloc((size_t)n * sizeof *h), *v = malloc((size_t)n * sizeof *v);
    CU_ASSERT_FATAL(h && v);
    to_host(a, h, n);
    nn_rng rng;
    nn_rng_seed(&rng, seed++, 5);
    for (int64_t i = 0; i < n; i++) {
        float d = 0.1f + 0.4f * nn_rng_uniform(&rng);
        v[i] = h[i] + (i % 3 ? d : -d);
    }
    nn_tensor *t = tensor_from(nn_tensor_shape(a), v, 1);
    free(h);
    free(v);
    return t;
}

/* The values (i - n / 2) / 10, i = 0 .. n-1, in a random order: apart by 0.1. */
static nn_tensor *distinct(const nn_shape *s)
{
    int64_t n = nn_shape_numel(s), idx[64];
    CU_ASSERT_FATAL(n <= 64);
    nn_rng rng;
    nn_rng_seed(&rng, seed++, 9);
    nn_rng_permutation(&rng, idx, n);
    float v[64];
    for (int64_t i = 0; i < n; i++) v[i] = (float)(idx[i] - n / 2) / 10.0f;
    return tensor_from(s, v, 1);
}

static nn_tensor *f_div(gc *g, nn_tensor *const *in) { return nn_div(in[0], in[1]); }
static nn_tensor *f_pow(gc *g, nn_tensor *const *in) { return nn_pow(in[0], in[1]); }
static nn_tensor *f_maximum(gc *g, nn_tensor *const *in) { return nn_maximum(in[0], in[1]); }
static nn_tensor *f_minimum(gc *g, nn_tensor *const *in) { return nn_minimum(in[0], in[1]); }
static nn_tensor *f_div_self(gc *g, nn_tensor *const *in)
{
    return nn_div(nn_exp(in[0]), nn_add_scalar(in[0], 3)); /* two paths into in[0] */
}

static void test_grad_binary(void)
{
    nn_shape s = shp2(3, 4), row = shp1(4), one = shp1(1);
    const nn_shape *bs[3] = {&s, &row, &one};
    for (int k = 0; k < 3; k++) {
        char what[64];
        gc gd = {.f = f_div, .in = {rnd(&s, 0.2f, 1, 1), rnd_signed(bs[k], 0.3f, 2)}, .nin = 2};
        snprintf(what, sizeof what, "div, b of %lld elements", (long long)nn_shape_numel(bs[k]));
        gc_run(&gd, what, 1);
        gc gp = {.f = f_pow, .in = {rnd(&s, 0.5f, 2, 1), rnd(bs[k], -1.5f, 2, 1)}, .nin = 2};
        snprintf(what, sizeof what, "pow, b of %lld elements", (long long)nn_shape_numel(bs[k]));
        gc_run(&gp, what, 1);
    }
    /* maximum and minimum: b whole, along rows and of one element, with a's
     * values at least 0.05 from b's */
    nn_tensor *a = distinct(&s); /* -0.55 .. 0.55 by 0.1 */
    float h[12];
    to_host(a, h, 12);
    for (int i = 0; i < 12; i++) h[i] += 0.05f;
    CU_ASSERT_EQUAL(nn_tensor_from_host(a, h, 12), NN_OK);
    const float bv[4] = {-0.95f, 1.5f, 0.0f, -2.0f};
    nn_tensor *b_full = apart_from(a), *b_row = t1d(4, bv, 1);
    nn_tensor *b_one = t1d(1, (const float[]){0.0f}, 1);
    nn_tensor *bb[3] = {b_full, b_row, b_one};
    for (int k = 0; k < 3; k++) {
        char what[64];
        gc gx = {.f = f_maximum, .in = {a, bb[k]}, .nin = 2};
        long long nb = (long long)nn_tensor_numel(bb[k]);
        snprintf(what, sizeof what, "maximum, b of %lld elements", nb);
        gc_run(&gx, what, 1);
        gc gn = {.f = f_minimum, .in = {a, bb[k]}, .nin = 2};
        snprintf(what, sizeof what, "minimum, b of %lld elements", nb);
        gc_run(&gn, what, 1);
    }
    gc g2 = {.f = f_div_self, .in = {rnd(&s, -1, 1, 1)}, .nin = 1};
    GRADCHECK(&g2);
    /* only b requires grad */
    gc g3 = {.f = f_div, .in = {rnd(&s, -1, 1, 0), rnd_signed(&row, 0.5f, 2)}, .nin = 2};
    GRADCHECK(&g3);
}

static nn_tensor *f_pow_scalar(gc *g, nn_tensor *const *in) { return nn_pow_scalar(in[0], g->s); }
static nn_tensor *f_add_scalar(gc *g, nn_tensor *const *in) { return nn_add_scalar(in[0], g->s); }
static nn_tensor *f_sqrt(gc *g, nn_tensor *const *in) { return nn_sqrt(in[0]); }
static nn_tensor *f_abs(gc *g, nn_tensor *const *in) { return nn_abs(in[0]); }
static nn_tensor *f_clamp(gc *g, nn_tensor *const *in) { return nn_clamp(in[0], -0.5f, 0.6f); }
static nn_tensor *f_clamp_min(gc *g, nn_tensor *const *in)
{
    return nn_clamp(in[0], 0.3f, INFINITY);
}
static nn_tensor *f_clamp_max(gc *g, nn_tensor *const *in)
{
    return nn_clamp(nn_t(in[0]), -INFINITY, -0.2f); /* of a transposed view */
}

static void test_grad_elementwise(void)
{
    nn_shape s = shp2(3, 4);
    const float exps[] = {2, 3, -1, 1.5f};
    for (int i = 0; i < 4; i++) { /* whole exponents on any sign, others on positives */
        gc g = {.f = f_pow_scalar, .in = {i < 2 ? rnd(&s, -1.5f, 1.5f, 1) : rnd(&s, 0.5f, 2, 1)},
                .nin = 1, .s = exps[i]};
        char what[64];
        snprintf(what, sizeof what, "pow_scalar %g", exps[i]);
        gc_run(&g, what, 1);
    }
    gc ga = {.f = f_add_scalar, .in = {rnd(&s, -1, 1, 1)}, .nin = 1, .s = -0.75f};
    GRADCHECK(&ga);
    gc gs = {.f = f_sqrt, .in = {rnd(&s, 0.3f, 2, 1)}, .nin = 1};
    GRADCHECK(&gs);
    gc gb = {.f = f_abs, .in = {rnd_signed(&s, 0.1f, 1.5f)}, .nin = 1};
    GRADCHECK(&gb);
    /* clamp: every value at least 0.05 from a bound */
    nn_tensor *x = distinct(&s); /* -0.55 .. 0.55 by 0.1 once shifted */
    float h[12];
    to_host(x, h, 12);
    for (int i = 0; i < 12; i++) h[i] += 0.05f;
    CU_ASSERT_EQUAL(nn_tensor_from_host(x, h, 12), NN_OK);
    gc gc1 = {.f = f_clamp, .in = {x}, .nin = 1};
    GRADCHECK(&gc1);
    gc gc2 = {.f = f_clamp_min, .in = {x}, .nin = 1};
    GRADCHECK(&gc2);
    gc gc3 = {.f = f_clamp_max, .in = {x}, .nin = 1};
    GRADCHECK(&gc3);
}

static nn_tensor *f_where(gc *g, nn_tensor *const *in) { return nn_where(in[0], in[1], in[2]); }

static void test_grad_where(void)
{
    nn_shape s = shp2(3, 4), row = shp1(4), one = shp1(1);
    nn_tensor *c = t2d(3, 4, (const float[]){1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0}, 0);
    gc g1 = {.f = f_where, .in = {c, rnd(&s, -1, 1, 1), rnd(&s, -1, 1, 1)}, .nin = 3};
    GRADCHECK(&g1); /* also: c, which needs no gradient, gets none */
    gc g2 = {.f = f_where, .in = {c, rnd(&row, -1, 1, 1), rnd(&one, -1, 1, 1)}, .nin = 3};
    GRADCHECK(&g2);
    nn_tensor *crow = t1d(4, (const float[]){1, 1, 0, 0}, 0);
    gc g3 = {.f = f_where, .in = {crow, rnd(&one, -1, 1, 1), rnd(&s, -1, 1, 1)}, .nin = 3};
    GRADCHECK(&g3);
}

static int g_dim, g_keep;
static nn_tensor *f_sum_dim(gc *g, nn_tensor *const *in)
{
    return nn_sum_dim(in[0], g_dim, g_keep);
}
static nn_tensor *f_mean_dim(gc *g, nn_tensor *const *in)
{
    return nn_mean_dim(in[0], g_dim, g_keep);
}
static nn_tensor *f_max_dim(gc *g, nn_tensor *const *in)
{
    return nn_max_dim(in[0], g_dim, g_keep, NULL);
}
static nn_tensor *f_max_dim_t(gc *g, nn_tensor *const *in)
{
    return nn_max_dim(nn_t(in[0]), g_dim, g_keep, NULL);
}

static void test_grad_reduce_dim(void)
{
    nn_shape s = shp3(2, 3, 4), m = shp2(4, 6);
    const int dims[] = {0, 1, 2, -1, -2, -3};
    for (int i = 0; i < 6; i++)
        for (g_keep = 0; g_keep < 2; g_keep++) {
            char what[64];
            g_dim = dims[i];
            gc gs = {.f = f_sum_dim, .in = {rnd(&s, -1, 1, 1)}, .nin = 1};
            snprintf(what, sizeof what, "sum_dim %d keepdim %d", g_dim, g_keep);
            gc_run(&gs, what, 1);
            gc gm = {.f = f_mean_dim, .in = {rnd(&s, -1, 1, 1)}, .nin = 1};
            snprintf(what, sizeof what, "mean_dim %d keepdim %d", g_dim, g_keep);
            gc_run(&gm, what, 1);
            gc gx = {.f = f_max_dim, .in = {distinct(&s)}, .nin = 1};
            snprintf(what, sizeof what, "max_dim %d keepdim %d", g_dim, g_keep);
            gc_run(&gx, what, 1);
        }
    g_dim = 1;
    g_keep = 0;
    gc gt = {.f = f_max_dim_t, .in = {distinct(&m)}, .nin = 1};
    GRADCHECK(&gt);
}

static nn_tensor *f_reshape(gc *g, nn_tensor *const *in)
{
    nn_shape s = shp3(2, -1, 3);
    return nn_reshape(in[0], &s);
}
static nn_tensor *f_reshape_t(gc *g, nn_tensor *const *in)
{
    nn_shape s = shp1(-1);
    return nn_tanh(nn_reshape(nn_t(in[0]), &s)); /* a copy, then an op on it */
}
static nn_tensor *f_view_chain(gc *g, nn_tensor *const *in)
{
    nn_shape s = shp2(2, 6), back = shp2(3, 4);
    nn_tensor *v = nn_view(in[0], &s);
    /* the view used twice, and a view of an op result */
    return nn_add(nn_view(nn_mul(v, v), &back), nn_view(nn_sigmoid(v), &back));
}

static nn_tensor *f_view_and_direct(gc *g, nn_tensor *const *in)
{
    /* two paths into x: through views and directly */
    nn_shape flat = shp1(-1), back = shp2(3, 4);
    return nn_add(nn_reshape(nn_sigmoid(nn_view(in[0], &flat)), &back), in[0]);
}

static void test_grad_reshape_view(void)
{
    nn_shape s = shp2(3, 4);
    gc g1 = {.f = f_reshape, .in = {rnd(&s, -1, 1, 1)}, .nin = 1};
    GRADCHECK(&g1);
    gc g2 = {.f = f_reshape_t, .in = {rnd(&s, -1, 1, 1)}, .nin = 1};
    GRADCHECK(&g2);
    gc g3 = {.f = f_view_chain, .in = {rnd(&s, -1, 1, 1)}, .nin = 1};
    GRADCHECK(&g3);
    gc g4 = {.f = f_view_and_direct, .in = {rnd(&s, -1, 1, 1)}, .nin = 1};
    GRADCHECK(&g4);
}

/* ---- what the ops are for: a Huber loss and a batch norm from ops only ----------------- */

/* mean(where(|d| < delta, 0.5 d^2, delta (|d| - delta / 2))), d = pred - target;
 * the condition relu(delta - |d|) is nonzero where |d| < delta. */
static nn_tensor *huber(nn_tensor *pred, nn_tensor *target, float delta)
{
    nn_tensor *d = nn_sub(pred, target), *ad = nn_abs(d);
    nn_tensor *cond = nn_clamp(nn_add_scalar(nn_mul_scalar(ad, -1), delta), 0, INFINITY);
    nn_tensor *quad = nn_mul_scalar(nn_pow_scalar(d, 2), 0.5f);
    nn_tensor *lin = nn_mul_scalar(nn_add_scalar(ad, -0.5f * delta), delta);
    return nn_mean(nn_where(cond, quad, lin));
}

static nn_tensor *f_huber(gc *g, nn_tensor *const *in) { return huber(in[0], in[1], 1.0f); }

/* (x - mean_0(x)) / sqrt(var_0(x) + eps) * gamma + beta, over the batch. */
static nn_tensor *f_batch_norm(gc *g, nn_tensor *const *in)
{
    nn_tensor *x = in[0];
    nn_tensor *xc = nn_sub(x, nn_mean_dim(x, 0, 0));
    nn_tensor *var = nn_mean_dim(nn_pow_scalar(xc, 2), 0, 0);
    nn_tensor *y = nn_div(xc, nn_sqrt(nn_add_scalar(var, 1e-5f)));
    return nn_add(nn_mul(y, in[1]), in[2]);
}

/* log(sum(exp(x), 0)) as torch.logsumexp(x, 0): shifted by the maximum. */
static nn_tensor *f_logsumexp(gc *g, nn_tensor *const *in)
{
    nn_tensor *m = nn_max_dim(in[0], 0, 0, NULL);
    return nn_add(nn_log(nn_sum_dim(nn_exp(nn_sub(in[0], m)), 0, 0)), m);
}

static void test_composites(void)
{
    nn_ctx *ctx = fx_ctx();
    const float pv[6] = {0.5f, 2.0f, -1.5f, 0.2f, 3.0f, -0.1f}, tv[6] = {0, 0, 0, 1, 1, 1};
    nn_tensor *p = t1d(6, pv, 1), *t = t1d(6, tv, 0);
    nn_tensor *L = huber(p, t, 1.0f);
    CHECK_CLOSE(item(L), 0.8408333659172058, 1e-6, 1e-6); /* F.huber_loss(delta=1) */
    CU_ASSERT_EQUAL(nn_backward(L), NN_OK);
    nn_shape s6 = shp1(6);
    CHECK_GRAD(p, &s6,
               D(0.0833333358, 0.166666672, -0.166666672, -0.13333334, 0.166666672, -0.166666672));
    nn_ctx_scratch_reset(ctx);
    gc gh = {.f = f_huber, .in = {t1d(6, pv, 1), t}, .nin = 2};
    GRADCHECK(&gh);

    nn_shape s = shp2(5, 3), row = shp1(3);
    gc gb = {.f = f_batch_norm, .in = {rnd(&s, -2, 2, 1), rnd(&row, 0.5f, 1.5f, 1),
                                       rnd(&row, -1, 1, 1)},
             .nin = 3, .eps = 1e-3};
    GRADCHECK(&gb);

    nn_tensor *x = t2d(2, 3, (const float[]){1, 2, 3, 4, 0, -1}, 0);
    nn_shape s3 = shp1(3);
    CHECK_T(f_logsumexp(NULL, &x), &s3, D(4.04858732, 2.12692809, 3.01814985)); /* torch */
    nn_shape s43 = shp2(4, 3);
    gc gl = {.f = f_logsumexp, .in = {distinct(&s43)}, .nin = 1};
    GRADCHECK(&gl);
    CHECK_CTX_OK(ctx);
}

void register_ops_math_tests(void)
{
    CU_pSuite s = fx_add_suite("ops_math");
    if (!s) return;
    FX_ADD(s, test_div_values);
    FX_ADD(s, test_pow_values);
    FX_ADD(s, test_maximum_minimum_values);
    FX_ADD(s, test_unary_math_values);
    FX_ADD(s, test_where_values);
    FX_ADD(s, test_addc_values);
    FX_ADD(s, test_addc_errors);
    FX_ADD(s, test_adam_with_ops);
    FX_ADD(s, test_reduce_dim_values);
    FX_ADD(s, test_reshape_view_values);
    FX_ADD(s, test_reshape_errors);
    FX_ADD(s, test_detach);
    FX_ADD(s, test_op_errors);
    FX_ADD(s, test_two_contexts);
    FX_ADD(s, test_node_names);
    FX_ADD(s, test_grad_kinks);
    FX_ADD(s, test_grad_binary);
    FX_ADD(s, test_grad_elementwise);
    FX_ADD(s, test_grad_where);
    FX_ADD(s, test_grad_reduce_dim);
    FX_ADD(s, test_grad_reshape_view);
    FX_ADD(s, test_composites);
}
