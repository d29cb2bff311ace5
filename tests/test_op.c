/* test_op.c - the op mechanism itself, with ops this program registers
 * (nn_registry_add): resolution and its errors, shapes, the autograd node,
 * backward by kernel and composed of ops, several outputs, accumulation,
 * no-grad inputs, kernels that fail, malformed definitions. */
#include "test.h"

#include <nn/plugin.h>

#include <math.h>
#include <string.h>

/* ---- pairop(x, y) -> (x * y, x + s * y), attribute s; kernel backward ---- */

static const nn_op_arg pair_in[] = {{"x", 0, 0, 0}, {"y", 0, 0, 0}};
static const nn_op_arg pair_out[] = {{"prod", 0, 0, 0}, {"sum", 0, 0, 0}};
static const nn_op_attr pair_attr[] = {{"s", 2.0, "weight of y in the sum"}};

static nn_status pair_fwd(const nn_kernel_call *c)
{
    const float *x = c->in[0].data, *y = c->in[1].data;
    float s = (float)c->attr[0];
    for (int64_t i = 0; i < c->in[0].numel; i++) {
        c->out[0].data[i] = x[i] * y[i];
        c->out[1].data[i] = x[i] + s * y[i];
    }
    return NN_OK;
}

static void put(const nn_kernel_call *c, int i, int64_t j, float v)
{
    float *d = c->gin[i].data;
    if (d) d[j] = c->acc[i] ? d[j] + v : v;
}

static nn_status pair_bwd(const nn_kernel_call *c)
{
    const float *x = c->in[0].data, *y = c->in[1].data;
    const float *g0 = c->gout[0].data, *g1 = c->gout[1].data;
    float s = (float)c->attr[0];
    for (int64_t j = 0; j < c->in[0].numel; j++) {
        put(c, 0, j, g0[j] * y[j] + g1[j]);
        put(c, 1, j, g0[j] * x[j] + s * g1[j]);
    }
    return NN_OK;
}

static const nn_op_def pair_def = {
    NN_VT_HEADER(nn_op_def), .node_name = "PairBackward0", .nin = 2, .nout = 2, .nattr = 1,
    .in = pair_in, .out = pair_out, .attr = pair_attr,
};
static const nn_kernel_def pair_cpu = {NN_VT_HEADER(nn_kernel_def), .device = "cpu",
                                       .forward = pair_fwd, .backward = pair_bwd};

/* ---- cube(x) = x^3, backward composed of core ops: 3 x^2 dy ---- */

static const nn_op_arg cube_in[] = {{"x", 0, 0, 0}};
static const nn_op_arg cube_out[] = {{"y", 0, 0, 0}};

static nn_status cube_fwd(const nn_kernel_call *c)
{
    const float *x = c->in[0].data;
    for (int64_t i = 0; i < c->in[0].numel; i++) c->out[0].data[i] = x[i] * x[i] * x[i];
    return NN_OK;
}

static nn_status cube_bwd(nn_tensor *const *in, nn_tensor *const *out, nn_tensor *const *gout,
                          const double *attr, nn_tensor **gin)
{
    (void)out;
    (void)attr;
    gin[0] = nn_mul(nn_mul_scalar(nn_mul(in[0], in[0]), 3.0f), gout[0]);
    return gin[0] ? NN_OK : NN_INTERNAL;
}

static const nn_op_def cube_def = {
    NN_VT_HEADER(nn_op_def), .node_name = "CubeBackward0", .nin = 1, .nout = 1,
    .in = cube_in, .out = cube_out, .backward = cube_bwd,
};
static const nn_kernel_def cube_cpu = {NN_VT_HEADER(nn_kernel_def), .device = "cpu",
                                       .forward = cube_fwd};

/* ---- rowsum(x (m, n), w (n) no grad) -> (m): a shape function ---- */

static const nn_op_arg rowsum_in[] = {{"x", 0, 0, 0}, {"weight", NN_ARG_NO_GRAD | NN_ARG_OPTIONAL, 0, 0}};

