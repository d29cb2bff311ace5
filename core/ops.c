/* ops.c - differentiable ops: forward and backward side by side.
 *
 * Each op checks its inputs, takes its output from the scratch arena, calls
 * one or two device kernels and records a node named as PyTorch names it.
 * Gradients are written in the layout of the tensor they belong to; "acc"
 * says whether a gradient already holds a value to add to. */
#include "nn-impl.h"

#include <math.h>

#define VT(ctx) ((ctx)->dev.vt)
#define DH(ctx) ((ctx)->dev.h)

static nn_shape shape2(int64_t a, int64_t b)
{
    nn_shape s = {2, {a, b}};
    return s;
}

static const nn_shape scalar_shape = {0, {0}};

/* ---- matrix products -------------------------------------------------------
 * out (m, n) = bias + a (m, k) @ b (k, n); a and b may be transposed views. */

static void addmm_backward(nn_node *nd)
{
    nn_ctx *ctx = nd->out->ctx;
    nn_tensor *a = nd->in[0], *b = nd->in[1], *bias = nd->in[2];
    const float *dy = nd->out->grad->data;
    int64_t m = a->shape.dim[0], k = a->shape.dim[1], n = b->shape.dim[1];
    bool at = nn_t_gemm_transposed(a), bt = nn_t_gemm_transposed(b);
    int acc;
    float *d;
    if (bias && (d = nn_grad_dst(bias, &acc))) {
        if (bias->shape.ndim == 1)
            VT(ctx)->sum_rows(DH(ctx), m, n, dy, d, acc); /* d (n) = sum_i dy (m, n) */
        else
            VT(ctx)->axpby(DH(ctx), m * n, 1.0f, dy, acc ? 1.0f : 0.0f, d);
    }
    if ((d = nn_grad_dst(a, &acc))) {
        if (!at) /* da (m, k) = dy (m, n) @ b^T */
            VT(ctx)->gemm(DH(ctx), 0, !bt, m, k, n, 1.0f, dy, b->data, acc, d);
        else /* da^T (k, m) = b (k, n) @ dy^T */
            VT(ctx)->gemm(DH(ctx), bt, 1, k, m, n, 1.0f, b->data, dy, acc, d);
    }
    if ((d = nn_grad_dst(b, &acc))) {
        if (!bt) /* db (k, n) = a^T @ dy (m, n) */
            VT(ctx)->gemm(DH(ctx), !at, 0, k, n, m, 1.0f, a->data, dy, acc, d);
        else /* db^T (n, k) = dy^T (n, m) @ a (m, k) */
            VT(ctx)->gemm(DH(ctx), 1, at, n, k, m, 1.0f, dy, a->data, acc, d);
    }
}

static bool matrix_ok(nn_ctx *ctx, const nn_tensor *t, const char *what)
{
    if (t->shape.ndim != 2) {
        nn_ctx_fail(ctx, NN_SHAPE, "%s must be 2-d, got %d-d", what, t->shape.ndim);
        return false;
    }
    if (!nn_t_contig(t) && !nn_t_transposed(t)) {
        nn_ctx_fail(ctx, NN_UNSUPPORTED, "%s must be contiguous or a transpose", what);
        return false;
    }
    return true;
}

