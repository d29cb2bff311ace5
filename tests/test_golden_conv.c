/* test_golden_conv.c - conv2d, max_pool2d and avg_pool2d against PyTorch's
 * values (tests/golden/conv.txt, from gen_conv.py): the modules built from
 * their properties, with PyTorch's parameters copied in, give its output,
 * and the gradients of sum(y * w) for the input, the weight and the bias;
 * the conv2d op alone with a different stride, padding and dilation per
 * axis; a small net conv2d ! relu ! max_pool2d ! flatten ! linear; and the
 * modules' shapes, initialisation bounds and refusals.
 *
 * Tolerances: the reference is the float64 result rounded to float32, and
 * the plugins sum in float32 (OpenBLAS for conv2d), in another order. The
 * check is relative 1e-5 plus an absolute 1e-5 times the largest magnitude
 * of the tensor (golden_check's atol), so that an element that cancels to
 * near zero is held to the precision its terms allow, not to 1e-5 of
 * itself. Pooling copies or averages a few values: relative 1e-6. */
#include "golden.h"

#include <nn/plugin.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest |value| of golden tensor NAME. */
static double golden_max(golden *g, const char *name)
{
    nn_shape s;
    const float *v = golden_get(g, name, &s);
    double m = 0;
    for (int64_t i = 0; v && i < nn_shape_numel(&s); i++) m = fmax(m, fabs((double)v[i]));
    return m;
}

/* Checks t against PREFIX.KEY with rtol, and an absolute floor of rtol
 * times the tensor's largest magnitude. */
static void check_key(golden *g, const nn_tensor *t, const char *prefix, const char *key,
                      double rtol)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", prefix, key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    GOLDEN_CHECK(g, t, name, rtol * golden_max(g, name), rtol);
}

static nn_tensor *key_tensor(golden *g, const char *prefix, const char *key, int rg)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", prefix, key);
    return golden_tensor(g, name, rg);
}

/* cfg as whole numbers. */
static int get_cfg(golden *g, const char *prefix, int64_t *cfg, int n)
{
    char name[64];
    nn_shape s;
    snprintf(name, sizeof name, "%s.cfg", prefix);
    const float *v = golden_get(g, name, &s);
    CU_ASSERT_FATAL(v != NULL && nn_shape_numel(&s) == n);
    for (int i = 0; i < n; i++) cfg[i] = (int64_t)v[i];
    return n;
}

/* Copies PREFIX.KEY into the module's parameter NAME. */
static void set_param(golden *g, nn_module *m, const char *name, const char *prefix,
                      const char *key)
{
    char full[64];
    snprintf(full, sizeof full, "%s.%s", prefix, key);
    nn_shape s;
    const float *v = golden_get(g, full, &s);
    for (int i = 0; i < nn_module_param_count(m); i++) {
        const char *pn;
        nn_tensor *p = nn_module_param(m, i, &pn);
        if (strcmp(pn, name)) continue;
        CU_ASSERT_EQUAL_FATAL(nn_tensor_numel(p), nn_shape_numel(&s));
        CU_ASSERT_EQUAL(nn_tensor_from_host(p, v, nn_shape_numel(&s)), NN_OK);
        return;
    }
    CU_FAIL("no such parameter");
}

static nn_tensor *param(nn_module *m, const char *name)
{
    for (int i = 0; i < nn_module_param_count(m); i++) {
        const char *pn;
        nn_tensor *p = nn_module_param(m, i, &pn);
        if (!strcmp(pn, name)) return p;
    }
    return NULL;
}

