/* conv2d.c - PyTorch's nn.Conv2d: a 2-d convolution (cross-correlation) over
 * batches of (N, C, H, W).
 *
 *   x: (N, C, H, W)  W: (O, C, kH, kW)  b: (O)  y: (N, O, OH, OW)
 *   OH = (H + 2 pH - dH (kH - 1) - 1) / sH + 1, and OW likewise
 *
 * The op "conv2d" (inputs input, weight and an optional bias; attributes
 * stride, padding and dilation per axis), its cpu kernel (im2col and one
 * device gemm per sample, forward and backward), and the module. */
#include <nn/plugin.h>

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

/* ONNX Conv: the same (N, C, H, W) and (O, C, kH, kW) layouts; pads are
 * begin and end of each axis. */
static nn_status conv_onnx(nn_onnx *b, const nn_onnx_call *c)
{
    const double *a = c->attr;
    int64_t strides[] = {(int64_t)a[A_SH], (int64_t)a[A_SW]};
    int64_t pads[] = {(int64_t)a[A_PH], (int64_t)a[A_PW], (int64_t)a[A_PH], (int64_t)a[A_PW]};
    int64_t dil[] = {(int64_t)a[A_DH], (int64_t)a[A_DW]};
    int64_t kernel[] = {c->in_shape[I_WEIGHT]->dim[2], c->in_shape[I_WEIGHT]->dim[3]};
    nn_status st = nn_onnx_node(b, "Conv", c->in[I_BIAS] ? 3 : 2, c->in, 1, c->out);
    if (!st) st = nn_onnx_attr_ints(b, "kernel_shape", 2, kernel);
    if (!st) st = nn_onnx_attr_ints(b, "strides", 2, strides);
    if (!st) st = nn_onnx_attr_ints(b, "pads", 4, pads);
    return st ? st : nn_onnx_attr_ints(b, "dilations", 2, dil);
}

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
    .onnx = conv_onnx,
};

/* ---- its cpu kernel ----
 *
 * im2col and one device gemm per sample, forward and backward. Padding is
 * made real first: each sample is copied into a zeroed plane of
 * (h + 2 ph, w + 2 pw), after which every window lies inside it, and tap
 * t = (ci, ki, kj) of output (i, j) reads xp[off[t] + i sh wp + j sw] with
 * off[t] = (ci hp + ki dh) wp + kj dw: the columns are row copies. (Direct
 * loops over the taps, vectorized, measured slower than this even for the
 * 9 taps of a 3x3 kernel on one channel.) */

typedef struct geom {
    int64_t n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
    int64_t hp, wp; /* the padded plane */
    int64_t k, p;   /* rows of the column matrix (c kh kw) and its columns (oh ow) */
} geom;

static geom geom_of(const nn_kernel_call *c)
{
    const nn_shape *x = c->in[I_INPUT].shape, *w = c->in[I_WEIGHT].shape, *y = c->out[0].shape;
    const double *a = c->attr;
    geom g = {x->dim[0], x->dim[1], x->dim[2], x->dim[3], w->dim[0], w->dim[2], w->dim[3],
              y->dim[2], y->dim[3], (int64_t)a[A_SH], (int64_t)a[A_SW], (int64_t)a[A_PH],
              (int64_t)a[A_PW], (int64_t)a[A_DH], (int64_t)a[A_DW], 0, 0, 0, 0};
    g.hp = g.h + 2 * g.ph;
    g.wp = g.w + 2 * g.pw;
    g.k = g.c * g.kh * g.kw;
    g.p = g.oh * g.ow;
    return g;
}

static int padded_(const geom *g) { return g->ph || g->pw; }

/* The scratch a call needs beside its columns: the offsets of the taps and,
 * with padding, one padded sample. NULL when out of memory. */
static int64_t *tap_offsets(const nn_kernel_call *c, const geom *g, float **pad)
{
    int64_t *off = nn_kernel_scratch(c, (size_t)g->k * sizeof *off);
    *pad = NULL;
    if (!off) return NULL;
    if (padded_(g) && !(*pad = nn_kernel_scratch(c, (size_t)(g->c * g->hp * g->wp) *
                                                        sizeof **pad)))
        return NULL;
    int64_t t = 0;
    for (int64_t ci = 0; ci < g->c; ci++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++)
                off[t++] = (ci * g->hp + ki * g->dh) * g->wp + kj * g->dw;
    return off;
}

/* One sample x (c, h, w) as the padded planes (c, hp, wp): x itself
 * without padding, else copied into pad with zeros around. */