nn_tensor *nn_addmm(nn_tensor *bias, nn_tensor *a, nn_tensor *b)
{
    nn_ctx *ctx = nn_op_ctx(a, b);
    if (!ctx || !b) return NULL;
    if (!matrix_ok(ctx, a, "addmm: mat1") || !matrix_ok(ctx, b, "addmm: mat2")) return NULL;
    int64_t m = a->shape.dim[0], k = a->shape.dim[1], n = b->shape.dim[1];
    char s1[64], s2[64];
    if (b->shape.dim[0] != k)
        return nn_ctx_fail(ctx, NN_SHAPE, "mat1 and mat2 shapes cannot be multiplied (%s and %s)",
                           nn_fmt_shape(a, s1, sizeof s1), nn_fmt_shape(b, s2, sizeof s2));
    if (bias) {
        if (bias->ctx != ctx) return nn_ctx_fail(ctx, NN_INVALID, "tensors from two contexts");
        bool row = bias->shape.ndim == 1 && bias->shape.dim[0] == n;
        bool full = bias->shape.ndim == 2 && bias->shape.dim[0] == m && bias->shape.dim[1] == n;
        if ((!row && !full) || !nn_t_contig(bias))
            return nn_ctx_fail(ctx, NN_SHAPE, "addmm: bias %s does not fit the output [%lld, %lld]",
                               nn_fmt_shape(bias, s1, sizeof s1), (long long)m, (long long)n);
    }
    nn_shape os = shape2(m, n);
    nn_tensor *out = nn_tensor_scratch_like(ctx, &os);
    if (!out) return NULL;
    int ta = nn_t_gemm_transposed(a), tb = nn_t_gemm_transposed(b);
    if (bias && bias->shape.ndim == 1 && NN_VT_HAS(VT(ctx), nn_device_vt, gemm_bias)) {
        /* the bias row added in the product's own pass */
        VT(ctx)->gemm_bias(DH(ctx), ta, tb, m, n, k, 1.0f, a->data, b->data, bias->data, out->data);
    } else {
        float beta = 0.0f;
        if (bias) {
            if (bias->shape.ndim == 1)
                VT(ctx)->repeat_rows(DH(ctx), m, n, bias->data, out->data);
            else
                VT(ctx)->copy(DH(ctx), out->data, bias->data, (size_t)(m * n) * sizeof(float));
            beta = 1.0f;
        }
        VT(ctx)->gemm(DH(ctx), ta, tb, m, n, k, 1.0f, a->data, b->data, beta, out->data);
    }
    nn_node_record(ctx, bias ? "AddmmBackward0" : "MmBackward0", addmm_backward, out, a, b, bias);
    NN_TRACE_CORE(ctx, NN_CORE_ADDMM, out, a, b, bias, 0, 0, 0);
    return out;
}

nn_tensor *nn_mm(nn_tensor *a, nn_tensor *b) { return nn_addmm(NULL, a, b); }

/* ---- transpose (a view) and contiguous ---- */

static void t_backward(nn_node *nd)
{
    if (nd->grad_alias) return; /* the gradient was written in place (nn_grad_dst) */
    /* The view shares its input's storage, and so do their gradient layouts. */
    nn_ctx *ctx = nd->out->ctx;
    int acc;
    float *d = nn_grad_dst(nd->in[0], &acc);
    if (d) VT(ctx)->axpby(DH(ctx), nd->out->numel, 1.0f, nd->out->grad->data, acc, d);
}

nn_tensor *nn_t(nn_tensor *a)
{
    nn_ctx *ctx = nn_op_ctx(a, NULL);
    if (!ctx) return NULL;
    if (a->shape.ndim != 2) return nn_ctx_fail(ctx, NN_SHAPE, "t() expects a 2-d tensor, got %d-d", a->shape.ndim);
    nn_tensor *v = nn_arena_alloc(ctx, &ctx->meta, sizeof *v);
    if (!v) return nn_ctx_fail(ctx, NN_NO_MEMORY, "out of memory");
    nn_tensor_clear(v);
    v->ctx = ctx;
    v->data = a->data;
    v->dtype = a->dtype;
    v->numel = a->numel;
    v->shape = shape2(a->shape.dim[1], a->shape.dim[0]);
    v->stride[0] = a->stride[1];
    v->stride[1] = a->stride[0];
    v->flags = NN_T_VIEW;
    nn_node *nd = nn_node_record(ctx, "TBackward0", t_backward, v, a, NULL, NULL);
    NN_TRACE_CORE(ctx, NN_CORE_T, v, a, NULL, NULL, 0, 0, 0);
    /* W^T of a parameter: its gradient goes straight into W's, in W's layout,
     * instead of into a buffer of its own that backward then adds to W's
     * (a whole weight-sized pass per linear layer and step). */
    if (nd && !a->grad_fn) nd->grad_alias = true;
    return v;
}

