/* test_grad.c - every differentiable op, the linear and sigmoid modules and
 * the bce loss against central finite differences.
 *
 * For a function f of leaf tensors, the scalar L = sum(f(in) * W) with fixed
 * random weights W (so every output element matters) is differentiated by
 * backward(); the same L is then evaluated on the host in double from f's
 * float32 outputs at in[j] +- eps for every element j of every input that
 * requires grad. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* float32 forward, central differences: errors ~1e-4 here; a wrong backward
 * is off by O(0.1) (see test_gradcheck_detects_errors). */
#define GC_ATOL 2e-3
#define GC_RTOL 2e-2
#define GC_EPS 1e-2

/* L = sum(out * w) on the host, in double. */
static double dot_host(const nn_tensor *out, const double *w, int64_t n, float *buf)
{
    to_host(out, buf, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)buf[i] * w[i];
    return s;
}

int64_t gc_run(gc *g, const char *what, int report)
{
    nn_ctx *ctx = fx_ctx();
    double eps = g->eps > 0 ? g->eps : GC_EPS;
    for (int i = 0; i < g->nin; i++) nn_tensor_zero_grad(g->in[i]);
    g->fd_phase = 0;

    /* analytic: backward of sum(out * W) */
    nn_tensor *out = g->f(g, g->in);
    CHECK_CTX_OK(ctx);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    nn_shape os = *nn_tensor_shape(out);
    int64_t no = nn_tensor_numel(out);
    double *w = malloc((size_t)no * sizeof *w);
    float *wf = malloc((size_t)no * sizeof *wf), *obuf = malloc((size_t)no * sizeof *obuf);
    CU_ASSERT_FATAL(w && wf && obuf);
    nn_rng rng;
    nn_rng_seed(&rng, 2024, 11);
    for (int64_t i = 0; i < no; i++) w[i] = wf[i] = 2.0f * nn_rng_uniform(&rng) - 1.0f;
    nn_tensor *W = tensor_from(&os, wf, 0);
    nn_tensor *L = nn_sum(nn_mul(out, W));
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    CU_ASSERT_EQUAL(nn_backward(L), NN_OK);
    CHECK_CTX_OK(ctx);

    float *ga[GC_MAX_IN] = {0};
    for (int i = 0; i < g->nin; i++) {
        nn_tensor *gr = nn_tensor_grad(g->in[i]);
        if (!nn_tensor_requires_grad(g->in[i])) {
            CU_ASSERT_PTR_NULL(gr); /* no gradient for what does not need one */
            continue;
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(gr);
        int64_t n = nn_tensor_numel(g->in[i]);
        ga[i] = malloc((size_t)n * sizeof(float));
        CU_ASSERT_PTR_NOT_NULL_FATAL(ga[i]);
        to_host(gr, ga[i], n);
    }
    nn_ctx_scratch_reset(ctx);

    /* numeric: central differences, under no-grad */
    int prev = nn_grad_set_enabled(ctx, 0);
    g->fd_phase = 1;
    int64_t bad = 0;
    for (int i = 0; i < g->nin; i++) {
        if (!ga[i]) continue;
        int64_t n = nn_tensor_numel(g->in[i]);
        float *x = malloc((size_t)n * sizeof *x);
        double *fd = malloc((size_t)n * sizeof *fd);
        CU_ASSERT_FATAL(x && fd);
        to_host(g->in[i], x, n);
        double biggest = 0;
        for (int64_t j = 0; j < n; j++) {
            float x0 = x[j], hi = (float)(x0 + eps), lo = (float)(x0 - eps);
            x[j] = hi;
            CU_ASSERT_EQUAL_FATAL(nn_tensor_from_host(g->in[i], x, n), NN_OK);
            double Lp = dot_host(g->f(g, g->in), w, no, obuf);
            nn_ctx_scratch_reset(ctx);
            x[j] = lo;
            CU_ASSERT_EQUAL_FATAL(nn_tensor_from_host(g->in[i], x, n), NN_OK);
            double Lm = dot_host(g->f(g, g->in), w, no, obuf);
            nn_ctx_scratch_reset(ctx);
            x[j] = x0;
            fd[j] = (Lp - Lm) / ((double)hi - (double)lo);
            if (fabs(fd[j]) > biggest) biggest = fabs(fd[j]);
            if (fabs(ga[i][j] - fd[j]) > GC_ATOL + GC_RTOL * fabs(fd[j])) bad++;
        }
        CU_ASSERT_EQUAL_FATAL(nn_tensor_from_host(g->in[i], x, n), NN_OK);
        if (report) {
            char label[160];
            snprintf(label, sizeof label, "%s: d/d(input %d)", what, i);
            check_array_(ga[i], fd, n, GC_ATOL, GC_RTOL, label, __LINE__, __FILE__, what);
            /* a gradient of zeros would pass too easily: these are not */
            snprintf(label, sizeof label, "%s: max |d/d(input %d)| = %g > 0.05", what, i, biggest);
            CU_assertImplementation(biggest > 0.05 ? CU_TRUE : CU_FALSE, __LINE__, label, __FILE__,
                                    what, CU_FALSE);
        }
        free(x);
        free(fd);
    }
    nn_grad_set_enabled(ctx, prev);
    CHECK_CTX_OK(ctx);
    for (int i = 0; i < g->nin; i++) free(ga[i]);
    free(w);
    free(wf);
    free(obuf);
    return bad;
}

/* ---- inputs -------------------------------------------------------------------- */

static uint64_t next_seed = 100;

static nn_tensor *rnd2(int64_t r, int64_t c, float lo, float hi)
{
    return t2d_random(r, c, lo, hi, next_seed++, 1);
}

static nn_tensor *rnd1(int64_t n, float lo, float hi)
{
    nn_tensor *t = t1d(n, NULL, 1);
    nn_rng rng;
    nn_rng_seed(&rng, next_seed++, 7);
    CU_ASSERT_EQUAL_FATAL(nn_tensor_uniform_(t, &rng, lo, hi), NN_OK);
    return t;
}

/* Values with |x| in [0.2, 1.5], away from relu's kink. */
static nn_tensor *rnd2_off_zero(int64_t r, int64_t c)
{
    nn_tensor *t = rnd2(r, c, 0.2f, 1.5f);
    int64_t n = r * c;
    float *h = malloc((size_t)n * sizeof *h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    to_host(t, h, n);
    for (int64_t i = 0; i < n; i += 2) h[i] = -h[i];
    CU_ASSERT_EQUAL(nn_tensor_from_host(t, h, n), NN_OK);
    free(h);
    return t;
}

/* ---- matrix products --------------------------------------------------------- */

enum { M = 3, K = 4, N = 2 };

static nn_tensor *f_addmm(gc *g, nn_tensor *const *in) { return nn_addmm(in[0], in[1], in[2]); }
static nn_tensor *f_addmm_ta(gc *g, nn_tensor *const *in)
{
    return nn_addmm(in[0], nn_t(in[1]), in[2]);
}
static nn_tensor *f_addmm_tb(gc *g, nn_tensor *const *in)
{
    return nn_addmm(in[0], in[1], nn_t(in[2]));
}
static nn_tensor *f_addmm_tab(gc *g, nn_tensor *const *in)
{
    return nn_addmm(in[0], nn_t(in[1]), nn_t(in[2]));
}
static nn_tensor *f_mm(gc *g, nn_tensor *const *in) { return nn_mm(in[0], in[1]); }
static nn_tensor *f_mm_ta(gc *g, nn_tensor *const *in) { return nn_mm(nn_t(in[0]), in[1]); }
static nn_tensor *f_mm_tb(gc *g, nn_tensor *const *in) { return nn_mm(in[0], nn_t(in[1])); }
static nn_tensor *f_mm_tab(gc *g, nn_tensor *const *in) { return nn_mm(nn_t(in[0]), nn_t(in[1])); }
static nn_tensor *f_gram(gc *g, nn_tensor *const *in) { return nn_mm(in[0], nn_t(in[0])); }
static nn_tensor *f_mm_tt(gc *g, nn_tensor *const *in) { return nn_mm(nn_t(nn_t(in[0])), in[1]); }

static void test_grad_addmm_bias_vector(void)
{
    gc g = {.f = f_addmm, .in = {rnd1(N, -1, 1), rnd2(M, K, -1, 1), rnd2(K, N, -1, 1)}, .nin = 3};
    GRADCHECK(&g);
}

static void test_grad_addmm_bias_full(void)
{
    gc g = {.f = f_addmm, .in = {rnd2(M, N, -1, 1), rnd2(M, K, -1, 1), rnd2(K, N, -1, 1)}, .nin = 3};
    GRADCHECK(&g);
}

static void test_grad_addmm_transposed_a(void)
{
    gc g = {.f = f_addmm_ta, .in = {rnd1(N, -1, 1), rnd2(K, M, -1, 1), rnd2(K, N, -1, 1)}, .nin = 3};
    GRADCHECK(&g);
}

static void test_grad_addmm_transposed_b(void)
{
    /* the Linear layer's case: x @ W^T */
    gc g = {.f = f_addmm_tb, .in = {rnd1(N, -1, 1), rnd2(M, K, -1, 1), rnd2(N, K, -1, 1)}, .nin = 3};
    GRADCHECK(&g);
}

static void test_grad_addmm_transposed_both(void)
{
    gc g = {.f = f_addmm_tab, .in = {rnd2(M, N, -1, 1), rnd2(K, M, -1, 1), rnd2(N, K, -1, 1)},
            .nin = 3};
    GRADCHECK(&g);
}

static void test_grad_addmm_no_grad_operand(void)
{
    /* only b requires grad */
    gc g = {.f = f_addmm, .in = {rnd1(N, -1, 1), rnd2(M, K, -1, 1), rnd2(K, N, -1, 1)}, .nin = 3};
    nn_tensor_set_requires_grad(g.in[0], 0);
    nn_tensor_set_requires_grad(g.in[1], 0);
    GRADCHECK(&g);
}

static void test_grad_mm(void)
{
    gc g = {.f = f_mm, .in = {rnd2(M, K, -1, 1), rnd2(K, N, -1, 1)}, .nin = 2};
    GRADCHECK(&g);
    gc ga = {.f = f_mm_ta, .in = {rnd2(K, M, -1, 1), rnd2(K, N, -1, 1)}, .nin = 2};
    GRADCHECK(&ga);
    gc gb = {.f = f_mm_tb, .in = {rnd2(M, K, -1, 1), rnd2(N, K, -1, 1)}, .nin = 2};
    GRADCHECK(&gb);
    gc gab = {.f = f_mm_tab, .in = {rnd2(K, M, -1, 1), rnd2(N, K, -1, 1)}, .nin = 2};
    GRADCHECK(&gab);
    gc gtt = {.f = f_mm_tt, .in = {rnd2(M, K, -1, 1), rnd2(K, N, -1, 1)}, .nin = 2};
    GRADCHECK(&gtt); /* t(t(a)): a view of a view */
}

/* One output or one input feature: W^T is a (K, 1) or (1, N) view that gemm
 * reads with its leading dimension. */
static void test_grad_addmm_vector_weight(void)
{
    gc g = {.f = f_addmm_tb, .in = {rnd1(1, -1, 1), rnd2(M, K, -1, 1), rnd2(1, K, -1, 1)}, .nin = 3};
    GRADCHECK(&g);
    gc g1 = {.f = f_addmm_tb, .in = {rnd1(N, -1, 1), rnd2(M, 1, -1, 1), rnd2(N, 1, -1, 1)}, .nin = 3};
    GRADCHECK(&g1);
    gc ga = {.f = f_addmm_tab, .in = {rnd2(1, 1, -1, 1), rnd2(K, 1, -1, 1), rnd2(1, K, -1, 1)},
             .nin = 3};
    GRADCHECK(&ga);
}

/* The gradient of W^T is written into W's own: a second backward without
 * zero_grad adds to it, as PyTorch accumulates into .grad. */
static void test_grad_transposed_leaf_accumulates(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *x = rnd2(M, K, -1, 1), *w = rnd2(N, K, -1, 1);
    nn_tensor_set_requires_grad(x, 0);
    nn_tensor_zero_grad(w);
    float g1[N * K], g2[N * K];
    for (int pass = 0; pass < 2; pass++) {
        CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mm(x, nn_t(w)))), NN_OK);
        CHECK_CTX_OK(ctx);
        CU_ASSERT_PTR_NOT_NULL_FATAL(nn_tensor_grad(w));
        to_host(nn_tensor_grad(w), pass ? g2 : g1, N * K);
        nn_ctx_scratch_reset(ctx);
    }
    for (int i = 0; i < N * K; i++) CU_ASSERT_DOUBLE_EQUAL(g2[i], 2.0 * g1[i], 1e-6);
    CU_ASSERT_PTR_NULL(nn_tensor_grad(x));
}

