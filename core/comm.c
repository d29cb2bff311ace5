/* comm.c - communicators: the core side of data-parallel training.
 *
 * libnn links no transport. A communicator plugin (nn_comm_vt) moves the
 * bytes; this file keeps its handle, checks what it is given, and builds the
 * two collectives that training needs on top of it: the broadcast of a
 * model's state and the one allreduce per step of all its gradients,
 * flattened into one buffer: on the device when the communicator takes its
 * memory, else in host memory. */
#include "nn-impl.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct nn_comm {
    const nn_comm_vt *vt;
    const nn_component *comp;
    void *h; /* the plugin's handle */
    int rank, size;
    float *buf; /* the flat gradient buffer, kept from step to step */
    int64_t cap;
};

int nn_comm_launched(nn_registry *reg, const char *name)
{
    const nn_component *comp;
    if (!reg || !name || nn_registry_find(reg, NN_KIND_COMM, name, &comp, NULL)) return 0;
    const nn_comm_vt *vt = comp->def->vt;
    return NN_VT_HAS(vt, nn_comm_vt, probe) && vt->probe() == 1;
}

nn_status nn_comm_open(nn_registry *reg, const char *name, const char *words, nn_comm **out,
                       char **err)
{
    *out = NULL;
    const nn_component *comp;
    nn_props *p = NULL;
    nn_status st = nn_component_open(reg, NN_KIND_COMM, name, words, &comp, &p, err);
    if (st) return st;
    nn_comm *c = calloc(1, sizeof *c);
    if (!c) {
        nn_props_free(p);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    c->vt = comp->def->vt;
    c->comp = comp;
    st = c->vt->open(p, &c->h, err);
    nn_props_free(p);
    if (st) {
        free(c);
        return st;
    }
    c->rank = c->vt->rank(c->h);
    c->size = c->vt->size(c->h);
    if (c->size < 1 || c->rank < 0 || c->rank >= c->size) {
        nn_fail(err, NN_INTERNAL, "communicator '%s' says rank %d of %d", name, c->rank, c->size);
        if (c->vt->close) c->vt->close(c->h);
        free(c);
        return NN_INTERNAL;
    }
    *out = c;
    return NN_OK;
}

void nn_comm_free(nn_comm *c)
{
    if (!c) return;
    if (NN_VT_HAS(c->vt, nn_comm_vt, close)) c->vt->close(c->h);
    free(c->buf);
    free(c);
}

int nn_comm_rank(const nn_comm *c) { return c ? c->rank : 0; }
int nn_comm_size(const nn_comm *c) { return c ? c->size : 1; }
const char *nn_comm_name(const nn_comm *c) { return c ? c->comp->def->name : "none"; }

/* The plugin's message, or a plain one when it gave none. */
static nn_status failed(const nn_comm *c, nn_status st, const char *what, char **err)
{
    if (err && !*err) nn_fail(err, st, "%s %s failed", nn_comm_name(c), what);
    return st;
}

nn_status nn_comm_broadcast(nn_comm *c, void *buf, size_t bytes, int root, char **err)
{
    if (root < 0 || root >= c->size)
        return nn_fail(err, NN_INVALID, "broadcast from rank %d of %d", root, c->size);
    if (!bytes) return NN_OK;
    nn_status st = c->vt->broadcast(c->h, buf, bytes, root, err);
    return st ? failed(c, st, "broadcast", err) : NN_OK;
}

nn_status nn_comm_allreduce_sum(nn_comm *c, float *buf, int64_t n, char **err)
{
    if (n < 0) return nn_fail(err, NN_INVALID, "allreduce of %lld elements", (long long)n);
    if (!n) return NN_OK;
    nn_status st = c->vt->allreduce_sum(c->h, buf, n, 0, err);
    return st ? failed(c, st, "allreduce", err) : NN_OK;
}

nn_status nn_comm_barrier(nn_comm *c, char **err)
{
    nn_status st = c->vt->barrier(c->h, err);
    return st ? failed(c, st, "barrier", err) : NN_OK;
}

void nn_comm_abort(nn_comm *c, int code, const char *msg)
{
    if (!code) code = 1; /* an abort is never a success */
    c->vt->abort(c->h, code, msg ? msg : "aborted");
    /* A plugin's abort does not return; if one did, this rank still stops,
     * and its launcher stops the others when it sees it gone. */
    fprintf(stderr, "rank %d of %d: %s\n", c->rank, c->size, msg ? msg : "aborted");
    _exit(code);
}

void nn_comm_slice(const nn_comm *c, int64_t n, int64_t *lo, int64_t *count)
{
    int64_t size = c ? c->size : 1, r = c ? c->rank : 0;
    int64_t q = n / size, extra = n % size;
    *lo = r * q + (r < extra ? r : extra);
    *count = q + (r < extra);
}

/* The flat buffer of n floats, grown as needed. */
static float *flat(nn_comm *c, int64_t n)
{
    if (n <= c->cap) return c->buf;
    float *b = realloc(c->buf, (size_t)n * sizeof *b);
    if (!b) return NULL;
    c->buf = b;
    c->cap = n;
    return b;
}

nn_status nn_comm_broadcast_module(nn_comm *c, nn_module *m, int root, char **err)
{
    int n = nn_module_state_count(m);
    if (n < 0) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += nn_tensor_numel(nn_module_state(m, i, NULL, NULL));
    /* Every rank checks that the sizes agree before the state itself moves:
     * a broadcast of different sizes would not fail cleanly. */
    int64_t root_total = total;
    nn_status st = nn_comm_broadcast(c, &root_total, sizeof root_total, root, err);
    if (st) return st;
    if (root_total != total)
        return nn_fail(err, NN_SHAPE, "rank %d's model holds %lld numbers, rank %d's %lld",
                       c->rank, (long long)total, root, (long long)root_total);
    float *b = flat(c, total);
    if (!b) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    int64_t at = 0;
    for (int i = 0; i < n && !st; i++) {
        nn_tensor *t = nn_module_state(m, i, NULL, NULL);
        st = nn_tensor_to_host(t, b + at, nn_tensor_numel(t));
        at += nn_tensor_numel(t);
    }
    if (st) return nn_fail(err, st, "reading the model: %s", nn_strerror(st));
    if ((st = nn_comm_broadcast(c, b, (size_t)total * sizeof *b, root, err))) return st;
    at = 0;
    for (int i = 0; i < n && !st; i++) {
        nn_tensor *t = nn_module_state(m, i, NULL, NULL);
        st = nn_tensor_from_host(t, b + at, nn_tensor_numel(t));
        at += nn_tensor_numel(t);
    }
    return st ? nn_fail(err, st, "writing the model: %s", nn_strerror(st)) : NN_OK;
}

/* The gradients with a gradient, in order, and their element count. */
static int64_t grad_total(nn_module *m, int n)
{
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        nn_tensor *g = nn_tensor_grad(nn_module_param(m, i, NULL));
        if (g) total += nn_tensor_numel(g);
    }
    return total;
}

