/* test_golden_activations.c - the activation, shape and dropout modules
 * against PyTorch's values (tests/golden/activations.txt, from
 * gen_activations.py): forward and input gradient of sum(m(x) * w) on a
 * (4, 6) batch and, for softmax, log_softmax and flatten, on a (2, 3, 4, 5)
 * batch; dropout's eval identity, its p = 0 and p = 1 edge cases, and in
 * train mode the statistics of its mask and its exact scale; the node
 * names, the reprs and the shapes inferred in a chain; the ops called
 * directly, with their refusals. */
#include "golden.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A module `name words` on batches of x's shape; its output y and the
 * gradient of sum(y * w) for x are checked against KEY.y and KEY.dx, and its
 * output's node name against node (NULL: y is x itself). */
static void check_module(golden *g, const char *name, const char *words, const char *xkey,
                         const char *wkey, const char *key, const char *node, int train,
                         double atol, double rtol)
{
    nn_ctx *ctx = fx_ctx();
    nn_tensor *x = golden_tensor(g, xkey, 1), *w = golden_tensor(g, wkey, 0);
    const nn_shape *xs = nn_tensor_shape(x);
    nn_shape in = {xs->ndim - 1, {0}};
    memcpy(in.dim, xs->dim + 1, (size_t)in.ndim * sizeof in.dim[0]);
    nn_module *m = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_create(ctx, name, words, &in, &m, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    nn_module_train(m, train);
    nn_tensor *y = nn_module_forward(m, x);
    char k[96];
    snprintf(k, sizeof k, "%s.y", key);
    GOLDEN_CHECK(g, y, k, atol, rtol);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    if (node) {
        const char *got = nn_tensor_grad_fn_name(y);
        CU_ASSERT_PTR_NOT_NULL(got);
        if (got && strcmp(got, node)) fprintf(stderr, "\n%s: node %s, want %s\n", key, got, node);
        CU_ASSERT(got && !strcmp(got, node));
    } else {
        CU_ASSERT_PTR_EQUAL(y, x);
    }
    /* The declared output shape is the batch's, less the batch. */
    const nn_shape *ys = nn_tensor_shape(y), *os = nn_module_out_shape(m);
    CU_ASSERT_EQUAL(ys->ndim, os->ndim + 1);
    for (int i = 0; i < os->ndim && i + 1 < ys->ndim; i++) CU_ASSERT_EQUAL(ys->dim[i + 1], os->dim[i]);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, w))), NN_OK);
    snprintf(k, sizeof k, "%s.dx", key);
    GOLDEN_CHECK(g, nn_tensor_grad(x), k, atol, rtol);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
    nn_module_free(m);
}

/* Element-wise ones and softmax along the last dim of (4, 6). The float32
 * results of PyTorch and of the plugins' kernels (double inside, rounded
 * once) differ by an ulp or two, well inside 1e-5. Where a value is a small
 * difference of O(1) terms (tanh's and gelu's 1 - t^2 and gelu's 1 + t for
 * x < -4, softmax's y (dy - sum dy y), log_softmax near 0), PyTorch's own
 * float32 arithmetic is off by up to ~1.4e-7 absolute from the float64
 * value (gelu tanh at x = -4.63: dx is -1.12944e-05 in PyTorch's float32,
 * -1.14307e-05 in its float64 and here; at x = -4.23, y is -2.23156e-05,
 * -2.23025e-05 and -2.23025e-05), hence atol 2e-7 there. */
static void test_golden_activations_2d(void)
{
    golden *g = golden_open("activations.txt");
    check_module(g, "relu", "", "x", "w", "relu", "ReluBackward0", 1, 0, 1e-5);
    check_module(g, "tanh", "", "x", "w", "tanh", "TanhBackward0", 1, 2e-7, 1e-5);
    check_module(g, "leaky_relu", "", "x", "w", "leaky_relu", "LeakyReluBackward0", 1, 0, 1e-5);
    check_module(g, "leaky_relu", "negative_slope=0.2", "x", "w", "leaky_relu.0.2",
                 "LeakyReluBackward0", 1, 0, 1e-5);
    check_module(g, "gelu", "", "x", "w", "gelu", "GeluBackward0", 1, 2e-7, 1e-5);
    check_module(g, "gelu", "approximate=tanh", "x", "w", "gelu.tanh", "GeluBackward0", 1, 2e-7,
                 1e-5);
    check_module(g, "softmax", "", "x", "w", "softmax", "SoftmaxBackward0", 1, 2e-7, 1e-5);
    check_module(g, "softmax", "dim=0", "x", "w", "softmax.0", "SoftmaxBackward0", 1, 2e-7, 1e-5);
    check_module(g, "log_softmax", "", "x", "w", "log_softmax", "LogSoftmaxBackward0", 1, 2e-7,
                 1e-5);
    check_module(g, "log_softmax", "dim=0", "x", "w", "log_softmax.0", "LogSoftmaxBackward0", 1,
                 2e-7, 1e-5);
    /* On (4, 6), flatten merges nothing and returns its input, as torch.flatten. */
    check_module(g, "flatten", "", "x", "w", "flatten", NULL, 1, 0, 0);
    check_module(g, "identity", "", "x", "w", "identity", NULL, 1, 0, 0);
    golden_close(g);
}