static nn_status rowsum_shape(const nn_shape *const *in, const double *attr, nn_shape *out,
                              char **err)
{
    (void)attr;
    if (in[0]->ndim != 2) return nn_fail(err, NN_SHAPE, "x must be 2-d, got %d-d", in[0]->ndim);
    if (in[1] && (in[1]->ndim != 1 || in[1]->dim[0] != in[0]->dim[1]))
        return nn_fail(err, NN_SHAPE, "weight must have %lld elements", (long long)in[0]->dim[1]);
    out[0] = (nn_shape){1, {in[0]->dim[0]}};
    return NN_OK;
}

static nn_status rowsum_fwd(const nn_kernel_call *c)
{
    int64_t m = c->in[0].shape->dim[0], n = c->in[0].shape->dim[1];
    const float *w = c->in[1].data;
    for (int64_t r = 0; r < m; r++) {
        float s = 0;
        for (int64_t j = 0; j < n; j++) s += c->in[0].data[r * n + j] * (w ? w[j] : 1.0f);
        c->out[0].data[r] = s;
    }
    return NN_OK;
}

static nn_status rowsum_bwd(const nn_kernel_call *c)
{
    int64_t m = c->in[0].shape->dim[0], n = c->in[0].shape->dim[1];
    const float *w = c->in[1].data;
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) put(c, 0, r * n + j, c->gout[0].data[r] * (w ? w[j] : 1.0f));
    return NN_OK;
}

static const nn_op_def rowsum_def = {
    NN_VT_HEADER(nn_op_def), .node_name = "RowsumBackward0", .nin = 2, .nout = 1,
    .in = rowsum_in, .out = cube_out, .shape = rowsum_shape,
};
static const nn_kernel_def rowsum_cpu = {NN_VT_HEADER(nn_kernel_def), .device = "cpu",
                                         .forward = rowsum_fwd, .backward = rowsum_bwd};

/* ---- ops that cannot be used on cpu, and one whose kernel fails ---- */

static const nn_op_def elsewhere_def = {NN_VT_HEADER(nn_op_def), .node_name = "ElsewhereBackward0",
                                        .nin = 1, .nout = 1, .in = cube_in, .out = cube_out};
static const nn_kernel_def elsewhere_far = {NN_VT_HEADER(nn_kernel_def), .device = "fardev",
                                            .forward = cube_fwd, .backward = pair_bwd};
/* a gradient, but a cpu kernel without backward and no composed one */
static const nn_op_def nobwd_def = {NN_VT_HEADER(nn_op_def), .node_name = "NobwdBackward0",
                                    .nin = 1, .nout = 1, .in = cube_in, .out = cube_out};

static nn_status fail_fwd(const nn_kernel_call *c)
{
    (void)c;
    return NN_DEVICE;
}
static const nn_op_def failing_def = {NN_VT_HEADER(nn_op_def), .nin = 1, .nout = 1,
                                      .in = cube_in, .out = cube_out};
static const nn_kernel_def failing_cpu = {NN_VT_HEADER(nn_kernel_def), .device = "cpu",
                                          .forward = fail_fwd};

static const nn_component_def test_ops[] = {
    {NN_KIND_OP, "t_pair", "two outputs", &pair_def, NULL, 0},
    {NN_KIND_KERNEL, "t_pair", "", &pair_cpu, NULL, 0},
    {NN_KIND_OP, "t_cube", "composed backward", &cube_def, NULL, 0},
    {NN_KIND_KERNEL, "t_cube", "", &cube_cpu, NULL, 0},
    {NN_KIND_OP, "t_rowsum", "shape function", &rowsum_def, NULL, 0},
    {NN_KIND_KERNEL, "t_rowsum", "", &rowsum_cpu, NULL, 0},
    {NN_KIND_OP, "t_elsewhere", "no cpu kernel", &elsewhere_def, NULL, 0},
    {NN_KIND_KERNEL, "t_elsewhere", "", &elsewhere_far, NULL, 0},
    {NN_KIND_OP, "t_nobwd", "no backward anywhere", &nobwd_def, NULL, 0},
    {NN_KIND_KERNEL, "t_nobwd", "", &cube_cpu, NULL, 0},
    {NN_KIND_OP, "t_failing", "kernel fails", &failing_def, NULL, 0},
    {NN_KIND_KERNEL, "t_failing", "", &failing_cpu, NULL, 0},
};
static const nn_plugin_desc test_ops_desc = {NN_ABI_MAJOR, NN_ABI_MINOR, sizeof(nn_plugin_desc),
                                             "test_ops", "1.0", test_ops, NN_COUNT_OF(test_ops)};

