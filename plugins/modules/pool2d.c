/* pool2d.c - PyTorch's nn.MaxPool2d and nn.AvgPool2d over batches of
 * (N, C, H, W):
 *
 *   OH = (H + 2 pH - kH) / sH + 1, and OW likewise (floor, as ceil_mode=False)
 *   max_pool2d  the largest value of each window, padding counting as -inf;
 *               the gradient goes to the first largest one, as PyTorch's
 *   avg_pool2d  the window's mean; count_include_pad (PyTorch's default)
 *               divides by kH kW, padding included, else by the elements
 *               of the window inside the input
 *
 * Two ops with their cpu kernels, and the two modules. */
#include <nn/plugin.h>
#include "../devices/clones.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- the ops: one input (N, C, H, W), one output ---- */

enum { A_KH, A_KW, A_SH, A_SW, A_PH, A_PW, A_COUNT_PAD, A_COUNT };

static const nn_op_arg pool_in[] = {{"input", 0, 0, 0}};
static const nn_op_arg pool_out[] = {{"output", 0, 0, 0}};
static const nn_op_attr pool_attr[] = {
    [A_KH] = {"kernel_h", 2, "rows of the window"},
    [A_KW] = {"kernel_w", 2, "columns of the window"},
    [A_SH] = {"stride_h", 2, "step of the window down the rows"},
    [A_SW] = {"stride_w", 2, "step of the window along the columns"},
    [A_PH] = {"padding_h", 0, "rows added above and below (at most kernel_h / 2)"},
    [A_PW] = {"padding_w", 0, "columns added left and right (at most kernel_w / 2)"},
    [A_COUNT_PAD] = {"count_include_pad", 1, "avg_pool2d: 1 divides by kH kW, 0 by the "
                                             "elements inside the input"},
};

static nn_status pool_shape(const nn_shape *const *in, const double *a, nn_shape *out, char **err)
{
    const nn_shape *x = in[0];
    for (int i = A_KH; i <= A_PW; i++) {
        double lo = i >= A_PH ? 0 : 1;
        if (!(a[i] >= lo) || a[i] != floor(a[i]) || a[i] > 1 << 20)
            return nn_fail(err, NN_INVALID, "%s must be a whole number >= %g, got %g",
                           pool_attr[i].name, lo, a[i]);
    }
    if (2 * a[A_PH] > a[A_KH] || 2 * a[A_PW] > a[A_KW])
        return nn_fail(err, NN_INVALID, "padding should be at most half the kernel size");
    if (x->ndim != 4) return nn_fail(err, NN_SHAPE, "input must be (N, C, H, W), got %d-d", x->ndim);
    int64_t oh = (x->dim[2] + 2 * (int64_t)a[A_PH] - (int64_t)a[A_KH]);
    int64_t ow = (x->dim[3] + 2 * (int64_t)a[A_PW] - (int64_t)a[A_KW]);
    if (oh < 0 || ow < 0)
        return nn_fail(err, NN_SHAPE, "the window (%g, %g) does not fit the padded input "
                       "(%lld, %lld)", a[A_KH], a[A_KW], (long long)x->dim[2], (long long)x->dim[3]);
    *out = (nn_shape){4, {x->dim[0], x->dim[1], oh / (int64_t)a[A_SH] + 1,
                          ow / (int64_t)a[A_SW] + 1}};
    return NN_OK;
}

/* What nnrun check gives the ops (with the default 2x2 windows, stride 2). */
static const nn_shape pool_check_shapes[] = {{4, {2, 2, 5, 6}}};

/* ONNX MaxPool and AveragePool, floor mode, pads at begin and end. */
static nn_status pool_onnx(nn_onnx *b, const nn_onnx_call *c, const char *type)
{
    const double *a = c->attr;
    int64_t kernel[] = {(int64_t)a[A_KH], (int64_t)a[A_KW]};
    int64_t strides[] = {(int64_t)a[A_SH], (int64_t)a[A_SW]};
    int64_t pads[] = {(int64_t)a[A_PH], (int64_t)a[A_PW], (int64_t)a[A_PH], (int64_t)a[A_PW]};
    nn_status st = nn_onnx_node(b, type, 1, c->in, 1, c->out);
    if (!st) st = nn_onnx_attr_ints(b, "kernel_shape", 2, kernel);
    if (!st) st = nn_onnx_attr_ints(b, "strides", 2, strides);
    if (!st) st = nn_onnx_attr_ints(b, "pads", 4, pads);
    if (!st && !strcmp(type, "AveragePool"))
        st = nn_onnx_attr_int(b, "count_include_pad", a[A_COUNT_PAD] != 0);
    return st;
}

