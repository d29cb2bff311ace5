/* autograd.c - the define-by-run tape and backward.
 *
 * Every differentiable op pushes a node on the context's tape (newest
 * first). backward() walks the tape from the loss's node towards older nodes
 * and runs each node whose output received a gradient; no sorting is needed
 * because the tape order is already a topological order. Nodes and non-leaf
 * gradients live in the scratch arenas, so a step allocates nothing once the
 * arenas have grown to its size. */
#include "nn-impl.h"

nn_node *nn_node_record(nn_ctx *ctx, const char *name, nn_backward_fn fn, nn_tensor *out,
                        nn_tensor *a, nn_tensor *b, nn_tensor *c)
{
    if (!ctx->grad_enabled) return NULL;
    bool need = (a && (a->flags & NN_T_REQUIRES_GRAD)) || (b && (b->flags & NN_T_REQUIRES_GRAD)) ||
                (c && (c->flags & NN_T_REQUIRES_GRAD));
    if (!need) return NULL;
    nn_node *n = nn_arena_alloc(ctx, &ctx->meta, sizeof *n);
    if (!n) return nn_ctx_fail(ctx, NN_NO_MEMORY, "out of memory for the autograd tape");
    n->name = name;
    n->backward = fn;
    n->out = out;
    n->in[0] = a;
    n->in[1] = b;
    n->in[2] = c;
    n->nin = c ? 3 : b ? 2 : 1;
    n->scalar = 0.0f;
    n->op = NULL;
    n->nout = 1;
    n->outs = &n->out;
    n->attr = NULL;
    n->scalar2 = 0.0f;
    n->iarg = 0;
    n->saved = NULL;
    n->grad_alias = false;
    n->next_in_tape = ctx->tape;
    ctx->tape = n;
    out->flags |= NN_T_REQUIRES_GRAD;
    out->grad_fn = n;
    return n;
}

/* The gradient of a view whose node says grad_alias: its leaf's gradient
 * buffer, seen through the view's strides. acc follows the leaf's, which may
 * already hold a value (the leaf used elsewhere, or accumulated steps). */
static float *alias_grad_dst(nn_tensor *t, int *acc)
{
    nn_tensor *base = t->grad_fn->in[0];
    if (!t->grad || !(t->flags & NN_T_GRAD_VALID)) {
        float *d = nn_grad_dst(base, acc);
        if (!d) return NULL;
        if (!t->grad) {
            nn_ctx *ctx = t->ctx;
            nn_tensor *g = nn_arena_alloc(ctx, &ctx->meta, sizeof *g);
            if (!g) return nn_ctx_fail(ctx, NN_NO_MEMORY, "out of memory for the autograd tape");
            *g = *t;
            g->flags = NN_T_VIEW;
            g->grad = NULL;
            g->grad_fn = NULL;
            g->data = d;
            t->grad = g;
        }
        t->flags |= NN_T_GRAD_VALID;
        return d;
    }
    *acc = 1;
    return t->grad->data;
}

float *nn_grad_dst(nn_tensor *t, int *acc)
{
    if (!t || !(t->flags & NN_T_REQUIRES_GRAD)) return NULL;
    if (t->grad_fn && t->grad_fn->grad_alias) return alias_grad_dst(t, acc);
    nn_ctx *ctx = t->ctx;
    if (!t->grad) {
        if ((t->flags & NN_T_PERSISTENT) && !t->grad_fn) {
            t->grad = nn_tensor_new(ctx, &t->shape, 0);
        } else {
            /* A gradient buffer has its tensor's strides, so the gradient of a
             * transposed view lands in the layout of the tensor it views. */
            t->grad = nn_tensor_scratch_like(ctx, &t->shape);
            if (t->grad) memcpy(t->grad->stride, t->stride, sizeof t->stride);
        }
        if (!t->grad) return NULL;
    }
    *acc = (t->flags & NN_T_GRAD_VALID) ? 1 : 0;
    t->flags |= NN_T_GRAD_VALID;
    return t->grad->data;
}

/* Did any output of n receive a gradient? */
static bool node_has_grad(const nn_node *n)
{
    if (n->out->flags & NN_T_GRAD_VALID) return true;
    for (int k = 1; k < n->nout; k++)
        if (n->outs[k]->flags & NN_T_GRAD_VALID) return true;
    return false;
}

nn_status nn_backward(nn_tensor *loss)
{
    if (!loss) return NN_INVALID;
    nn_ctx *ctx = loss->ctx;
    if (ctx->err) return ctx->err;
    if (loss->numel != 1)
        return nn_ctx_fail(ctx, NN_SHAPE, "backward needs a one-element tensor, got %lld elements",
                           (long long)loss->numel),
               NN_SHAPE;
    if (!(loss->flags & NN_T_REQUIRES_GRAD))
        return nn_ctx_fail(ctx, NN_INVALID,
                           "backward on a tensor that does not require grad and has no grad_fn"),
               NN_INVALID;
    nn_node *start = loss->grad_fn;
    if (start && !start->backward)
        return nn_ctx_fail(ctx, NN_INVALID,
                           "backward through the graph a second time; its buffers are freed"),
               NN_INVALID;
    int acc;
    float *d = nn_grad_dst(loss, &acc);
    if (!d) return ctx->err ? ctx->err : NN_NO_MEMORY;
    const nn_device_vt *vt = ctx->dev.vt;
    if (acc) {
        float one = 1.0f;
        float *tmp = nn_arena_alloc(ctx, &ctx->scratch, sizeof(float));
        if (!tmp) return NN_NO_MEMORY;
        vt->to_device(ctx->dev.h, tmp, &one, sizeof one);
        vt->axpby(ctx->dev.h, 1, 1.0f, tmp, 1.0f, d);
    } else {
        vt->fill(ctx->dev.h, 1, 1.0f, d);
    }
    for (nn_node *n = start; n && !ctx->err; n = n->next_in_tape) {
        if (!node_has_grad(n)) continue;
        if (!n->backward) {
            nn_ctx_fail(ctx, NN_INVALID,
                        "backward through the graph a second time; its buffers are freed");
            break;
        }
        n->backward(n);
        if (ctx->detect_anomaly && !ctx->err) nn_anomaly_check(ctx, n);
        n->backward = NULL; /* consumed, as retain_graph=False */
        for (int k = 0; k < n->nout; k++) /* a later pass starts afresh */
            n->outs[k]->flags &= ~(uint32_t)NN_T_GRAD_VALID;
    }
    return ctx->err;
}
