/* ops_shape.c - reductions along one dimension (sum, mean, max, argmax) and
 * the shape ops reshape, view and detach.
 *
 * A reduction sees its contiguous input as (outer, len, inner): len is the
 * reduced dimension, outer the product of the dimensions before it, inner of
 * those after. Its result is (outer, inner) in memory with or without keepdim. */
#include "nn-impl.h"

#include <math.h>

#define VT(ctx) ((ctx)->dev.vt)
#define DH(ctx) ((ctx)->dev.h)

/* ---- reductions along a dimension ---- */

/* dim in [-ndim, ndim - 1] (a 0-d tensor counts as 1-d), made non-negative;
 * -1 (and the error recorded) when out of range. */
static int wrap_dim(nn_ctx *ctx, const char *what, const nn_tensor *a, int dim)
{
    int nd = a->shape.ndim ? a->shape.ndim : 1;
    if (dim < -nd || dim >= nd) {
        nn_ctx_fail(ctx, NN_INVALID,
                    "%s: dimension out of range (expected to be in range of [%d, %d], but got %d)",
                    what, -nd, nd - 1, dim);
        return -1;
    }
    return dim < 0 ? dim + nd : dim;
}

typedef struct span {
    int64_t outer, len, inner;
} span;

static span span_of(const nn_tensor *a, int dim)
{
    span s = {1, 1, 1};
    for (int i = 0; i < a->shape.ndim; i++) {
        if (i < dim) s.outer *= a->shape.dim[i];
        else if (i == dim) s.len = a->shape.dim[i];
        else s.inner *= a->shape.dim[i];
    }
    return s;
}

static nn_shape reduced_shape(const nn_tensor *a, int dim, int keepdim)
{
    nn_shape s = {0, {0}};
    for (int i = 0; i < a->shape.ndim; i++) {
        if (i != dim) s.dim[s.ndim++] = a->shape.dim[i];
        else if (keepdim) s.dim[s.ndim++] = 1;
    }
    return s;
}

static void reduce_backward(nn_node *nd)
{
    nn_ctx *ctx = nd->out->ctx;
    nn_tensor *a = nd->in[0];
    int acc;
    float *d = nn_grad_dst(a, &acc);
    if (!d) return;
    span s = span_of(a, nd->iarg);
    nn_reduce_op op = nd->saved ? NN_REDUCE_MAX : NN_REDUCE_SUM;
    VT(ctx)->reduce_dim_backward(DH(ctx), op, s.outer, s.len, s.inner, nd->scalar,
                                 nd->saved ? nd->saved->data : NULL, nd->out->grad->data, d, acc);
}

/* op of a along dim, the sum scaled to a mean when mean is set. MAX also gives
 * its indices in *idx. name: the node's name, NULL for none. */
static nn_tensor *reduce_dim(nn_reduce_op op, bool mean, const char *what, const char *name,
                             nn_tensor *a, int dim, int keepdim, nn_tensor **idx)
{
    nn_ctx *ctx = nn_op_ctx(a, NULL);
    if (!ctx || !(a = nn_contiguous(a))) return NULL;
    if ((dim = wrap_dim(ctx, what, a, dim)) < 0) return NULL;
    span s = span_of(a, dim);
    if (op == NN_REDUCE_MAX && s.len == 0)
        return nn_ctx_fail(ctx, NN_SHAPE,
                           "%s: dimension %d has size 0, so there is no maximum to take", what,
                           dim);
    nn_shape os = reduced_shape(a, dim, keepdim);
    nn_tensor *out = nn_tensor_scratch_like(ctx, &os);
    nn_tensor *ix = out && op == NN_REDUCE_MAX ? nn_tensor_scratch_like(ctx, &os) : NULL;
    if (!out || (op == NN_REDUCE_MAX && !ix)) return NULL;
    float alpha = !mean ? 1.0f : s.len ? 1.0f / (float)s.len : NAN; /* torch: mean of none is NaN */
    VT(ctx)->reduce_dim(DH(ctx), op, s.outer, s.len, s.inner, alpha, a->data, out->data,
                        ix ? ix->data : NULL);
    if (idx) *idx = ix;
    if (name) NN_TRACE_CORE(ctx, NN_CORE_REDUCE_DIM, out, a, NULL, NULL, op, mean, dim);
    else NN_TRACE_CORE(ctx, NN_CORE_ARGMAX, ix, a, NULL, NULL, dim, 0, 0);
    if (!name) return out;
    nn_node *nd = nn_node_record(ctx, name, reduce_backward, out, a, NULL, NULL);
    if (nd) {
        nd->iarg = dim;
        nd->scalar = alpha;
        nd->saved = ix;
    }
    return out;
}

nn_tensor *nn_sum_dim(nn_tensor *a, int dim, int keepdim)
{
    return reduce_dim(NN_REDUCE_SUM, false, "sum", "SumBackward1", a, dim, keepdim, NULL);
}

nn_tensor *nn_mean_dim(nn_tensor *a, int dim, int keepdim)
{
    return reduce_dim(NN_REDUCE_SUM, true, "mean", "MeanBackward1", a, dim, keepdim, NULL);
}

nn_tensor *nn_max_dim(nn_tensor *a, int dim, int keepdim, nn_tensor **indices)
{
    nn_tensor *ix = NULL;
    if (indices) *indices = NULL;
    nn_tensor *out = reduce_dim(NN_REDUCE_MAX, false, "max", "MaxBackward0", a, dim, keepdim, &ix);
    if (out && indices) *indices = ix;
    return out;
}

