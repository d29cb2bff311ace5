/* test_tensor.c - tensors, views, in-place updates, op values against hand
 * computed ones, op errors, scratch and the autograd bookkeeping. */
#include "test.h"

#include <math.h>
#include <string.h>


/* ---- creation, shapes, host copies ------------------------------------------- */

static void test_new_shape(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *t = t2d(2, 3, NULL, 0);
    CU_ASSERT_PTR_EQUAL(nn_tensor_ctx(t), ctx);
    CU_ASSERT_EQUAL(nn_tensor_dtype(t), NN_F32);
    CU_ASSERT_EQUAL(nn_tensor_shape(t)->ndim, 2);
    CU_ASSERT_EQUAL(nn_tensor_numel(t), 6);
    CU_ASSERT_EQUAL(nn_tensor_dim(t, 0), 2);
    CU_ASSERT_EQUAL(nn_tensor_dim(t, 1), 3);
    CU_ASSERT_EQUAL(nn_tensor_dim(t, -1), 3);
    CU_ASSERT_TRUE(nn_tensor_is_contiguous(t));
    CU_ASSERT_FALSE(nn_tensor_requires_grad(t));
    CU_ASSERT_PTR_NULL(nn_tensor_grad(t));
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(t));
    float h[6] = {1, 1, 1, 1, 1, 1};
    to_host(t, h, 6);
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(h[i], 0.0f); /* zero-filled */

    nn_tensor *g = t1d(4, NULL, 1);
    CU_ASSERT_TRUE(nn_tensor_requires_grad(g));
    nn_tensor_set_requires_grad(g, 0);
    CU_ASSERT_FALSE(nn_tensor_requires_grad(g));

    nn_shape s0 = shp0();
    nn_tensor *sc = tensor_from(&s0, NULL, 0);
    CU_ASSERT_EQUAL(nn_tensor_numel(sc), 1);
    CU_ASSERT_EQUAL(nn_tensor_shape(sc)->ndim, 0);

    char buf[64];
    nn_shape s = shp2(5, 2);
    nn_shape_format(&s, 0, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "[5, 2]");
    nn_shape_format(&s, 1, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "[-1, 5, 2]");
    CU_ASSERT_EQUAL(nn_shape_numel(&s), 10);
}

static void test_new_bad_shape(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape s = {NN_MAX_DIMS + 1, {1}};
    CU_ASSERT_PTR_NULL(nn_tensor_new(ctx, &s, 0));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "rank");
    nn_shape neg = shp2(2, -3);
    CU_ASSERT_PTR_NULL(nn_tensor_new(ctx, &neg, 0));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "-3");
    CU_ASSERT_PTR_NULL(nn_tensor_scratch(ctx, &neg));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "-3");
}

