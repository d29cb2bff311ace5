/* op.c - ops that plugins define (nn/plugin.h): a handle resolved once per
 * context and name, the call (inputs made contiguous, output shapes, the
 * device's kernel, the autograd node) and the backward.
 *
 * The core knows no op by name: it finds the op's definition and the kernel
 * for the context's device among the registry's components, and keeps the
 * pair in a handle, so that a call does no look-up. */
#include "nn-impl.h"

struct nn_op {
    nn_ctx *ctx;
    const nn_component *comp; /* the op's */
    const nn_op_def *def;
    const nn_kernel_def *kern; /* for ctx's device */
    double defaults[NN_OP_MAX_ATTR]; /* the attributes of a call that gives none */
};

static const char *op_name(const nn_op *op) { return op->comp->def->name; }

/* ---- resolution ---------------------------------------------------------- */

/* "cpu (cpu.so), cuda (softplus_cuda.so)" or "(none)"; caller frees. */
static char *kernel_devices(const nn_registry *reg, const char *op)
{
    nn_buf b = {0};
    for (int i = 0, n = nn_registry_count(reg); i < n; i++) {
        const nn_component *c = nn_registry_at(reg, i);
        if (c->kind != NN_KIND_KERNEL || strcmp(c->def->name, op)) continue;
        const nn_kernel_def *k = c->def->vt;
        nn_buf_addf(&b, "%s%s", b.len ? ", " : "", k->device);
    }
    if (!b.len) nn_buf_addf(&b, "(none)");
    return nn_buf_take(&b);
}

