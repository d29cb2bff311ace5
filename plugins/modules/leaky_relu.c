/* leaky_relu.c - PyTorch's nn.LeakyReLU: y = x where x > 0, else
 * negative_slope * x; any shape.
 *
 * The op "leaky_relu" (LeakyReluBackward0) with its cpu kernel, and the
 * module that calls it. */
#include <nn/plugin.h>

#include <stdio.h>
#include <stdlib.h>

/* ---- the op ---- */

enum { A_SLOPE, A_COUNT };

static const nn_op_arg lrelu_in[] = {{"input", 0, 0, 0}};
static const nn_op_arg lrelu_out[] = {{"output", 0, 0, 0}};
static const nn_op_attr lrelu_attr[] = {
    [A_SLOPE] = {"negative_slope", 0.01, "the slope where x <= 0"},
};

static nn_status lrelu_onnx(nn_onnx *b, const nn_onnx_call *c)
{
    nn_status st = nn_onnx_node(b, "LeakyRelu", 1, c->in, 1, c->out);
    return st ? st : nn_onnx_attr_float(b, "alpha", (float)c->attr[A_SLOPE]);
}

static const nn_op_def lrelu_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "LeakyReluBackward0",
    .nin = 1,
    .nout = 1,
    .nattr = A_COUNT,
    .in = lrelu_in,
    .out = lrelu_out,
    .attr = lrelu_attr,
    .onnx = lrelu_onnx,
};

static nn_status lrelu_cpu_forward(const nn_kernel_call *c)
{
    const float *restrict x = c->in[0].data;
    float *restrict y = c->out[0].data;
    const float s = (float)c->attr[A_SLOPE];
    for (int64_t i = 0, n = c->in[0].numel; i < n; i++) y[i] = x[i] > 0 ? x[i] : x[i] * s;
    return NN_OK;
}

/* dx (+)= dy where x > 0, else negative_slope * dy (PyTorch's rule at 0). */
static nn_status lrelu_cpu_backward(const nn_kernel_call *c)
{
    const float *restrict x = c->in[0].data, *restrict dy = c->gout[0].data;
    float *restrict dx = c->gin[0].data;
    if (!dx) return NN_OK;
    const float s = (float)c->attr[A_SLOPE];
    const int acc = c->acc[0];
    for (int64_t i = 0, n = c->in[0].numel; i < n; i++) {
        float g = x[i] > 0 ? dy[i] : dy[i] * s;
        dx[i] = acc ? dx[i] + g : g;
    }
    return NN_OK;
}

static const nn_kernel_def lrelu_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = lrelu_cpu_forward,
    .backward = lrelu_cpu_backward,
};

/* ---- the module ---- */

enum { P_SLOPE };

static const nn_prop_def lrelu_props[] = {
    [P_SLOPE] = {"negative_slope", NN_PROP_FLOAT, "0.01", 1, 0, NULL, "the slope where x <= 0"},
};

typedef struct {
    nn_op *op;
    double attr[A_COUNT];
} lrelu;

static nn_status lrelu_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                            char **err)
{
    lrelu *l = nn_module_priv(m);
    l->attr[A_SLOPE] = nn_props_float(p, P_SLOPE);
    *out = *in;
    return nn_op_find(nn_module_ctx(m), "leaky_relu", &l->op, err);
}

static nn_tensor *lrelu_forward(nn_module *m, nn_tensor *x)
{
    lrelu *l = nn_module_priv(m);
    return nn_op_call(l->op, &x, l->attr, NULL);
}

/* A float as Python prints it ("0.01", "1.0"). */
static void py_float(char *buf, size_t len, double v)
{
    for (int d = 1; d <= 17; d++) {
        snprintf(buf, len, "%.*f", d, v);
        if (strtod(buf, NULL) == v) return;
    }
    snprintf(buf, len, "%.17g", v);
}

/* "negative_slope=0.01", as PyTorch's LeakyReLU.extra_repr */
static void lrelu_repr(nn_module *m, char *buf, size_t len)
{
    lrelu *l = nn_module_priv(m);
    char s[64];
    py_float(s, sizeof s, l->attr[A_SLOPE]);
    snprintf(buf, len, "negative_slope=%s", s);
}

static const nn_module_vt lrelu_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "LeakyReLU",
    .priv_size = sizeof(lrelu),
    .init = lrelu_init,
    .forward = lrelu_forward,
    .extra_repr = lrelu_repr,
};

static const nn_component_def lrelu_components[] = {
    {NN_KIND_OP, "leaky_relu", "x where x > 0, else negative_slope * x", &lrelu_op, NULL, 0},
    {NN_KIND_KERNEL, "leaky_relu", "cpu: one loop", &lrelu_cpu, NULL, 0},
    {NN_KIND_MODULE, "leaky_relu", "leaky rectified linear unit (PyTorch LeakyReLU)", &lrelu_vt,
     lrelu_props, NN_COUNT_OF(lrelu_props)},
};

NN_PLUGIN_DEFINE("leaky_relu", "1.0", lrelu_components)