static void test_host_round_trip(void)
{
    const float v[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.125f, 1e-3f};
    nn_tensor *t = t2d(3, 2, v, 0);
    float h[6];
    to_host(t, h, 6);
    CU_ASSERT_EQUAL(memcmp(h, v, sizeof h), 0);
    CU_ASSERT_EQUAL(nn_tensor_to_host(t, h, 5), NN_SHAPE);
    CU_ASSERT_EQUAL(nn_tensor_from_host(t, v, 7), NN_SHAPE);
    float x = 0;
    CU_ASSERT_EQUAL(nn_tensor_item(t, &x), NN_SHAPE);

    nn_tensor *one = t1d(1, (const float[]){42.5f}, 0);
    CU_ASSERT_EQUAL(nn_tensor_item(one, &x), NN_OK);
    CU_ASSERT_EQUAL(x, 42.5f);

    /* a scratch tensor too */
    nn_shape s = shp1(3);
    nn_tensor *sc = nn_tensor_scratch(fx_ctx(), &s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    CU_ASSERT_EQUAL(nn_tensor_from_host(sc, v, 3), NN_OK);
    to_host(sc, h, 3);
    CU_ASSERT_EQUAL(memcmp(h, v, 3 * sizeof(float)), 0);
    nn_ctx_scratch_reset(fx_ctx());
}

/* ---- views ---------------------------------------------------------------------- */

static void test_transpose_view(void)
{
    nn_ctx *ctx = fx_ctx();
    const float v[6] = {1, 2, 3, 4, 5, 6}; /* [[1 2 3] [4 5 6]] */
    nn_tensor *a = t2d(2, 3, v, 0);
    nn_tensor *at = nn_t(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    CU_ASSERT_EQUAL(nn_tensor_dim(at, 0), 3);
    CU_ASSERT_EQUAL(nn_tensor_dim(at, 1), 2);
    CU_ASSERT_FALSE(nn_tensor_is_contiguous(at));
    float h[6];
    to_host(at, h, 6);
    const double want[6] = {1, 4, 2, 5, 3, 6};
    CHECK_ARRAY(h, want, 6, 0, 0);

    /* a view shares storage: writes to a show through */
    CU_ASSERT_EQUAL(nn_tensor_fill_(a, 7.0f), NN_OK);
    to_host(at, h, 6);
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(h[i], 7.0f);
    CU_ASSERT_EQUAL(nn_tensor_from_host(a, v, 6), NN_OK);

    /* t(t(a)) is a again, contiguous */
    nn_tensor *att = nn_t(at);
    CU_ASSERT_TRUE(nn_tensor_is_contiguous(att));
    to_host(att, h, 6);
    const double id[6] = {1, 2, 3, 4, 5, 6};
    CHECK_ARRAY(h, id, 6, 0, 0);

    /* contiguous() copies the transposed values into row-major order */
    nn_tensor *c = nn_contiguous(at);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_TRUE(nn_tensor_is_contiguous(c));
    CU_ASSERT_EQUAL(nn_tensor_dim(c, 0), 3);
    to_host(c, h, 6);
    CHECK_ARRAY(h, want, 6, 0, 0);
    CU_ASSERT_PTR_EQUAL(nn_contiguous(a), a); /* already contiguous: itself */

    /* in-place updates refuse views */
    CU_ASSERT_EQUAL(nn_tensor_from_host(at, v, 6), NN_UNSUPPORTED);
    CU_ASSERT_EQUAL(nn_tensor_fill_(at, 1.0f), NN_UNSUPPORTED);

    /* an element-wise op on the view sees the transposed values */
    nn_tensor *s = nn_mul_scalar(at, 2.0f);
    to_host(s, h, 6);
    const double twice[6] = {2, 8, 4, 10, 6, 12};
    CHECK_ARRAY(h, twice, 6, 0, 0);

    /* t() needs 2-d */
    CU_ASSERT_PTR_NULL(nn_t(t1d(3, NULL, 0)));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "2-d");
    nn_ctx_scratch_reset(ctx);
}

/* ---- in-place updates --------------------------------------------------------- */

static void test_inplace(void)
{
    const float v[4] = {1, -2, 3, -4};
    const float w[4] = {10, 20, 30, 40};
    nn_tensor *t = t1d(4, v, 0), *x = t1d(4, w, 0);
    float h[4];

    CU_ASSERT_EQUAL(nn_tensor_add_(t, x, -0.5f), NN_OK);
    const double add[4] = {1 - 5, -2 - 10, 3 - 15, -4 - 20};
    to_host(t, h, 4);
    CHECK_ARRAY(h, add, 4, 1e-6, 1e-6);

    CU_ASSERT_EQUAL(nn_tensor_fill_(t, 2.5f), NN_OK);
    const double fill[4] = {2.5, 2.5, 2.5, 2.5};
    to_host(t, h, 4);
    CHECK_ARRAY(h, fill, 4, 0, 0);

    CU_ASSERT_EQUAL(nn_tensor_copy_(t, x), NN_OK);
    const double copy[4] = {10, 20, 30, 40};
    to_host(t, h, 4);
    CHECK_ARRAY(h, copy, 4, 0, 0);

    CU_ASSERT_EQUAL(nn_tensor_zero_(t), NN_OK);
    const double zero[4] = {0, 0, 0, 0};
    to_host(t, h, 4);
    CHECK_ARRAY(h, zero, 4, 0, 0);

    nn_tensor *small = t1d(3, NULL, 0);
    CU_ASSERT_EQUAL(nn_tensor_add_(t, small, 1.0f), NN_SHAPE);
    CU_ASSERT_EQUAL(nn_tensor_copy_(t, small), NN_SHAPE);
    to_host(t, h, 4);
    CHECK_ARRAY(h, zero, 4, 0, 0); /* refused updates change nothing */

    /* a (2, 2) and a (4) have the same numel: add_ works element by element */
    nn_tensor *sq = t2d(2, 2, w, 0);
    CU_ASSERT_EQUAL(nn_tensor_add_(t, sq, 1.0f), NN_OK);
    to_host(t, h, 4);
    CHECK_ARRAY(h, copy, 4, 0, 0);
}

static void test_uniform(void)
{
    enum { N = 1000 };
    static float a[N], b[N], c[N];
    nn_tensor *t = t1d(N, NULL, 0);
    nn_rng r1, r2, r3;
    nn_rng_seed(&r1, 99, 3);
    nn_rng_seed(&r2, 99, 3);
    nn_rng_seed(&r3, 100, 3);

    CU_ASSERT_EQUAL(nn_tensor_uniform_(t, &r1, -0.5f, 2.0f), NN_OK);
    to_host(t, a, N);
    CU_ASSERT_EQUAL(nn_tensor_uniform_(t, &r2, -0.5f, 2.0f), NN_OK);
    to_host(t, b, N);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0); /* same seed: the same values */
    CU_ASSERT_EQUAL(nn_tensor_uniform_(t, &r3, -0.5f, 2.0f), NN_OK);
    to_host(t, c, N);
    CU_ASSERT_NOT_EQUAL(memcmp(a, c, sizeof a), 0); /* another seed: others */

    /* in range, spread over it, and exactly lo + (hi - lo) * u of the RNG */
    nn_rng ref;
    nn_rng_seed(&ref, 99, 3);
    int inrange = 1, exact = 1, low = 0, high = 0;
    for (int i = 0; i < N; i++) {
        if (!(a[i] >= -0.5f && a[i] < 2.0f)) inrange = 0;
        if (a[i] != -0.5f + 2.5f * nn_rng_uniform(&ref)) exact = 0;
        low += a[i] < 0.0f;
        high += a[i] > 1.5f;
    }
    CU_ASSERT_TRUE(inrange);
    CU_ASSERT_TRUE(exact);
    CU_ASSERT_TRUE(low > 100 && low < 300);   /* expected 200 */
    CU_ASSERT_TRUE(high > 100 && high < 300); /* expected 200 */
}