static const float *pad_sample(const geom *g, const float *x, float *pad)
{
    if (!padded_(g)) return x;
    memset(pad, 0, (size_t)(g->c * g->hp * g->wp) * sizeof *pad);
    for (int64_t ci = 0; ci < g->c; ci++)
        for (int64_t i = 0; i < g->h; i++)
            memcpy(pad + (ci * g->hp + i + g->ph) * g->wp + g->pw, x + (ci * g->h + i) * g->w,
                   (size_t)g->w * sizeof *x);
    return pad;
}

/* dx (c, h, w) += the inside of the padded gradient dpad (c, hp, wp). */
static void unpad_sample(const geom *g, const float *dpad, float *dx)
{
    for (int64_t ci = 0; ci < g->c; ci++)
        for (int64_t i = 0; i < g->h; i++) {
            const float *s = dpad + (ci * g->hp + i + g->ph) * g->wp + g->pw;
            float *d = dx + (ci * g->h + i) * g->w;
            for (int64_t j = 0; j < g->w; j++) d[j] += s[j];
        }
}

/* Four floats at any float's address (GCC's vector extension). */
typedef float four __attribute__((vector_size(4 * sizeof(float)), aligned(sizeof(float))));

/* GCC turns copying loops into memcpy calls; not here. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_MEMCPY __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_MEMCPY
#endif

/* d[0..n) = s[0..n), the two not overlapping: rows of a few dozen floats,
 * by vectors of four, the last one moved back to end at the row's end. A
 * memcpy call per row cost as much as the copying. */
NO_MEMCPY static inline void copy_row(float *restrict d, const float *restrict s, int64_t n)
{
    if (n < 4) {
        for (int64_t j = 0; j < n; j++) d[j] = s[j];
        return;
    }
    for (int64_t j = 0; j < n - 4; j += 4) *(four *)(d + j) = *(const four *)(s + j);
    *(four *)(d + n - 4) = *(const four *)(s + n - 4);
}

/* col (k, p) = the patches of one padded sample xp. */
NO_MEMCPY static void im2col(const geom *g, const float *restrict xp, const int64_t *off,
                   float *restrict col)
{
    for (int64_t t = 0; t < g->k; t++)
        for (int64_t i = 0; i < g->oh; i++) {
            const float *s = xp + off[t] + i * g->sh * g->wp;
            float *r = col + t * g->p + i * g->ow;
            if (g->sw == 1)
                copy_row(r, s, g->ow);
            else
                for (int64_t j = 0; j < g->ow; j++) r[j] = s[j * g->sw];
        }
}

/* dxp (c, hp, wp) += the columns' gradient dcol (k, p) put back where they
 * came from. */
static void col2im(const geom *g, const float *restrict dcol, const int64_t *off,
                   float *restrict dxp)
{
    for (int64_t t = 0; t < g->k; t++)
        for (int64_t i = 0; i < g->oh; i++) {
            const float *r = dcol + t * g->p + i * g->ow;
            float *s = dxp + off[t] + i * g->sh * g->wp;
            for (int64_t j = 0; j < g->ow; j++) s[j * g->sw] += r[j];
        }
}

static nn_status no_scratch(const nn_kernel_call *c)
{
    return nn_ctx_set_error(c->ctx, NN_NO_MEMORY, "conv2d: out of memory for its scratch");
}

/* The bias rides in the gemm: the weights get it as one more column, the
 * columns a row of ones, which im2col leaves in place from sample to
 * sample. */
static nn_status conv_cpu_forward(const nn_kernel_call *c)
{
    geom g = geom_of(c);
    const float *x = c->in[I_INPUT].data, *w = c->in[I_WEIGHT].data, *b = c->in[I_BIAS].data;
    float *y = c->out[0].data, *pad;
    if (!g.n) return NN_OK;
    int64_t k = g.k + (b != NULL);
    const int64_t *off = tap_offsets(c, &g, &pad);
    float *col = off ? nn_kernel_scratch(c, (size_t)(k * g.p) * sizeof(float)) : NULL;
    float *wb = col && b ? nn_kernel_scratch(c, (size_t)(g.o * k) * sizeof(float)) : NULL;
    if (!col || (b && !wb)) return no_scratch(c);
    if (b) {
        for (int64_t j = 0; j < g.p; j++) col[g.k * g.p + j] = 1.0f;
        for (int64_t oc = 0; oc < g.o; oc++) {
            memcpy(wb + oc * k, w + oc * g.k, (size_t)g.k * sizeof *wb);
            wb[oc * k + g.k] = b[oc];
        }
        w = wb;
    }
    for (int64_t s = 0; s < g.n; s++) {
        im2col(&g, pad_sample(&g, x + s * g.c * g.h * g.w, pad), off, col);
        nn_kernel_gemm(c, 0, 0, g.o, g.p, k, 1.0f, w, col, 0.0f, y + s * g.o * g.p); /* (o, k) @ (k, p) */
    }
    return NN_OK;
}