static void test_golden_conv2d_module(void)
{
    golden *g = golden_open("conv.txt");
    nn_ctx *ctx = fx_ctx();
    for (int k = 0; k < 5; k++) {
        char pre[16], words[160], *err = NULL;
        int64_t c[10];
        snprintf(pre, sizeof pre, "conv%d", k);
        get_cfg(g, pre, c, 10);
        snprintf(words, sizeof words,
                 "out=%lld kernel=%lld stride=%lld padding=%lld dilation=%lld bias=%s",
                 (long long)c[4], (long long)c[5], (long long)c[6], (long long)c[7],
                 (long long)c[8], c[9] ? "true" : "false");
        nn_shape in = {3, {c[1], c[2], c[3]}};
        nn_module *m = NULL;
        CHECK_OK(nn_module_create(ctx, "conv2d", words, &in, &m, &err), err);
        nn_free(err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_EQUAL(nn_module_param_count(m), c[9] ? 2 : 1);
        set_param(g, m, "weight", pre, "weight");
        if (c[9]) set_param(g, m, "bias", pre, "bias");
        nn_tensor *x = key_tensor(g, pre, "x", 1), *w = key_tensor(g, pre, "w", 0);
        nn_tensor *y = nn_module_forward(m, x);
        CHECK_CTX_OK(ctx);
        check_key(g, y, pre, "y", 1e-5);
        /* The shape init declared is the one of the batch. */
        const nn_shape *os = nn_module_out_shape(m), *ys = nn_tensor_shape(y);
        CU_ASSERT_EQUAL(os->ndim, 3);
        for (int i = 0; i < 3; i++) CU_ASSERT_EQUAL(os->dim[i], ys->dim[i + 1]);
        CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, w))), NN_OK);
        CHECK_CTX_OK(ctx);
        check_key(g, nn_tensor_grad(x), pre, "dx", 1e-5);
        check_key(g, nn_tensor_grad(param(m, "weight")), pre, "dweight", 1e-5);
        if (c[9]) check_key(g, nn_tensor_grad(param(m, "bias")), pre, "dbias", 1e-5);
        nn_ctx_scratch_reset(ctx);
        nn_module_free(m);
    }
    golden_close(g);
}

/* The op with stride (2, 1), padding (1, 0), dilation (1, 2), kernel (3, 2). */
static void test_golden_conv2d_op(void)
{
    golden *g = golden_open("conv.txt");
    nn_ctx *ctx = fx_ctx();
    int64_t c[6];
    get_cfg(g, "convop", c, 6);
    double attr[6];
    for (int i = 0; i < 6; i++) attr[i] = (double)c[i];
    nn_tensor *in[] = {key_tensor(g, "convop", "x", 1), key_tensor(g, "convop", "weight", 1),
                       key_tensor(g, "convop", "bias", 1)};
    nn_tensor *y = fx_call("conv2d", in, attr);
    CHECK_CTX_OK(ctx);
    check_key(g, y, "convop", "y", 1e-5);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, key_tensor(g, "convop", "w", 0)))), NN_OK);
    CHECK_CTX_OK(ctx);
    check_key(g, nn_tensor_grad(in[0]), "convop", "dx", 1e-5);
    check_key(g, nn_tensor_grad(in[1]), "convop", "dweight", 1e-5);
    check_key(g, nn_tensor_grad(in[2]), "convop", "dbias", 1e-5);
    /* A second backward adds to the gradients (the acc rule). */
    y = fx_call("conv2d", in, attr);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, key_tensor(g, "convop", "w", 0)))), NN_OK);
    nn_shape s;
    const float *dw = golden_get(g, "convop.dweight", &s);
    float got[4 * 3 * 3 * 2];
    CU_ASSERT_EQUAL_FATAL(nn_shape_numel(&s), 72);
    to_host(nn_tensor_grad(in[1]), got, 72);
    double twice[72];
    for (int i = 0; i < 72; i++) twice[i] = 2.0 * dw[i];
    CHECK_ARRAY(got, twice, 72, 2e-5 * golden_max(g, "convop.dweight"), 1e-5);
    CHECK_CTX_OK(ctx);
    golden_close(g);
}