/* ---- op values ------------------------------------------------------------------- */

/* A (2, 3), B (3, 2): A @ B = [[1*7+2*9+3*11, 1*8+2*10+3*12], [4*7+5*9+6*11, 4*8+5*10+6*12]] */
static const float A23[6] = {1, 2, 3, 4, 5, 6};
static const float B32[6] = {7, 8, 9, 10, 11, 12};
static const double AB[4] = {58, 64, 139, 154};

static void test_mm_addmm_values(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *a = t2d(2, 3, A23, 0), *b = t2d(3, 2, B32, 0);
    float h[4];

    nn_tensor *y = nn_mm(a, b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_EQUAL(nn_tensor_dim(y, 0), 2);
    CU_ASSERT_EQUAL(nn_tensor_dim(y, 1), 2);
    to_host(y, h, 4);
    CHECK_ARRAY(h, AB, 4, 1e-6, 1e-6);

    nn_tensor *bias = t1d(2, (const float[]){0.5f, -1.0f}, 0);
    y = nn_addmm(bias, a, b);
    to_host(y, h, 4);
    const double rowb[4] = {58.5, 63, 139.5, 153};
    CHECK_ARRAY(h, rowb, 4, 1e-6, 1e-6);

    nn_tensor *full = t2d(2, 2, (const float[]){1, 2, 3, 4}, 0);
    y = nn_addmm(full, a, b);
    to_host(y, h, 4);
    const double fullb[4] = {59, 66, 142, 158};
    CHECK_ARRAY(h, fullb, 4, 1e-6, 1e-6);

    /* transposed operands: at (3, 2) holds A^T, so t(at) @ b = A @ B */
    const float AT[6] = {1, 4, 2, 5, 3, 6}, BT[6] = {7, 9, 11, 8, 10, 12};
    nn_tensor *at = t2d(3, 2, AT, 0), *bt = t2d(2, 3, BT, 0);
    to_host(nn_mm(nn_t(at), b), h, 4);
    CHECK_ARRAY(h, AB, 4, 1e-6, 1e-6);
    to_host(nn_mm(a, nn_t(bt)), h, 4);
    CHECK_ARRAY(h, AB, 4, 1e-6, 1e-6);
    to_host(nn_addmm(bias, nn_t(at), nn_t(bt)), h, 4);
    CHECK_ARRAY(h, rowb, 4, 1e-6, 1e-6);
    /* (A @ B)^T = B^T @ A^T */
    to_host(nn_mm(nn_t(b), nn_t(a)), h, 4);
    const double abt[4] = {58, 139, 64, 154};
    CHECK_ARRAY(h, abt, 4, 1e-6, 1e-6);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_elementwise_values(void)
{
    nn_ctx *ctx = fx_ctx();
    const float av[6] = {1, -2, 3, 0.5f, 5, -6};
    const float bv[6] = {2, 4, -1, 0.25f, 10, 3};
    nn_tensor *a = t2d(2, 3, av, 0), *b = t2d(2, 3, bv, 0);
    nn_tensor *row = t1d(3, (const float[]){10, 20, 30}, 0);
    float h[6];

    to_host(nn_add(a, b), h, 6);
    CHECK_ARRAY(h, ((const double[]){3, 2, 2, 0.75, 15, -3}), 6, 1e-6, 1e-6);
    to_host(nn_sub(a, b), h, 6);
    CHECK_ARRAY(h, ((const double[]){-1, -6, 4, 0.25, -5, -9}), 6, 1e-6, 1e-6);
    to_host(nn_mul(a, b), h, 6);
    CHECK_ARRAY(h, ((const double[]){2, -8, -3, 0.125, 50, -18}), 6, 1e-6, 1e-6);

    /* b (3) broadcast over the rows of a (2, 3) */
    to_host(nn_add(a, row), h, 6);
    CHECK_ARRAY(h, ((const double[]){11, 18, 33, 10.5, 25, 24}), 6, 1e-6, 1e-6);
    to_host(nn_sub(a, row), h, 6);
    CHECK_ARRAY(h, ((const double[]){-9, -22, -27, -9.5, -15, -36}), 6, 1e-6, 1e-6);
    to_host(nn_mul(a, row), h, 6);
    CHECK_ARRAY(h, ((const double[]){10, -40, 90, 5, 100, -180}), 6, 1e-6, 1e-6);

    to_host(nn_mul_scalar(a, -1.5f), h, 6);
    CHECK_ARRAY(h, ((const double[]){-1.5, 3, -4.5, -0.75, -7.5, 9}), 6, 1e-6, 1e-6);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_unary_values(void)
{
    nn_ctx *ctx = fx_ctx();
    const float xv[5] = {-2, -0.5f, 0, 0.75f, 3};
    nn_tensor *x = t1d(5, xv, 0);
    float h[5];
    double want[5];

    to_host(nn_sigmoid(x), h, 5);
    for (int i = 0; i < 5; i++) want[i] = 1.0 / (1.0 + exp(-(double)xv[i]));
    CHECK_ARRAY(h, want, 5, 1e-6, 1e-6);
    CU_ASSERT_EQUAL(h[2], 0.5f); /* sigmoid(0) */

    to_host(nn_relu(x), h, 5);
    CHECK_ARRAY(h, ((const double[]){0, 0, 0, 0.75, 3}), 5, 0, 0);

    to_host(nn_tanh(x), h, 5);
    for (int i = 0; i < 5; i++) want[i] = tanh((double)xv[i]);
    CHECK_ARRAY(h, want, 5, 1e-6, 1e-6);

    to_host(nn_exp(x), h, 5);
    for (int i = 0; i < 5; i++) want[i] = exp((double)xv[i]);
    CHECK_ARRAY(h, want, 5, 1e-6, 1e-6);

    const float pv[4] = {1, 2.718281828f, 0.5f, 10};
    nn_tensor *p = t1d(4, pv, 0);
    to_host(nn_log(p), h, 4);
    CHECK_ARRAY(h, ((const double[]){0, 1, -0.69314718056, 2.302585093}), 4, 1e-6, 1e-6);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_reduce_values(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *a = t2d(2, 3, A23, 0);
    nn_tensor *s = nn_sum(a), *m = nn_mean(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(nn_tensor_shape(s)->ndim, 0); /* 0-d, as torch.sum */
    CU_ASSERT_EQUAL(nn_tensor_numel(s), 1);
    CHECK_CLOSE(item(s), 21.0, 1e-6, 1e-6);
    CHECK_CLOSE(item(m), 3.5, 1e-6, 1e-6);
    /* over a transposed view: the same */
    CHECK_CLOSE(item(nn_sum(nn_t(a))), 21.0, 1e-6, 1e-6);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_bce_values(void)
{
    nn_ctx *ctx = fx_ctx();
    const float pv[4] = {0.9f, 0.2f, 0.6f, 0.3f}, tv[4] = {1, 0, 0, 1};
    nn_tensor *p = t1d(4, pv, 0), *t = t1d(4, tv, 0);
    double want = 0;
    for (int i = 0; i < 4; i++)
        want -= tv[i] * log((double)pv[i]) + (1 - tv[i]) * log(1.0 - (double)pv[i]);
    want /= 4; /* (0.105361 + 0.223144 + 0.916291 + 1.203973) / 4 = 0.612192 */
    CHECK_CLOSE(item(fx_bce(p, t)), want, 1e-6, 1e-5);
    CHECK_CLOSE(want, 0.6121922, 1e-6, 0);

    /* the log clamp at -100 of PyTorch's BCELoss */
    const float one[1] = {1}, zero[1] = {0};
    nn_tensor *p0 = t1d(1, zero, 0), *p1 = t1d(1, one, 0);
    nn_tensor *t0 = t1d(1, zero, 0), *t1 = t1d(1, one, 0);
    CHECK_CLOSE(item(fx_bce(p0, t1)), 100.0, 1e-6, 1e-6); /* torch: 100 */
    CHECK_CLOSE(item(fx_bce(p1, t0)), 100.0, 1e-6, 1e-6);
    CHECK_CLOSE(item(fx_bce(p0, t0)), 0.0, 1e-6, 1e-6);
    CHECK_CLOSE(item(fx_bce(p1, t1)), 0.0, 1e-6, 1e-6);
    nn_tensor *pm = t1d(2, (const float[]){0, 0.5f}, 0);
    nn_tensor *tt = t1d(2, (const float[]){1, 1}, 0);
    CHECK_CLOSE(item(fx_bce(pm, tt)), (100.0 + log(2.0)) / 2, 1e-5, 1e-6);
    CU_ASSERT_TRUE(isfinite(item(fx_bce(pm, tt))));
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

/* ---- errors --------------------------------------------------------------------- */

static void test_op_errors(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *a = t2d(2, 3, A23, 0), *b = t2d(2, 3, B32, 0);
    nn_tensor *v2 = t1d(2, NULL, 0);

    CU_ASSERT_PTR_NULL(nn_mm(a, b));
    const char *msg = NULL;
    CU_ASSERT_EQUAL(nn_ctx_error(ctx, &msg), NN_SHAPE);
    CHECK_CONTAINS(msg, "cannot be multiplied");
    CHECK_CONTAINS(msg, "[2, 3] and [2, 3]");
    /* sticky: later ops return NULL and the first message stays */
    CU_ASSERT_PTR_NULL(nn_sigmoid(a));
    CU_ASSERT_PTR_NULL(nn_add(a, b));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "cannot be multiplied");
    CU_ASSERT_EQUAL(nn_ctx_error(ctx, NULL), NN_OK);
    CU_ASSERT_PTR_NOT_NULL(nn_sigmoid(a)); /* works again once cleared */

    CU_ASSERT_PTR_NULL(nn_add(a, v2));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "do not broadcast");
    CU_ASSERT_PTR_NULL(nn_mul(v2, a)); /* only b broadcasts */
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "do not broadcast");
    CU_ASSERT_PTR_NULL(fx_bce(a, v2));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "target size [2] differs from input size [2, 3]");
    nn_tensor *tg = t2d(2, 3, NULL, 1);
    CU_ASSERT_PTR_NULL(fx_bce(a, tg));
    CHECK_CTX_ERROR(ctx, NN_UNSUPPORTED,
                    "binary_cross_entropy: the gradient for 'target' is not implemented");
    /* a plugin op given no tensor for a required input says which */
    CU_ASSERT_PTR_NULL(fx_bce(NULL, a));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "binary_cross_entropy: no tensor for input 'input'");
    CU_ASSERT_PTR_NULL(nn_addmm(t1d(3, NULL, 0), a, nn_t(a)));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "bias [3] does not fit the output [2, 2]");
    CU_ASSERT_PTR_NULL(nn_mm(v2, a));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "2-d");

    /* NULL in, NULL out, and no error of its own */
    CU_ASSERT_PTR_NULL(nn_sigmoid(NULL));
    CU_ASSERT_PTR_NULL(nn_add(NULL, a));
    CU_ASSERT_PTR_NULL(nn_add(a, NULL));
    CU_ASSERT_PTR_NULL(nn_mm(NULL, a));
    CU_ASSERT_PTR_NULL(nn_addmm(NULL, a, NULL));
    CU_ASSERT_PTR_NULL(nn_sum(NULL));
    CU_ASSERT_PTR_NULL(nn_t(NULL));
    CU_ASSERT_PTR_NULL(nn_mul_scalar(NULL, 2.0f));
    CU_ASSERT_EQUAL(nn_backward(NULL), NN_INVALID);
    CU_ASSERT_EQUAL(nn_ctx_error(ctx, NULL), NN_OK);
    /* so a failed forward is checked once, at its end */
    nn_tensor *y = nn_sum(nn_sigmoid(nn_mm(a, b)));
    CU_ASSERT_PTR_NULL(y);
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "cannot be multiplied");

    /* backward needs one element that requires grad */
    nn_tensor *x = t2d(2, 3, A23, 1);
    CU_ASSERT_EQUAL(nn_backward(nn_sigmoid(x)), NN_SHAPE);
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "one-element");
    CU_ASSERT_EQUAL(nn_backward(nn_sum(a)), NN_INVALID);
    CHECK_CTX_ERROR(ctx, NN_INVALID, "does not require grad");
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
    CU_ASSERT_PTR_NULL(nn_add(a, b));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "two contexts");
    nn_tensor_free(b);
    nn_ctx_free(other);
    nn_free(err);
}

