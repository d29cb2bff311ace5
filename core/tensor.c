/* tensor.c - tensor storage, host copies and in-place updates. */
#include "nn-impl.h"

int64_t nn_strides_contig(const nn_shape *s, int64_t *stride)
{
    int64_t st = 1;
    for (int i = s->ndim - 1; i >= 0; i--) {
        stride[i] = st;
        st *= s->dim[i];
    }
    return st;
}

static bool shape_ok(nn_ctx *ctx, const nn_shape *shape)
{
    if (shape->ndim < 0 || shape->ndim > NN_MAX_DIMS) {
        nn_ctx_fail(ctx, NN_SHAPE, "tensor rank %d outside 0..%d", shape->ndim, NN_MAX_DIMS);
        return false;
    }
    int64_t n = 1;
    for (int i = 0; i < shape->ndim; i++) {
        if (shape->dim[i] < 0 || (shape->dim[i] && n > INT64_MAX / 4 / shape->dim[i])) {
            nn_ctx_fail(ctx, NN_SHAPE, "bad tensor dimension %lld", (long long)shape->dim[i]);
            return false;
        }
        n *= shape->dim[i];
    }
    if (n > NN_MAX_NUMEL) {
        char buf[128];
        nn_shape_format(shape, 0, buf, sizeof buf);
        nn_ctx_fail(ctx, NN_SHAPE, "a tensor of shape %s would hold %lld elements, more than "
                    "nn allows (2^31 - 1)", buf, (long long)n);
        return false;
    }
    return true;
}

static void tensor_setup(nn_tensor *t, nn_ctx *ctx, const nn_shape *shape)
{
    t->ctx = ctx;
    t->shape = *shape;
    t->numel = nn_strides_contig(shape, t->stride); /* one pass for both */
    t->dtype = NN_F32;
}

nn_tensor *nn_tensor_new(nn_ctx *ctx, const nn_shape *shape, int requires_grad)
{
    if (!shape_ok(ctx, shape)) return NULL;
    nn_tensor *t = calloc(1, sizeof *t);
    if (!t) return nn_ctx_fail(ctx, NN_NO_MEMORY, "out of memory for a tensor");
    tensor_setup(t, ctx, shape);
    size_t bytes = (size_t)(t->numel ? t->numel : 1) * sizeof(float);
    t->data = ctx->dev.vt->alloc(ctx->dev.h, bytes);
    if (!t->data) {
        free(t);
        return nn_ctx_fail(ctx, NN_NO_MEMORY, "device '%s' out of memory (%zu bytes)",
                           nn_ctx_device_name(ctx), bytes);
    }
    ctx->dev.vt->fill(ctx->dev.h, t->numel, 0.0f, t->data);
    t->flags = NN_T_PERSISTENT | (requires_grad ? NN_T_REQUIRES_GRAD : 0);
    return t;
}

void nn_tensor_free(nn_tensor *t)
{
    if (!t) return;
    NN_ASSERT(t->flags & NN_T_PERSISTENT);
    nn_ctx *ctx = t->ctx;
    if (t->grad) nn_tensor_free(t->grad);
    if (!(t->flags & NN_T_VIEW)) ctx->dev.vt->free(ctx->dev.h, t->data);
    free(t);
}

nn_tensor *nn_tensor_scratch_like(nn_ctx *ctx, const nn_shape *shape)
{
    nn_tensor *t = nn_arena_alloc(ctx, &ctx->meta, sizeof *t);
    if (!t) return nn_ctx_fail(ctx, NN_NO_MEMORY, "out of host memory for scratch tensors");
    /* Each field written once (several of these a step): tensor_setup sets
     * ctx, shape, numel, dtype and the strides up to ndim; the rest here. */
    t->data = NULL;
    memset(t->stride, 0, sizeof t->stride);
    t->flags = 0;
    t->grad = NULL;
    t->grad_fn = NULL;
    tensor_setup(t, ctx, shape);
    t->data = nn_arena_alloc(ctx, &ctx->scratch, (size_t)t->numel * sizeof(float));
    if (!t->data)
        return nn_ctx_fail(ctx, NN_NO_MEMORY, "device '%s' out of scratch memory",
                           nn_ctx_device_name(ctx));
    return t;
}

nn_tensor *nn_tensor_scratch(nn_ctx *ctx, const nn_shape *shape)
{
    return shape_ok(ctx, shape) ? nn_tensor_scratch_like(ctx, shape) : NULL;
}

nn_ctx *nn_tensor_ctx(const nn_tensor *t) { return t->ctx; }
nn_dtype nn_tensor_dtype(const nn_tensor *t) { return t->dtype; }
const nn_shape *nn_tensor_shape(const nn_tensor *t) { return &t->shape; }
int64_t nn_tensor_numel(const nn_tensor *t) { return t->numel; }
int64_t nn_tensor_dim(const nn_tensor *t, int i)
{
    if (i < 0) i += t->shape.ndim;
    return i >= 0 && i < t->shape.ndim ? t->shape.dim[i] : 1;
}
int nn_tensor_is_contiguous(const nn_tensor *t) { return nn_t_contig(t); }
int nn_tensor_requires_grad(const nn_tensor *t) { return (t->flags & NN_T_REQUIRES_GRAD) != 0; }

