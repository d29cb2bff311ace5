/* gelu.c - PyTorch's nn.GELU, any shape:
 *
 *   approximate=none  y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2)))
 *   approximate=tanh  y = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
 *
 * The op "gelu" (GeluBackward0; attribute approximate: 0 none, 1 tanh) with
 * its cpu kernel, and the module that calls it. The kernel computes in
 * double and rounds once. */
#include <nn/plugin.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- the op ---- */

enum { A_APPROX, A_COUNT };

static const nn_op_arg gelu_in[] = {{"input", 0, 0, 0}};
static const nn_op_arg gelu_out[] = {{"output", 0, 0, 0}};
static const nn_op_attr gelu_attr[] = {
    [A_APPROX] = {"approximate", 0, "0: the exact erf form, 1: the tanh approximation"},
};

static nn_status gelu_shape(const nn_shape *const *in, const double *attr, nn_shape *out,
                            char **err)
{
    if (attr[A_APPROX] != 0 && attr[A_APPROX] != 1)
        return nn_fail(err, NN_INVALID, "gelu: approximate is 0 (none) or 1 (tanh), got %g",
                       attr[A_APPROX]);
    out[0] = *in[0];
    return NN_OK;
}

/* ONNX has Gelu from opset 20: below, its formula in elementary ops. */
static const char *scalar_const(nn_onnx *b, double v)
{
    const nn_shape s = {0, {0}};
    const float f = (float)v;
    return nn_onnx_const(b, &s, &f);
}

/* out = op(a, b) into a fresh name (or into *dst when given). */
static const char *emit(nn_onnx *b, const char *type, const char *x, const char *y,
                        const char *dst)
{
    const char *out = dst ? dst : nn_onnx_temp(b), *in[] = {x, y};
    if (!out || nn_onnx_node(b, type, y ? 2 : 1, in, 1, &out)) return NULL;
    return out;
}

static nn_status gelu_onnx(nn_onnx *b, const nn_onnx_call *c)
{
    if (c->opset >= 20) {
        nn_status st = nn_onnx_node(b, "Gelu", 1, c->in, 1, c->out);
        return st ? st : nn_onnx_attr_string(b, "approximate", c->attr[A_APPROX] ? "tanh" : "none");
    }
    const char *x = c->in[0], *inner;
    if (c->attr[A_APPROX] == 0) { /* erf(x / sqrt 2) */
        inner = emit(b, "Erf", emit(b, "Mul", x, scalar_const(b, 0.70710678118654752440), NULL),
                     NULL, NULL);
    } else { /* tanh(sqrt(2 / pi) (x + 0.044715 x^3)) */
        const char *x3 = emit(b, "Mul", emit(b, "Mul", x, x, NULL), x, NULL);
        const char *u = emit(b, "Add", x, emit(b, "Mul", x3, scalar_const(b, 0.044715), NULL), NULL);
        inner = emit(b, "Tanh", emit(b, "Mul", u, scalar_const(b, 0.79788456080286535588), NULL),
                     NULL, NULL);
    }
    const char *half_x = emit(b, "Mul", x, scalar_const(b, 0.5), NULL);
    const char *one_plus = emit(b, "Add", inner, scalar_const(b, 1.0), NULL);
    return emit(b, "Mul", half_x, one_plus, c->out[0]) ? NN_OK : NN_NO_MEMORY;
}

static const nn_op_def gelu_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "GeluBackward0",
    .nin = 1,
    .nout = 1,
    .nattr = A_COUNT,
    .in = gelu_in,
    .out = gelu_out,
    .attr = gelu_attr,
    .shape = gelu_shape,
    .onnx = gelu_onnx,
};

#define SQRT1_2 0.70710678118654752440    /* 1 / sqrt(2) */
#define SQRT2_PI 0.79788456080286535588   /* sqrt(2 / pi) */
#define INV_SQRT2PI 0.39894228040143267794 /* 1 / sqrt(2 pi) */
#define KAPPA 0.044715