static void test_grad_mm_shared_operand(void)
{
    /* x @ x^T: two paths into x, one through a view */
    gc g = {.f = f_gram, .in = {rnd2(M, K, -1, 1)}, .nin = 1};
    GRADCHECK(&g);
}

/* ---- views ------------------------------------------------------------------------- */

static nn_tensor *f_t(gc *g, nn_tensor *const *in) { return nn_t(in[0]); }
static nn_tensor *f_contiguous(gc *g, nn_tensor *const *in) { return nn_contiguous(nn_t(in[0])); }
static nn_tensor *f_view_reused(gc *g, nn_tensor *const *in)
{
    nn_tensor *v = nn_t(in[0]); /* consumed by three ops, each copying it */
    return nn_add(nn_sigmoid(v), nn_mul(v, v));
}

static void test_grad_t(void)
{
    gc g = {.f = f_t, .in = {rnd2(M, K, -1, 1)}, .nin = 1};
    GRADCHECK(&g);
}

static void test_grad_contiguous(void)
{
    gc g = {.f = f_contiguous, .in = {rnd2(M, K, -1, 1)}, .nin = 1};
    GRADCHECK(&g);
}

static void test_grad_view_reused(void)
{
    gc g = {.f = f_view_reused, .in = {rnd2(M, K, -1, 1)}, .nin = 1};
    GRADCHECK(&g);
}

