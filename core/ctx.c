/* ctx.c - the context: device, RNG, scratch arenas, sticky op errors. */
#include "nn-impl.h"

#define ARENA_ALIGN NN_ARENA_ALIGN
#define ARENA_MIN_CHUNK ((size_t)1 << 20)

static void *chunk_mem(nn_ctx *ctx, nn_arena *a, size_t size)
{
    if (a->device) return ctx->dev.vt->alloc(ctx->dev.h, size);
    void *p = NULL;
    return posix_memalign(&p, ARENA_ALIGN, size) == 0 ? p : NULL;
}

/* The current chunk has no room (nn_arena_alloc): bytes is rounded already. */
void *nn_arena_alloc_slow(nn_ctx *ctx, nn_arena *a, size_t bytes)
{
    for (;;) {
        nn_chunk *c = a->head;
        if (c && c->size - c->used >= bytes) {
            void *p = c->mem + c->used;
            c->used += bytes;
            return p;
        }
        /* The current chunk is full: take a spare one that fits, or a new one. */
        nn_chunk **sp = &a->spare;
        while (*sp && (*sp)->size < bytes) sp = &(*sp)->next;
        if (*sp) {
            nn_chunk *s = *sp;
            *sp = s->next;
            s->next = a->head;
            a->head = s;
            continue;
        }
        size_t size = c ? c->size * 2 : ARENA_MIN_CHUNK;
        if (size < bytes) size = bytes;
        nn_chunk *n = malloc(sizeof *n);
        if (!n) return NULL;
        n->mem = chunk_mem(ctx, a, size);
        if (!n->mem) {
            free(n);
            return NULL;
        }
        n->size = size;
        n->used = 0;
        n->next = a->head;
        a->head = n;
        a->reserved += size;
    }
}

void nn_arena_reset(nn_arena *a)
{
    /* Keep the chunks; the biggest ends up current so steady state never allocates. */
    while (a->head) {
        nn_chunk *c = a->head;
        a->head = c->next;
        c->used = 0;
        nn_chunk **sp = &a->spare;
        while (*sp && (*sp)->size > c->size) sp = &(*sp)->next;
        c->next = *sp;
        *sp = c;
    }
    /* The biggest is current at once, so the next step's first allocation
     * takes the in-line path too. */
    if (a->spare) {
        a->head = a->spare;
        a->spare = a->head->next;
        a->head->next = NULL;
    }
}

void nn_arena_release(nn_ctx *ctx, nn_arena *a)
{
    nn_arena_reset(a);
    if (a->head) { /* every chunk on the spare list, to be freed with the rest */
        a->head->next = a->spare;
        a->spare = a->head;
        a->head = NULL;
    }
    while (a->spare) {
        nn_chunk *c = a->spare;
        a->spare = c->next;
        if (a->device)
            ctx->dev.vt->free(ctx->dev.h, c->mem);
        else
            free(c->mem);
        free(c);
    }
    a->reserved = 0;
}

void *nn_ctx_fail(nn_ctx *ctx, nn_status code, const char *fmt, ...)
{
    if (ctx->err == NN_OK) {
        ctx->err = code;
        va_list ap;
        va_start(ap, fmt);
        ctx->err_msg = nn_vformat(fmt, ap);
        va_end(ap);
    }
    return NULL;
}

nn_status nn_ctx_set_error(nn_ctx *ctx, nn_status code, const char *fmt, ...)
{
    if (!ctx || code == NN_OK || ctx->err != NN_OK) return code;
    va_list ap;
    va_start(ap, fmt);
    char *msg = nn_vformat(fmt, ap);
    va_end(ap);
    nn_ctx_fail(ctx, code, "%s", msg ? msg : nn_strerror(code));
    free(msg);
    return code;
}

nn_status nn_ctx_error(const nn_ctx *ctx, const char **msg)
{
    if (msg) *msg = ctx->err_msg ? ctx->err_msg : nn_strerror(ctx->err);
    return ctx->err;
}

void nn_ctx_clear_error(nn_ctx *ctx)
{
    ctx->err = NN_OK;
    free(ctx->err_msg);
    ctx->err_msg = NULL;
}

/* The slots the core calls without checking: one list, for names and pointers. */
#define NN_DEVICE_REQUIRED(X)                                                           \
    X(open) X(alloc) X(free) X(to_device) X(to_host) X(copy) X(fill) X(gemm) X(unary)   \
    X(unary_backward) X(binary) X(axpby) X(mul_acc) X(repeat_rows) X(sum_rows) X(sum)   \
    X(broadcast) X(transpose) X(binary_backward) X(scalar) X(scalar_backward) X(where)  \
    X(reduce_dim) X(reduce_dim_backward) X(addc)

