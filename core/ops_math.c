/* ops_math.c - element-wise math ops (div, pow, maximum, clamp, where, ...)
 * and the in-place updates addcmul_ and addcdiv_.
 *
 * As in ops.c, each op checks its inputs, takes its output from the scratch
 * arena, calls device kernels and records a node named as PyTorch names it;
 * backward functions write gradients with device kernels only. */
#include "nn-impl.h"

#include <math.h>

#define VT(ctx) ((ctx)->dev.vt)
#define DH(ctx) ((ctx)->dev.h)

/* Can t be broadcast to big's shape: the same shape, 1-d along big's rows, or
 * one element? */
static bool fits(const nn_tensor *big, const nn_tensor *t)
{
    if (nn_same_shape(big, t) || t->numel == 1) return true;
    return t->shape.ndim == 1 && big->shape.ndim >= 1 &&
           big->shape.dim[big->shape.ndim - 1] == t->shape.dim[0];
}

static void *no_broadcast(nn_ctx *ctx, const char *op, const nn_tensor *a, const nn_tensor *b)
{
    char s1[64], s2[64];
    return nn_ctx_fail(ctx, NN_SHAPE,
                       "%s: shapes %s and %s do not broadcast (b must have a's shape, be 1-d "
                       "along a's rows or have one element)",
                       op, nn_fmt_shape(a, s1, sizeof s1), nn_fmt_shape(b, s2, sizeof s2));
}

/* ---- binary ops with a tensor b ---- */

/* The gradient of a (wrt 0) or b (wrt 1) from the binary_backward kernel,
 * reduced over the rows b was repeated along. */
static void binary_grad(nn_node *nd, int wrt)
{
    nn_ctx *ctx = nd->out->ctx;
    nn_tensor *a = nd->in[0], *b = nd->in[1], *t = nd->in[wrt];
    nn_binary_op op = (nn_binary_op)nd->iarg;
    int64_t n = nd->out->numel;
    if (!(t->flags & NN_T_REQUIRES_GRAD)) return;
    int acc;
    float *d;
    if (t->numel == n) {
        if ((d = nn_grad_dst(t, &acc)))
            VT(ctx)->binary_backward(DH(ctx), op, wrt, n, a->data, b->numel, b->data,
                                     nd->out->data, nd->out->grad->data, d, acc);
        return;
    }
    float *tmp = nn_scratch_floats(ctx, n);
    if (!tmp) return;
    VT(ctx)->binary_backward(DH(ctx), op, wrt, n, a->data, b->numel, b->data, nd->out->data,
                             nd->out->grad->data, tmp, 0);
    nn_grad_reduce(ctx, t, tmp, n, 1.0f);
}

static void binary_backward(nn_node *nd)
{
    binary_grad(nd, 0);
    binary_grad(nd, 1);
}

static nn_tensor *binary_math(nn_binary_op op, const char *what, const char *name, nn_tensor *a,
                              nn_tensor *b)
{
    nn_ctx *ctx = nn_op_ctx(a, b);
    if (!ctx || !b) return NULL;
    if (!(a = nn_contiguous(a)) || !(b = nn_contiguous(b))) return NULL;
    if (!fits(a, b)) return no_broadcast(ctx, what, a, b);
    nn_tensor *out = nn_tensor_scratch_like(ctx, &a->shape);
    if (!out) return NULL;
    VT(ctx)->binary(DH(ctx), op, a->numel, a->data, b->numel, b->data, out->data);
    nn_node *nd = nn_node_record(ctx, name, binary_backward, out, a, b, NULL);
    if (nd) nd->iarg = (int)op;
    NN_TRACE_CORE(ctx, NN_CORE_BINARY, out, a, b, NULL, op, 0, 0);
    return out;
}