static nn_status max_pool_onnx(nn_onnx *b, const nn_onnx_call *c)
{
    return pool_onnx(b, c, "MaxPool");
}

static nn_status avg_pool_onnx(nn_onnx *b, const nn_onnx_call *c)
{
    return pool_onnx(b, c, "AveragePool");
}

static const nn_op_def max_pool_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "MaxPool2DWithIndicesBackward0",
    .nin = 1,
    .nout = 1,
    .nattr = A_COUNT,
    .in = pool_in,
    .out = pool_out,
    .attr = pool_attr,
    .shape = pool_shape,
    .check_shapes = pool_check_shapes,
    .onnx = max_pool_onnx,
};

static const nn_op_def avg_pool_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "AvgPool2DBackward0",
    .nin = 1,
    .nout = 1,
    .nattr = A_COUNT,
    .in = pool_in,
    .out = pool_out,
    .attr = pool_attr,
    .shape = pool_shape,
    .check_shapes = pool_check_shapes,
    .onnx = avg_pool_onnx,
};

/* ---- the cpu kernels ---- */

typedef struct geom {
    int64_t planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw;
} geom;

static geom geom_of(const nn_kernel_call *c)
{
    const nn_shape *x = c->in[0].shape, *y = c->out[0].shape;
    const double *a = c->attr;
    return (geom){x->dim[0] * x->dim[1], x->dim[2], x->dim[3], y->dim[2], y->dim[3],
                  (int64_t)a[A_KH], (int64_t)a[A_KW], (int64_t)a[A_SH], (int64_t)a[A_SW],
                  (int64_t)a[A_PH], (int64_t)a[A_PW]};
}

/* The window of output (oi, oj) clipped to the input: rows [*i0, *i1), columns [*j0, *j1). */
static void window(const geom *g, int64_t oi, int64_t oj, int64_t *i0, int64_t *i1, int64_t *j0,
                   int64_t *j1)
{
    int64_t r = oi * g->sh - g->ph, q = oj * g->sw - g->pw;
    *i0 = r < 0 ? 0 : r;
    *i1 = r + g->kh < g->h ? r + g->kh : g->h;
    *j0 = q < 0 ? 0 : q;
    *j1 = q + g->kw < g->w ? q + g->kw : g->w;
}

/* Index in the plane of the first largest value of the window, or of its
 * last NaN, as PyTorch's; -1 for a window with no element inside the input. */
static int64_t argmax(const geom *g, const float *plane, int64_t oi, int64_t oj)
{
    int64_t i0, i1, j0, j1, best = -1;
    window(g, oi, oj, &i0, &i1, &j0, &j1);
    float m = -INFINITY;
    for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++) {
            float v = plane[i * g->w + j];
            if (best < 0 || v > m || isnan(v)) {
                m = v;
                best = i * g->w + j;
            }
        }
    return best;
}

/* ---- the 2x2 windows with stride 2 and no padding ----
 * The common case: every window lies inside the input, and a row of them
 * goes by vectors of LANES outputs, each from 2 LANES values of two input
 * rows, split into even and odd columns. A row's last vector is moved back
 * to end at the row's end, overlapping the one before: a few outputs are
 * written twice, with the same values. The scan over a window (a, b; c, d)
 * keeps the first largest value or the last NaN, as PyTorch's. */

/* Four float lanes, GCC's vector extension: one SSE register (or NEON),
 * VEX-encoded in the AVX2 clone of a function. (Eight lanes measured 25%
 * faster in the AVX2 clone and ten times slower in the baseline one, where
 * the shuffles of two registers' worth are done element by element.) */