/* ---- element-wise -------------------------------------------------------------------- */

static nn_tensor *f_add(gc *g, nn_tensor *const *in) { return nn_add(in[0], in[1]); }
static nn_tensor *f_sub(gc *g, nn_tensor *const *in) { return nn_sub(in[0], in[1]); }
static nn_tensor *f_mul(gc *g, nn_tensor *const *in) { return nn_mul(in[0], in[1]); }
static nn_tensor *f_square(gc *g, nn_tensor *const *in) { return nn_mul(in[0], in[0]); }
static nn_tensor *f_mul_scalar(gc *g, nn_tensor *const *in) { return nn_mul_scalar(in[0], g->s); }
/* sub and mul whose operands are themselves results, so the gradients of
 * the inputs are reached through a scaled broadcast (sub) and a product. */
static nn_tensor *f_sub_mul_chain(gc *g, nn_tensor *const *in)
{
    return nn_mul(nn_sub(nn_tanh(in[0]), nn_exp(in[1])), nn_sigmoid(in[1]));
}

static void test_grad_add_sub_mul(void)
{
    nn_tensor *(*fs[])(gc *, nn_tensor *const *) = {f_add, f_sub, f_mul};
    for (int i = 0; i < 3; i++) {
        gc g = {.f = fs[i], .in = {rnd2(M, K, -1, 1), rnd2(M, K, -1, 1)}, .nin = 2};
        gc_run(&g, i == 0 ? "add" : i == 1 ? "sub" : "mul", 1);
    }
}