static void test_golden_activations_4d(void)
{
    golden *g = golden_open("activations.txt");
    const int dims[] = {0, 1, 2, -1};
    for (int i = 0; i < 4; i++) {
        char words[32], wkey[32], key[64];
        snprintf(words, sizeof words, "dim=%d", dims[i]);
        snprintf(wkey, sizeof wkey, "w4.%d", dims[i]);
        snprintf(key, sizeof key, "softmax4.%d", dims[i]);
        check_module(g, "softmax", words, "x4", wkey, key, "SoftmaxBackward0", 1, 2e-7, 1e-5);
        snprintf(key, sizeof key, "log_softmax4.%d", dims[i]);
        check_module(g, "log_softmax", words, "x4", wkey, key, "LogSoftmaxBackward0", 1, 2e-7,
                     1e-5);
    }
    const int se[][2] = {{1, -1}, {2, -1}, {1, 2}, {-2, -1}, {2, 2}, {0, 0}};
    for (int i = 0; i < 6; i++) {
        char words[64], wkey[80], key[64];
        snprintf(words, sizeof words, "start_dim=%d end_dim=%d", se[i][0], se[i][1]);
        snprintf(key, sizeof key, "flatten4.%d.%d", se[i][0], se[i][1]);
        snprintf(wkey, sizeof wkey, "%s.w", key);
        /* A view (exact values) when dimensions merge; the input itself otherwise. */
        check_module(g, "flatten", words, "x4", wkey, key,
                     se[i][0] == se[i][1] ? NULL : "ViewBackward0", 1, 0, 0);
    }
    golden_close(g);
}

/* Eval mode is the identity (the input itself, the same twice); in train
 * mode p = 0 returns the input and p = 1 gives zeros and a zero gradient. */
static void test_golden_dropout_edges(void)
{
    golden *g = golden_open("activations.txt");
    check_module(g, "dropout", "", "x", "w", "dropout.eval", NULL, 0, 0, 0);
    check_module(g, "dropout", "p=0.9", "x", "w", "dropout.eval", NULL, 0, 0, 0);
    check_module(g, "dropout", "p=0", "x", "w", "dropout.p0", NULL, 1, 0, 0);
    check_module(g, "dropout", "p=1", "x", "w", "dropout.p1", "MulBackward0", 1, 0, 0);
    golden_close(g);
}

/* Train mode on 200 x 500 elements: the fraction zeroed is p within 5
 * standard deviations, every kept element is exactly x * s with PyTorch's
 * float32 s = 1 / (1 - p), the gradient is exactly w * mask * s, a second
 * call draws another mask, and the same RNG state the same one. */
