/* softmax_impl.h - what softmax.c and log_softmax.c share: the op along
 * one dimension (its shape, the split of the input around dim, the loops
 * of the cpu kernel) and the module that calls it. Static, compiled into
 * each of the two plugins. The including file defines first:
 *
 *   SM_NAME       the op and module name ("softmax"), also in messages
 *   SM_TYPE       the module's type name ("Softmax")
 *   SM_NODE       the op's backward node ("SoftmaxBackward0")
 *   SM_DIM_DOC    what dim is, in the docs ("the dimension that sums to 1")
 *
 * and the per-element math, which the loops here call in this order:
 *
 *   double fwd_norm(double sum)              per slice, from sum exp(x - max)
 *   float fwd_value(float x, float mx, double norm)
 *   double bwd_term(float y, float dy)       summed over the slice
 *   float bwd_value(float y, float dy, double total) */
#ifndef NN_PLUGINS_SOFTMAX_IMPL_H
#define NN_PLUGINS_SOFTMAX_IMPL_H

#include <nn/plugin.h>

#include <math.h>
#include <stdio.h>

/* ---- the op ---- */

enum { A_DIM, A_COUNT };

static const nn_op_arg sm_in[] = {{"input", 0, 0, 0}};
static const nn_op_arg sm_out[] = {{"output", 0, 0, 0}};
static const nn_op_attr sm_attr[] = {
    [A_DIM] = {"dim", -1, SM_DIM_DOC " (negative: from the end)"},
};

/* The dimension as an index of s, or -1 when out of range. A 0-d tensor
 * takes dim 0 or -1, as PyTorch. */
static int norm_dim(const nn_shape *s, double dim)
{
    int nd = s->ndim ? s->ndim : 1, d = (int)dim;
    if (d != dim || d < -nd || d >= nd) return -1;
    return d < 0 ? d + nd : d;
}

static nn_status sm_shape(const nn_shape *const *in, const double *attr, nn_shape *out,
                          char **err)
{
    if (norm_dim(in[0], attr[A_DIM]) < 0)
        return nn_fail(err, NN_INVALID, SM_NAME ": dim=%g is out of range for a %d-d input",
                       attr[A_DIM], in[0]->ndim);
    out[0] = *in[0];
    return NN_OK;
}

/* ONNX's Softmax and LogSoftmax (opset 13 on) normalise along one axis, as here. */
static nn_status sm_onnx(nn_onnx *b, const nn_onnx_call *c)
{
    nn_status st = nn_onnx_node(b, SM_TYPE, 1, c->in, 1, c->out);
    return st ? st : nn_onnx_attr_int(b, "axis", (int64_t)c->attr[A_DIM]);
}

static const nn_op_def sm_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = SM_NODE,
    .nin = 1,
    .nout = 1,
    .nattr = A_COUNT,
    .in = sm_in,
    .out = sm_out,
    .attr = sm_attr,
    .shape = sm_shape,
    .onnx = sm_onnx,
};

/* x as (outer, len, inner) around the dimension. */
static void split(const nn_shape *s, double dim, int64_t *outer, int64_t *len, int64_t *inner)
{
    int d = norm_dim(s, dim);
    *outer = *inner = 1;
    *len = s->ndim ? s->dim[d] : 1;
    for (int i = 0; i < s->ndim; i++) {
        if (i < d) *outer *= s->dim[i];
        if (i > d) *inner *= s->dim[i];
    }
}

static nn_status sm_cpu_forward(const nn_kernel_call *c)
{
    const float *x = c->in[0].data;
    float *y = c->out[0].data;
    int64_t outer, len, inner;
    split(c->in[0].shape, c->attr[A_DIM], &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xs = x + o * len * inner + i;
            float *ys = y + o * len * inner + i;
            float mx = -INFINITY;
            for (int64_t j = 0; j < len; j++) mx = fmaxf(mx, xs[j * inner]);
            double sum = 0;
            for (int64_t j = 0; j < len; j++) sum += exp((double)xs[j * inner] - mx);
            double norm = fwd_norm(sum);
            for (int64_t j = 0; j < len; j++) ys[j * inner] = fwd_value(xs[j * inner], mx, norm);
        }
    return NN_OK;
}

static nn_status sm_cpu_backward(const nn_kernel_call *c)
{
    const float *y = c->out[0].data, *dy = c->gout[0].data;
    float *dx = c->gin[0].data;
    if (!dx) return NN_OK;
    const int acc = c->acc[0];
    int64_t outer, len, inner;
    split(c->in[0].shape, c->attr[A_DIM], &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i;
            double total = 0;
            for (int64_t j = 0; j < len; j++)
                total += bwd_term(y[base + j * inner], dy[base + j * inner]);
            for (int64_t j = 0; j < len; j++) {
                int64_t k = base + j * inner;
                float g = bwd_value(y[k], dy[k], total);
                dx[k] = acc ? dx[k] + g : g;
            }
        }
    return NN_OK;
}

static const nn_kernel_def sm_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = sm_cpu_forward,
    .backward = sm_cpu_backward,
};

/* ---- the module ---- */

enum { P_DIM };

static const nn_prop_def sm_props[] = {
    [P_DIM] = {"dim", NN_PROP_INT, "-1", -NN_MAX_DIMS, NN_MAX_DIMS - 1, NULL,
               SM_DIM_DOC "; 0 is the batch, negative counts from the end"},
};

typedef struct {
    nn_op *op;
    double attr[A_COUNT];
} sm_module;

static nn_status sm_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                         char **err)
{
    sm_module *s = nn_module_priv(m);
    int64_t dim = nn_props_int(p, P_DIM), nd = in->ndim + 1; /* with the batch */
    if (dim < -nd || dim >= nd)
        return nn_fail(err, NN_INVALID,
                       SM_NAME ": dim=%lld is out of range for a batch of %lld dimensions "
                       "(%lld to %lld)",
                       (long long)dim, (long long)nd, (long long)-nd, (long long)nd - 1);
    s->attr[A_DIM] = (double)dim;
    *out = *in;
    return nn_op_find(nn_module_ctx(m), SM_NAME, &s->op, err);
}

static nn_tensor *sm_forward(nn_module *m, nn_tensor *x)
{
    sm_module *s = nn_module_priv(m);
    return nn_op_call(s->op, &x, s->attr, NULL);
}

/* "dim=-1", as PyTorch's Softmax.extra_repr and LogSoftmax.extra_repr */
static void sm_repr(nn_module *m, char *buf, size_t len)
{
    sm_module *s = nn_module_priv(m);
    snprintf(buf, len, "dim=%d", (int)s->attr[A_DIM]);
}

static const nn_module_vt sm_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = SM_TYPE,
    .priv_size = sizeof(sm_module),
    .init = sm_init,
    .forward = sm_forward,
    .extra_repr = sm_repr,
};

#endif