nn_tensor *nn_div(nn_tensor *a, nn_tensor *b)
{
    return binary_math(NN_BINARY_DIV, "div", "DivBackward0", a, b);
}
nn_tensor *nn_pow(nn_tensor *a, nn_tensor *b)
{
    return binary_math(NN_BINARY_POW, "pow", "PowBackward1", a, b);
}
nn_tensor *nn_maximum(nn_tensor *a, nn_tensor *b)
{
    return binary_math(NN_BINARY_MAX, "maximum", "MaximumBackward0", a, b);
}
nn_tensor *nn_minimum(nn_tensor *a, nn_tensor *b)
{
    return binary_math(NN_BINARY_MIN, "minimum", "MinimumBackward0", a, b);
}

/* ---- element-wise maps with constants ---- */

static void scalar_backward(nn_node *nd)
{
    nn_ctx *ctx = nd->out->ctx;
    nn_tensor *a = nd->in[0];
    int acc;
    float *d = nn_grad_dst(a, &acc);
    if (d)
        VT(ctx)->scalar_backward(DH(ctx), (nn_scalar_op)nd->iarg, a->numel, nd->scalar,
                                 nd->scalar2, a->data, nd->out->data, nd->out->grad->data, d, acc);
}

static nn_tensor *scalar_math(nn_scalar_op op, const char *name, nn_tensor *a, float s, float t)
{
    nn_ctx *ctx = nn_op_ctx(a, NULL);
    if (!ctx || !(a = nn_contiguous(a))) return NULL;
    nn_tensor *out = nn_tensor_scratch_like(ctx, &a->shape);
    if (!out) return NULL;
    VT(ctx)->scalar(DH(ctx), op, a->numel, s, t, a->data, out->data);
    nn_node *nd = nn_node_record(ctx, name, scalar_backward, out, a, NULL, NULL);
    if (nd) {
        nd->iarg = (int)op;
        nd->scalar = s;
        nd->scalar2 = t;
    }
    NN_TRACE_CORE(ctx, NN_CORE_SCALAR, out, a, NULL, NULL, op, s, t);
    return out;
}

nn_tensor *nn_add_scalar(nn_tensor *a, float s)
{
    return scalar_math(NN_SCALAR_ADD, "AddBackward0", a, s, 0.0f);
}
nn_tensor *nn_pow_scalar(nn_tensor *a, float e)
{
    return scalar_math(NN_SCALAR_POW, "PowBackward0", a, e, 0.0f);
}
nn_tensor *nn_clamp(nn_tensor *a, float lo, float hi)
{
    return scalar_math(NN_SCALAR_CLAMP, "ClampBackward1", a, lo, hi);
}

nn_tensor *nn_sqrt(nn_tensor *a) { return nn_unary_apply(NN_UNARY_SQRT, a); }
nn_tensor *nn_abs(nn_tensor *a) { return nn_unary_apply(NN_UNARY_ABS, a); }

/* ---- where ---- */

/* The gradient of a (wrt 0) or b (wrt 1): dy where cond picks it, else 0. */
static void where_grad(nn_node *nd, int wrt, const float *zero)
{
    nn_ctx *ctx = nd->out->ctx;
    nn_tensor *c = nd->saved, *t = nd->in[wrt];
    if (!(t->flags & NN_T_REQUIRES_GRAD)) return;
    int64_t n = nd->out->numel;
    const float *dy = nd->out->grad->data;
    float *tmp = nn_scratch_floats(ctx, n);
    if (!tmp) return;
    if (wrt == 0)
        VT(ctx)->where(DH(ctx), n, c->numel, c->data, n, dy, 1, zero, tmp);
    else
        VT(ctx)->where(DH(ctx), n, c->numel, c->data, 1, zero, n, dy, tmp);
    nn_grad_reduce(ctx, t, tmp, n, 1.0f);
}

static void where_backward(nn_node *nd)
{
    nn_ctx *ctx = nd->out->ctx;
    float *zero = nn_scratch_floats(ctx, 1);
    if (!zero) return;
    VT(ctx)->fill(DH(ctx), 1, 0.0f, zero);
    where_grad(nd, 0, zero);
    where_grad(nd, 1, zero);
}