static int registered;

static void need_ops(void)
{
    if (registered) return;
    char *err = NULL;
    nn_status st = nn_registry_add(g_reg, &test_ops_desc, &err);
    CHECK_OK(st, err);
    nn_free(err);
    registered = st == NN_OK;
    CU_ASSERT_FATAL(registered);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_op_two_outputs(void)
{
    need_ops();
    nn_ctx *ctx = fx_ctx();
    nn_tensor *x = t1d(3, (const float[]){1, 2, 3}, 1), *y = t1d(3, (const float[]){4, 5, 6}, 1);
    nn_tensor *out[2];
    nn_op *op = fx_op("t_pair");
    CU_ASSERT_PTR_EQUAL(fx_op("t_pair"), op); /* one handle per context and name */
    CU_ASSERT_STRING_EQUAL(nn_op_name(op), "t_pair");
    CU_ASSERT_STRING_EQUAL(nn_op_node_name(op), "PairBackward0");
    nn_tensor *in[] = {x, y};
    nn_tensor *first = nn_op_call(op, in, (const double[]){0.5}, out);
    CU_ASSERT_PTR_EQUAL(first, out[0]);
    float h[3];
    to_host(out[0], h, 3);
    CHECK_ARRAY(h, ((const double[]){4, 10, 18}), 3, 0, 0);
    to_host(out[1], h, 3);
    CHECK_ARRAY(h, ((const double[]){3, 4.5, 6}), 3, 0, 0);
    CU_ASSERT_TRUE(nn_tensor_requires_grad(out[1]));
    /* L = sum(prod) + 2 sum(sum): dx = y + 2, dy = x + 2 * 0.5 */
    CU_ASSERT_EQUAL(nn_backward(nn_add(nn_sum(out[0]), nn_mul_scalar(nn_sum(out[1]), 2))), NN_OK);
    to_host(nn_tensor_grad(x), h, 3);
    CHECK_ARRAY(h, ((const double[]){6, 7, 8}), 3, 1e-6, 0);
    to_host(nn_tensor_grad(y), h, 3);
    CHECK_ARRAY(h, ((const double[]){2, 3, 4}), 3, 1e-6, 0);
    nn_ctx_scratch_reset(ctx);

    /* only the second output used: the first's gradient is zeros; grads accumulate */
    nn_op_call(op, in, NULL, out); /* default s = 2 */
    CU_ASSERT_EQUAL(nn_backward(nn_sum(out[1])), NN_OK);
    to_host(nn_tensor_grad(x), h, 3);
    CHECK_ARRAY(h, ((const double[]){7, 8, 9}), 3, 1e-6, 0);
    to_host(nn_tensor_grad(y), h, 3);
    CHECK_ARRAY(h, ((const double[]){4, 5, 6}), 3, 1e-6, 0);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_op_same_input_twice(void)
{
    need_ops();
    nn_ctx *ctx = fx_ctx();
    /* pair(x, x) -> prod = x^2: d/dx sum(prod) = 2x, both gradients land on x */
    nn_tensor *x = t1d(2, (const float[]){3, -1}, 1);
    nn_tensor *in[] = {x, x};
    CU_ASSERT_EQUAL(nn_backward(nn_sum(fx_call("t_pair", in, NULL))), NN_OK);
    float h[2];
    to_host(nn_tensor_grad(x), h, 2);
    CHECK_ARRAY(h, ((const double[]){6, -2}), 2, 1e-6, 0);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void test_op_composed_backward(void)
{
    need_ops();
    nn_ctx *ctx = fx_ctx();
    nn_tensor *x = t2d(2, 2, (const float[]){1, -2, 0.5f, 3}, 1);
    nn_tensor *y = fx_call("t_cube", &x, NULL);
    float h[4];
    to_host(y, h, 4);
    CHECK_ARRAY(h, ((const double[]){1, -8, 0.125, 27}), 4, 1e-6, 0);
    /* through a transposed view: the op sees a contiguous copy; the gradient
     * comes back to x in its own layout. L = sum(cube(x^T) * 2) */
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul_scalar(fx_call("t_cube", (nn_tensor *[]){nn_t(x)}, NULL), 2))), NN_OK);
    to_host(nn_tensor_grad(x), h, 4);
    CHECK_ARRAY(h, ((const double[]){6, 24, 1.5, 54}), 4, 1e-5, 0);
    CHECK_CTX_OK(ctx);
    /* the node is named as the op says, in grad mode only */
    nn_tensor *z = fx_call("t_cube", &x, NULL);
    CU_ASSERT_TRUE(nn_tensor_requires_grad(z));
    int was = nn_grad_set_enabled(ctx, 0);
    CU_ASSERT_FALSE(nn_tensor_requires_grad(fx_call("t_cube", &x, NULL)));
    nn_grad_set_enabled(ctx, was);
    nn_ctx_scratch_reset(ctx);
}