void nn_tensor_set_requires_grad(nn_tensor *t, int on)
{
    if (on)
        t->flags |= NN_T_REQUIRES_GRAD;
    else
        t->flags &= ~(uint32_t)NN_T_REQUIRES_GRAD;
}

nn_tensor *nn_tensor_grad(const nn_tensor *t)
{
    return (t->flags & NN_T_GRAD_VALID) ? t->grad : NULL;
}

const char *nn_tensor_grad_fn_name(const nn_tensor *t)
{
    return t->grad_fn ? t->grad_fn->name : NULL;
}

void nn_tensor_zero_grad(nn_tensor *t) { t->flags &= ~(uint32_t)NN_T_GRAD_VALID; }

/* Host copy of a strided tensor: fetch the span it covers, then gather. */
static nn_status strided_to_host(const nn_tensor *t, float *dst)
{
    nn_ctx *ctx = t->ctx;
    int64_t span = 1;
    for (int i = 0; i < t->shape.ndim; i++)
        if (t->shape.dim[i] > 0) span += (t->shape.dim[i] - 1) * t->stride[i];
    float *tmp = malloc((size_t)span * sizeof(float));
    if (!tmp) return NN_NO_MEMORY;
    ctx->dev.vt->to_host(ctx->dev.h, tmp, t->data, (size_t)span * sizeof(float));
    int64_t idx[NN_MAX_DIMS] = {0};
    for (int64_t k = 0; k < t->numel; k++) {
        int64_t off = 0;
        for (int i = 0; i < t->shape.ndim; i++) off += idx[i] * t->stride[i];
        dst[k] = tmp[off];
        for (int i = t->shape.ndim - 1; i >= 0; i--) {
            if (++idx[i] < t->shape.dim[i]) break;
            idx[i] = 0;
        }
    }
    free(tmp);
    return NN_OK;
}

nn_status nn_tensor_to_host(const nn_tensor *t, float *dst, int64_t n)
{
    if (n != t->numel) return NN_SHAPE;
    if (!nn_t_contig(t)) return strided_to_host(t, dst);
    t->ctx->dev.vt->to_host(t->ctx->dev.h, dst, t->data, (size_t)n * sizeof(float));
    return NN_OK;
}

nn_status nn_tensor_from_host(nn_tensor *t, const float *src, int64_t n)
{
    if (n != t->numel) return NN_SHAPE;
    if (!nn_t_contig(t)) return NN_UNSUPPORTED;
    t->ctx->dev.vt->to_device(t->ctx->dev.h, t->data, src, (size_t)n * sizeof(float));
    return NN_OK;
}

nn_status nn_tensor_item(const nn_tensor *t, float *out)
{
    if (t->numel != 1) return NN_SHAPE;
    t->ctx->dev.vt->to_host(t->ctx->dev.h, out, t->data, sizeof(float));
    return NN_OK;
}

nn_status nn_tensor_fill_(nn_tensor *t, float v)
{
    if (!nn_t_contig(t)) return NN_UNSUPPORTED;
    t->ctx->dev.vt->fill(t->ctx->dev.h, t->numel, v, t->data);
    return NN_OK;
}

nn_status nn_tensor_zero_(nn_tensor *t) { return nn_tensor_fill_(t, 0.0f); }

nn_status nn_tensor_add_(nn_tensor *t, const nn_tensor *x, float alpha)
{
    if (t->numel != x->numel) return NN_SHAPE;
    if (!nn_t_contig(t) || !nn_t_contig(x)) return NN_UNSUPPORTED;
    t->ctx->dev.vt->axpby(t->ctx->dev.h, t->numel, alpha, x->data, 1.0f, t->data);
    return NN_OK;
}

nn_status nn_tensor_scale_(nn_tensor *t, float s)
{
    if (!nn_t_contig(t)) return NN_UNSUPPORTED;
    t->ctx->dev.vt->axpby(t->ctx->dev.h, t->numel, 0.0f, t->data, s, t->data);
    return NN_OK;
}

nn_status nn_tensor_copy_(nn_tensor *t, const nn_tensor *src)
{
    if (t->numel != src->numel) return NN_SHAPE;
    if (!nn_t_contig(t) || !nn_t_contig(src)) return NN_UNSUPPORTED;
    t->ctx->dev.vt->copy(t->ctx->dev.h, t->data, src->data, (size_t)t->numel * sizeof(float));
    return NN_OK;
}

nn_status nn_tensor_uniform_(nn_tensor *t, nn_rng *rng, float lo, float hi)
{
    if (!nn_t_contig(t)) return NN_UNSUPPORTED;
    float *h = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (!h) return NN_NO_MEMORY;
    for (int64_t i = 0; i < t->numel; i++) h[i] = lo + (hi - lo) * nn_rng_uniform(rng);
    nn_status st = nn_tensor_from_host(t, h, t->numel);
    free(h);
    return st;
}