#define LANES 4
typedef float lanes __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t mask __attribute__((vector_size(LANES * sizeof(int32_t))));
/* The same at any float's address, for loads and stores. */
typedef float lanes_u __attribute__((vector_size(LANES * sizeof(float)), aligned(sizeof(float))));
#define load(p) (*(const lanes_u *)(p))
#define store(p, v) (*(lanes_u *)(p) = (v))
#define EVEN(u, v) __builtin_shufflevector(u, v, 0, 2, 4, 6)
#define ODD(u, v) __builtin_shufflevector(u, v, 1, 3, 5, 7)
#define LOW(u, v) __builtin_shufflevector(u, v, 0, 4, 1, 5)
#define HIGH(u, v) __builtin_shufflevector(u, v, 2, 6, 3, 7)


static int two_by_two(const geom *g)
{
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && !g->ph && !g->pw;
}

/* Where vector v of a row of ow >= LANES outputs starts. */
static int64_t vec_pos(int64_t v, int64_t ow)
{
    return (v + 1) * LANES <= ow ? v * LANES : ow - LANES;
}

/* Does value v take the place of the maximum m so far: larger, or a NaN. */
#define TAKES(v, m) (((v) > (m)) | ((v) != (v)))

/* The same for lanes: a mask of -1 where v takes m's place. */
#define takes(v, m) (((v) > (m)) | ((v) != (v)))
/* v where t is -1, m elsewhere. */
#define pick(t, v, m) ((lanes)(((t) & (mask)(v)) | (~(t) & (mask)(m))))

/* Which of a window's values the scan keeps: 0 to 3 in row-major order. */
static inline int scan4(float a, float b, float c, float d)
{
    int k = 0;
    float m = a;
    if (TAKES(b, m)) m = b, k = 1;
    if (TAKES(c, m)) m = c, k = 2;
    if (TAKES(d, m)) k = 3;
    return k;
}

/* The output row y (ow) of the input rows r0 and r1. */
NN_VEC_FN(void, max2_row, (int64_t ow, const float *restrict r0, const float *restrict r1, float *restrict y),
          (ow, r0, r1, y))
{
    if (ow < LANES) {
        for (int64_t j = 0; j < ow; j++) {
            const float v[4] = {r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]};
            y[j] = v[scan4(v[0], v[1], v[2], v[3])];
        }
        return;
    }
    for (int64_t v = 0; v * LANES < ow; v++) {
        int64_t j = vec_pos(v, ow);
        lanes p = load(r0 + 2 * j), q = load(r0 + 2 * j + LANES);
        lanes u = load(r1 + 2 * j), w = load(r1 + 2 * j + LANES);
        lanes m = EVEN(p, q), b = ODD(p, q), c = EVEN(u, w), d = ODD(u, w);
        m = pick(takes(b, m), b, m);
        m = pick(takes(c, m), c, m);
        store(y + j, pick(takes(d, m), d, m));
    }
}

/* The gradient rows q0 and q1 of the input rows r0 and r1 (+)= the output
 * row's gradient d (ow) at each window's argmax, zeros elsewhere. A row's
 * last vector adds nothing to the outputs it shares with the one before. */
