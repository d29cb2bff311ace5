/* softmax.c - PyTorch's nn.Softmax along one dimension (dim, counting the
 * batch as PyTorch does; default -1), any shape:
 *
 *   y_i = exp(x_i - max x) / sum_j exp(x_j - max x)
 *
 * The op "softmax" (SoftmaxBackward0; attribute dim) with its cpu kernel,
 * and the module that calls it. Sums are taken in double. */
#include <nn/plugin.h>

#include <math.h>
#include <stdio.h>

/* ---- the op ---- */

enum { A_DIM, A_COUNT };

static const nn_op_arg softmax_in[] = {{"input", 0, 0, 0}};
static const nn_op_arg softmax_out[] = {{"output", 0, 0, 0}};
static const nn_op_attr softmax_attr[] = {
    [A_DIM] = {"dim", -1, "the dimension that sums to 1 (negative: from the end)"},
};

/* The dimension as an index of s, or -1 when out of range. A 0-d tensor
 * takes dim 0 or -1, as PyTorch. */
static int norm_dim(const nn_shape *s, double dim)
{
    int nd = s->ndim ? s->ndim : 1, d = (int)dim;
    if (d != dim || d < -nd || d >= nd) return -1;
    return d < 0 ? d + nd : d;
}

static nn_status softmax_shape(const nn_shape *const *in, const double *attr, nn_shape *out,
                               char **err)
{
    if (norm_dim(in[0], attr[A_DIM]) < 0)
        return nn_fail(err, NN_INVALID, "softmax: dim=%g is out of range for a %d-d input",
                       attr[A_DIM], in[0]->ndim);
    out[0] = *in[0];
    return NN_OK;
}

static const nn_op_def softmax_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "SoftmaxBackward0",
    .nin = 1,
    .nout = 1,
    .nattr = A_COUNT,
    .in = softmax_in,
    .out = softmax_out,
    .attr = softmax_attr,
    .shape = softmax_shape,
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

static nn_status softmax_cpu_forward(const nn_kernel_call *c)
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
            for (int64_t j = 0; j < len; j++)
                ys[j * inner] = (float)(exp((double)xs[j * inner] - mx) / sum);
        }
    return NN_OK;
}

/* dx (+)= y * (dy - sum_j dy_j y_j) */
static nn_status softmax_cpu_backward(const nn_kernel_call *c)
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
            double dot = 0;
            for (int64_t j = 0; j < len; j++)
                dot += (double)dy[base + j * inner] * y[base + j * inner];
            for (int64_t j = 0; j < len; j++) {
                int64_t k = base + j * inner;
                float g = (float)(y[k] * (dy[k] - dot));
                dx[k] = acc ? dx[k] + g : g;
            }
        }
    return NN_OK;
}

static const nn_kernel_def softmax_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = softmax_cpu_forward,
    .backward = softmax_cpu_backward,
};

/* ---- the module ---- */

enum { P_DIM };

static const nn_prop_def softmax_props[] = {
    [P_DIM] = {"dim", NN_PROP_INT, "-1", -NN_MAX_DIMS, NN_MAX_DIMS - 1, NULL,
               "the dimension that sums to 1; 0 is the batch, negative counts from the end"},
};

typedef struct {
    nn_op *op;
    double attr[A_COUNT];
} softmax;

static nn_status softmax_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                              char **err)
{
    softmax *s = nn_module_priv(m);
    int64_t dim = nn_props_int(p, P_DIM), nd = in->ndim + 1; /* with the batch */
    if (dim < -nd || dim >= nd)
        return nn_fail(err, NN_INVALID,
                       "softmax: dim=%lld is out of range for a batch of %lld dimensions "
                       "(%lld to %lld)",
                       (long long)dim, (long long)nd, (long long)-nd, (long long)nd - 1);
    s->attr[A_DIM] = (double)dim;
    *out = *in;
    return nn_op_find(nn_module_ctx(m), "softmax", &s->op, err);
}

static nn_tensor *softmax_forward(nn_module *m, nn_tensor *x)
{
    softmax *s = nn_module_priv(m);
    return nn_op_call(s->op, &x, s->attr, NULL);
}

/* "dim=-1", as PyTorch's Softmax.extra_repr */
static void softmax_repr(nn_module *m, char *buf, size_t len)
{
    softmax *s = nn_module_priv(m);
    snprintf(buf, len, "dim=%d", (int)s->attr[A_DIM]);
}

static const nn_module_vt softmax_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "Softmax",
    .priv_size = sizeof(softmax),
    .init = softmax_init,
    .forward = softmax_forward,
    .extra_repr = softmax_repr,
};

static const nn_component_def softmax_components[] = {
    {NN_KIND_OP, "softmax", "exp(x - max) / sum exp(x - max) along dim", &softmax_op, NULL, 0},
    {NN_KIND_KERNEL, "softmax", "cpu: loops, sums in double", &softmax_cpu, NULL, 0},
    {NN_KIND_MODULE, "softmax", "normalised exponentials along dim (PyTorch Softmax)",
     &softmax_vt, softmax_props, NN_COUNT_OF(softmax_props)},
};

NN_PLUGIN_DEFINE("softmax", "1.0", softmax_components)
