/* softplus.c - PyTorch's Softplus as a new op with its own kernels:
 *
 *   y = log(1 + exp(beta * x)) / beta,  and y = x where beta * x > threshold
 *
 * One file, three components: the op "softplus" (the math: inputs, outputs,
 * attributes, gradient), its kernel for the cpu device (forward and
 * backward loops), and the module "softplus" that a chain names. A kernel for
 * another device can come later from another plugin, with no rebuild here.
 *
 * Build: cc -shared -fPIC softplus.c $(pkg-config --cflags --libs nn) -o softplus.so */
#include <nn/plugin.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- the op: one input, one output of its shape, two attributes ---- */

enum { A_BETA, A_THRESHOLD, A_COUNT };

static const nn_op_arg softplus_in[] = {{"input", 0, 0, 0}}; /* any real: lo == hi */
static const nn_op_arg softplus_out[] = {{"output", 0, 0, 0}};
static const nn_op_attr softplus_attr[] = {
    [A_BETA] = {"beta", 1.0, "the slope: log(1 + exp(beta x)) / beta"},
    [A_THRESHOLD] = {"threshold", 20.0, "where beta x exceeds it, y = x"},
};

/* ---- its ONNX form, for nnrun export (ABI 2.2; docs/onnx.md) ----
 * ONNX's Softplus is log(exp(x) + 1): beta scales around it, and its lack
 * of a threshold changes y by at most exp(-threshold) / beta, nothing in
 * float32 for threshold >= 15. */

static const char *scaled(nn_onnx *b, const char *x, float s)
{
    const nn_shape scalar = {0, {0}};
    const char *k = nn_onnx_const(b, &scalar, &s), *y = nn_onnx_temp(b);
    const char *in[] = {x, k};
    return k && y && !nn_onnx_node(b, "Mul", 2, in, 1, &y) ? y : NULL;
}

static nn_status softplus_onnx(nn_onnx *b, const nn_onnx_call *c)
{
    const double beta = c->attr[A_BETA];
    if (c->attr[A_THRESHOLD] < 15)
        return nn_onnx_refuse(b, "ONNX Softplus has no threshold; export needs threshold >= 15");
    if (beta == 1) return nn_onnx_node(b, "Softplus", 1, c->in, 1, c->out);
    const char *bx = scaled(b, c->in[0], (float)beta), *sp = nn_onnx_temp(b);
    if (!bx || !sp || nn_onnx_node(b, "Softplus", 1, &bx, 1, &sp)) return NN_NO_MEMORY;
    const nn_shape scalar = {0, {0}};
    const float inv = (float)(1 / beta);
    const char *k = nn_onnx_const(b, &scalar, &inv), *in[] = {sp, k};
    return k ? nn_onnx_node(b, "Mul", 2, in, 1, c->out) : NN_NO_MEMORY;
}

static const nn_op_def softplus_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "SoftplusBackward0",
    .nin = 1,
    .nout = 1,
    .nattr = A_COUNT,
    .in = softplus_in,
    .out = softplus_out,
    .attr = softplus_attr,
    /* No .shape: the output has the input's shape. No .backward: every
     * kernel of this op brings its own. */
    .onnx = softplus_onnx,
};

/* ---- its cpu kernel: contiguous float32 arrays, never tensors ---- */

static nn_status softplus_cpu_forward(const nn_kernel_call *c)
{
    const float *restrict x = c->in[0].data;
    float *restrict y = c->out[0].data;
    const float beta = (float)c->attr[A_BETA], threshold = (float)c->attr[A_THRESHOLD];
    for (int64_t i = 0, n = c->in[0].numel; i < n; i++) {
        float bx = beta * x[i];
        y[i] = bx > threshold ? x[i] : log1pf(expf(bx)) / beta;
    }
    return NN_OK;
}

