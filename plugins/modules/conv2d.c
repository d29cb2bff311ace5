/* conv2d.c - PyTorch's nn.Conv2d: a 2-d convolution (cross-correlation) over
 * batches of (N, C, H, W).
 *
 *   x: (N, C, H, W)  W: (O, C, kH, kW)  b: (O)  y: (N, O, OH, OW)
 *   OH = (H + 2 pH - dH (kH - 1) - 1) / sH + 1, and OW likewise
 *
 * The op "conv2d" (inputs input, weight and an optional bias; attributes
 * stride, padding and dilation per axis), its cpu kernel (im2col and one
 * OpenBLAS gemm per sample, forward and backward), and the module. */
#include <nn/plugin.h>

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- the op ---- */

enum { A_SH, A_SW, A_PH, A_PW, A_DH, A_DW, A_COUNT };
enum { I_INPUT, I_WEIGHT, I_BIAS };

static const nn_op_arg conv_in[] = {
    {"input", 0, 0, 0}, {"weight", 0, 0, 0}, {"bias", NN_ARG_OPTIONAL, 0, 0}};
static const nn_op_arg conv_out[] = {{"output", 0, 0, 0}};
static const nn_op_attr conv_attr[] = {
    [A_SH] = {"stride_h", 1, "step of the window down the rows"},
    [A_SW] = {"stride_w", 1, "step of the window along the columns"},
    [A_PH] = {"padding_h", 0, "zero rows added above and below"},
    [A_PW] = {"padding_w", 0, "zero columns added left and right"},
    [A_DH] = {"dilation_h", 1, "spacing between the kernel's rows"},
    [A_DW] = {"dilation_w", 1, "spacing between the kernel's columns"},
};

/* One output length: (in + 2 pad - dil (k - 1) - 1) / stride + 1; <= 0: none. */
static int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d)
{
    int64_t span = in + 2 * p - d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

static nn_status attrs_ok(const double *a, char **err)
{
    for (int i = 0; i < A_COUNT; i++) {
        double lo = i == A_PH || i == A_PW ? 0 : 1;
        if (!(a[i] >= lo) || a[i] != floor(a[i]) || a[i] > 1 << 20)
            return nn_fail(err, NN_INVALID, "%s must be a whole number >= %g, got %g",
                           conv_attr[i].name, lo, a[i]);
    }
    return NN_OK;
}

static nn_status conv_shape(const nn_shape *const *in, const double *a, nn_shape *out, char **err)
{
    const nn_shape *x = in[I_INPUT], *w = in[I_WEIGHT], *b = in[I_BIAS];
    if (attrs_ok(a, err)) return NN_INVALID;
    if (x->ndim != 4) return nn_fail(err, NN_SHAPE, "input must be (N, C, H, W), got %d-d", x->ndim);
    if (w->ndim != 4)
        return nn_fail(err, NN_SHAPE, "weight must be (O, C, kH, kW), got %d-d", w->ndim);
    if (w->dim[1] != x->dim[1])
        return nn_fail(err, NN_SHAPE, "weight has %lld input channels, the input %lld",
                       (long long)w->dim[1], (long long)x->dim[1]);
    if (b && (b->ndim != 1 || b->dim[0] != w->dim[0]))
        return nn_fail(err, NN_SHAPE, "bias must be (%lld)", (long long)w->dim[0]);
    int64_t oh = out_len(x->dim[2], w->dim[2], (int64_t)a[A_SH], (int64_t)a[A_PH], (int64_t)a[A_DH]);
    int64_t ow = out_len(x->dim[3], w->dim[3], (int64_t)a[A_SW], (int64_t)a[A_PW], (int64_t)a[A_DW]);
    if (oh < 1 || ow < 1)
        return nn_fail(err, NN_SHAPE, "the kernel (%lld, %lld) does not fit the padded input "
                       "(%lld, %lld)", (long long)w->dim[2], (long long)w->dim[3],
                       (long long)x->dim[2], (long long)x->dim[3]);
    *out = (nn_shape){4, {x->dim[0], w->dim[0], oh, ow}};
    return NN_OK;
}

/* What nnrun check gives the op: 2 samples of 2 channels, 3 filters. */
static const nn_shape conv_check_shapes[] = {{4, {2, 2, 5, 6}}, {4, {3, 2, 3, 2}}, {1, {3}}};

static const nn_op_def conv_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "ConvolutionBackward0",
    .nin = 3,
    .nout = 1,
    .nattr = A_COUNT,
    .in = conv_in,
    .out = conv_out,
    .attr = conv_attr,
    .shape = conv_shape,
    .check_shapes = conv_check_shapes,
};