static void dropout_train(golden *g, double p)
{
    enum { R = 200, C = 500, N = R * C };
    nn_ctx *ctx = fx_ctx();
    char words[32], key[64];
    snprintf(words, sizeof words, "p=%g", p);
    snprintf(key, sizeof key, "dropout.scale.%g", p);
    const float s = (float)golden_scalar(g, key);
    nn_shape in = {1, {C}};
    nn_module *m = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_create(ctx, "dropout", words, &in, &m, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT(nn_module_is_training(m));
    float *xv = malloc(sizeof(float) * N * 5), *wv = xv + N, *y = wv + N, *dx = y + N,
          *y2 = dx + N;
    CU_ASSERT_PTR_NOT_NULL_FATAL(xv);
    nn_rng r;
    nn_rng_seed(&r, 99, 3);
    for (int i = 0; i < N; i++) { /* no zeros among the inputs */
        xv[i] = (0.5f + nn_rng_uniform(&r)) * (nn_rng_uniform(&r) < 0.5f ? -1.0f : 1.0f);
        wv[i] = nn_rng_uniform(&r) * 2.0f - 1.0f;
    }
    nn_tensor *x = tensor_from(&(nn_shape){2, {R, C}}, xv, 1);
    nn_tensor *w = tensor_from(&(nn_shape){2, {R, C}}, wv, 0);
    nn_rng before = *nn_ctx_rng(ctx);
    nn_tensor *out = nn_module_forward(m, x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_STRING_EQUAL(nn_tensor_grad_fn_name(out), "MulBackward0");
    to_host(out, y, N);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(out, w))), NN_OK);
    to_host(nn_tensor_grad(x), dx, N);
    int64_t zeros = 0, bad_kept = 0, bad_grad = 0;
    for (int i = 0; i < N; i++) {
        int kept = y[i] != 0;
        zeros += !kept;
        if (kept && y[i] != xv[i] * s) bad_kept++;
        if (dx[i] != (kept ? wv[i] * s : 0.0f)) bad_grad++;
    }
    double frac = (double)zeros / N, sd = sqrt(p * (1 - p) / N);
    CHECK_CLOSE(frac, p, 5 * sd, 0);
    CU_ASSERT_EQUAL(bad_kept, 0);
    CU_ASSERT_EQUAL(bad_grad, 0);
    nn_ctx_scratch_reset(ctx);
    /* Fresh draws on the next call; the same draws from the same RNG state. */
    to_host(nn_module_forward(m, x), y2, N);
    CU_ASSERT(memcmp(y, y2, sizeof(float) * N) != 0);
    *nn_ctx_rng(ctx) = before;
    to_host(nn_module_forward(m, x), y2, N);
    CU_ASSERT(memcmp(y, y2, sizeof(float) * N) == 0);
    /* Eval: the input, twice the same. */
    nn_module_train(m, 0);
    CU_ASSERT_PTR_EQUAL(nn_module_forward(m, x), x);
    CU_ASSERT_PTR_EQUAL(nn_module_forward(m, x), x);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
    nn_module_free(m);
    free(xv);
}

static void test_golden_dropout_train(void)
{
    golden *g = golden_open("activations.txt");
    const double ps[] = {0.1, 0.25, 0.5, 0.9, 0.123};
    for (int i = 0; i < 5; i++) dropout_train(g, ps[i]);
    golden_close(g);
}

/* print(model) as PyTorch prints the same Sequential, and the shapes that
 * flow through a chain of these modules. */