static void test_golden_pool2d(void)
{
    golden *g = golden_open("conv.txt");
    nn_ctx *ctx = fx_ctx();
    int seen = 0;
    for (int k = 0; k < 16; k++) {
        char pre[16], words[160], *err = NULL;
        int avg = 0;
        snprintf(pre, sizeof pre, "max%d", k);
        char key[32];
        snprintf(key, sizeof key, "%s.cfg", pre);
        if (!golden_has(g, key)) {
            snprintf(pre, sizeof pre, "avg%d", k);
            snprintf(key, sizeof key, "%s.cfg", pre);
            if (!golden_has(g, key)) continue;
            avg = 1;
        }
        seen++;
        int64_t c[8];
        get_cfg(g, pre, c, 8);
        snprintf(words, sizeof words, "kernel=%lld stride=%lld padding=%lld", (long long)c[4],
                 (long long)c[5], (long long)c[6]);
        if (avg && !c[7]) strcat(words, " count_include_pad=false");
        nn_shape in = {3, {c[1], c[2], c[3]}};
        nn_module *m = NULL;
        CHECK_OK(nn_module_create(ctx, avg ? "avg_pool2d" : "max_pool2d", words, &in, &m, &err),
                 err);
        nn_free(err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_EQUAL(nn_module_param_count(m), 0);
        nn_tensor *x = key_tensor(g, pre, "x", 1), *w = key_tensor(g, pre, "w", 0);
        nn_tensor *y = nn_module_forward(m, x);
        CHECK_CTX_OK(ctx);
        check_key(g, y, pre, "y", 1e-6);
        CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, w))), NN_OK);
        CHECK_CTX_OK(ctx);
        check_key(g, nn_tensor_grad(x), pre, "dx", 1e-6);
        nn_ctx_scratch_reset(ctx);
        nn_module_free(m);
    }
    CU_ASSERT_EQUAL(seen, 9);
    golden_close(g);
}

/* The output shapes of a chain, the init bounds, the refusals. */
static void test_conv_shapes_and_init(void)
{
    nn_ctx *ctx = fx_ctx();
    char *err = NULL;
    nn_module *m = NULL;
    nn_shape in = {3, {1, 28, 28}};
    CHECK_OK(nn_module_from_chain(ctx, "conv2d out=8 kernel=3 ! max_pool2d kernel=2 ! "
                                       "avg_pool2d kernel=3 stride=2 padding=1",
                                  &in, &m, &err), err);
    nn_free(err);
    err = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const nn_shape *s0 = nn_module_out_shape(nn_module_child(m, 0));
    const nn_shape *s1 = nn_module_out_shape(nn_module_child(m, 1));
    const nn_shape *s2 = nn_module_out_shape(m);
    CU_ASSERT(s0->ndim == 3 && s0->dim[0] == 8 && s0->dim[1] == 26 && s0->dim[2] == 26);
    CU_ASSERT(s1->ndim == 3 && s1->dim[0] == 8 && s1->dim[1] == 13 && s1->dim[2] == 13);
    CU_ASSERT(s2->ndim == 3 && s2->dim[0] == 8 && s2->dim[1] == 7 && s2->dim[2] == 7);
    /* PyTorch's bound 1/sqrt(fan_in), fan_in = 1 * 3 * 3, for weight and bias. */
    float w[72], b[8];
    to_host(param(m, "0.weight"), w, 72);
    to_host(param(m, "0.bias"), b, 8);
    double big = 0;
    for (int i = 0; i < 72; i++) {
        CU_ASSERT(fabsf(w[i]) <= 1.0f / 3.0f);
        big = fmax(big, fabsf(w[i]));
    }
    for (int i = 0; i < 8; i++) CU_ASSERT(fabsf(b[i]) <= 1.0f / 3.0f);
    CU_ASSERT(big > 0.25); /* drawn over the whole range, not near zero */
    nn_module_free(m);
    m = NULL;

    /* in= resolves unknown channels; a wrong in= or a 1-d input is refused. */
    nn_shape unknown = {3, {-1, 10, 12}};
    CHECK_OK(nn_module_create(ctx, "conv2d", "in=3 out=2 kernel=3", &unknown, &m, &err), err);
    nn_free(err);
    err = NULL;
    CU_ASSERT_EQUAL(nn_module_in_shape(m)->dim[0], 3);
    CU_ASSERT_EQUAL(nn_module_out_shape(m)->dim[2], 10);
    nn_module_free(m);
    m = NULL;
    nn_shape flat = {1, {16}};
    CHECK_STATUS(nn_module_create(ctx, "conv2d", "out=2 kernel=3", &flat, &m, &err), NN_SHAPE,
                 err);
    CHECK_CONTAINS(err, "[channels, height, width]");
    nn_free(err);
    err = NULL;
    CHECK_STATUS(nn_module_create(ctx, "conv2d", "in=2 out=2 kernel=3", &in, &m, &err), NN_SHAPE,
                 err);
    CHECK_CONTAINS(err, "in=2 but the input has 1 channels");
    nn_free(err);
    err = NULL;
    nn_shape small = {3, {1, 4, 4}};
    CHECK_STATUS(nn_module_create(ctx, "conv2d", "out=2 kernel=5", &small, &m, &err), NN_SHAPE,
                 err);
    CHECK_CONTAINS(err, "does not fit");
    nn_free(err);
    err = NULL;
    CHECK_STATUS(nn_module_create(ctx, "max_pool2d", "kernel=2 padding=2", &small, &m, &err),
                 NN_INVALID, err);
    CHECK_CONTAINS(err, "at most half");
    nn_free(err);
    err = NULL;
    /* The op refuses mismatched channels. */
    nn_shape xs = {4, {1, 2, 5, 5}}, ws = {4, {3, 1, 3, 3}};
    nn_tensor *op_in[] = {fx_track(nn_tensor_new(ctx, &xs, 0)), fx_track(nn_tensor_new(ctx, &ws, 0)),
                          NULL};
    CU_ASSERT_PTR_NULL(fx_call("conv2d", op_in, NULL));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "input channels");
}