/* ---- its cpu kernel ---- */

typedef struct geom {
    int64_t n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
    int64_t k, p; /* rows of the column matrix (c kh kw) and its columns (oh ow) */
} geom;

static geom geom_of(const nn_kernel_call *c)
{
    const nn_shape *x = c->in[I_INPUT].shape, *w = c->in[I_WEIGHT].shape, *y = c->out[0].shape;
    const double *a = c->attr;
    geom g = {x->dim[0], x->dim[1], x->dim[2], x->dim[3], w->dim[0], w->dim[2], w->dim[3],
              y->dim[2], y->dim[3], (int64_t)a[A_SH], (int64_t)a[A_SW], (int64_t)a[A_PH],
              (int64_t)a[A_PW], (int64_t)a[A_DH], (int64_t)a[A_DW], 0, 0};
    g.k = g.c * g.kh * g.kw;
    g.p = g.oh * g.ow;
    return g;
}

/* col (k, p) = the input patches of one sample x (c, h, w); zeros in the padding. */
static void im2col(const geom *g, const float *restrict x, float *restrict col)
{
    for (int64_t ci = 0; ci < g->c; ci++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                float *row = col + ((ci * g->kh + ki) * g->kw + kj) * g->p;
                const float *plane = x + ci * g->h * g->w;
                for (int64_t oi = 0; oi < g->oh; oi++) {
                    int64_t ii = oi * g->sh - g->ph + ki * g->dh;
                    float *r = row + oi * g->ow;
                    if (ii < 0 || ii >= g->h) {
                        memset(r, 0, (size_t)g->ow * sizeof *r);
                        continue;
                    }
                    for (int64_t oj = 0; oj < g->ow; oj++) {
                        int64_t jj = oj * g->sw - g->pw + kj * g->dw;
                        r[oj] = jj >= 0 && jj < g->w ? plane[ii * g->w + jj] : 0.0f;
                    }
                }
            }
}

/* dx (c, h, w) += the columns' gradient dcol (k, p) put back where they came from. */
static void col2im(const geom *g, const float *restrict dcol, float *restrict dx)
{
    for (int64_t ci = 0; ci < g->c; ci++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                const float *row = dcol + ((ci * g->kh + ki) * g->kw + kj) * g->p;
                float *plane = dx + ci * g->h * g->w;
                for (int64_t oi = 0; oi < g->oh; oi++) {
                    int64_t ii = oi * g->sh - g->ph + ki * g->dh;
                    if (ii < 0 || ii >= g->h) continue;
                    for (int64_t oj = 0; oj < g->ow; oj++) {
                        int64_t jj = oj * g->sw - g->pw + kj * g->dw;
                        if (jj >= 0 && jj < g->w) plane[ii * g->w + jj] += row[oi * g->ow + oj];
                    }
                }
            }
}

static void sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
                  const float *b, float beta, float *c)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (blasint)m, (blasint)n, (blasint)k, 1.0f, a, (blasint)(ta ? m : k), b,
                (blasint)(tb ? k : n), beta, c, (blasint)n);
}

static nn_status no_scratch(const nn_kernel_call *c)
{
    return nn_ctx_set_error(c->ctx, NN_NO_MEMORY, "conv2d: out of memory for the columns");
}

static nn_status conv_cpu_forward(const nn_kernel_call *c)
{
    geom g = geom_of(c);
    const float *x = c->in[I_INPUT].data, *w = c->in[I_WEIGHT].data, *b = c->in[I_BIAS].data;
    float *y = c->out[0].data;
    float *col = g.n ? nn_kernel_scratch(c, (size_t)(g.k * g.p) * sizeof(float)) : NULL;
    if (g.n && !col) return no_scratch(c);
    for (int64_t s = 0; s < g.n; s++) {
        float *ys = y + s * g.o * g.p;
        im2col(&g, x + s * g.c * g.h * g.w, col);
        sgemm(0, 0, g.o, g.p, g.k, w, col, 0.0f, ys); /* (o, k) @ (k, p) */
        for (int64_t oc = 0; b && oc < g.o; oc++)
            for (int64_t j = 0; j < g.p; j++) ys[oc * g.p + j] += b[oc];
    }
    return NN_OK;
}