NN_VEC_FN(void, max2_row_backward, (int64_t ow, const float *restrict r0, const float *restrict r1, const float *restrict d, float *restrict q0, float *restrict q1, int acc),
          (ow, r0, r1, d, q0, q1, acc))
{
    if (ow < LANES) {
        for (int64_t j = 0; j < ow; j++) {
            int k = scan4(r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]);
            float *at[4] = {q0 + 2 * j, q0 + 2 * j + 1, q1 + 2 * j, q1 + 2 * j + 1};
            for (int i = 0; i < 4; i++) *at[i] = (acc ? *at[i] : 0.0f) + (i == k ? d[j] : 0.0f);
        }
        return;
    }
    const mask lane = {0, 1, 2, 3};
    for (int64_t v = 0; v * LANES < ow; v++) {
        int64_t j = vec_pos(v, ow);
        lanes p = load(r0 + 2 * j), q = load(r0 + 2 * j + LANES);
        lanes u = load(r1 + 2 * j), w = load(r1 + 2 * j + LANES);
        lanes m = EVEN(p, q), b = ODD(p, q), c = EVEN(u, w), e = ODD(u, w);
        /* ta, tb, tc, te: the lanes where a, b, c, e is the one kept */
        mask tb = takes(b, m);
        m = pick(tb, b, m);
        mask tc = takes(c, m);
        m = pick(tc, c, m);
        mask te = takes(e, m);
        tc &= ~te;
        tb &= ~(tc | te);
        mask ta = ~(tb | tc | te);
        mask g = (mask)load(d + j);
        if (acc) g &= lane + (int32_t)(j - v * LANES) >= 0; /* the shared ones: nothing */
        lanes ga = (lanes)(g & ta), gb = (lanes)(g & tb), gc = (lanes)(g & tc);
        lanes ge = (lanes)(g & te);
        lanes g00 = LOW(ga, gb), g01 = HIGH(ga, gb), g10 = LOW(gc, ge), g11 = HIGH(gc, ge);
        if (acc) {
            g00 += load(q0 + 2 * j), g01 += load(q0 + 2 * j + LANES);
            g10 += load(q1 + 2 * j), g11 += load(q1 + 2 * j + LANES);
        }
        store(q0 + 2 * j, g00), store(q0 + 2 * j + LANES, g01);
        store(q1 + 2 * j, g10), store(q1 + 2 * j + LANES, g11);
    }
}

static void max2_forward(const geom *g, const float *x, float *y)
{
    for (int64_t p = 0; p < g->planes; p++)
        for (int64_t oi = 0; oi < g->oh; oi++) {
            const float *r0 = x + (p * g->h + 2 * oi) * g->w;
            max2_row(g->ow, r0, r0 + g->w, y + (p * g->oh + oi) * g->ow);
        }
}

/* dx (+)= dy at each window's argmax; with acc 0, written whole: zeros in
 * the odd row and column that no window covers. */
static void max2_backward(const geom *g, const float *x, const float *dy, float *dx, int acc)
{
    for (int64_t p = 0; p < g->planes; p++) {
        for (int64_t oi = 0; oi < g->oh; oi++) {
            int64_t at = (p * g->h + 2 * oi) * g->w;
            float *q0 = dx + at, *q1 = q0 + g->w;
            max2_row_backward(g->ow, x + at, x + at + g->w, dy + (p * g->oh + oi) * g->ow, q0,
                              q1, acc);
            if (!acc && g->w > 2 * g->ow) q0[g->w - 1] = q1[g->w - 1] = 0.0f;
        }
        if (!acc && g->h > 2 * g->oh)
            memset(dx + (p * g->h + g->h - 1) * g->w, 0, (size_t)g->w * sizeof *dx);
    }
}

static nn_status max_pool_cpu_forward(const nn_kernel_call *c)
{
    geom g = geom_of(c);
    const float *x = c->in[0].data;
    float *y = c->out[0].data;
    if (two_by_two(&g)) {
        max2_forward(&g, x, y);
        return NN_OK;
    }
    for (int64_t p = 0; p < g.planes; p++) {
        const float *plane = x + p * g.h * g.w;
        for (int64_t oi = 0; oi < g.oh; oi++)
            for (int64_t oj = 0; oj < g.ow; oj++) {
                int64_t at = argmax(&g, plane, oi, oj);
                y[(p * g.oh + oi) * g.ow + oj] = at < 0 ? -INFINITY : plane[at];
            }
    }
    return NN_OK;
}

static nn_status max_pool_cpu_backward(const nn_kernel_call *c)
{
    geom g = geom_of(c);
    const float *x = c->in[0].data, *dy = c->gout[0].data;
    float *dx = c->gin[0].data;
    if (!dx) return NN_OK;
    if (two_by_two(&g)) {
        max2_backward(&g, x, dy, dx, c->acc[0]);
        return NN_OK;
    }
    if (!c->acc[0]) memset(dx, 0, (size_t)c->gin[0].numel * sizeof *dx);
    for (int64_t p = 0; p < g.planes; p++) {
        const float *plane = x + p * g.h * g.w;
        for (int64_t oi = 0; oi < g.oh; oi++)
            for (int64_t oj = 0; oj < g.ow; oj++) {
                int64_t at = argmax(&g, plane, oi, oj);
                if (at >= 0) dx[p * g.h * g.w + at] += dy[(p * g.oh + oi) * g.ow + oj];
            }
    }
    return NN_OK;
}