static void test_scratch_reset(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *x = t2d_random(64, 64, -1, 1, 5, 1);
    size_t first = 0;
    for (int round = 0; round < 20; round++) {
        nn_tensor *y = nn_sum(nn_sigmoid(nn_mm(x, nn_t(x))));
        CU_ASSERT_PTR_NOT_NULL_FATAL(y);
        CU_ASSERT_EQUAL(nn_backward(y), NN_OK);
        CU_ASSERT_TRUE(nn_ctx_scratch_reserved(ctx) > 0);
        nn_ctx_scratch_reset(ctx);
        if (round == 0) first = nn_ctx_scratch_reserved(ctx);
        CU_ASSERT_EQUAL(nn_ctx_scratch_reserved(ctx), first); /* reused, not grown */
    }
    /* a bigger step grows the arena once, then it stays */
    nn_tensor *big = t2d_random(600, 600, -1, 1, 6, 0);
    for (int round = 0; round < 3; round++) {
        CU_ASSERT_PTR_NOT_NULL(nn_mm(big, big));
        nn_ctx_scratch_reset(ctx);
        if (round == 0) first = nn_ctx_scratch_reserved(ctx);
        CU_ASSERT_EQUAL(nn_ctx_scratch_reserved(ctx), first);
    }
    CU_ASSERT_TRUE(first >= 600 * 600 * sizeof(float));
    CHECK_CTX_OK(ctx);
}

