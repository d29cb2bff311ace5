/* ops_onnx.c - the ONNX form of the core's own ops, for nnrun export.
 *
 * Each is an nn_onnx_lower_fn, the callback a plugin's op declares in its
 * nn_op_def (nn/plugin.h), emitting through the same builder. nn's
 * broadcasting (b of a's shape, 1-d along a's rows, or one element) is a
 * case of ONNX's numpy rule, so element-wise ops map one to one. */
#include "nn-impl.h"

static nn_status node1(nn_onnx *b, const char *type, const nn_onnx_call *c, int nin)
{
    return nn_onnx_node(b, type, nin, c->in, 1, c->out);
}

/* out = bias + a @ b: Gemm (2-d; the bias broadcast along rows, or none). */
static nn_status lower_addmm(nn_onnx *b, const nn_onnx_call *c)
{
    return node1(b, "Gemm", c, c->in[2] ? 3 : 2);
}

static nn_status lower_t(nn_onnx *b, const nn_onnx_call *c)
{
    static const int64_t perm[] = {1, 0};
    nn_status st = node1(b, "Transpose", c, 1);
    return st ? st : nn_onnx_attr_ints(b, "perm", 2, perm);
}

/* contiguous(), detach(): the same values under another name. */
static nn_status lower_copy(nn_onnx *b, const nn_onnx_call *c) { return nn_onnx_alias(b, 0, c->in[0]); }

static nn_status lower_binary(nn_onnx *b, const nn_onnx_call *c)
{
    static const char *const types[NN_BINARY_COUNT_] = {
        [NN_BINARY_ADD] = "Add", [NN_BINARY_SUB] = "Sub", [NN_BINARY_MUL] = "Mul",
        [NN_BINARY_DIV] = "Div", [NN_BINARY_POW] = "Pow", [NN_BINARY_MAX] = "Max",
        [NN_BINARY_MIN] = "Min",
    };
    int op = (int)c->attr[0];
    if (op < 0 || op >= NN_BINARY_COUNT_) return nn_onnx_refuse(b, "unknown binary op");
    return node1(b, types[op], c, 2);
}

/* x op s, s a scalar constant. */
static nn_status with_scalar(nn_onnx *b, const char *type, const nn_onnx_call *c, float s)
{
    const nn_shape scalar = {0, {0}};
    const char *k = nn_onnx_const(b, &scalar, &s);
    if (!k) return NN_NO_MEMORY;
    const char *in[] = {c->in[0], k};
    return nn_onnx_node(b, type, 2, in, 1, c->out);
}

static nn_status lower_mul_scalar(nn_onnx *b, const nn_onnx_call *c)
{
    return with_scalar(b, "Mul", c, (float)c->attr[0]);
}

static nn_status lower_unary(nn_onnx *b, const nn_onnx_call *c)
{
    static const char *const types[NN_UNARY_COUNT_] = {
        [NN_UNARY_SIGMOID] = "Sigmoid", [NN_UNARY_RELU] = "Relu", [NN_UNARY_TANH] = "Tanh",
        [NN_UNARY_EXP] = "Exp",         [NN_UNARY_LOG] = "Log",   [NN_UNARY_SQRT] = "Sqrt",
        [NN_UNARY_ABS] = "Abs",
    };
    int op = (int)c->attr[0];
    if (op < 0 || op >= NN_UNARY_COUNT_) return nn_onnx_refuse(b, "unknown unary op");
    return node1(b, types[op], c, 1);
}

static nn_status lower_scalar(nn_onnx *b, const nn_onnx_call *c)
{
    float s = (float)c->attr[1], t = (float)c->attr[2];
    switch ((int)c->attr[0]) {
    case NN_SCALAR_ADD: return with_scalar(b, "Add", c, s);
    case NN_SCALAR_POW: return with_scalar(b, "Pow", c, s);
    case NN_SCALAR_CLAMP: {
        const nn_shape scalar = {0, {0}};
        const char *lo = nn_onnx_const(b, &scalar, &s), *hi = nn_onnx_const(b, &scalar, &t);
        if (!lo || !hi) return NN_NO_MEMORY;
        const char *in[] = {c->in[0], lo, hi};
        return nn_onnx_node(b, "Clip", 3, in, 1, c->out);
    }
    default: return nn_onnx_refuse(b, "unknown scalar op");
    }
}

/* ReduceSum takes its axes as an input from opset 13, ReduceMean and
 * ReduceMax from opset 18 (an attribute before). */