static void contiguous_backward(nn_node *nd)
{
    nn_ctx *ctx = nd->out->ctx;
    nn_tensor *a = nd->in[0];
    int acc;
    float *d = nn_grad_dst(a, &acc);
    if (!d) return;
    /* a (m, n) is stored as (n, m); so is its gradient. */
    int64_t m = a->shape.dim[0], n = a->shape.dim[1];
    float *dst = d;
    if (acc && !(dst = nn_arena_alloc(ctx, &ctx->scratch, (size_t)(m * n) * sizeof(float)))) {
        nn_ctx_fail(ctx, NN_NO_MEMORY, "out of scratch memory");
        return;
    }
    VT(ctx)->transpose(DH(ctx), m, n, nd->out->grad->data, dst);
    if (acc) VT(ctx)->axpby(DH(ctx), m * n, 1.0f, dst, 1.0f, d);
}

nn_tensor *nn_contiguous(nn_tensor *a)
{
    nn_ctx *ctx = nn_op_ctx(a, NULL);
    if (!ctx || nn_t_contig(a)) return a;
    if (!nn_t_transposed(a))
        return nn_ctx_fail(ctx, NN_UNSUPPORTED, "contiguous() supports transposed 2-d views only");
    nn_tensor *out = nn_tensor_scratch_like(ctx, &a->shape);
    if (!out) return NULL;
    /* a (m, n) is stored as (n, m) contiguous: transpose that. */
    VT(ctx)->transpose(DH(ctx), a->shape.dim[1], a->shape.dim[0], a->data, out->data);
    nn_node_record(ctx, "CloneBackward0", contiguous_backward, out, a, NULL, NULL);
    NN_TRACE_CORE(ctx, NN_CORE_COPY, out, a, NULL, NULL, 0, 0, 0);
    return out;
}

/* ---- element-wise binary ops, b optionally broadcast along rows ---- */

float *nn_scratch_floats(nn_ctx *ctx, int64_t n)
{
    float *p = nn_arena_alloc(ctx, &ctx->scratch, (size_t)n * sizeof(float));
    if (!p) nn_ctx_fail(ctx, NN_NO_MEMORY, "out of scratch memory");
    return p;
}

void nn_grad_reduce(nn_ctx *ctx, nn_tensor *t, const float *g, int64_t n, float alpha)
{
    int acc;
    float *d = nn_grad_dst(t, &acc);
    if (!d) return;
    if (t->numel == n) {
        VT(ctx)->axpby(DH(ctx), n, alpha, g, acc ? 1.0f : 0.0f, d);
        return;
    }
    if (alpha == 1.0f) {
        VT(ctx)->sum_rows(DH(ctx), n / t->numel, t->numel, g, d, acc);
        return;
    }
    float *tmp = nn_scratch_floats(ctx, t->numel);
    if (!tmp) return;
    VT(ctx)->sum_rows(DH(ctx), n / t->numel, t->numel, g, tmp, 0);
    VT(ctx)->axpby(DH(ctx), t->numel, alpha, tmp, acc ? 1.0f : 0.0f, d);
}

static void add_backward(nn_node *nd)
{
    const float *dy = nd->out->grad->data;
    nn_grad_reduce(nd->out->ctx, nd->in[0], dy, nd->out->numel, 1.0f);
    nn_grad_reduce(nd->out->ctx, nd->in[1], dy, nd->out->numel, 1.0f);
}

static void sub_backward(nn_node *nd)
{
    const float *dy = nd->out->grad->data;
    nn_grad_reduce(nd->out->ctx, nd->in[0], dy, nd->out->numel, 1.0f);
    nn_grad_reduce(nd->out->ctx, nd->in[1], dy, nd->out->numel, -1.0f);
}