/* Every kernel the core calls must be present: checked once here, never per call. A
 * slot past the end of an older plugin's table counts as missing. */
static bool device_complete(const nn_device_vt *vt, const char **missing)
{
#define NN_CHECK_SLOT(name)                                                             \
    if (!NN_VT_HAS(vt, nn_device_vt, name)) {                                           \
        *missing = #name;                                                               \
        return false;                                                                   \
    }
    NN_DEVICE_REQUIRED(NN_CHECK_SLOT)
#undef NN_CHECK_SLOT
    return true;
}

nn_status nn_ctx_open(nn_registry *reg, const char *device, uint64_t seed, nn_ctx **out,
                      char **err)
{
    *out = NULL;
    if (!device || !*device) /* the core names no plugin, not even a default device */
        return nn_fail(err, NN_INVALID, "no device given (nnrun plugins lists them)");
    /* "cuda:0 key=value": the first word names the device, the rest are properties. */
    char name[64];
    size_t n = strcspn(device, " \t");
    if (n >= sizeof name) return nn_fail(err, NN_INVALID, "device name too long: '%s'", device);
    memcpy(name, device, n);
    name[n] = 0;

    const nn_component *comp;
    nn_props *props;
    nn_status st = nn_component_open(reg, NN_KIND_DEVICE, name, device + n, &comp, &props, err);
    if (st) return st;
    const nn_device_vt *vt = comp->def->vt;
    const char *missing = NULL;
    if (!device_complete(vt, &missing)) {
        nn_props_free(props);
        return nn_fail(err, NN_ABI, "device '%s' (%s) lacks the kernel '%s'", name,
                       comp->plugin ? nn_component_file(comp) : "?", missing);
    }
    if (NN_VT_HAS(vt, nn_device_vt, probe)) {
        char *why = NULL;
        st = vt->probe(&why);
        if (st) {
            nn_fail(err, NN_DEVICE, "device '%s' is not usable here: %s", name,
                    why ? why : nn_strerror(st));
            free(why);
            nn_props_free(props);
            return NN_DEVICE;
        }
    }
    nn_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        nn_props_free(props);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    ctx->reg = reg;
    ctx->dev.vt = vt;
    ctx->dev.comp = comp;
    ctx->dev.props = props;
    ctx->dev.host_memory = NN_VT_IN(vt, nn_device_vt, flags) && (vt->flags & NN_DEVICE_HOST_MEMORY);
    ctx->grad_enabled = true;
    ctx->scratch.device = true;
    nn_rng_seed(&ctx->rng, seed, 0);
    st = vt->open(props, &ctx->dev.h, err);
    if (st) {
        nn_props_free(props);
        free(ctx);
        return st;
    }
    *out = ctx;
    return NN_OK;
}

int nn_device_available(nn_registry *reg, const char *device, char **why)
{
    const nn_component *comp;
    if (nn_registry_find(reg, NN_KIND_DEVICE, device, &comp, why)) return 0;
    const nn_device_vt *vt = comp->def->vt;
    const char *missing;
    if (!device_complete(vt, &missing)) {
        nn_fail(why, NN_ABI, "device '%s' lacks the kernel '%s'", device, missing);
        return 0;
    }
    return !NN_VT_HAS(vt, nn_device_vt, probe) || vt->probe(why) == NN_OK;
}

void nn_ctx_free(nn_ctx *ctx)
{
    if (!ctx) return;
    nn_arena_release(ctx, &ctx->scratch);
    nn_arena_release(ctx, &ctx->meta);
    nn_ops_release(ctx);
    if (NN_VT_HAS(ctx->dev.vt, nn_device_vt, close)) ctx->dev.vt->close(ctx->dev.h);
    nn_props_free(ctx->dev.props);
    free(ctx->err_msg);
    free(ctx);
}

nn_registry *nn_ctx_registry(nn_ctx *ctx) { return ctx->reg; }
const char *nn_ctx_device_name(const nn_ctx *ctx) { return ctx->dev.comp->def->name; }
nn_rng *nn_ctx_rng(nn_ctx *ctx) { return &ctx->rng; }

void nn_ctx_scratch_reset(nn_ctx *ctx)
{
    nn_arena_reset(&ctx->scratch);
    nn_arena_reset(&ctx->meta);
    ctx->tape = NULL;
}

size_t nn_ctx_scratch_reserved(const nn_ctx *ctx)
{
    return ctx->scratch.reserved + ctx->meta.reserved;
}

int nn_grad_set_enabled(nn_ctx *ctx, int enabled)
{
    int old = ctx->grad_enabled;
    ctx->grad_enabled = enabled != 0;
    return old;
}

int nn_grad_enabled(const nn_ctx *ctx) { return ctx->grad_enabled; }