static nn_status reduce(nn_onnx *b, const nn_onnx_call *c, const char *type, int axis, bool all)
{
    int64_t ax = axis;
    bool keep = !all && c->out_shape[0]->ndim == c->in_shape[0]->ndim;
    nn_status st;
    if ((!strcmp(type, "ReduceSum") || c->opset >= 18) && !all) {
        const char *axes = nn_onnx_const_ints(b, 1, &ax);
        if (!axes) return NN_NO_MEMORY;
        const char *in[] = {c->in[0], axes};
        st = nn_onnx_node(b, type, 2, in, 1, c->out);
    } else {
        st = node1(b, type, c, 1);
        if (!st && !all) st = nn_onnx_attr_ints(b, "axes", 1, &ax);
    }
    return st ? st : nn_onnx_attr_int(b, "keepdims", keep);
}

static nn_status lower_reduce(nn_onnx *b, const nn_onnx_call *c)
{
    return reduce(b, c, c->attr[0] ? "ReduceMean" : "ReduceSum", 0, true);
}

static nn_status lower_reduce_dim(nn_onnx *b, const nn_onnx_call *c)
{
    int dim = (int)c->attr[2];
    if ((int)c->attr[0] == NN_REDUCE_MAX) return reduce(b, c, "ReduceMax", dim, false);
    return reduce(b, c, c->attr[1] ? "ReduceMean" : "ReduceSum", dim, false);
}

/* cond != 0 ? a : b: Where wants a bool condition. */
static nn_status lower_where(nn_onnx *b, const nn_onnx_call *c)
{
    const nn_shape scalar = {0, {0}};
    const float zero = 0.0f;
    const char *z = nn_onnx_const(b, &scalar, &zero), *eq = nn_onnx_temp(b);
    if (!z || !eq) return NN_NO_MEMORY;
    const char *in[] = {c->in[0], z};
    nn_status st = nn_onnx_node(b, "Equal", 2, in, 1, &eq);
    const char *sel[] = {eq, c->in[2], c->in[1]}; /* equal to 0: b */
    return st ? st : nn_onnx_node(b, "Where", 3, sel, 1, c->out);
}

/* Flatten for (batch, ...) to (batch, rest), as nn's flatten module does;
 * else Reshape to the traced shape, its batch dimension kept as 0 ("as the
 * input's") where the input carries the batch and keeps it first. */
static nn_status lower_view(nn_onnx *b, const nn_onnx_call *c)
{
    const nn_shape *is = c->in_shape[0], *os = c->out_shape[0];
    if (c->in_batched[0] && is->ndim > 2 && os->ndim == 2 && os->dim[0] == is->dim[0]) {
        nn_status st = node1(b, "Flatten", c, 1); /* (batch, everything else) */
        return st ? st : nn_onnx_attr_int(b, "axis", 1);
    }
    int64_t dims[NN_MAX_DIMS];
    for (int k = 0; k < os->ndim; k++) dims[k] = os->dim[k];
    if (c->in_batched[0] && os->ndim && is->ndim && os->dim[0] == is->dim[0]) dims[0] = 0;
    const char *shape = nn_onnx_const_ints(b, os->ndim, dims);
    if (!shape) return NN_NO_MEMORY;
    const char *in[] = {c->in[0], shape};
    return nn_onnx_node(b, "Reshape", 2, in, 1, c->out);
}

/* Indices as float32, as nn_argmax gives them. */
static nn_status lower_argmax(nn_onnx *b, const nn_onnx_call *c)
{
    const char *idx = nn_onnx_temp(b);
    if (!idx) return NN_NO_MEMORY;
    nn_status st = nn_onnx_node(b, "ArgMax", 1, c->in, 1, &idx);
    if (!st) st = nn_onnx_attr_int(b, "axis", (int64_t)c->attr[0]);
    if (!st) st = nn_onnx_attr_int(b, "keepdims", c->out_shape[0]->ndim == c->in_shape[0]->ndim);
    if (!st) st = nn_onnx_node(b, "Cast", 1, &idx, 1, c->out);
    return st ? st : nn_onnx_attr_int(b, "to", 1 /* FLOAT */);
}

const nn_core_lowering nn_core_lowerings[NN_CORE_COUNT_] = {
    [NN_CORE_ADDMM] = {"addmm", lower_addmm},
    [NN_CORE_T] = {"t", lower_t},
    [NN_CORE_COPY] = {"contiguous", lower_copy},
    [NN_CORE_BINARY] = {"binary", lower_binary},
    [NN_CORE_MUL_SCALAR] = {"mul_scalar", lower_mul_scalar},
    [NN_CORE_UNARY] = {"unary", lower_unary},
    [NN_CORE_SCALAR] = {"scalar", lower_scalar},
    [NN_CORE_REDUCE] = {"sum", lower_reduce},
    [NN_CORE_REDUCE_DIM] = {"sum_dim", lower_reduce_dim},
    [NN_CORE_WHERE] = {"where", lower_where},
    [NN_CORE_VIEW] = {"view", lower_view},
    [NN_CORE_ARGMAX] = {"argmax", lower_argmax},
};