nn_tensor *nn_where(nn_tensor *cond, nn_tensor *a, nn_tensor *b)
{
    nn_ctx *ctx = nn_op_ctx(a, b);
    if (!ctx || !b || !cond) return NULL;
    if (cond->ctx != ctx) return nn_ctx_fail(ctx, NN_INVALID, "tensors from two contexts");
    if (!(cond = nn_contiguous(cond)) || !(a = nn_contiguous(a)) || !(b = nn_contiguous(b)))
        return NULL;
    /* the result has the shape of the largest operand; a first on ties */
    nn_tensor *big = a;
    if (b->numel > big->numel) big = b;
    if (cond->numel > big->numel) big = cond;
    if (!fits(big, cond) || !fits(big, a) || !fits(big, b)) {
        char s1[64], s2[64], s3[64];
        return nn_ctx_fail(ctx, NN_SHAPE,
                           "where: condition %s, a %s and b %s do not broadcast (each must have "
                           "the largest one's shape, be 1-d along its rows or have one element)",
                           nn_fmt_shape(cond, s1, sizeof s1), nn_fmt_shape(a, s2, sizeof s2),
                           nn_fmt_shape(b, s3, sizeof s3));
    }
    nn_tensor *out = nn_tensor_scratch_like(ctx, &big->shape);
    if (!out) return NULL;
    VT(ctx)->where(DH(ctx), out->numel, cond->numel, cond->data, a->numel, a->data, b->numel,
                   b->data, out->data);
    nn_node *nd = nn_node_record(ctx, "WhereBackward0", where_backward, out, a, b, NULL);
    if (nd) nd->saved = cond;
    NN_TRACE_CORE(ctx, NN_CORE_WHERE, out, cond, a, b, 0, 0, 0);
    return out;
}

/* ---- in-place updates ---- */

static nn_status addc(nn_binary_op op, const char *what, nn_tensor *t, float value, nn_tensor *a,
                      nn_tensor *b)
{
    if (!t || !a || !b) return NN_INVALID;
    nn_ctx *ctx = t->ctx;
    if (ctx->err) return ctx->err;
    if (a->ctx != ctx || b->ctx != ctx)
        return nn_ctx_fail(ctx, NN_INVALID, "%s: tensors from two contexts", what), NN_INVALID;
    char s1[64], s2[64];
    if (!nn_same_shape(t, a))
        return nn_ctx_fail(ctx, NN_SHAPE, "%s: tensor1 %s differs from the updated tensor %s",
                           what, nn_fmt_shape(a, s1, sizeof s1), nn_fmt_shape(t, s2, sizeof s2)),
               NN_SHAPE;
    if (!fits(t, b))
        return nn_ctx_fail(ctx, NN_SHAPE,
                           "%s: tensor2 %s does not broadcast to the updated tensor %s", what,
                           nn_fmt_shape(b, s1, sizeof s1), nn_fmt_shape(t, s2, sizeof s2)),
               NN_SHAPE;
    if (!nn_t_contig(t))
        return nn_ctx_fail(ctx, NN_UNSUPPORTED, "%s: the updated tensor is not contiguous", what),
               NN_UNSUPPORTED;
    int prev = nn_grad_set_enabled(ctx, 0); /* copies of views record nothing */
    a = nn_contiguous(a);
    b = nn_contiguous(b);
    nn_grad_set_enabled(ctx, prev);
    if (!a || !b) return ctx->err;
    VT(ctx)->addc(DH(ctx), op, t->numel, value, a->data, b->numel, b->data, t->data);
    return NN_OK;
}

nn_status nn_addcmul_(nn_tensor *t, float value, nn_tensor *a, nn_tensor *b)
{
    return addc(NN_BINARY_MUL, "addcmul_", t, value, a, b);
}

nn_status nn_addcdiv_(nn_tensor *t, float value, nn_tensor *a, nn_tensor *b)
{
    return addc(NN_BINARY_DIV, "addcdiv_", t, value, a, b);
}