static void test_op_shape_function(void)
{
    need_ops();
    nn_ctx *ctx = fx_ctx();
    nn_tensor *x = t2d(2, 3, (const float[]){1, 2, 3, 4, 5, 6}, 1);
    nn_tensor *w = t1d(3, (const float[]){1, 0, -1}, 0);
    nn_tensor *y = fx_call("t_rowsum", (nn_tensor *[]){x, w}, NULL);
    CU_ASSERT_EQUAL(nn_tensor_shape(y)->ndim, 1);
    float h[6];
    to_host(y, h, 2);
    CHECK_ARRAY(h, ((const double[]){-2, -2}), 2, 0, 0);
    /* the optional weight absent */
    to_host(fx_call("t_rowsum", (nn_tensor *[]){x, NULL}, NULL), h, 2);
    CHECK_ARRAY(h, ((const double[]){6, 15}), 2, 0, 0);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(y)), NN_OK);
    to_host(nn_tensor_grad(x), h, 6);
    CHECK_ARRAY(h, ((const double[]){1, 0, -1, 1, 0, -1}), 6, 0, 0);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);

    /* the shape function's refusal, prefixed by the op's name */
    CU_ASSERT_PTR_NULL(fx_call("t_rowsum", (nn_tensor *[]){w, NULL}, NULL));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "t_rowsum: x must be 2-d, got 1-d");
    CU_ASSERT_PTR_NULL(fx_call("t_rowsum", (nn_tensor *[]){x, t1d(2, NULL, 0)}, NULL));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "t_rowsum: weight must have 3 elements");
    /* a no-grad input that requires grad is refused in grad mode */
    CU_ASSERT_PTR_NULL(fx_call("t_rowsum", (nn_tensor *[]){x, t1d(3, NULL, 1)}, NULL));
    CHECK_CTX_ERROR(ctx, NN_UNSUPPORTED, "t_rowsum: the gradient for 'weight' is not implemented");
    /* the default shape rule names both inputs */
    CU_ASSERT_PTR_NULL(fx_call("t_pair", (nn_tensor *[]){x, w}, NULL));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "t_pair: input 'y' has shape [3], input 'x' has [2, 3]");
    /* an earlier error: the op does nothing and keeps the first message */
    CU_ASSERT_PTR_NULL(nn_mm(x, x));
    CU_ASSERT_PTR_NULL(fx_call("t_cube", &x, NULL));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "cannot be multiplied");
    nn_ctx_scratch_reset(ctx);
}