/* A NaN wins its window, and of two the gradient goes to the last, as
 * PyTorch 1.13 gives: max_pool2d([[nan, 1], [nan, 0]]) is nan, its
 * gradient [[0, 0], [1, 0]]. */
static void test_max_pool2d_nan(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape s = {4, {1, 1, 2, 2}};
    const float v[] = {NAN, 1, NAN, 0};
    nn_tensor *x = tensor_from(&s, v, 1);
    nn_tensor *y = fx_call("max_pool2d", &x, NULL); /* defaults: 2x2, stride 2 */
    CU_ASSERT(isnan(item(y)));
    CU_ASSERT_EQUAL(nn_backward(nn_sum(y)), NN_OK);
    float g[4];
    to_host(nn_tensor_grad(x), g, 4);
    const double want[] = {0, 0, 1, 0};
    CHECK_ARRAY(g, want, 4, 0, 0);
    CHECK_CTX_OK(ctx);
}

/* ---- the kernels' paths against plain loops in double ----
 * conv2d's cpu kernel (padding made real, rows copied into columns by
 * vectors with an overlapping last one, the bias in the gemm) and
 * max_pool2d's vector path for 2x2 windows of stride 2 are held to a direct
 * transcription of the definitions, forward and backward, writing the
 * gradients (the first backward) and adding to them (the second). */

static uint64_t lcg = 88172645463325252ull;

static float draw(float lo, float hi)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)(lcg >> 40) / (float)(1 << 24);
}

/* A tensor of values drawn from [lo, hi), also copied to keep. */
static nn_tensor *random_tensor(const nn_shape *s, float lo, float hi, int rg, float *keep)
{
    int64_t n = nn_shape_numel(s);
    for (int64_t i = 0; i < n; i++) keep[i] = draw(lo, hi);
    return tensor_from(s, keep, rg);
}