static nn_status conv_cpu_backward(const nn_kernel_call *c)
{
    geom g = geom_of(c);
    const float *x = c->in[I_INPUT].data, *w = c->in[I_WEIGHT].data, *dy = c->gout[0].data;
    float *dx = c->gin[I_INPUT].data, *dw = c->gin[I_WEIGHT].data, *db = c->gin[I_BIAS].data;
    size_t bytes = (size_t)(g.k * g.p) * sizeof(float);
    float *col = dw && g.n ? nn_kernel_scratch(c, bytes) : NULL;
    float *dcol = dx && g.n ? nn_kernel_scratch(c, bytes) : NULL;
    if ((dw && g.n && !col) || (dx && g.n && !dcol)) return no_scratch(c);
    if (dx && !c->acc[I_INPUT]) memset(dx, 0, (size_t)c->gin[I_INPUT].numel * sizeof *dx);
    if (dw && !c->acc[I_WEIGHT]) memset(dw, 0, (size_t)c->gin[I_WEIGHT].numel * sizeof *dw);
    for (int64_t s = 0; s < g.n; s++) {
        const float *dys = dy + s * g.o * g.p;
        if (dw) { /* dW (o, k) += dy (o, p) @ col^T (p, k) */
            im2col(&g, x + s * g.c * g.h * g.w, col);
            sgemm(0, 1, g.o, g.k, g.p, dys, col, 1.0f, dw);
        }
        if (dx) { /* dcol (k, p) = W^T (k, o) @ dy (o, p) */
            sgemm(1, 0, g.k, g.p, g.o, w, dys, 0.0f, dcol);
            col2im(&g, dcol, dx + s * g.c * g.h * g.w);
        }
    }
    if (db) {
        for (int64_t oc = 0; oc < g.o; oc++) {
            double sum = 0;
            for (int64_t s = 0; s < g.n; s++)
                for (int64_t j = 0; j < g.p; j++) sum += dy[(s * g.o + oc) * g.p + j];
            db[oc] = (c->acc[I_BIAS] ? db[oc] : 0.0f) + (float)sum;
        }
    }
    return NN_OK;
}

static const nn_kernel_def conv_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = conv_cpu_forward,
    .backward = conv_cpu_backward,
};

/* ---- the module ---- */

enum { P_IN, P_OUT, P_KERNEL, P_STRIDE, P_PADDING, P_DILATION, P_BIAS };

static const nn_prop_def conv_props[] = {
    [P_IN] = {"in", NN_PROP_INT, "0", 0, 1 << 30, NULL,
              "input channels; 0 infers them from the previous element"},
    [P_OUT] = {"out", NN_PROP_INT, NULL, 1, 1 << 30, NULL, "output channels (required)"},
    [P_KERNEL] = {"kernel", NN_PROP_INT, NULL, 1, 1 << 20, NULL, "kernel size (required)"},
    [P_STRIDE] = {"stride", NN_PROP_INT, "1", 1, 1 << 20, NULL, "step of the window"},
    [P_PADDING] = {"padding", NN_PROP_INT, "0", 0, 1 << 20, NULL, "zeros added on each side"},
    [P_DILATION] = {"dilation", NN_PROP_INT, "1", 1, 1 << 20, NULL,
                    "spacing between kernel elements"},
    [P_BIAS] = {"bias", NN_PROP_BOOL, "true", 1, 0, NULL, "learn an additive bias"},
};

typedef struct {
    nn_op *op;
    nn_tensor *weight, *bias;
    int64_t in, out, kernel, stride, padding, dilation;
    double attr[A_COUNT];
} conv2d;