nn_tensor *nn_argmax(nn_tensor *a, int dim, int keepdim)
{
    nn_tensor *ix = NULL;
    return reduce_dim(NN_REDUCE_MAX, false, "argmax", NULL, a, dim, keepdim, &ix) ? ix : NULL;
}

/* ---- reshape, view, detach ---- */

/* s with its -1 resolved against numel; false (and the error recorded) if
 * it does not hold exactly numel elements. */
static bool resolve_shape(nn_ctx *ctx, const char *what, const nn_tensor *a, const nn_shape *s,
                          nn_shape *out)
{
    if (!s) {
        nn_ctx_fail(ctx, NN_INVALID, "%s: no shape given", what);
        return false;
    }
    if (s->ndim < 0 || s->ndim > NN_MAX_DIMS) {
        nn_ctx_fail(ctx, NN_SHAPE, "%s: rank %d outside 0..%d", what, s->ndim, NN_MAX_DIMS);
        return false;
    }
    char buf[160];
    nn_shape_format(s, 0, buf, sizeof buf);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->dim[i] == -1) {
            if (infer >= 0) {
                nn_ctx_fail(ctx, NN_SHAPE, "%s: only one dimension can be inferred (shape %s)",
                            what, buf);
                return false;
            }
            infer = i;
        } else if (s->dim[i] < 0) {
            nn_ctx_fail(ctx, NN_SHAPE, "%s: invalid shape dimension %lld in %s", what,
                        (long long)s->dim[i], buf);
            return false;
        } else {
            if (s->dim[i] && known > INT64_MAX / s->dim[i]) {
                nn_ctx_fail(ctx, NN_SHAPE, "%s: shape %s is too large", what, buf);
                return false;
            }
            known *= s->dim[i];
        }
    }
    *out = *s;
    if (infer >= 0) {
        if (known == 0 || a->numel % known != 0) {
            nn_ctx_fail(ctx, NN_SHAPE, "%s: shape %s is invalid for input of size %lld", what, buf,
                        (long long)a->numel);
            return false;
        }
        out->dim[infer] = a->numel / known;
        known = a->numel;
    }
    if (known != a->numel) {
        nn_ctx_fail(ctx, NN_SHAPE, "%s: shape %s is invalid for input of size %lld", what, buf,
                    (long long)a->numel);
        return false;
    }
    return true;
}

/* A tensor struct sharing a's storage, contiguous with shape s. */
static nn_tensor *alias(nn_ctx *ctx, nn_tensor *a, const nn_shape *s)
{
    nn_tensor *v = nn_arena_alloc(ctx, &ctx->meta, sizeof *v);
    if (!v) return nn_ctx_fail(ctx, NN_NO_MEMORY, "out of host memory for scratch tensors");
    nn_tensor_clear(v);
    v->ctx = ctx;
    v->data = a->data;
    v->dtype = a->dtype;
    v->numel = a->numel;
    v->shape = *s;
    nn_strides_contig(s, v->stride);
    v->flags = NN_T_VIEW;
    return v;
}

/* The view and its input are both contiguous: their gradients have one layout. */
static void view_backward(nn_node *nd)
{
    nn_ctx *ctx = nd->out->ctx;
    int acc;
    float *d = nn_grad_dst(nd->in[0], &acc);
    if (d)
        VT(ctx)->axpby(DH(ctx), nd->out->numel, 1.0f, nd->out->grad->data, acc ? 1.0f : 0.0f, d);
}

static nn_tensor *view_of(nn_ctx *ctx, nn_tensor *a, const nn_shape *s, const char *name)
{
    nn_tensor *v = alias(ctx, a, s);
    if (v) nn_node_record(ctx, name, view_backward, v, a, NULL, NULL);
    if (v) NN_TRACE_CORE(ctx, NN_CORE_VIEW, v, a, NULL, NULL, 0, 0, 0);
    return v;
}

nn_tensor *nn_view(nn_tensor *a, const nn_shape *s)
{
    nn_ctx *ctx = nn_op_ctx(a, NULL);
    nn_shape rs;
    if (!ctx || !resolve_shape(ctx, "view", a, s, &rs)) return NULL;
    if (!nn_t_contig(a))
        return nn_ctx_fail(ctx, NN_UNSUPPORTED,
                           "view: the tensor is not contiguous (a transposed view); use "
                           "reshape(), which copies it, or contiguous() first");
    return view_of(ctx, a, &rs, "ViewBackward0");
}

nn_tensor *nn_reshape(nn_tensor *a, const nn_shape *s)
{
    nn_ctx *ctx = nn_op_ctx(a, NULL);
    nn_shape rs;
    if (!ctx || !resolve_shape(ctx, "reshape", a, s, &rs)) return NULL;
    if (nn_t_contig(a)) return view_of(ctx, a, &rs, "ViewBackward0");
    /* a copy, as PyTorch's: clone, then a view of the clone */
    if (!(a = nn_contiguous(a))) return NULL;
    return view_of(ctx, a, &rs, "UnsafeViewBackward0");
}

nn_tensor *nn_detach(nn_tensor *a)
{
    nn_ctx *ctx = nn_op_ctx(a, NULL);
    if (!ctx) return NULL;
    nn_tensor *v = alias(ctx, a, &a->shape);
    if (v) memcpy(v->stride, a->stride, sizeof v->stride); /* a transposed view stays one */
    if (v) NN_TRACE_CORE(ctx, NN_CORE_COPY, v, a, NULL, NULL, 0, 0, 0);
    return v;
}