static nn_status gelu_cpu_forward(const nn_kernel_call *c)
{
    const float *restrict x = c->in[0].data;
    float *restrict y = c->out[0].data;
    const int64_t n = c->in[0].numel;
    if (c->attr[A_APPROX] == 0) {
        for (int64_t i = 0; i < n; i++) {
            double v = x[i];
            y[i] = (float)(0.5 * v * (1.0 + erf(v * SQRT1_2)));
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            double v = x[i];
            y[i] = (float)(0.5 * v * (1.0 + tanh(SQRT2_PI * (v + KAPPA * v * v * v))));
        }
    }
    return NN_OK;
}

/* dx (+)= dy * dy/dx: Phi(x) + x phi(x) for the erf form; for the tanh
 * form, with t = tanh(k (x + 0.044715 x^3)):
 * 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 * 0.044715 x^2). */
static nn_status gelu_cpu_backward(const nn_kernel_call *c)
{
    const float *restrict x = c->in[0].data, *restrict dy = c->gout[0].data;
    float *restrict dx = c->gin[0].data;
    if (!dx) return NN_OK;
    const int acc = c->acc[0], exact = c->attr[A_APPROX] == 0;
    for (int64_t i = 0, n = c->in[0].numel; i < n; i++) {
        double v = x[i], d;
        if (exact) {
            d = 0.5 * (1.0 + erf(v * SQRT1_2)) + v * INV_SQRT2PI * exp(-0.5 * v * v);
        } else {
            double t = tanh(SQRT2_PI * (v + KAPPA * v * v * v));
            d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT2_PI * (1.0 + 3.0 * KAPPA * v * v);
        }
        float g = (float)(d * dy[i]);
        dx[i] = acc ? dx[i] + g : g;
    }
    return NN_OK;
}

static const nn_kernel_def gelu_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = gelu_cpu_forward,
    .backward = gelu_cpu_backward,
};

/* ---- the module ---- */

enum { P_APPROX };

static const nn_prop_def gelu_props[] = {
    [P_APPROX] = {"approximate", NN_PROP_ENUM, "none", 1, 0, "none|tanh",
                  "none: the exact erf form; tanh: the tanh approximation"},
};

typedef struct {
    nn_op *op;
    double attr[A_COUNT];
} gelu;

static nn_status gelu_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                           char **err)
{
    gelu *g = nn_module_priv(m);
    g->attr[A_APPROX] = strcmp(nn_props_string(p, P_APPROX), "tanh") == 0;
    *out = *in;
    return nn_op_find(nn_module_ctx(m), "gelu", &g->op, err);
}

static nn_tensor *gelu_forward(nn_module *m, nn_tensor *x)
{
    gelu *g = nn_module_priv(m);
    return nn_op_call(g->op, &x, g->attr, NULL);
}

/* "approximate='none'", as PyTorch's GELU.extra_repr */
static void gelu_repr(nn_module *m, char *buf, size_t len)
{
    gelu *g = nn_module_priv(m);
    snprintf(buf, len, "approximate='%s'", g->attr[A_APPROX] ? "tanh" : "none");
}

static const nn_module_vt gelu_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "GELU",
    .priv_size = sizeof(gelu),
    .init = gelu_init,
    .forward = gelu_forward,
    .extra_repr = gelu_repr,
};

static const nn_component_def gelu_components[] = {
    {NN_KIND_OP, "gelu", "x * Phi(x), exact (erf) or with tanh", &gelu_op, NULL, 0},
    {NN_KIND_KERNEL, "gelu", "cpu: loops in double", &gelu_cpu, NULL, 0},
    {NN_KIND_MODULE, "gelu", "Gaussian error linear unit (PyTorch GELU)", &gelu_vt, gelu_props,
     NN_COUNT_OF(gelu_props)},
};

NN_PLUGIN_DEFINE("gelu", "1.0", gelu_components)