static void test_grad_add_sub_mul_broadcast(void)
{
    nn_tensor *(*fs[])(gc *, nn_tensor *const *) = {f_add, f_sub, f_mul, f_sub_mul_chain};
    const char *names[] = {"add (row broadcast)", "sub (row broadcast)", "mul (row broadcast)",
                           "sub, mul of results (row broadcast)"};
    for (int i = 0; i < 4; i++) {
        gc g = {.f = fs[i], .in = {rnd2(M, K, -1, 1), rnd1(K, -1, 1)}, .nin = 2};
        gc_run(&g, names[i], 1);
    }
}

static void test_grad_mul_same_tensor(void)
{
    gc g = {.f = f_square, .in = {rnd2(M, K, -1, 1)}, .nin = 1};
    GRADCHECK(&g);
}

static void test_grad_mul_scalar(void)
{
    gc g = {.f = f_mul_scalar, .in = {rnd2(M, K, -1, 1)}, .nin = 1, .s = -1.7f};
    GRADCHECK(&g);
}

static nn_tensor *f_sigmoid(gc *g, nn_tensor *const *in) { return nn_sigmoid(in[0]); }
static nn_tensor *f_relu(gc *g, nn_tensor *const *in) { return nn_relu(in[0]); }
static nn_tensor *f_tanh(gc *g, nn_tensor *const *in) { return nn_tanh(in[0]); }
static nn_tensor *f_exp(gc *g, nn_tensor *const *in) { return nn_exp(in[0]); }
static nn_tensor *f_log(gc *g, nn_tensor *const *in) { return nn_log(in[0]); }
static nn_tensor *f_tanh_t(gc *g, nn_tensor *const *in) { return nn_tanh(nn_t(in[0])); }
static nn_tensor *f_sigmoid_times_x(gc *g, nn_tensor *const *in)
{
    return nn_mul(nn_sigmoid(in[0]), in[0]);
}