static nn_status conv_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                           char **err)
{
    conv2d *l = nn_module_priv(m);
    if (in->ndim != 3)
        return nn_fail(err, NN_SHAPE,
                       "conv2d takes samples of shape [channels, height, width], got %d-d "
                       "(give --input-shape C,H,W or data of that shape)", in->ndim);
    l->out = nn_props_int(p, P_OUT);
    l->kernel = nn_props_int(p, P_KERNEL);
    l->stride = nn_props_int(p, P_STRIDE);
    l->padding = nn_props_int(p, P_PADDING);
    l->dilation = nn_props_int(p, P_DILATION);
    int64_t want = nn_props_int(p, P_IN);
    if (in->dim[0] < 0) { /* no data yet: the channels come from in= */
        if (!want)
            return nn_fail(err, NN_SHAPE, "the input channels are unknown; give in=C or the data");
        in->dim[0] = want;
    }
    l->in = in->dim[0];
    if (want && want != l->in)
        return nn_fail(err, NN_SHAPE, "in=%lld but the input has %lld channels", (long long)want,
                       (long long)l->in);
    l->attr[A_SH] = l->attr[A_SW] = (double)l->stride;
    l->attr[A_PH] = l->attr[A_PW] = (double)l->padding;
    l->attr[A_DH] = l->attr[A_DW] = (double)l->dilation;
    *out = (nn_shape){3, {l->out, -1, -1}};
    for (int i = 1; i < 3; i++) { /* an unknown height or width stays unknown */
        if (in->dim[i] < 0) continue;
        out->dim[i] = out_len(in->dim[i], l->kernel, l->stride, l->padding, l->dilation);
        if (out->dim[i] < 1)
            return nn_fail(err, NN_SHAPE, "kernel=%lld (dilation=%lld) does not fit the input "
                           "[%lld, %lld, %lld] with padding=%lld", (long long)l->kernel,
                           (long long)l->dilation, (long long)in->dim[0], (long long)in->dim[1],
                           (long long)in->dim[2], (long long)l->padding);
    }
    nn_shape ws = {4, {l->out, l->in, l->kernel, l->kernel}}, bs = {1, {l->out}};
    if (!(l->weight = nn_module_add_param(m, "weight", &ws, err))) return NN_NO_MEMORY;
    if (nn_props_bool(p, P_BIAS) && !(l->bias = nn_module_add_param(m, "bias", &bs, err)))
        return NN_NO_MEMORY;
    return nn_op_find(nn_module_ctx(m), "conv2d", &l->op, err);
}

/* PyTorch's Conv2d.reset_parameters: kaiming_uniform(a=sqrt(5)) for W, i.e.
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in kH kW, and the same
 * bound for b. */
static nn_status conv_reset(nn_module *m, nn_rng *rng)
{
    conv2d *l = nn_module_priv(m);
    int64_t fan_in = l->in * l->kernel * l->kernel;
    float bound = fan_in > 0 ? 1.0f / sqrtf((float)fan_in) : 0.0f;
    nn_status st = nn_tensor_uniform_(l->weight, rng, -bound, bound);
    if (!st && l->bias) st = nn_tensor_uniform_(l->bias, rng, -bound, bound);
    return st;
}

static nn_tensor *conv_forward(nn_module *m, nn_tensor *x)
{
    conv2d *l = nn_module_priv(m);
    nn_tensor *in[] = {x, l->weight, l->bias};
    return nn_op_call(l->op, in, l->attr, NULL);
}

/* As PyTorch's _ConvNd.extra_repr: padding and dilation only when not the default. */
static void conv_repr(nn_module *m, char *buf, size_t len)
{
    conv2d *l = nn_module_priv(m);
    long long k = l->kernel, s = l->stride, p = l->padding, d = l->dilation;
    int n = snprintf(buf, len, "%lld, %lld, kernel_size=(%lld, %lld), stride=(%lld, %lld)",
                     (long long)l->in, (long long)l->out, k, k, s, s);
    if (n >= 0 && (size_t)n < len && p)
        n += snprintf(buf + n, len - (size_t)n, ", padding=(%lld, %lld)", p, p);
    if (n >= 0 && (size_t)n < len && d != 1)
        n += snprintf(buf + n, len - (size_t)n, ", dilation=(%lld, %lld)", d, d);
    if (n >= 0 && (size_t)n < len && !l->bias) snprintf(buf + n, len - (size_t)n, ", bias=False");
}

static const nn_module_vt conv_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "Conv2d",
    .priv_size = sizeof(conv2d),
    .init = conv_init,
    .forward = conv_forward,
    .reset_parameters = conv_reset,
    .extra_repr = conv_repr,
};

static const nn_component_def conv_components[] = {
    {NN_KIND_OP, "conv2d", "2-d convolution of (N, C, H, W) by (O, C, kH, kW), plus a bias",
     &conv_op, NULL, 0},
    {NN_KIND_KERNEL, "conv2d", "cpu: im2col and an OpenBLAS gemm per sample", &conv_cpu, NULL,
     0},
    {NN_KIND_MODULE, "conv2d", "2-d convolution layer (PyTorch Conv2d)", &conv_vt, conv_props,
     NN_COUNT_OF(conv_props)},
};

NN_PLUGIN_DEFINE("conv2d", "1.0", conv_components)