nn_status nn_op_find(nn_ctx *ctx, const char *name, nn_op **out, char **err)
{
    *out = NULL;
    for (int i = 0; i < ctx->nops; i++)
        if (!strcmp(op_name(ctx->ops[i]), name)) {
            *out = ctx->ops[i];
            return NN_OK;
        }
    const nn_component *comp;
    nn_status st = nn_registry_find(ctx->reg, NN_KIND_OP, name, &comp, err);
    if (st) return st;
    const nn_op_def *def = comp->def->vt;
    const char *dev = nn_ctx_device_name(ctx);
    const nn_component *kc = nn_registry_find_kernel(ctx->reg, name, dev);
    const nn_kernel_def *k = kc ? kc->def->vt : NULL;
    if (!k) {
        char *have = kernel_devices(ctx->reg, name);
        nn_fail(err, NN_UNSUPPORTED,
                "op '%s' (plugin '%s') has no kernel for device '%s'; devices with a kernel: %s",
                name, nn_component_plugin(comp), dev, have ? have : "?");
        free(have);
        return NN_UNSUPPORTED;
    }
    if (def->node_name && !NN_VT_HAS(k, nn_kernel_def, backward) &&
        !NN_VT_HAS(def, nn_op_def, backward))
        return nn_fail(err, NN_UNSUPPORTED,
                       "op '%s' has a gradient, but its kernel for device '%s' has no backward "
                       "and the op composes none",
                       name, dev);
    nn_op *op = malloc(sizeof *op);
    nn_op **ops = realloc(ctx->ops, sizeof *ops * (size_t)(ctx->nops + 1));
    if (ops) ctx->ops = ops;
    if (!op || !ops) {
        free(op);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    *op = (nn_op){ctx, comp, def, k, {0}};
    for (int i = 0; i < def->nattr; i++) op->defaults[i] = def->attr[i].def;
    ctx->ops[ctx->nops++] = op;
    *out = op;
    return NN_OK;
}

void nn_ops_release(nn_ctx *ctx)
{
    for (int i = 0; i < ctx->nops; i++) free(ctx->ops[i]);
    free(ctx->ops);
    ctx->ops = NULL;
    ctx->nops = 0;
}

const char *nn_op_name(const nn_op *op) { return op_name(op); }
const char *nn_op_node_name(const nn_op *op) { return op->def->node_name; }
const nn_component *nn_op_component(const nn_op *op) { return op->comp; }

void *nn_kernel_scratch(const nn_kernel_call *c, size_t nbytes)
{
    return nn_arena_alloc(c->ctx, &c->ctx->scratch, nbytes);
}

void nn_kernel_gemm(const nn_kernel_call *c, int ta, int tb, int64_t m, int64_t n, int64_t k,
                    float alpha, const float *a, const float *b, float beta, float *out)
{
    nn_ctx *ctx = c->ctx;
    ctx->dev.vt->gemm(ctx->dev.h, ta, tb, m, n, k, alpha, a, b, beta, out);
}

void nn_dev_parallel(nn_ctx *ctx, nn_parallel_fn fn, void *arg, int max_parts)
{
    if (max_parts > 1 && NN_VT_HAS(ctx->dev.vt, nn_device_vt, parallel))
        ctx->dev.vt->parallel(ctx->dev.h, fn, arg, max_parts);
    else
        fn(arg, 0, 1);
}

int nn_dev_post(nn_ctx *ctx, nn_parallel_fn fn, void *arg, int parts)
{
    const nn_device_vt *vt = ctx->dev.vt;
    if (!NN_VT_HAS(vt, nn_device_vt, post) || !NN_VT_HAS(vt, nn_device_vt, wait)) return 0;
    int ticket = vt->post(ctx->dev.h, fn, arg, parts);
    return ticket > 0 ? ticket : 0;
}

void nn_dev_wait(nn_ctx *ctx, int ticket)
{
    if (ticket > 0) ctx->dev.vt->wait(ctx->dev.h, ticket);
}

void nn_kernel_parallel(const nn_kernel_call *c, nn_parallel_fn fn, void *arg, int max_parts)
{
    nn_dev_parallel(c->ctx, fn, arg, max_parts);
}

/* ---- the call -------------------------------------------------------------- */

static nn_kernel_tensor kt(const nn_tensor *t)
{
    return t ? (nn_kernel_tensor){t->data, &t->shape, t->numel} : (nn_kernel_tensor){NULL, NULL, 0};
}

/* Records a kernel's failure, keeping the reason it recorded itself. */
static void kernel_failed(nn_ctx *ctx, const nn_op *op, const char *pass, nn_status st)
{
    nn_ctx_fail(ctx, st ? st : NN_INTERNAL, "op '%s': %s kernel on device '%s' failed: %s",
                op_name(op), pass, nn_ctx_device_name(ctx), nn_strerror(st));
}

/* Without a shape function: every given input has input 0's shape, and so
 * has every output. */
static nn_status default_shapes(const nn_op *op, nn_tensor *const *x, nn_shape *os)
{
    const nn_op_def *d = op->def;
    nn_tensor *first = NULL;
    for (int i = 0; i < d->nin; i++) {
        if (!x[i]) continue;
        if (!first) {
            first = x[i];
            continue;
        }
        if (!nn_shape_equal(&x[i]->shape, &first->shape)) {
            char s1[64], s2[64];
            nn_shape_format(&x[i]->shape, 0, s1, sizeof s1);
            nn_shape_format(&first->shape, 0, s2, sizeof s2);
            nn_ctx_fail(op->ctx, NN_SHAPE, "%s: input '%s' has shape %s, input '%s' has %s",
                        op_name(op), d->in[i].name, s1, d->in[0].name, s2);
            return NN_SHAPE;
        }
    }
    for (int k = 0; k < d->nout; k++) os[k] = first ? first->shape : (nn_shape){0, {0}};
    return NN_OK;
}

/* Checks and prepares the inputs into x, and as the kernel sees them into
 * k; sets *grad when one of the differentiable ones requires grad. */
static nn_status take_inputs(nn_op *op, nn_tensor *const *in, nn_tensor **x,
                             nn_kernel_tensor *k, bool *grad)
{
    nn_ctx *ctx = op->ctx;
    const nn_op_def *d = op->def;
    bool recording = ctx->grad_enabled && d->node_name;
    *grad = false;
    for (int i = 0; i < d->nin; i++) {
        const nn_op_arg *a = &d->in[i];
        nn_tensor *t = in ? in[i] : NULL;
        if (!t) {
            x[i] = NULL;
            k[i] = (nn_kernel_tensor){NULL, NULL, 0};
            if (a->flags & NN_ARG_OPTIONAL) continue;
            if (!ctx->err) nn_ctx_fail(ctx, NN_INVALID, "%s: no tensor for input '%s'",
                                       op_name(op), a->name);
            return NN_INVALID;
        }
        if (t->ctx != ctx) {
            nn_ctx_fail(ctx, NN_INVALID, "%s: input '%s' belongs to another context", op_name(op),
                        a->name);
            return NN_INVALID;
        }
        if (a->flags & NN_ARG_WRITTEN) {
            if (!nn_t_contig(t)) {
                nn_ctx_fail(ctx, NN_UNSUPPORTED, "%s: input '%s' is updated in place and must be contiguous",
                            op_name(op), a->name);
                return NN_UNSUPPORTED;
            }
        } else if (!nn_t_contig(t) && !(t = nn_contiguous(t))) {
            return ctx->err;
        }
        if (t->flags & NN_T_REQUIRES_GRAD) {
            if (recording && (a->flags & NN_ARG_NO_GRAD)) {
                nn_ctx_fail(ctx, NN_UNSUPPORTED, "%s: the gradient for '%s' is not implemented",
                            op_name(op), a->name);
                return NN_UNSUPPORTED;
            }
            if (!(a->flags & NN_ARG_NO_GRAD)) *grad = true;
        }
        x[i] = t;
        k[i] = kt(t);
    }
    return NN_OK;
}

static void op_backward(nn_node *nd);

/* A field added at the end of nn_node must be set in record too. */
_Static_assert(sizeof(nn_node) == offsetof(nn_node, attr) + sizeof(double *),
               "record sets every field of nn_node");

/* Puts the call on the tape; its outputs then require grad. */
static void record(nn_op *op, nn_tensor *const *x, nn_tensor *const *y, const double *attr)
{
    nn_ctx *ctx = op->ctx;
    const nn_op_def *d = op->def;
    nn_node *n = nn_arena_alloc(ctx, &ctx->meta, sizeof *n);
    double *a = d->nattr ? nn_arena_alloc(ctx, &ctx->meta, sizeof *a * (size_t)d->nattr) : NULL;
    nn_tensor **outs = d->nout > 1 ? nn_arena_alloc(ctx, &ctx->meta, sizeof *outs * (size_t)d->nout)
                                   : NULL;
    if (!n || (d->nattr && !a) || (d->nout > 1 && !outs)) {
        nn_ctx_fail(ctx, NN_NO_MEMORY, "out of memory for the autograd tape");
        return;
    }
    /* Field by field, not a memset of the node (rep stos, slow to start). */
    memset(n->in, 0, sizeof n->in);
    n->scalar = n->scalar2 = 0.0f;
    n->iarg = 0;
    n->saved = NULL;
    n->grad_alias = false;
    n->name = d->node_name;
    n->backward = op_backward;
    n->op = op;
    n->out = y[0];
    n->nin = d->nin;
    memcpy(n->in, x, sizeof *x * (size_t)d->nin);
    n->nout = d->nout;
    if (outs) memcpy(outs, y, sizeof *y * (size_t)d->nout);
    n->outs = outs ? outs : &n->out;
    if (a) memcpy(a, attr, sizeof *a * (size_t)d->nattr);
    n->attr = a;
    n->next_in_tape = ctx->tape;
    ctx->tape = n;
    for (int k = 0; k < d->nout; k++) {
        y[k]->flags |= NN_T_REQUIRES_GRAD;
        y[k]->grad_fn = n;
    }
}

nn_tensor *nn_op_call(nn_op *op, nn_tensor *const *in, const double *attr, nn_tensor **out)
{
    nn_ctx *ctx = op->ctx;
    const nn_op_def *d = op->def;
    if (out)
        for (int k = 0; k < d->nout; k++) out[k] = NULL;
    if (ctx->err) return NULL;
    nn_tensor *x[NN_OP_MAX_IN], *y[NN_OP_MAX_OUT];
    bool grad;
    nn_kernel_tensor kin[NN_OP_MAX_IN], kout[NN_OP_MAX_OUT];
    if (take_inputs(op, in, x, kin, &grad)) return NULL;

    if (!attr) attr = op->defaults;
    nn_shape os[NN_OP_MAX_OUT];
    if (NN_VT_HAS(d, nn_op_def, shape)) {
        const nn_shape *is[NN_OP_MAX_IN];
        for (int i = 0; i < d->nin; i++) is[i] = x[i] ? &x[i]->shape : NULL;
        char *why = NULL;
        nn_status st = d->shape(is, attr, os, &why);
        if (st) {
            nn_ctx_fail(ctx, st, "%s: %s", op_name(op), why ? why : nn_strerror(st));
            free(why);
            return NULL;
        }
    } else if (default_shapes(op, x, os)) {
        return NULL;
    }

    for (int k = 0; k < d->nout; k++) {
        if (!(y[k] = nn_tensor_scratch_like(ctx, &os[k]))) return NULL;
        kout[k] = kt(y[k]);
    }
    nn_kernel_call c = {ctx, ctx->dev.h, attr, kin, kout, NULL, NULL, NULL};
    nn_status st = op->kern->forward(&c);
    if (st) {
        kernel_failed(ctx, op, "forward", st);
        return NULL;
    }
    if (grad && d->node_name && ctx->grad_enabled) record(op, x, y, attr);
    if (NN_UNLIKELY(ctx->trace)) nn_trace_op(ctx, op, x, y, attr); /* nnrun export */
    if (out)
        for (int k = 0; k < d->nout; k++) out[k] = y[k];
    return d->nout ? y[0] : NULL;
}

/* ---- backward ---------------------------------------------------------- */

/* The gradient of each output, zeros for one that received none. */
static bool output_grads(nn_node *nd, nn_tensor **g)
{
    nn_ctx *ctx = nd->out->ctx;
    for (int k = 0; k < nd->nout; k++) {
        nn_tensor *t = nd->outs[k];
        if ((t->flags & NN_T_GRAD_VALID) && t->grad) {
            g[k] = t->grad;
            continue;
        }
        if (!(g[k] = nn_tensor_scratch_like(ctx, &t->shape))) return false;
        ctx->dev.vt->fill(ctx->dev.h, g[k]->numel, 0.0f, g[k]->data);
    }
    return true;
}

static bool wants_grad(const nn_node *nd, int i)
{
    const nn_tensor *t = nd->in[i];
    return t && (t->flags & NN_T_REQUIRES_GRAD) && !(nd->op->def->in[i].flags & NN_ARG_NO_GRAD);
}

static void kernel_backward(nn_node *nd, nn_tensor *const *g)
{
    const nn_op *op = nd->op;
    const nn_op_def *d = op->def;
    nn_ctx *ctx = op->ctx;
    nn_kernel_tensor kin[NN_OP_MAX_IN], kout[NN_OP_MAX_OUT], kgout[NN_OP_MAX_OUT],
        kgin[NN_OP_MAX_IN];
    int acc[NN_OP_MAX_IN];
    for (int k = 0; k < d->nout; k++) {
        kout[k] = kt(nd->outs[k]);
        kgout[k] = kt(g[k]);
    }
    for (int i = 0; i < d->nin; i++) {
        kin[i] = kt(nd->in[i]);
        kgin[i] = kin[i];
        kgin[i].data = NULL;
        acc[i] = 0;
        if (wants_grad(nd, i) && !(kgin[i].data = nn_grad_dst(nd->in[i], &acc[i]))) return;
    }
    nn_kernel_call c = {ctx, ctx->dev.h, nd->attr, kin, kout, kgout, kgin, acc};
    nn_status st = op->kern->backward(&c);
    if (st) kernel_failed(ctx, op, "backward", st);
}

static void composed_backward(nn_node *nd, nn_tensor *const *g)
{
    const nn_op *op = nd->op;
    const nn_op_def *d = op->def;
    nn_ctx *ctx = op->ctx;
    nn_tensor *gin[NN_OP_MAX_IN] = {0};
    int was = nn_grad_set_enabled(ctx, 0);
    nn_status st = d->backward(nd->in, nd->outs, g, nd->attr, gin);
    nn_grad_set_enabled(ctx, was);
    if (ctx->err) return;
    if (st) {
        nn_ctx_fail(ctx, st, "%s: composed backward failed: %s", op_name(op), nn_strerror(st));
        return;
    }
    for (int i = 0; i < d->nin; i++) {
        nn_tensor *gi = gin[i];
        if (!gi || !wants_grad(nd, i)) continue;
        if (!nn_shape_equal(&gi->shape, &nd->in[i]->shape) || !(gi = nn_contiguous(gi))) {
            char s1[64], s2[64];
            nn_shape_format(&gin[i]->shape, 0, s1, sizeof s1);
            nn_shape_format(&nd->in[i]->shape, 0, s2, sizeof s2);
            nn_ctx_fail(ctx, NN_SHAPE, "%s: backward gave a gradient of shape %s for '%s' of shape %s",
                        op_name(op), s1, d->in[i].name, s2);
            return;
        }
        int acc;
        float *dst = nn_grad_dst(nd->in[i], &acc);
        if (!dst) return;
        ctx->dev.vt->axpby(ctx->dev.h, gi->numel, 1.0f, gi->data, acc ? 1.0f : 0.0f, dst);
    }
}

static void op_backward(nn_node *nd)
{
    nn_tensor *g[NN_OP_MAX_OUT];
    if (!output_grads(nd, g)) {
        nn_ctx_fail(nd->op->ctx, NN_NO_MEMORY, "out of scratch memory");
        return;
    }
    if (NN_VT_HAS(nd->op->kern, nn_kernel_def, backward))
        kernel_backward(nd, g);
    else
        composed_backward(nd, g);
}