static void test_grad_sigmoid(void)
{
    gc g = {.f = f_sigmoid, .in = {rnd2(M, K, -3, 3)}, .nin = 1};
    GRADCHECK(&g);
}

static void test_grad_relu(void)
{
    gc g = {.f = f_relu, .in = {rnd2_off_zero(M, K)}, .nin = 1};
    GRADCHECK(&g);
}

static void test_grad_tanh(void)
{
    gc g = {.f = f_tanh, .in = {rnd2(M, K, -2, 2)}, .nin = 1};
    GRADCHECK(&g);
    gc gt = {.f = f_tanh_t, .in = {rnd2(M, K, -2, 2)}, .nin = 1};
    GRADCHECK(&gt);
}

static void test_grad_exp(void)
{
    gc g = {.f = f_exp, .in = {rnd2(M, K, -1, 1)}, .nin = 1};
    GRADCHECK(&g);
}

static void test_grad_log(void)
{
    gc g = {.f = f_log, .in = {rnd2(M, K, 0.5f, 2.0f)}, .nin = 1};
    GRADCHECK(&g);
}

static void test_grad_composite(void)
{
    gc g = {.f = f_sigmoid_times_x, .in = {rnd2(M, K, -2, 2)}, .nin = 1};
    GRADCHECK(&g);
}

/* ---- reductions and bce ---------------------------------------------------------- */

static nn_tensor *f_sum(gc *g, nn_tensor *const *in) { return nn_sum(in[0]); }
static nn_tensor *f_mean(gc *g, nn_tensor *const *in) { return nn_mean(in[0]); }
static nn_tensor *f_bce(gc *g, nn_tensor *const *in) { return fx_bce(in[0], in[1]); }

static void test_grad_sum_mean(void)
{
    gc g = {.f = f_sum, .in = {rnd2(M, K, -1, 1)}, .nin = 1};
    GRADCHECK(&g);
    /* mean of 4 elements: d/dx = w / 4, above the 0.05 floor for |w| > 0.2 */
    gc gm = {.f = f_mean, .in = {rnd1(4, -1, 1)}, .nin = 1};
    GRADCHECK(&gm);
}

static nn_tensor *bce_targets(int64_t r, int64_t c)
{
    nn_tensor *t = t2d(r, c, NULL, 0);
    float h[64];
    CU_ASSERT_FATAL(r * c <= 64);
    for (int64_t i = 0; i < r * c; i++) h[i] = (float)((i * 7 / 3) % 2); /* 0 0 1 1 0 1 ... */
    CU_ASSERT_EQUAL(nn_tensor_from_host(t, h, r * c), NN_OK);
    return t;
}