/* t's gradient is twice want (two backward passes). */
static void check_grad_twice(nn_tensor *t, const double *want, int64_t n, double tol)
{
    float *got = malloc((size_t)n * sizeof *got);
    double *twice = malloc((size_t)n * sizeof *twice), m = 0;
    CU_ASSERT_FATAL(got && twice);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nn_tensor_grad(t));
    to_host(nn_tensor_grad(t), got, n);
    for (int64_t i = 0; i < n; i++) {
        twice[i] = 2 * want[i];
        m = fmax(m, fabs(twice[i]));
    }
    CHECK_ARRAY(got, twice, n, tol * m, tol);
    free(got);
    free(twice);
}

typedef struct {
    int64_t n, c, h, w, o, k, s, p, d, bias;
} conv_case;

static void check_conv_case(const conv_case *k)
{
    int64_t oh = (k->h + 2 * k->p - k->d * (k->k - 1) - 1) / k->s + 1;
    int64_t ow = (k->w + 2 * k->p - k->d * (k->k - 1) - 1) / k->s + 1;
    nn_shape xs = {4, {k->n, k->c, k->h, k->w}}, ws = {4, {k->o, k->c, k->k, k->k}};
    nn_shape bs = {1, {k->o}}, ys = {4, {k->n, k->o, oh, ow}};
    int64_t nx = nn_shape_numel(&xs), nw = nn_shape_numel(&ws), ny = nn_shape_numel(&ys);
    float *x = malloc((size_t)nx * sizeof *x), *w = malloc((size_t)nw * sizeof *w);
    float *gw = malloc((size_t)ny * sizeof *gw), *y = malloc((size_t)ny * sizeof *y), b[16];
    double *ry = calloc((size_t)ny, sizeof *ry), *rdx = calloc((size_t)nx, sizeof *rdx);
    double *rdw = calloc((size_t)nw, sizeof *rdw), rdb[16] = {0};
    CU_ASSERT_FATAL(x && w && gw && y && ry && rdx && rdw && k->o <= 16);
    nn_tensor *tx = random_tensor(&xs, -1, 1, 1, x), *tw = random_tensor(&ws, -1, 1, 1, w);
    nn_tensor *tb = k->bias ? random_tensor(&bs, -1, 1, 1, b) : NULL;
    nn_tensor *tg = random_tensor(&ys, -1, 1, 0, gw);
    /* y = b + the sum of w x over each window; the gradients of sum(y gw) */
    for (int64_t s = 0; s < k->n; s++)
        for (int64_t o = 0; o < k->o; o++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    int64_t at = ((s * k->o + o) * oh + i) * ow + j;
                    double acc = k->bias ? b[o] : 0.0;
                    for (int64_t c = 0; c < k->c; c++)
                        for (int64_t ki = 0; ki < k->k; ki++)
                            for (int64_t kj = 0; kj < k->k; kj++) {
                                int64_t ii = i * k->s - k->p + ki * k->d;
                                int64_t jj = j * k->s - k->p + kj * k->d;
                                if (ii < 0 || ii >= k->h || jj < 0 || jj >= k->w) continue;
                                int64_t xi = ((s * k->c + c) * k->h + ii) * k->w + jj;
                                int64_t wi = ((o * k->c + c) * k->k + ki) * k->k + kj;
                                acc += (double)w[wi] * x[xi];
                                rdx[xi] += (double)w[wi] * gw[at];
                                rdw[wi] += (double)x[xi] * gw[at];
                            }
                    ry[at] = acc;
                    rdb[o] += gw[at];
                }
    double attr[] = {(double)k->s, (double)k->s, (double)k->p, (double)k->p, (double)k->d,
                     (double)k->d};
    nn_tensor *in[] = {tx, tw, tb};
    for (int round = 0; round < 2; round++) {
        nn_tensor *ty = fx_call("conv2d", in, attr);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ty);
        to_host(ty, y, ny);
        double m = 0;
        for (int64_t i = 0; i < ny; i++) m = fmax(m, fabs(ry[i]));
        CHECK_ARRAY(y, ry, ny, 1e-5 * m, 1e-5);
        CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(ty, tg))), NN_OK);
        CHECK_CTX_OK(fx_ctx());
        nn_ctx_scratch_reset(fx_ctx());
    }
    check_grad_twice(tx, rdx, nx, 1e-5);
    check_grad_twice(tw, rdw, nw, 1e-5);
    if (tb) check_grad_twice(tb, rdb, k->o, 1e-5);
    free(x), free(w), free(gw), free(y), free(ry), free(rdx), free(rdw);
}