/* What each element of a window weighs in its mean. */
static float avg_scale(const geom *g, const double *a, int64_t i0, int64_t i1, int64_t j0,
                       int64_t j1)
{
    int64_t n = a[A_COUNT_PAD] != 0 ? g->kh * g->kw : (i1 - i0) * (j1 - j0);
    return n > 0 ? 1.0f / (float)n : 0.0f;
}

static nn_status avg_pool_cpu_forward(const nn_kernel_call *c)
{
    geom g = geom_of(c);
    const float *x = c->in[0].data;
    float *y = c->out[0].data;
    for (int64_t p = 0; p < g.planes; p++) {
        const float *plane = x + p * g.h * g.w;
        for (int64_t oi = 0; oi < g.oh; oi++)
            for (int64_t oj = 0; oj < g.ow; oj++) {
                int64_t i0, i1, j0, j1;
                window(&g, oi, oj, &i0, &i1, &j0, &j1);
                float s = 0.0f;
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) s += plane[i * g.w + j];
                y[(p * g.oh + oi) * g.ow + oj] = s * avg_scale(&g, c->attr, i0, i1, j0, j1);
            }
    }
    return NN_OK;
}

static nn_status avg_pool_cpu_backward(const nn_kernel_call *c)
{
    geom g = geom_of(c);
    const float *dy = c->gout[0].data;
    float *dx = c->gin[0].data;
    if (!dx) return NN_OK;
    if (!c->acc[0]) memset(dx, 0, (size_t)c->gin[0].numel * sizeof *dx);
    for (int64_t p = 0; p < g.planes; p++) {
        float *plane = dx + p * g.h * g.w;
        for (int64_t oi = 0; oi < g.oh; oi++)
            for (int64_t oj = 0; oj < g.ow; oj++) {
                int64_t i0, i1, j0, j1;
                window(&g, oi, oj, &i0, &i1, &j0, &j1);
                float v = dy[(p * g.oh + oi) * g.ow + oj] *
                          avg_scale(&g, c->attr, i0, i1, j0, j1);
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) plane[i * g.w + j] += v;
            }
    }
    return NN_OK;
}

static const nn_kernel_def max_pool_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = max_pool_cpu_forward,
    .backward = max_pool_cpu_backward,
};

static const nn_kernel_def avg_pool_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = avg_pool_cpu_forward,
    .backward = avg_pool_cpu_backward,
};

/* ---- the modules ---- */

enum { P_KERNEL, P_STRIDE, P_PADDING, P_COUNT_PAD };

static const nn_prop_def max_pool_props[] = {
    [P_KERNEL] = {"kernel", NN_PROP_INT, NULL, 1, 1 << 20, NULL, "window size (required)"},
    [P_STRIDE] = {"stride", NN_PROP_INT, "0", 0, 1 << 20, NULL,
                  "step of the window; 0: the kernel size"},
    [P_PADDING] = {"padding", NN_PROP_INT, "0", 0, 1 << 20, NULL,
                   "implicit -inf added on each side (at most kernel / 2)"},
};

static const nn_prop_def avg_pool_props[] = {
    [P_KERNEL] = {"kernel", NN_PROP_INT, NULL, 1, 1 << 20, NULL, "window size (required)"},
    [P_STRIDE] = {"stride", NN_PROP_INT, "0", 0, 1 << 20, NULL,
                  "step of the window; 0: the kernel size"},
    [P_PADDING] = {"padding", NN_PROP_INT, "0", 0, 1 << 20, NULL,
                   "implicit zeros added on each side (at most kernel / 2)"},
    [P_COUNT_PAD] = {"count_include_pad", NN_PROP_BOOL, "true", 1, 0, NULL,
                     "the mean counts the padding zeros"},
};

typedef struct {
    nn_op *op;
    int avg;
    int64_t kernel, stride, padding;
    double attr[A_COUNT];
} pool2d;