/* Does the communicator take the memory of m's device itself? Not for a
 * device whose memory is host memory: there the host path is the same. */
static bool takes_device_memory(const nn_comm *c, const nn_ctx *ctx)
{
    return NN_VT_IN(c->vt, nn_comm_vt, device) && (c->vt->flags & NN_COMM_DEVICE_MEMORY) &&
           !ctx->dev.host_memory && !strcmp(c->vt->device, ctx->dev.comp->def->name);
}

/* The device path: the gradients flattened into one scratch tensor on the
 * device (valid until the step's scratch reset), scaled and summed there. */
static nn_status grads_on_device(nn_comm *c, nn_module *m, int n, int64_t total, float weight,
                                 char **err)
{
    nn_ctx *ctx = m->ctx;
    nn_shape s = {1, {total}};
    nn_tensor *flat = nn_tensor_scratch(ctx, &s);
    if (!flat) {
        const char *msg;
        nn_status st = nn_ctx_error(ctx, &msg);
        return nn_fail(err, st ? st : NN_NO_MEMORY, "the gradient buffer: %s",
                       st ? msg : "out of memory");
    }
    int64_t at = 0;
    for (int i = 0; i < n; i++) { /* a leaf's gradient is contiguous: it is made so */
        nn_tensor *g = nn_tensor_grad(nn_module_param(m, i, NULL));
        if (!g) continue;
        if (!nn_t_contig(g)) return nn_fail(err, NN_INTERNAL, "a gradient is not contiguous");
        ctx->dev.vt->copy(ctx->dev.h, flat->data + at, g->data, (size_t)g->numel * sizeof(float));
        at += g->numel;
    }
    if (weight != 1.0f) nn_tensor_scale_(flat, weight);
    if (ctx->dev.vt->sync) ctx->dev.vt->sync(ctx->dev.h); /* the buffer is complete */
    nn_status st = c->vt->allreduce_sum(c->h, flat->data, total, 1, err);
    if (st) return failed(c, st, "allreduce", err);
    at = 0;
    for (int i = 0; i < n; i++) {
        nn_tensor *g = nn_tensor_grad(nn_module_param(m, i, NULL));
        if (!g) continue;
        ctx->dev.vt->copy(ctx->dev.h, g->data, flat->data + at, (size_t)g->numel * sizeof(float));
        at += g->numel;
    }
    return NN_OK;
}

/* One allreduce for the whole model: a call per tensor would pay the
 * latency of a collective a few dozen times a step. On a device the
 * communicator takes (NN_COMM_DEVICE_MEMORY), the buffer stays there;
 * otherwise it goes through host memory. */
nn_status nn_comm_allreduce_grads(nn_comm *c, nn_module *m, float weight, char **err)
{
    int n = nn_module_param_count(m);
    if (n < 0) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    int64_t total = grad_total(m, n);
    if (total && total <= NN_MAX_NUMEL && takes_device_memory(c, m->ctx))
        return grads_on_device(c, m, n, total, weight, err);
    float *b = flat(c, total);
    if (!b && total) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_status st = NN_OK;
    int64_t at = 0;
    for (int i = 0; i < n && !st; i++) {
        nn_tensor *g = nn_tensor_grad(nn_module_param(m, i, NULL));
        if (!g) continue;
        st = nn_tensor_to_host(g, b + at, nn_tensor_numel(g));
        at += nn_tensor_numel(g);
    }
    if (st) return nn_fail(err, st, "reading the gradients: %s", nn_strerror(st));
    if (weight != 1.0f)
        for (int64_t k = 0; k < total; k++) b[k] *= weight;
    if ((st = nn_comm_allreduce_sum(c, b, total, err))) return st;
    at = 0;
    for (int i = 0; i < n && !st; i++) {
        nn_tensor *g = nn_tensor_grad(nn_module_param(m, i, NULL));
        if (!g) continue;
        st = nn_tensor_from_host(g, b + at, nn_tensor_numel(g));
        at += nn_tensor_numel(g);
    }
    return st ? nn_fail(err, st, "writing the gradients: %s", nn_strerror(st)) : NN_OK;
}