static void test_conv2d_paths(void)
{
    static const conv_case cases[] = {
        {3, 1, 12, 30, 3, 3, 1, 0, 1, 1}, /* rows of 28, an odd channel count */
        {2, 2, 9, 21, 4, 3, 1, 1, 2, 1},  /* padding, dilation: rows of 19 */
        {2, 3, 10, 41, 2, 2, 1, 0, 1, 0}, /* rows of 40, no bias */
        {2, 1, 6, 6, 2, 3, 1, 0, 1, 1},   /* rows of 4 */
        {2, 2, 5, 5, 2, 3, 1, 0, 1, 1},   /* rows of 3 */
        {2, 2, 7, 19, 3, 3, 2, 1, 1, 1},  /* stride 2 */
        {2, 3, 9, 12, 5, 5, 1, 2, 1, 1},  /* 75 taps */
        {2, 3, 11, 23, 3, 5, 2, 2, 2, 0}, /* the same with stride and dilation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv_case(&cases[i]);
}

/* max_pool2d 2x2, stride 2, on values with ties, both zeros and NaNs: the
 * kept value (its sign too) and where the gradient goes, as PyTorch's scan
 * (the first largest value, or the last NaN). Rows of 18 windows go by
 * vectors; the odd last row and column are in no window. */
static void test_max_pool2d_paths(void)
{
    enum { N = 2, C = 3, H = 9, W = 37, OH = 4, OW = 18, NX = N * C * H * W, NY = N * C * OH * OW };
    static const float pool[] = {-1.0f, 0.0f, -0.0f, 1.0f, 2.0f, 0.0f, NAN, 1.0f};
    nn_shape xs = {4, {N, C, H, W}}, ys = {4, {N, C, OH, OW}};
    static float x[NX], gw[NY], y[NY];
    static double ry[NY], rdx[NX];
    for (int i = 0; i < NX; i++) x[i] = pool[(int)draw(0, 8) & 7];
    nn_tensor *tx = tensor_from(&xs, x, 1), *tg = random_tensor(&ys, -1, 1, 0, gw);
    memset(rdx, 0, sizeof rdx);
    for (int p = 0; p < N * C; p++)
        for (int i = 0; i < OH; i++)
            for (int j = 0; j < OW; j++) {
                int best = -1;
                float m = -INFINITY;
                for (int di = 0; di < 2; di++)
                    for (int dj = 0; dj < 2; dj++) {
                        int at = (p * H + 2 * i + di) * W + 2 * j + dj;
                        if (best < 0 || x[at] > m || isnan(x[at])) m = x[at], best = at;
                    }
                int o = (p * OH + i) * OW + j;
                ry[o] = m;
                rdx[best] += gw[o];
            }
    for (int round = 0; round < 2; round++) {
        nn_tensor *ty = fx_call("max_pool2d", &tx, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ty);
        to_host(ty, y, NY);
        CHECK_ARRAY(y, ry, NY, 0, 0);
        int wrong_sign = 0;
        for (int i = 0; i < NY; i++) wrong_sign += !isnan(y[i]) && !signbit(y[i]) != !signbit(ry[i]);
        CU_ASSERT_EQUAL(wrong_sign, 0);
        CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(ty, tg))), NN_OK);
        CHECK_CTX_OK(fx_ctx());
        nn_ctx_scratch_reset(fx_ctx());
    }
    check_grad_twice(tx, rdx, NX, 0);
}

/* ---- a small net: conv2d ! relu ! max_pool2d ! flatten ! linear ----
 * relu and flatten as tiny local modules, named so that they clash with no
 * plugin's. */

static nn_status same_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                           char **err)
{
    (void)m, (void)p, (void)err;
    *out = *in;
    return NN_OK;
}