static void test_activation_repr_and_shapes(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape in = {2, {3, 4}};
    nn_module *m = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_from_chain(ctx,
                                  "flatten ! linear out=8 ! leaky_relu negative_slope=0.2 ! "
                                  "dropout p=0.1 ! gelu approximate=tanh ! relu ! tanh ! "
                                  "identity ! linear out=3 ! softmax ! log_softmax dim=1",
                                  &in, &m, &err),
             err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char *repr = nn_module_repr(m);
    const char *want = "Sequential(\n"
                       "  (0): Flatten(start_dim=1, end_dim=-1)\n"
                       "  (1): Linear(in_features=12, out_features=8, bias=True)\n"
                       "  (2): LeakyReLU(negative_slope=0.2)\n"
                       "  (3): Dropout(p=0.1, inplace=False)\n"
                       "  (4): GELU(approximate='tanh')\n"
                       "  (5): ReLU()\n"
                       "  (6): Tanh()\n"
                       "  (7): Identity()\n"
                       "  (8): Linear(in_features=8, out_features=3, bias=True)\n"
                       "  (9): Softmax(dim=-1)\n"
                       "  (10): LogSoftmax(dim=1)\n"
                       ")\n"; /* the core ends it with a newline */
    CU_ASSERT_PTR_NOT_NULL(repr);
    if (repr && strcmp(repr, want)) fprintf(stderr, "\ngot:\n%s\nwant:\n%s\n", repr, want);
    CU_ASSERT(repr && !strcmp(repr, want));
    nn_free(repr);
    const nn_shape *os = nn_module_out_shape(m);
    CU_ASSERT_EQUAL(os->ndim, 1);
    CU_ASSERT_EQUAL(os->dim[0], 3);
    nn_tensor *x = tensor_from(&(nn_shape){3, {5, 3, 4}}, NULL, 0);
    nn_tensor *y = nn_module_forward(m, x);
    CU_ASSERT_PTR_NOT_NULL(y);
    if (y) {
        CU_ASSERT_EQUAL(nn_tensor_dim(y, 0), 5);
        CU_ASSERT_EQUAL(nn_tensor_dim(y, 1), 3);
    }
    CHECK_CTX_OK(ctx);
    nn_module_free(m);

    /* Flatten keeps the batch; bad dims are refused at creation. */
    nn_shape in3 = {3, {3, 4, 5}};
    CHECK_OK(nn_module_create(ctx, "flatten", "start_dim=2", &in3, &m, &err), err);
    CU_ASSERT_EQUAL(nn_module_out_shape(m)->ndim, 2);
    CU_ASSERT_EQUAL(nn_module_out_shape(m)->dim[0], 3);
    CU_ASSERT_EQUAL(nn_module_out_shape(m)->dim[1], 20);
    nn_module_free(m);
    CHECK_STATUS(nn_module_create(ctx, "flatten", "start_dim=0", &in3, &m, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "batch");
    CHECK_STATUS(nn_module_create(ctx, "flatten", "start_dim=3 end_dim=2", &in3, &m, &err),
                 NN_INVALID, err);
    CHECK_CONTAINS(err, "after");
    CHECK_STATUS(nn_module_create(ctx, "softmax", "dim=4", &in3, &m, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "out of range");
    CHECK_STATUS(nn_module_create(ctx, "log_softmax", "dim=-5", &in3, &m, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "out of range");
    nn_free(err);
}

/* The ops called directly: softmax of a transposed view (the core makes it
 * contiguous) is the softmax along the other dimension; dropout with a
 * given mask; and the refusals of their shape functions. */
static void test_activation_ops(void)
{
    golden *g = golden_open("activations.txt");
    nn_ctx *ctx = fx_ctx();
    nn_tensor *x = golden_tensor(g, "x", 0);
    nn_tensor *xt = nn_t(x);
    double dim[] = {-1};
    nn_tensor *y = fx_call("softmax", &xt, dim);
    GOLDEN_CHECK(g, nn_t(y), "softmax.0.y", 0, 1e-5);
    y = fx_call("log_softmax", &xt, dim);
    GOLDEN_CHECK(g, nn_t(y), "log_softmax.0.y", 2e-7, 1e-5);
    CHECK_CTX_OK(ctx);

    float xv[6] = {1.5f, -2.0f, 3.0f, -0.25f, 7.0f, 0.5f}, mv[6] = {1, 0, 1, 1, 0, 1}, h[6];
    nn_tensor *dx = t2d(2, 3, xv, 1), *mask = t2d(2, 3, mv, 0);
    nn_tensor *in[] = {dx, mask};
    double p[] = {0.75};
    y = fx_call("dropout", in, p);
    to_host(y, h, 6);
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(h[i], mv[i] ? xv[i] * 4.0f : 0.0f);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(y)), NN_OK);
    to_host(nn_tensor_grad(dx), h, 6);
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(h[i], mv[i] * 4.0f);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);

    double bad_dim[] = {2}, bad_approx[] = {2}, bad_p[] = {1.5};
    CU_ASSERT_PTR_NULL(fx_call("softmax", &x, bad_dim));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "out of range");
    CU_ASSERT_PTR_NULL(fx_call("gelu", &x, bad_approx));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "approximate");
    CU_ASSERT_PTR_NULL(fx_call("dropout", in, bad_p));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "p=1.5");
    nn_tensor *wrong[] = {x, mask};
    CU_ASSERT_PTR_NULL(fx_call("dropout", wrong, NULL));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "mask");
    nn_tensor_set_requires_grad(mask, 1);
    CU_ASSERT_PTR_NULL(fx_call("dropout", in, NULL));
    CHECK_CTX_ERROR(ctx, NN_UNSUPPORTED, "mask");
    nn_ctx_scratch_reset(ctx);
    golden_close(g);
}

void register_golden_activations_tests(void)
{
    CU_pSuite s = fx_add_suite("golden_activations");
    if (!s) return;
    FX_ADD(s, test_golden_activations_2d);
    FX_ADD(s, test_golden_activations_4d);
    FX_ADD(s, test_golden_dropout_edges);
    FX_ADD(s, test_golden_dropout_train);
    FX_ADD(s, test_activation_repr_and_shapes);
    FX_ADD(s, test_activation_ops);
}