static void test_op_find_errors(void)
{
    need_ops();
    nn_ctx *ctx = fx_ctx();
    nn_op *op = (nn_op *)1;
    char *err = NULL;
    CHECK_STATUS(nn_op_find(ctx, "t_elsewhere", &op, &err), NN_UNSUPPORTED, err);
    CU_ASSERT_PTR_NULL(op);
    CHECK_CONTAINS(err, "op 't_elsewhere' (plugin 'test_ops') has no kernel for device 'cpu'; "
                        "devices with a kernel: fardev");
    CHECK_STATUS(nn_op_find(ctx, "t_nobwd", &op, &err), NN_UNSUPPORTED, err);
    CHECK_CONTAINS(err, "op 't_nobwd' has a gradient, but its kernel for device 'cpu' has no "
                        "backward");
    CHECK_STATUS(nn_op_find(ctx, "t_nosuch", &op, &err), NN_NOT_FOUND, err);
    CHECK_CONTAINS(err, "no op named 't_nosuch'");
    CHECK_CONTAINS(err, "t_pair");
    nn_free(err);
    /* a kernel that fails: the call says which op, pass and device */
    nn_tensor *x = t1d(2, NULL, 0);
    CU_ASSERT_PTR_NULL(fx_call("t_failing", &x, NULL));
    CHECK_CTX_ERROR(ctx, NN_DEVICE, "op 't_failing': forward kernel on device 'cpu' failed");
}

/* Definitions the registry refuses, each with its reason. */
static const nn_op_def bad_nin = {NN_VT_HEADER(nn_op_def), .nin = 0, .nout = 1, .in = cube_in,
                                  .out = cube_out};
static const nn_op_def bad_grad = {NN_VT_HEADER(nn_op_def), .node_name = "XBackward0", .nin = 1,
                                   .nout = 0, .in = cube_in};
static const nn_op_arg unnamed[] = {{NULL, 0, 0, 0}};
static const nn_op_def bad_name = {NN_VT_HEADER(nn_op_def), .nin = 1, .in = unnamed};
static const nn_kernel_def bad_kernel = {NN_VT_HEADER(nn_kernel_def), .device = NULL,
                                         .forward = cube_fwd};

static void refused(const nn_component_def *c, int n, const char *why)
{
    nn_plugin_desc d = {NN_ABI_MAJOR, NN_ABI_MINOR, sizeof d, "bad_ops", "1.0", c, n};
    char *err = NULL;
    CHECK_STATUS(nn_registry_add(g_reg, &d, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, why);
    nn_free(err);
}

static void test_op_malformed_refused(void)
{
    need_ops();
    const nn_component_def a[] = {{NN_KIND_OP, "b1", "", &bad_nin, NULL, 0}};
    refused(a, 1, "op 'b1' is malformed");
    const nn_component_def b[] = {{NN_KIND_OP, "b2", "", &bad_grad, NULL, 0}};
    refused(b, 1, "op 'b2' has a gradient (XBackward0) but no output");
    const nn_component_def c[] = {{NN_KIND_OP, "b3", "", &bad_name, NULL, 0}};
    refused(c, 1, "op 'b3' is malformed");
    const nn_component_def d[] = {{NN_KIND_KERNEL, "b4", "", &bad_kernel, NULL, 0}};
    refused(d, 1, "kernel 'b4' is malformed");
    /* a second cpu kernel for an op is a duplicate; one for another device is not */
    const nn_component_def e[] = {{NN_KIND_KERNEL, "t_cube", "", &cube_cpu, NULL, 0}};
    refused(e, 1, "kernel 't_cube' for device cpu is already provided");
    static const nn_kernel_def cube_far = {NN_VT_HEADER(nn_kernel_def), .device = "farcube",
                                           .forward = cube_fwd};
    static const nn_component_def f[] = {{NN_KIND_KERNEL, "t_cube", "", &cube_far, NULL, 0}};
    static const nn_plugin_desc fd = {NN_ABI_MAJOR, NN_ABI_MINOR, sizeof fd, "farcube", "1.0", f, 1};
    char *err = NULL;
    CHECK_OK(nn_registry_add(g_reg, &fd, &err), err);
    nn_free(err);
}

void register_op_tests(void)
{
    CU_pSuite s = fx_add_suite("op");
    if (!s) return;
    FX_ADD(s, test_op_two_outputs);
    FX_ADD(s, test_op_same_input_twice);
    FX_ADD(s, test_op_composed_backward);
    FX_ADD(s, test_op_shape_function);
    FX_ADD(s, test_op_find_errors);
    FX_ADD(s, test_op_malformed_refused);
}