static void mul_backward(nn_node *nd)
{
    nn_ctx *ctx = nd->out->ctx;
    nn_tensor *a = nd->in[0], *b = nd->in[1];
    const float *dy = nd->out->grad->data;
    int64_t n = nd->out->numel;
    int acc;
    float *d;
    if ((d = nn_grad_dst(a, &acc))) { /* da = dy * b (b broadcast) */
        if (b->numel == n) {
            VT(ctx)->mul_acc(DH(ctx), n, 1.0f, dy, b->data, d, acc);
        } else {
            float *tmp = nn_scratch_floats(ctx, n);
            if (!tmp) return;
            VT(ctx)->binary(DH(ctx), NN_BINARY_MUL, n, dy, b->numel, b->data, tmp);
            VT(ctx)->axpby(DH(ctx), n, 1.0f, tmp, acc ? 1.0f : 0.0f, d);
        }
    }
    if (b->flags & NN_T_REQUIRES_GRAD) { /* db = dy * a, summed over broadcast rows */
        if (b->numel == n && (d = nn_grad_dst(b, &acc))) {
            VT(ctx)->mul_acc(DH(ctx), n, 1.0f, dy, a->data, d, acc);
        } else if (b->numel != n) {
            float *tmp = nn_scratch_floats(ctx, n);
            if (!tmp) return;
            VT(ctx)->mul_acc(DH(ctx), n, 1.0f, dy, a->data, tmp, 0);
            nn_grad_reduce(ctx, b, tmp, n, 1.0f);
        }
    }
}

static nn_tensor *binary_op(nn_binary_op op, const char *name, nn_backward_fn bw, nn_tensor *a,
                            nn_tensor *b)
{
    nn_ctx *ctx = nn_op_ctx(a, b);
    if (!ctx || !b) return NULL;
    a = nn_contiguous(a);
    b = nn_contiguous(b);
    if (!a || !b) return NULL;
    bool bcast = !nn_same_shape(a, b);
    if (bcast && !(b->shape.ndim == 1 && a->shape.ndim >= 1 &&
                   a->shape.dim[a->shape.ndim - 1] == b->shape.dim[0])) {
        char s1[64], s2[64];
        return nn_ctx_fail(ctx, NN_SHAPE, "%s: shapes %s and %s do not broadcast", name,
                           nn_fmt_shape(a, s1, sizeof s1), nn_fmt_shape(b, s2, sizeof s2));
    }
    nn_tensor *out = nn_tensor_scratch_like(ctx, &a->shape);
    if (!out) return NULL;
    VT(ctx)->binary(DH(ctx), op, a->numel, a->data, b->numel, b->data, out->data);
    nn_node_record(ctx, name, bw, out, a, b, NULL);
    NN_TRACE_CORE(ctx, NN_CORE_BINARY, out, a, b, NULL, op, 0, 0);
    return out;
}

nn_tensor *nn_add(nn_tensor *a, nn_tensor *b)
{
    return binary_op(NN_BINARY_ADD, "AddBackward0", add_backward, a, b);
}
nn_tensor *nn_sub(nn_tensor *a, nn_tensor *b)
{
    return binary_op(NN_BINARY_SUB, "SubBackward0", sub_backward, a, b);
}
nn_tensor *nn_mul(nn_tensor *a, nn_tensor *b)
{
    return binary_op(NN_BINARY_MUL, "MulBackward0", mul_backward, a, b);
}

static void mul_scalar_backward(nn_node *nd)
{
    nn_grad_reduce(nd->out->ctx, nd->in[0], nd->out->grad->data, nd->out->numel, nd->scalar);
}

nn_tensor *nn_mul_scalar(nn_tensor *a, float s)
{
    nn_ctx *ctx = nn_op_ctx(a, NULL);
    if (!ctx || !(a = nn_contiguous(a))) return NULL;
    nn_tensor *out = nn_tensor_scratch_like(ctx, &a->shape);
    if (!out) return NULL;
    VT(ctx)->axpby(DH(ctx), a->numel, s, a->data, 0.0f, out->data);
    nn_node *nd = nn_node_record(ctx, "MulBackward0", mul_scalar_backward, out, a, NULL, NULL);
    if (nd) nd->scalar = s;
    NN_TRACE_CORE(ctx, NN_CORE_MUL_SCALAR, out, a, NULL, NULL, s, 0, 0);
    return out;
}

