/* log_softmax.c - PyTorch's nn.LogSoftmax along one dimension (dim,
 * counting the batch as PyTorch does; default -1), any shape:
 *
 *   y_i = (x_i - max x) - log sum_j exp(x_j - max x)
 *
 * The op "log_softmax" (LogLogSoftmaxBackward0; attribute dim) with its cpu
 * kernel, and the module that calls it. Sums are taken in double. */
#include <nn/plugin.h>

#include <math.h>
#include <stdio.h>

/* ---- the op ---- */

enum { A_DIM, A_COUNT };

static const nn_op_arg log_softmax_in[] = {{"input", 0, 0, 0}};
static const nn_op_arg log_softmax_out[] = {{"output", 0, 0, 0}};
static const nn_op_attr log_softmax_attr[] = {
    [A_DIM] = {"dim", -1, "the dimension normalised (negative: from the end)"},
};

/* The dimension as an index of s, or -1 when out of range. A 0-d tensor
 * takes dim 0 or -1, as PyTorch. */
static int norm_dim(const nn_shape *s, double dim)
{
    int nd = s->ndim ? s->ndim : 1, d = (int)dim;
    if (d != dim || d < -nd || d >= nd) return -1;
    return d < 0 ? d + nd : d;
}

static nn_status log_softmax_shape(const nn_shape *const *in, const double *attr, nn_shape *out,
                               char **err)
{
    if (norm_dim(in[0], attr[A_DIM]) < 0)
        return nn_fail(err, NN_INVALID, "log_softmax: dim=%g is out of range for a %d-d input",
                       attr[A_DIM], in[0]->ndim);
    out[0] = *in[0];
    return NN_OK;
}

static const nn_op_def log_softmax_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "LogSoftmaxBackward0",
    .nin = 1,
    .nout = 1,
    .nattr = A_COUNT,
    .in = log_softmax_in,
    .out = log_softmax_out,
    .attr = log_softmax_attr,
    .shape = log_softmax_shape,
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

static nn_status log_softmax_cpu_forward(const nn_kernel_call *c)
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
            double lse = log(sum);
            for (int64_t j = 0; j < len; j++)
                ys[j * inner] = (float)(((double)xs[j * inner] - mx) - lse);
        }
    return NN_OK;
}

/* dx (+)= dy - exp(y) * sum_j dy_j */
static nn_status log_softmax_cpu_backward(const nn_kernel_call *c)
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
            double sum = 0;
            for (int64_t j = 0; j < len; j++) sum += dy[base + j * inner];
            for (int64_t j = 0; j < len; j++) {
                int64_t k = base + j * inner;
                float g = (float)(dy[k] - exp((double)y[k]) * sum);
                dx[k] = acc ? dx[k] + g : g;
            }
        }
    return NN_OK;
}

static const nn_kernel_def log_softmax_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = log_softmax_cpu_forward,
    .backward = log_softmax_cpu_backward,
};

/* ---- the module ---- */

enum { P_DIM };

static const nn_prop_def log_softmax_props[] = {
    [P_DIM] = {"dim", NN_PROP_INT, "-1", -NN_MAX_DIMS, NN_MAX_DIMS - 1, NULL,
               "the dimension normalised; 0 is the batch, negative counts from the end"},
};

typedef struct {
    nn_op *op;
    double attr[A_COUNT];
} log_softmax;

static nn_status log_softmax_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                              char **err)
{
    log_softmax *s = nn_module_priv(m);
    int64_t dim = nn_props_int(p, P_DIM), nd = in->ndim + 1; /* with the batch */
    if (dim < -nd || dim >= nd)
        return nn_fail(err, NN_INVALID,
                       "log_softmax: dim=%lld is out of range for a batch of %lld dimensions "
                       "(%lld to %lld)",
                       (long long)dim, (long long)nd, (long long)-nd, (long long)nd - 1);
    s->attr[A_DIM] = (double)dim;
    *out = *in;
    return nn_op_find(nn_module_ctx(m), "log_softmax", &s->op, err);
}

static nn_tensor *log_softmax_forward(nn_module *m, nn_tensor *x)
{
    log_softmax *s = nn_module_priv(m);
    return nn_op_call(s->op, &x, s->attr, NULL);
}

/* "dim=-1", as PyTorch's LogSoftmax.extra_repr */
static void log_softmax_repr(nn_module *m, char *buf, size_t len)
{
    log_softmax *s = nn_module_priv(m);
    snprintf(buf, len, "dim=%d", (int)s->attr[A_DIM]);
}

static const nn_module_vt log_softmax_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "LogSoftmax",
    .priv_size = sizeof(log_softmax),
    .init = log_softmax_init,
    .forward = log_softmax_forward,
    .extra_repr = log_softmax_repr,
};

static const nn_component_def log_softmax_components[] = {
    {NN_KIND_OP, "log_softmax", "x - max - log sum exp(x - max) along dim", &log_softmax_op, NULL, 0},
    {NN_KIND_KERNEL, "log_softmax", "cpu: loops, sums in double", &log_softmax_cpu, NULL, 0},
    {NN_KIND_MODULE, "log_softmax", "log of softmax along dim (PyTorch LogSoftmax)",
     &log_softmax_vt, log_softmax_props, NN_COUNT_OF(log_softmax_props)},
};

NN_PLUGIN_DEFINE("log_softmax", "1.0", log_softmax_components)