/* ---- autograd bookkeeping -------------------------------------------------------- */

static void test_grad_fn_names(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *a = t2d(2, 3, A23, 1), *b = t2d(3, 2, B32, 1), *c = t2d(2, 3, B32, 0);
    nn_tensor *bias = t1d(2, NULL, 1), *p = t1d(2, (const float[]){0.3f, 0.6f}, 1);
    nn_tensor *tgt = t1d(2, (const float[]){0, 1}, 0);
    struct {
        nn_tensor *t;
        const char *name;
    } cases[] = {
        {nn_addmm(bias, a, b), "AddmmBackward0"},
        {nn_mm(a, b), "MmBackward0"},
        {nn_t(a), "TBackward0"},
        {nn_contiguous(nn_t(a)), "CloneBackward0"},
        {nn_add(a, c), "AddBackward0"},
        {nn_sub(a, c), "SubBackward0"},
        {nn_mul(a, c), "MulBackward0"},
        {nn_mul_scalar(a, 2.0f), "MulBackward0"},
        {nn_sigmoid(a), "SigmoidBackward0"},
        {nn_relu(a), "ReluBackward0"},
        {nn_tanh(a), "TanhBackward0"},
        {nn_exp(a), "ExpBackward0"},
        {nn_log(a), "LogBackward0"},
        {nn_sum(a), "SumBackward0"},
        {nn_mean(a), "MeanBackward0"},
        {fx_bce(p, tgt), "BinaryCrossEntropyBackward0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(cases[i].t);
        const char *n = nn_tensor_grad_fn_name(cases[i].t);
        CU_ASSERT_PTR_NOT_NULL(n);
        if (n) CU_ASSERT_STRING_EQUAL(n, cases[i].name);
        CU_ASSERT_TRUE(nn_tensor_requires_grad(cases[i].t));
    }
    /* leaves have none; ops on tensors that need no grad record nothing */
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(a));
    nn_tensor *y = nn_sigmoid(c);
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(y));
    CU_ASSERT_FALSE(nn_tensor_requires_grad(y));
    /* one input requiring grad is enough */
    CU_ASSERT_STRING_EQUAL(nn_tensor_grad_fn_name(nn_add(c, a)), "AddBackward0");
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_no_grad(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *a = t2d(2, 3, A23, 1), *b = t2d(3, 2, B32, 1);
    CU_ASSERT_TRUE(nn_grad_enabled(ctx));
    CU_ASSERT_EQUAL(nn_grad_set_enabled(ctx, 0), 1);
    CU_ASSERT_FALSE(nn_grad_enabled(ctx));
    nn_tensor *ys[] = {nn_mm(a, b), nn_t(a), nn_sigmoid(a), nn_add(a, a), nn_sum(a),
                       nn_mul_scalar(a, 3.0f)};
    for (size_t i = 0; i < sizeof ys / sizeof ys[0]; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(ys[i]);
        CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(ys[i]));
        CU_ASSERT_FALSE(nn_tensor_requires_grad(ys[i]));
    }
    /* the values are still computed */
    float h[4];
    to_host(ys[0], h, 4);
    CHECK_ARRAY(h, AB, 4, 1e-6, 1e-6);
    /* nothing to backpropagate from */
    CU_ASSERT_EQUAL(nn_backward(ys[4]), NN_INVALID);
    nn_ctx_clear_error(ctx);
    CU_ASSERT_PTR_NULL(nn_tensor_grad(a));
    CU_ASSERT_EQUAL(nn_grad_set_enabled(ctx, 1), 0);
    CU_ASSERT_STRING_EQUAL(nn_tensor_grad_fn_name(nn_sum(a)), "SumBackward0");
    nn_ctx_scratch_reset(ctx);
}