static nn_status pool_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                           char **err, int avg)
{
    pool2d *l = nn_module_priv(m);
    const char *name = avg ? "avg_pool2d" : "max_pool2d";
    l->avg = avg;
    if (in->ndim != 3)
        return nn_fail(err, NN_SHAPE,
                       "%s takes samples of shape [channels, height, width], got %d-d "
                       "(give --input-shape C,H,W or data of that shape)", name, in->ndim);
    l->kernel = nn_props_int(p, P_KERNEL);
    l->stride = nn_props_int(p, P_STRIDE);
    if (!l->stride) l->stride = l->kernel;
    l->padding = nn_props_int(p, P_PADDING);
    if (2 * l->padding > l->kernel)
        return nn_fail(err, NN_INVALID, "padding=%lld should be at most half of kernel=%lld",
                       (long long)l->padding, (long long)l->kernel);
    l->attr[A_KH] = l->attr[A_KW] = (double)l->kernel;
    l->attr[A_SH] = l->attr[A_SW] = (double)l->stride;
    l->attr[A_PH] = l->attr[A_PW] = (double)l->padding;
    l->attr[A_COUNT_PAD] = avg ? nn_props_bool(p, P_COUNT_PAD) : 1;
    *out = *in;
    for (int i = 1; i < 3; i++) {
        if (in->dim[i] < 0) continue; /* unknown stays unknown */
        int64_t span = in->dim[i] + 2 * l->padding - l->kernel;
        if (span < 0)
            return nn_fail(err, NN_SHAPE, "kernel=%lld does not fit the input [%lld, %lld, %lld] "
                           "with padding=%lld", (long long)l->kernel, (long long)in->dim[0],
                           (long long)in->dim[1], (long long)in->dim[2], (long long)l->padding);
        out->dim[i] = span / l->stride + 1;
    }
    return nn_op_find(nn_module_ctx(m), name, &l->op, err);
}

static nn_status max_pool_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                               char **err)
{
    return pool_init(m, p, in, out, err, 0);
}

static nn_status avg_pool_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                               char **err)
{
    return pool_init(m, p, in, out, err, 1);
}

static nn_tensor *pool_forward(nn_module *m, nn_tensor *x)
{
    pool2d *l = nn_module_priv(m);
    return nn_op_call(l->op, &x, l->attr, NULL);
}

/* As PyTorch prints them: MaxPool2d's five fields, AvgPool2d's three. */
static void pool_repr(nn_module *m, char *buf, size_t len)
{
    pool2d *l = nn_module_priv(m);
    long long k = l->kernel, s = l->stride, p = l->padding;
    if (l->avg)
        snprintf(buf, len, "kernel_size=%lld, stride=%lld, padding=%lld", k, s, p);
    else
        snprintf(buf, len, "kernel_size=%lld, stride=%lld, padding=%lld, dilation=1, "
                 "ceil_mode=False", k, s, p);
}

static const nn_module_vt max_pool_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "MaxPool2d",
    .priv_size = sizeof(pool2d),
    .init = max_pool_init,
    .forward = pool_forward,
    .extra_repr = pool_repr,
};

static const nn_module_vt avg_pool_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "AvgPool2d",
    .priv_size = sizeof(pool2d),
    .init = avg_pool_init,
    .forward = pool_forward,
    .extra_repr = pool_repr,
};

static const nn_component_def pool_components[] = {
    {NN_KIND_OP, "max_pool2d", "largest value of each window of (N, C, H, W)", &max_pool_op,
     NULL, 0},
    {NN_KIND_KERNEL, "max_pool2d", "cpu: loops over the windows", &max_pool_cpu, NULL, 0},
    {NN_KIND_MODULE, "max_pool2d", "2-d max pooling (PyTorch MaxPool2d)", &max_pool_vt,
     max_pool_props, NN_COUNT_OF(max_pool_props)},
    {NN_KIND_OP, "avg_pool2d", "mean of each window of (N, C, H, W)", &avg_pool_op, NULL, 0},
    {NN_KIND_KERNEL, "avg_pool2d", "cpu: loops over the windows", &avg_pool_cpu, NULL, 0},
    {NN_KIND_MODULE, "avg_pool2d", "2-d average pooling (PyTorch AvgPool2d)", &avg_pool_vt,
     avg_pool_props, NN_COUNT_OF(avg_pool_props)},
};

NN_PLUGIN_DEFINE("pool2d", "1.0", pool_components)