/* db (o) (+)= dy summed over the batch and the positions: in float lanes
 * per plane (so that the loop vectorizes), in double across them. */
static void bias_grad(const geom *g, const float *dy, float *db, int acc)
{
    enum { LANES = 8 };
    for (int64_t oc = 0; oc < g->o; oc++) {
        double sum = 0;
        for (int64_t s = 0; s < g->n; s++) {
            const float *d = dy + (s * g->o + oc) * g->p;
            float lane[LANES] = {0}, tail = 0.0f;
            int64_t j = 0;
            for (; j + LANES <= g->p; j += LANES)
                for (int l = 0; l < LANES; l++) lane[l] += d[j + l];
            for (; j < g->p; j++) tail += d[j];
            for (int l = 0; l < LANES; l++) sum += lane[l];
            sum += tail;
        }
        db[oc] = (acc ? db[oc] : 0.0f) + (float)sum;
    }
}

static nn_status conv_cpu_backward(const nn_kernel_call *c)
{
    geom g = geom_of(c);
    const float *x = c->in[I_INPUT].data, *w = c->in[I_WEIGHT].data, *dy = c->gout[0].data;
    float *dx = c->gin[I_INPUT].data, *dw = c->gin[I_WEIGHT].data, *db = c->gin[I_BIAS].data;
    if (db) bias_grad(&g, dy, db, c->acc[I_BIAS]);
    if (dw && !c->acc[I_WEIGHT]) memset(dw, 0, (size_t)c->gin[I_WEIGHT].numel * sizeof *dw);
    if (dx && !c->acc[I_INPUT]) memset(dx, 0, (size_t)c->gin[I_INPUT].numel * sizeof *dx);
    if (!g.n || (!dw && !dx)) return NN_OK;
    float *pad;
    const int64_t *off = tap_offsets(c, &g, &pad);
    /* The input's gradient goes to dx itself without padding, else to a
     * padded plane added into dx after. */
    float *dpad = off && dx && padded_(&g)
                      ? nn_kernel_scratch(c, (size_t)(g.c * g.hp * g.wp) * sizeof(float))
                      : NULL;
    size_t bytes = (size_t)(g.k * g.p) * sizeof(float);
    float *col = off && dw ? nn_kernel_scratch(c, bytes) : NULL;
    float *dcol = off && dx ? nn_kernel_scratch(c, bytes) : NULL;
    if (!off || (dx && padded_(&g) && !dpad) || (dw && !col) || (dx && !dcol))
        return no_scratch(c);
    for (int64_t s = 0; s < g.n; s++) {
        const float *dys = dy + s * g.o * g.p;
        if (dw) { /* dW (o, k) += dy (o, p) @ col^T (p, k) */
            im2col(&g, pad_sample(&g, x + s * g.c * g.h * g.w, pad), off, col);
            nn_kernel_gemm(c, 0, 1, g.o, g.k, g.p, 1.0f, dys, col, 1.0f, dw);
        }
        if (dx) { /* dcol (k, p) = W^T (k, o) @ dy (o, p) */
            float *dxs = dx + s * g.c * g.h * g.w;
            if (dpad) memset(dpad, 0, (size_t)(g.c * g.hp * g.wp) * sizeof *dpad);
            nn_kernel_gemm(c, 1, 0, g.k, g.p, g.o, 1.0f, w, dys, 0.0f, dcol);
            col2im(&g, dcol, off, dpad ? dpad : dxs);
            if (dpad) unpad_sample(&g, dpad, dxs);
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
    {NN_KIND_KERNEL, "conv2d", "cpu: im2col and a device gemm per sample", &conv_cpu, NULL,
     0},
    {NN_KIND_MODULE, "conv2d", "2-d convolution layer (PyTorch Conv2d)", &conv_vt, conv_props,
     NN_COUNT_OF(conv_props)},
};

NN_PLUGIN_DEFINE("conv2d", "1.0", conv_components)
