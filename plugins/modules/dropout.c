/* dropout.c - PyTorch's nn.Dropout, any shape. In train mode each element is
 * zeroed with probability p, drawn from the context's RNG (so a seed repeats
 * a run on any device), and the others are scaled by 1 / (1 - p); in eval
 * mode, and for p = 0, the input itself.
 *
 * The op "dropout" multiplies its input by a given mask of zeros and ones
 * times the scale, as PyTorch 1.13 does on the cpu (input * noise, so its
 * node is MulBackward0): y = x * (mask * s) and dx = dy * (mask * s), with
 * s = 1.0f / (float)(1 - p) in float32 as PyTorch computes it, and s = 0 for
 * p = 1. The module draws the mask on the host and calls the op. */
#include <nn/plugin.h>

#include <stdio.h>
#include <stdlib.h>

/* ---- the op ---- */

enum { A_P, A_COUNT };

static const nn_op_arg dropout_in[] = {
    {"input", 0, 0, 0},
    {"mask", NN_ARG_NO_GRAD, 0, 1}, /* 1 keeps an element, 0 drops it */
};
static const nn_op_arg dropout_out[] = {{"output", 0, 0, 0}};
static const nn_op_attr dropout_attr[] = {
    [A_P] = {"p", 0.5, "the probability of a zero: the kept elements are scaled by 1 / (1 - p)"},
};

static nn_status dropout_shape(const nn_shape *const *in, const double *attr, nn_shape *out,
                               char **err)
{
    const nn_shape *x = in[0], *m = in[1];
    if (!(attr[A_P] >= 0 && attr[A_P] <= 1))
        return nn_fail(err, NN_INVALID, "dropout: p=%g is not in [0, 1]", attr[A_P]);
    int same = x->ndim == m->ndim;
    for (int i = 0; same && i < x->ndim; i++) same = x->dim[i] == m->dim[i];
    if (!same) {
        char a[96], b[96];
        nn_shape_format(x, 0, a, sizeof a);
        nn_shape_format(m, 0, b, sizeof b);
        return nn_fail(err, NN_SHAPE, "dropout: the mask has shape %s, the input %s", b, a);
    }
    out[0] = *x;
    return NN_OK;
}

/* Export traces eval mode, where the module returns its input and calls no
 * op; a call traced anyway (p = 0) is the identity. */
static nn_status dropout_onnx(nn_onnx *b, const nn_onnx_call *c)
{
    if (c->attr[A_P] != 0) return nn_onnx_refuse(b, "dropout in training mode");
    return nn_onnx_alias(b, 0, c->in[0]);
}

static const nn_op_def dropout_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "MulBackward0",
    .nin = 2,
    .nout = 1,
    .nattr = A_COUNT,
    .in = dropout_in,
    .out = dropout_out,
    .attr = dropout_attr,
    .shape = dropout_shape,
    .onnx = dropout_onnx,
};

static float dropout_scale(double p) { return p >= 1 ? 0.0f : 1.0f / (float)(1.0 - p); }

static nn_status dropout_cpu_forward(const nn_kernel_call *c)
{
    const float *restrict x = c->in[0].data, *restrict mask = c->in[1].data;
    float *restrict y = c->out[0].data;
    const float s = dropout_scale(c->attr[A_P]);
    for (int64_t i = 0, n = c->in[0].numel; i < n; i++) y[i] = x[i] * (mask[i] * s);
    return NN_OK;
}

static nn_status dropout_cpu_backward(const nn_kernel_call *c)
{
    const float *restrict mask = c->in[1].data, *restrict dy = c->gout[0].data;
    float *restrict dx = c->gin[0].data;
    if (!dx) return NN_OK;
    const float s = dropout_scale(c->attr[A_P]);
    const int acc = c->acc[0];
    for (int64_t i = 0, n = c->in[0].numel; i < n; i++) {
        float g = dy[i] * (mask[i] * s);
        dx[i] = acc ? dx[i] + g : g;
    }
    return NN_OK;
}

static const nn_kernel_def dropout_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = dropout_cpu_forward,
    .backward = dropout_cpu_backward,
};

/* ---- the module ---- */

enum { P_P };

static const nn_prop_def dropout_props[] = {
    [P_P] = {"p", NN_PROP_FLOAT, "0.5", 0, 1, NULL, "probability of an element to be zeroed"},
};

typedef struct {
    nn_op *op;
    double attr[A_COUNT];
} dropout;

static nn_status dropout_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                              char **err)
{
    dropout *d = nn_module_priv(m);
    d->attr[A_P] = nn_props_float(p, P_P);
    *out = *in;
    return nn_op_find(nn_module_ctx(m), "dropout", &d->op, err);
}

static nn_tensor *dropout_forward(nn_module *m, nn_tensor *x)
{
    dropout *d = nn_module_priv(m);
    const double p = d->attr[A_P];
    if (!nn_module_is_training(m) || p == 0) return x; /* PyTorch returns the input */
    nn_ctx *ctx = nn_module_ctx(m);
    int64_t n = nn_tensor_numel(x);
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (!h) {
        nn_ctx_set_error(ctx, NN_NO_MEMORY, "dropout: out of memory for a mask of %lld elements",
                         (long long)n);
        return NULL;
    }
    nn_rng *rng = nn_ctx_rng(ctx);
    for (int64_t i = 0; i < n; i++) h[i] = nn_rng_uniform(rng) < p ? 0.0f : 1.0f;
    nn_tensor *mask = nn_tensor_scratch(ctx, nn_tensor_shape(x));
    nn_status st = mask ? nn_tensor_from_host(mask, h, n) : NN_NO_MEMORY;
    free(h);
    if (st) {
        nn_ctx_set_error(ctx, st, "dropout: cannot make the mask");
        return NULL;
    }
    nn_tensor *in[] = {x, mask};
    return nn_op_call(d->op, in, d->attr, NULL);
}

/* A float as Python prints it ("0.5", "0.1", "1.0"). */
static void py_float(char *buf, size_t len, double v)
{
    for (int k = 1; k <= 17; k++) {
        snprintf(buf, len, "%.*f", k, v);
        if (strtod(buf, NULL) == v) return;
    }
    snprintf(buf, len, "%.17g", v);
}

/* "p=0.5, inplace=False", as PyTorch's Dropout.extra_repr */
static void dropout_repr(nn_module *m, char *buf, size_t len)
{
    dropout *d = nn_module_priv(m);
    char p[64];
    py_float(p, sizeof p, d->attr[A_P]);
    snprintf(buf, len, "p=%s, inplace=False", p);
}

static const nn_module_vt dropout_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "Dropout",
    .priv_size = sizeof(dropout),
    .init = dropout_init,
    .forward = dropout_forward,
    .extra_repr = dropout_repr,
};

static const nn_component_def dropout_components[] = {
    {NN_KIND_OP, "dropout", "x * mask / (1 - p): the mask's zeros drop elements", &dropout_op,
     NULL, 0},
    {NN_KIND_KERNEL, "dropout", "cpu: one loop", &dropout_cpu, NULL, 0},
    {NN_KIND_MODULE, "dropout", "zeroes elements with probability p in training (PyTorch Dropout)",
     &dropout_vt, dropout_props, NN_COUNT_OF(dropout_props)},
};

NN_PLUGIN_DEFINE("dropout", "1.0", dropout_components)