static void test_backward_twice(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *x = t1d(3, (const float[]){1, 2, 3}, 1);
    nn_tensor *L = nn_sum(nn_mul(x, x));
    CU_ASSERT_EQUAL(nn_backward(L), NN_OK);
    float g[3];
    to_host(nn_tensor_grad(x), g, 3);
    CHECK_ARRAY(g, ((const double[]){2, 4, 6}), 3, 1e-6, 1e-6);
    CU_ASSERT_EQUAL(nn_backward(L), NN_INVALID);
    CHECK_CTX_ERROR(ctx, NN_INVALID, "second time");
    /* and the gradient was not touched by the refused call */
    to_host(nn_tensor_grad(x), g, 3);
    CHECK_ARRAY(g, ((const double[]){2, 4, 6}), 3, 1e-6, 1e-6);
    nn_ctx_scratch_reset(ctx);
}

static void test_backward_shared_subgraph(void)
{
    /* h = sigmoid(x) feeds two losses. backward(L1) frees h's graph (as
     * retain_graph=False), so backward(L2) must either be refused, as
     * PyTorch refuses it ("Trying to backward through the graph a second
     * time"), or add L2's gradient to x.grad. Returning NN_OK while x.grad
     * lacks L2's part is a silently wrong gradient. */
    nn_ctx *ctx = fx_ctx();
    const float xv[3] = {0.5f, -1.0f, 2.0f};
    nn_tensor *x = t1d(3, xv, 1);
    nn_tensor *h = nn_sigmoid(x);
    nn_tensor *L1 = nn_sum(h), *L2 = nn_mul_scalar(nn_sum(h), 3.0f);
    double once[3], all[3];
    for (int i = 0; i < 3; i++) {
        double s = 1 / (1 + exp(-(double)xv[i]));
        once[i] = s * (1 - s);
        all[i] = 4 * once[i]; /* d(L1 + L2)/dx */
    }
    CU_ASSERT_EQUAL(nn_backward(L1), NN_OK);
    nn_status st = nn_backward(L2);
    float g[3];
    to_host(nn_tensor_grad(x), g, 3);
    if (st == NN_OK) {
        CHECK_ARRAY(g, all, 3, 1e-6, 1e-5); /* accumulated */
    } else {
        CHECK_STATUS(st, NN_INVALID, NULL);
        CHECK_CTX_ERROR(ctx, NN_INVALID, "second time");
        CHECK_ARRAY(g, once, 3, 1e-6, 1e-5);
    }
    nn_ctx_clear_error(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_grad_none_and_zero_grad(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *x = t1d(3, (const float[]){1, -2, 0.5f}, 1);
    nn_tensor *k = t1d(3, (const float[]){4, 5, 6}, 0);
    CU_ASSERT_PTR_NULL(nn_tensor_grad(x)); /* None before any backward */
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(x, k))), NN_OK);
    nn_tensor *g = nn_tensor_grad(x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(nn_tensor_numel(g), 3);
    CU_ASSERT_PTR_NULL(nn_tensor_grad(k)); /* k does not require grad */
    float h[3];
    to_host(g, h, 3);
    CHECK_ARRAY(h, ((const double[]){4, 5, 6}), 3, 1e-6, 1e-6);
    nn_ctx_scratch_reset(ctx);

    nn_tensor_zero_grad(x);
    CU_ASSERT_PTR_NULL(nn_tensor_grad(x)); /* None again */
    /* the next backward overwrites: no stale 4, 5, 6 added */
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul_scalar(x, 3.0f))), NN_OK);
    to_host(nn_tensor_grad(x), h, 3);
    CHECK_ARRAY(h, ((const double[]){3, 3, 3}), 3, 1e-6, 1e-6);
    nn_ctx_scratch_reset(ctx);
}