/* ---- element-wise unary ops ---- */

static const char *const unary_names[NN_UNARY_COUNT_] = {
    [NN_UNARY_SIGMOID] = "SigmoidBackward0", [NN_UNARY_RELU] = "ReluBackward0",
    [NN_UNARY_TANH] = "TanhBackward0",       [NN_UNARY_EXP] = "ExpBackward0",
    [NN_UNARY_LOG] = "LogBackward0",         [NN_UNARY_SQRT] = "SqrtBackward0",
    [NN_UNARY_ABS] = "AbsBackward0",
};

static void unary_backward(nn_node *nd)
{
    nn_ctx *ctx = nd->out->ctx;
    int acc;
    float *d = nn_grad_dst(nd->in[0], &acc);
    if (d)
        VT(ctx)->unary_backward(DH(ctx), (nn_unary_op)nd->scalar, nd->out->numel, nd->in[0]->data,
                                nd->out->data, nd->out->grad->data, d, acc);
}

nn_tensor *nn_unary_apply(nn_unary_op op, nn_tensor *a)
{
    nn_ctx *ctx = nn_op_ctx(a, NULL);
    if (!ctx || !(a = nn_contiguous(a))) return NULL;
    nn_tensor *out = nn_tensor_scratch_like(ctx, &a->shape);
    if (!out) return NULL;
    VT(ctx)->unary(DH(ctx), op, a->numel, a->data, out->data);
    nn_node *nd = nn_node_record(ctx, unary_names[op], unary_backward, out, a, NULL, NULL);
    if (nd) nd->scalar = (float)op;
    NN_TRACE_CORE(ctx, NN_CORE_UNARY, out, a, NULL, NULL, op, 0, 0);
    return out;
}

nn_tensor *nn_sigmoid(nn_tensor *a) { return nn_unary_apply(NN_UNARY_SIGMOID, a); }
nn_tensor *nn_relu(nn_tensor *a) { return nn_unary_apply(NN_UNARY_RELU, a); }
nn_tensor *nn_tanh(nn_tensor *a) { return nn_unary_apply(NN_UNARY_TANH, a); }
nn_tensor *nn_exp(nn_tensor *a) { return nn_unary_apply(NN_UNARY_EXP, a); }
nn_tensor *nn_log(nn_tensor *a) { return nn_unary_apply(NN_UNARY_LOG, a); }

/* ---- reductions ---- */

static void sum_backward(nn_node *nd)
{
    nn_ctx *ctx = nd->out->ctx;
    int acc;
    float *d = nn_grad_dst(nd->in[0], &acc);
    if (d)
        VT(ctx)->broadcast(DH(ctx), nd->in[0]->numel, nd->scalar, nd->out->grad->data, d, acc);
}

static nn_tensor *reduce_op(nn_tensor *a, bool mean)
{
    nn_ctx *ctx = nn_op_ctx(a, NULL);
    if (!ctx || !(a = nn_contiguous(a))) return NULL;
    nn_tensor *out = nn_tensor_scratch_like(ctx, &scalar_shape);
    if (!out) return NULL;
    float alpha = mean ? (a->numel ? 1.0f / (float)a->numel : NAN) : 1.0f;
    VT(ctx)->sum(DH(ctx), a->numel, alpha, a->data, out->data);
    nn_node *nd = nn_node_record(ctx, mean ? "MeanBackward0" : "SumBackward0", sum_backward, out,
                                 a, NULL, NULL);
    if (nd) nd->scalar = alpha;
    NN_TRACE_CORE(ctx, NN_CORE_REDUCE, out, a, NULL, NULL, mean, 0, 0);
    return out;
}

nn_tensor *nn_sum(nn_tensor *a) { return reduce_op(a, false); }
nn_tensor *nn_mean(nn_tensor *a) { return reduce_op(a, true); }