/* dx (+)= dy * sigmoid(beta x), and dy where beta x > threshold. */
static nn_status softplus_cpu_backward(const nn_kernel_call *c)
{
    const float *restrict x = c->in[0].data, *restrict dy = c->gout[0].data;
    float *restrict dx = c->gin[0].data;
    if (!dx) return NN_OK; /* the input needs no gradient */
    const float beta = (float)c->attr[A_BETA], threshold = (float)c->attr[A_THRESHOLD];
    const int acc = c->acc[0];
    for (int64_t i = 0, n = c->in[0].numel; i < n; i++) {
        float bx = beta * x[i];
        float g = bx > threshold ? dy[i] : dy[i] / (1.0f + expf(-bx));
        dx[i] = acc ? dx[i] + g : g;
    }
    return NN_OK;
}

static const nn_kernel_def softplus_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = softplus_cpu_forward,
    .backward = softplus_cpu_backward,
};

/* ---- the module: resolves the op once, calls it in forward ---- */

enum { P_BETA, P_THRESHOLD };

static const nn_prop_def softplus_props[] = {
    [P_BETA] = {"beta", NN_PROP_FLOAT, "1", 1, 0, NULL, "the slope: log(1 + exp(beta x)) / beta"},
    [P_THRESHOLD] = {"threshold", NN_PROP_FLOAT, "20", 1, 0, NULL,
                     "where beta x exceeds it, y = x"},
};

typedef struct {
    nn_op *op;            /* resolved in init: forward looks nothing up by name */
    double attr[A_COUNT]; /* the op's attributes, in its order */
} softplus;

static nn_status softplus_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                               char **err)
{
    softplus *s = nn_module_priv(m);
    s->attr[A_BETA] = nn_props_float(p, P_BETA);
    s->attr[A_THRESHOLD] = nn_props_float(p, P_THRESHOLD);
    if (s->attr[A_BETA] == 0) return nn_fail(err, NN_INVALID, "softplus: beta=0 divides by zero");
    *out = *in; /* element-wise */
    /* Fails, naming the devices that have one, when no kernel runs on this
     * context's device: at creation, never mid-training. */
    return nn_op_find(nn_module_ctx(m), "softplus", &s->op, err);
}

static nn_tensor *softplus_forward(nn_module *m, nn_tensor *x)
{
    softplus *s = nn_module_priv(m);
    return nn_op_call(s->op, &x, s->attr, NULL); /* records SoftplusBackward0 */
}

/* A float as Python prints it ("1.0", "0.5", "20.0"): the fewest decimals,
 * at least one, that read back as the same value. */
static void py_float(char *buf, size_t len, double v)
{
    for (int d = 1; d <= 17; d++) {
        snprintf(buf, len, "%.*f", d, v);
        if (strtod(buf, NULL) == v) return;
    }
    snprintf(buf, len, "%.17g", v);
}

/* "beta=1.0, threshold=20.0", as PyTorch's Softplus.extra_repr */
static void softplus_repr(nn_module *m, char *buf, size_t len)
{
    softplus *s = nn_module_priv(m);
    char beta[64], threshold[64];
    py_float(beta, sizeof beta, s->attr[A_BETA]);
    py_float(threshold, sizeof threshold, s->attr[A_THRESHOLD]);
    snprintf(buf, len, "beta=%s, threshold=%s", beta, threshold);
}

static const nn_module_vt softplus_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "Softplus",
    .priv_size = sizeof(softplus),
    .init = softplus_init,
    .forward = softplus_forward,
    .extra_repr = softplus_repr,
};

static const nn_component_def softplus_components[] = {
    {NN_KIND_OP, "softplus", "log(1 + exp(beta x)) / beta, x above the threshold", &softplus_op,
     NULL, 0},
    {NN_KIND_KERNEL, "softplus", "cpu: loops with expf and log1pf", &softplus_cpu, NULL, 0},
    {NN_KIND_MODULE, "softplus", "smooth ReLU (PyTorch Softplus)", &softplus_vt, softplus_props,
     NN_COUNT_OF(softplus_props)},
};

NN_PLUGIN_DEFINE("softplus", "1.0", softplus_components)