static void test_grad_accumulates(void)
{
    nn_ctx *ctx = fx_ctx();
    const float xv[4] = {0.5f, -1, 2, 0.25f};
    nn_tensor *x = t2d(2, 2, xv, 1);
    double once[4], twice[4];
    for (int i = 0; i < 4; i++) {
        double s = 1 / (1 + exp(-(double)xv[i]));
        once[i] = s * (1 - s) + 2.0 * xv[i]; /* d/dx sum(sigmoid(x) + x * x) */
        twice[i] = 2 * once[i];
    }
    float h[4];
    for (int pass = 0; pass < 2; pass++) { /* two fresh graphs */
        nn_tensor *L = nn_sum(nn_add(nn_sigmoid(x), nn_mul(x, x)));
        CU_ASSERT_EQUAL(nn_backward(L), NN_OK);
        nn_ctx_scratch_reset(ctx);
    }
    to_host(nn_tensor_grad(x), h, 4);
    CHECK_ARRAY(h, twice, 4, 1e-6, 1e-5);
    nn_tensor_zero_grad(x);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_add(nn_sigmoid(x), nn_mul(x, x)))), NN_OK);
    to_host(nn_tensor_grad(x), h, 4);
    CHECK_ARRAY(h, once, 4, 1e-6, 1e-5);
    nn_ctx_scratch_reset(ctx);
}

void register_tensor_tests(void)
{
    CU_pSuite s = fx_add_suite("tensor");
    if (!s) return;
    FX_ADD(s, test_new_shape);
    FX_ADD(s, test_new_bad_shape);
    FX_ADD(s, test_host_round_trip);
    FX_ADD(s, test_transpose_view);
    FX_ADD(s, test_inplace);
    FX_ADD(s, test_uniform);
    FX_ADD(s, test_mm_addmm_values);
    FX_ADD(s, test_elementwise_values);
    FX_ADD(s, test_unary_values);
    FX_ADD(s, test_reduce_values);
    FX_ADD(s, test_bce_values);
    FX_ADD(s, test_op_errors);
    FX_ADD(s, test_two_contexts);
    FX_ADD(s, test_scratch_reset);
    FX_ADD(s, test_grad_fn_names);
    FX_ADD(s, test_no_grad);
    FX_ADD(s, test_backward_twice);
    FX_ADD(s, test_backward_shared_subgraph);
    FX_ADD(s, test_grad_none_and_zero_grad);
    FX_ADD(s, test_grad_accumulates);
}