static void test_grad_bce(void)
{
    /* p in [0.1, 0.9]; bce's third derivative ~ 2/p^3 wants a smaller eps */
    gc g = {.f = f_bce, .in = {rnd2(2, 3, 0.1f, 0.9f), bce_targets(2, 3)}, .nin = 2, .eps = 1e-3};
    GRADCHECK(&g);
}

/* ---- modules and the loss ------------------------------------------------------- */

static nn_tensor *f_module(gc *g, nn_tensor *const *in) { return nn_module_forward(g->m, in[0]); }
static nn_tensor *f_loss(gc *g, nn_tensor *const *in) { return nn_loss_forward(g->l, in[0], in[1]); }
static nn_tensor *f_module_loss(gc *g, nn_tensor *const *in)
{
    return nn_loss_forward(g->l, nn_module_forward(g->m, in[0]), in[1]);
}

/* Appends every parameter of m to g's inputs, checking their names. */
static void add_params(gc *g, nn_module *m, const char *const *names)
{
    int n = nn_module_param_count(m);
    for (int i = 0; i < n; i++) {
        const char *name = NULL;
        nn_tensor *p = nn_module_param(m, i, &name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_PTR_NOT_NULL_FATAL(name);
        CU_ASSERT_STRING_EQUAL(name, names[i]);
        CU_ASSERT_TRUE(nn_tensor_requires_grad(p));
        CU_ASSERT_FATAL(g->nin < GC_MAX_IN);
        g->in[g->nin++] = p;
    }
    CU_ASSERT_PTR_NULL(names[n]);
}

static void test_grad_linear_module(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape in = shp1(K);
    nn_module *m = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_create(ctx, "linear", "out=3", &in, &m, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_STRING_EQUAL(nn_module_type(m), "Linear");
    CU_ASSERT_EQUAL(nn_module_out_shape(m)->dim[0], 3);
    gc g = {.f = f_module, .in = {rnd2(5, K, -1, 1)}, .nin = 1, .m = m};
    add_params(&g, m, (const char *const[]){"weight", "bias", NULL});
    CU_ASSERT_EQUAL(nn_tensor_dim(g.in[1], 0), 3); /* weight (out, in) */
    CU_ASSERT_EQUAL(nn_tensor_dim(g.in[1], 1), K);
    CU_ASSERT_EQUAL(nn_tensor_numel(g.in[2]), 3);
    GRADCHECK(&g);
    nn_module_free(m);
    nn_free(err);
}

static void test_grad_linear_no_bias(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape in = shp1(K);
    nn_module *m = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_create(ctx, "linear", "out=2 bias=false", &in, &m, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    gc g = {.f = f_module, .in = {rnd2(5, K, -1, 1)}, .nin = 1, .m = m};
    add_params(&g, m, (const char *const[]){"weight", NULL});
    GRADCHECK(&g);
    nn_module_free(m);
    nn_free(err);
}

static void test_grad_sigmoid_module(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape in = shp1(K);
    nn_module *m = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_create(ctx, "sigmoid", "", &in, &m, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(nn_module_param_count(m), 0);
    gc g = {.f = f_module, .in = {rnd2(5, K, -3, 3)}, .nin = 1, .m = m};
    GRADCHECK(&g);
    nn_module_free(m);
    nn_free(err);
}

static void test_grad_chain(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape in = shp1(K);
    nn_module *m = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_from_chain(ctx, "linear out=3 ! sigmoid ! linear out=2", &in, &m, &err),
             err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    /* the input does not require grad here: only the parameters are checked */
    gc g = {.f = f_module, .in = {t2d_random(5, K, -1, 1, 77, 0)}, .nin = 1, .m = m};
    add_params(&g, m, (const char *const[]){"0.weight", "0.bias", "2.weight", "2.bias", NULL});
    GRADCHECK(&g);
    nn_module_free(m);
    nn_free(err);
}

static void test_grad_bce_loss(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_loss *l = NULL;
    char *err = NULL;
    CHECK_OK(nn_loss_create(ctx, "bce", "", &l, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    gc g = {.f = f_loss, .in = {rnd2(4, 1, 0.1f, 0.9f), bce_targets(4, 1)}, .nin = 2, .eps = 1e-3,
            .l = l};
    GRADCHECK(&g);
    nn_loss_free(l);
    nn_free(err);
}

static void test_grad_model_and_loss(void)
{
    /* the training graph: bce(sigmoid(linear(x)), y) w.r.t. the parameters */
    nn_ctx *ctx = fx_ctx();
    nn_shape in = shp1(2);
    nn_module *m = NULL;
    nn_loss *l = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_from_chain(ctx, "linear out=1 ! sigmoid", &in, &m, &err), err);
    CHECK_OK(nn_loss_create(ctx, "bce", "", &l, &err), err);
    CU_ASSERT_FATAL(m && l);
    gc g = {.f = f_module_loss, .in = {t2d_random(6, 2, -2, 2, 78, 0), bce_targets(6, 1)}, .nin = 2,
            .m = m, .l = l};
    add_params(&g, m, (const char *const[]){"0.weight", "0.bias", NULL});
    GRADCHECK(&g);
    nn_module_free(m);
    nn_loss_free(l);
    nn_free(err);
}

/* ---- the check itself ------------------------------------------------------------- */

/* The backward sees x * s, the finite differences x * 1.05 s: a 5 % error in
 * a gradient is caught, in every element whose weight |w| > 0.05. */
static nn_tensor *f_skewed(gc *g, nn_tensor *const *in)
{
    return nn_mul_scalar(in[0], g->fd_phase ? 1.05f * g->s : g->s);
}

static void test_gradcheck_detects_errors(void)
{
    gc g = {.f = f_skewed, .in = {rnd2(M, K, -1, 1)}, .nin = 1, .s = 1.5f};
    int64_t bad = gc_run(&g, "skewed", 0);
    CU_ASSERT_TRUE(bad >= M * K - 2 && bad <= M * K);
    gc ok = {.f = f_mul_scalar, .in = {rnd2(M, K, -1, 1)}, .nin = 1, .s = 1.5f};
    CU_ASSERT_EQUAL(gc_run(&ok, "exact", 0), 0);
}

void register_grad_tests(void)
{
    CU_pSuite s = fx_add_suite("grad");
    if (!s) return;
    FX_ADD(s, test_gradcheck_detects_errors);
    FX_ADD(s, test_grad_addmm_bias_vector);
    FX_ADD(s, test_grad_addmm_bias_full);
    FX_ADD(s, test_grad_addmm_transposed_a);
    FX_ADD(s, test_grad_addmm_transposed_b);
    FX_ADD(s, test_grad_addmm_transposed_both);
    FX_ADD(s, test_grad_addmm_no_grad_operand);
    FX_ADD(s, test_grad_mm);
    FX_ADD(s, test_grad_mm_shared_operand);
    FX_ADD(s, test_grad_addmm_vector_weight);
    FX_ADD(s, test_grad_transposed_leaf_accumulates);
    FX_ADD(s, test_grad_t);
    FX_ADD(s, test_grad_contiguous);
    FX_ADD(s, test_grad_view_reused);
    FX_ADD(s, test_grad_add_sub_mul);
    FX_ADD(s, test_grad_add_sub_mul_broadcast);
    FX_ADD(s, test_grad_mul_same_tensor);
    FX_ADD(s, test_grad_mul_scalar);
    FX_ADD(s, test_grad_sigmoid);
    FX_ADD(s, test_grad_relu);
    FX_ADD(s, test_grad_tanh);
    FX_ADD(s, test_grad_exp);
    FX_ADD(s, test_grad_log);
    FX_ADD(s, test_grad_composite);
    FX_ADD(s, test_grad_sum_mean);
    FX_ADD(s, test_grad_bce);
    FX_ADD(s, test_grad_linear_module);
    FX_ADD(s, test_grad_linear_no_bias);
    FX_ADD(s, test_grad_sigmoid_module);
    FX_ADD(s, test_grad_chain);
    FX_ADD(s, test_grad_bce_loss);
    FX_ADD(s, test_grad_model_and_loss);
}