static nn_tensor *relu_fwd(nn_module *m, nn_tensor *x)
{
    (void)m;
    return nn_relu(x);
}

static nn_status flat_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                           char **err)
{
    (void)m, (void)p, (void)err;
    *out = (nn_shape){1, {nn_shape_numel(in)}};
    return NN_OK;
}

static nn_tensor *flat_fwd(nn_module *m, nn_tensor *x)
{
    nn_shape s = {2, {nn_tensor_shape(x)->dim[0], nn_shape_numel(nn_module_out_shape(m))}};
    return nn_reshape(x, &s);
}

static const nn_module_vt relu_vt = {NN_VT_HEADER(nn_module_vt), .type_name = "ReLU",
                                     .init = same_init, .forward = relu_fwd};
static const nn_module_vt flat_vt = {NN_VT_HEADER(nn_module_vt), .type_name = "Flatten",
                                     .init = flat_init, .forward = flat_fwd};
static const nn_component_def net_components[] = {
    {NN_KIND_MODULE, "conv_test_relu", "relu for the tests of conv2d", &relu_vt, NULL, 0},
    {NN_KIND_MODULE, "conv_test_flatten", "flatten for the tests of conv2d", &flat_vt, NULL, 0},
};
static const nn_plugin_desc net_plugin = {
    NN_ABI_MAJOR, NN_ABI_MINOR, sizeof(nn_plugin_desc), "conv_test", "1.0", net_components,
    NN_COUNT_OF(net_components),
};

static void test_golden_conv_net(void)
{
    static int added;
    char *err = NULL;
    if (!added) CHECK_OK(nn_registry_add(g_reg, &net_plugin, &err), err);
    added = 1;
    nn_free(err);
    err = NULL;
    golden *g = golden_open("conv.txt");
    nn_ctx *ctx = fx_ctx();
    nn_module *m = NULL;
    nn_shape in = {3, {2, 6, 6}};
    CHECK_OK(nn_module_from_chain(ctx, "conv2d out=3 kernel=3 padding=1 ! conv_test_relu ! "
                                       "max_pool2d kernel=2 ! conv_test_flatten ! linear out=2",
                                  &in, &m, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    /* The shapes follow from the data's: (3, 6, 6), (3, 3, 3), 27, 2. */
    CU_ASSERT_EQUAL(nn_module_out_shape(nn_module_child(m, 2))->dim[2], 3);
    CU_ASSERT_EQUAL(nn_module_out_shape(nn_module_child(m, 3))->dim[0], 27);
    CU_ASSERT_EQUAL(nn_module_param_count(m), 4);
    static const char *const names[] = {"0.weight", "0.bias", "4.weight", "4.bias"};
    for (int i = 0; i < 4; i++) set_param(g, m, names[i], "net", names[i]);
    nn_tensor *x = key_tensor(g, "net", "x", 1), *w = key_tensor(g, "net", "w", 0);
    nn_tensor *y = nn_module_forward(m, x);
    CHECK_CTX_OK(ctx);
    check_key(g, y, "net", "y", 1e-5);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, w))), NN_OK);
    CHECK_CTX_OK(ctx);
    check_key(g, nn_tensor_grad(x), "net", "dx", 1e-5);
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof key, "d%s", names[i]);
        check_key(g, nn_tensor_grad(param(m, names[i])), "net", key, 1e-5);
    }
    nn_module_free(m);
    golden_close(g);
}

void register_golden_conv_tests(void)
{
    CU_pSuite s = fx_add_suite("golden_conv");
    if (!s) return;
    FX_ADD(s, test_golden_conv2d_module);
    FX_ADD(s, test_golden_conv2d_op);
    FX_ADD(s, test_golden_pool2d);
    FX_ADD(s, test_conv_shapes_and_init);
    FX_ADD(s, test_golden_conv_net);
    FX_ADD(s, test_max_pool2d_nan);
    FX_ADD(s, test_conv2d_paths);
    FX_ADD(s, test_max_pool2d_paths);
}
