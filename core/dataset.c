/* dataset.c - dataset instances over the Dataset interface. Batches come
 * from the plugin's get_batch where it has one; otherwise from a host cache
 * of every sample, filled on the first batch, so that they are gathered by
 * index, not read. */
#include "nn-impl.h"

nn_status nn_dataset_open(nn_ctx *ctx, const char *name, const char *words, nn_dataset **out,
                          char **err)
{
    *out = NULL;
    const nn_component *comp;
    nn_props *props;
    nn_status st = nn_component_open(ctx->reg, NN_KIND_DATASET, name, words, &comp, &props, err);
    if (st) return st;
    const nn_dataset_vt *vt = comp->def->vt;
    if (!NN_VT_HAS(vt, nn_dataset_vt, open) || !NN_VT_HAS(vt, nn_dataset_vt, get)) {
        nn_props_free(props);
        return nn_fail(err, NN_ABI, "dataset '%s' (%s) lacks open or get", name,
                       nn_component_file(comp));
    }
    nn_dataset *d = calloc(1, sizeof *d);
    if (!d) {
        nn_props_free(props);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    d->ctx = ctx;
    d->comp = comp;
    d->vt = vt;
    d->props = props;
    st = vt->open(props, &d->priv, &d->len, &d->input, &d->target, err);
    if (st) {
        d->vt = NULL; /* nothing to close */
        nn_dataset_free(d);
        return st;
    }
    if (d->len <= 0 || d->input.ndim < 1 || d->input.ndim >= NN_MAX_DIMS ||
        d->target.ndim < 1 || d->target.ndim >= NN_MAX_DIMS || nn_shape_numel(&d->input) <= 0 ||
        nn_shape_numel(&d->target) <= 0) {
        nn_dataset_free(d);
        return nn_fail(err, NN_FORMAT, "dataset '%s' reported no samples or a bad sample shape",
                       name);
    }
    if (NN_VT_HAS(vt, nn_dataset_vt, learned) && vt->learned) {
        char *w = NULL;
        if ((st = vt->learned(d->priv, &w))) {
            free(w);
            nn_dataset_free(d);
            return nn_fail(err, st, "dataset '%s': what it learned: %s", name, nn_strerror(st));
        }
        d->learned = w;
    }
    *out = d;
    return NN_OK;
}

void nn_dataset_free(nn_dataset *d)
{
    if (!d) return;
    if (d->vt && NN_VT_HAS(d->vt, nn_dataset_vt, close)) d->vt->close(d->priv);
    nn_props_free(d->props);
    free(d->map);
    free(d->x);
    free(d->y);
    free(d->learned);
    free(d);
}

int64_t nn_dataset_len(const nn_dataset *d) { return d->len; }
const nn_shape *nn_dataset_input_shape(const nn_dataset *d) { return &d->input; }
const nn_shape *nn_dataset_target_shape(const nn_dataset *d) { return &d->target; }
const char *nn_dataset_learned(const nn_dataset *d) { return d->learned ? d->learned : ""; }

/* The plugin's reason (or the status's text), after the dataset's name. */
static nn_status read_failed(nn_dataset *d, nn_status st, char *why, const char *what,
                             char **err)
{
    nn_fail(err, st, "dataset '%s': %s: %s", d->comp->def->name, what, why ? why : nn_strerror(st));
    free(why);
    return st;
}

nn_status nn_dataset_get(nn_dataset *d, int64_t i, float *x, float *y)
{
    if (i < 0 || i >= d->len) return NN_INVALID;
    if (d->parent) return nn_dataset_get(d->parent, d->map[i], x, y);
    char *why = NULL, *msg = NULL;
    nn_status st = d->vt->get(d->priv, i, x, y, &why);
    if (st == NN_OK) {
        free(why);
        return NN_OK;
    }
    char what[48];
    snprintf(what, sizeof what, "sample %lld", (long long)i);
    read_failed(d, st, why, what, &msg);
    nn_ctx_fail(d->ctx, st, "%s", msg ? msg : nn_strerror(st));
    free(msg);
    return st;
}

/* A dataset without get_batch is read once, sample by sample, into a host
 * cache of floats, so that batches are gathered by index, not read. */
static nn_status fill_cache(nn_dataset *d, char **err)
{
    int64_t xn = nn_shape_numel(&d->input), yn = nn_shape_numel(&d->target);
    if (d->len > (int64_t)(SIZE_MAX / sizeof(float)) / (xn > yn ? xn : yn))
        return nn_fail(err, NN_NO_MEMORY, "dataset too large to cache");
    d->x = malloc((size_t)(d->len * xn) * sizeof(float));
    d->y = malloc((size_t)(d->len * yn) * sizeof(float));
    if (!d->x || !d->y) return nn_fail(err, NN_NO_MEMORY, "out of memory caching the dataset");
    for (int64_t i = 0; i < d->len; i++) {
        char *why = NULL;
        nn_status st = d->vt->get(d->priv, i, d->x + i * xn, d->y + i * yn, &why);
        if (st) {
            free(d->x);
            free(d->y);
            d->x = d->y = NULL;
            char what[64];
            snprintf(what, sizeof what, "sample %lld", (long long)i);
            return read_failed(d, st, why, what, err);
        }
        free(why);
    }
    return NN_OK;
}

/* What a failed batch was: "samples 3..9", or "a batch of 64 samples from
 * sample 812" when the indices are not a run. */
static void batch_what(const int64_t *ids, int64_t m, char *what, size_t size)
{
    bool run = true;
    for (int64_t k = 1; k < m && run; k++) run = ids[k] == ids[0] + k;
    if (run)
        snprintf(what, size, "samples %lld..%lld", (long long)ids[0], (long long)(ids[0] + m - 1));
    else
        snprintf(what, size, "a batch of %lld samples from sample %lld", (long long)m,
                 (long long)ids[0]);
}

/* Samples ids[0..m) of src with get_batch, straight from the plugin: its
 * own storage is the cache (the idx plugin keeps bytes, a quarter of
 * floats), so the core keeps no float copy of every sample. */
static nn_status read_batch(nn_dataset *src, const int64_t *ids, int64_t m, float *x, float *y,
                           char **err)
{
    char *why = NULL;
    nn_status st = src->vt->get_batch(src->priv, ids, m, x, y, &why);
    if (!st) {
        free(why);
        return NN_OK;
    }
    char what[96];
    batch_what(ids, m, what, sizeof what);
    return read_failed(src, st, why, what, err);
}

/* Samples idx[0..n): each one's input row (wx floats) from sx to dx and its
 * target row (wy) from sy to dy, in one pass over the indices. A row of a
 * few values (the tutorial's two coordinates and one label) is moved by a
 * copy of fixed size that the compiler does in line, chosen once per batch,
 * rather than by a call to memcpy per row. */
#define GATHER_PAIRS(WX, WY)                                                               \
    for (int64_t k = 0; k < n; k++) {                                                      \
        int64_t i = idx[k];                                                                \
        memcpy(dx + k * (WX), sx + i * (WX), (size_t)(WX) * sizeof(float));                \
        memcpy(dy + k * (WY), sy + i * (WY), (size_t)(WY) * sizeof(float));                \
    }

static void gather_pairs(float *restrict dx, const float *restrict sx, int64_t wx,
                         float *restrict dy, const float *restrict sy, int64_t wy,
                         const int64_t *idx, int64_t n)
{
    if (wy == 1) {
        switch (wx) {
        case 1: GATHER_PAIRS(1, 1); return;
        case 2: GATHER_PAIRS(2, 1); return;
        case 3: GATHER_PAIRS(3, 1); return;
        case 4: GATHER_PAIRS(4, 1); return;
        default: GATHER_PAIRS(wx, 1); return;
        }
    }
    GATHER_PAIRS(wx, wy);
}
#undef GATHER_PAIRS

/* A batch of at least this many floats of input is cut among the device's
 * threads when the dataset allows it (NN_DATASET_BATCH_THREADS): each part
 * finds its own rows in its own cache, and the rows' misses are fetched
 * from memory by both cores. Fashion-MNIST's batches of 64 x 784 floats
 * came 6 ms an epoch faster, of 305. */
#define GATHER_SPLIT (16 * 1024)
#define GATHER_PARTS 8
/* In the background (nn_dataset_gather_post), parts of a few rows: a
 * worker that the device then asks for joins after the part it runs. */
#define GATHER_BG_ROWS 4
#define GATHER_MAX 16

typedef struct {
    nn_dataset *src;
    const int64_t *ids;
    int64_t m, xn, yn;
    float *x, *y;
    int parts; /* as the device cut the batch */
    nn_status st[GATHER_MAX];
    char *why[GATHER_MAX];
} gather_job;

static void gather_part(void *arg, int p, int parts)
{
    gather_job *j = arg;
    if (p == 0) j->parts = parts;
    int64_t s = j->m * p / parts, e = j->m * (p + 1) / parts;
    j->st[p] = j->src->vt->get_batch(j->src->priv, j->ids + s, e - s, j->x + s * j->xn,
                                     j->y + s * j->yn, &j->why[p]);
}

static bool batch_threads(const nn_dataset *src)
{
    return NN_VT_IN(src->vt, nn_dataset_vt, flags) && (src->vt->flags & NN_DATASET_BATCH_THREADS);
}

/* A finished job's status: the first failing part's, as read_batch's. */
static nn_status gather_status(gather_job *j, char **err)
{
    nn_status st = NN_OK;
    for (int p = 0; p < GATHER_MAX; p++) {
        if (j->st[p] && !st) {
            int64_t s = j->m * p / j->parts, e = j->m * (p + 1) / j->parts;
            char what[96];
            batch_what(j->ids + s, e - s, what, sizeof what);
            st = read_failed(j->src, j->st[p], j->why[p], what, err);
            j->why[p] = NULL;
        }
        free(j->why[p]);
        j->why[p] = NULL;
    }
    return st;
}

/* Samples ids[0..m) as read_batch, in parts on the device's threads; a
 * failure is reported as the first failing part's. */
static nn_status read_batch_parts(nn_dataset *src, const int64_t *ids, int64_t m, float *x,
                                  float *y, int64_t xn, int64_t yn, char **err)
{
    int64_t max = m * xn / GATHER_SPLIT;
    if (max > m) max = m;
    if (max > GATHER_PARTS) max = GATHER_PARTS;
    if (max < 2 || !batch_threads(src)) return read_batch(src, ids, m, x, y, err);
    gather_job j = {.src = src, .ids = ids, .m = m, .xn = xn, .yn = yn, .x = x, .y = y};
    j.parts = 1;
    nn_dev_parallel(src->ctx, gather_part, &j, (int)max);
    return gather_status(&j, err);
}

nn_status nn_dataset_gather(nn_dataset *d, const int64_t *idx, int64_t n, float *x, float *y,
                            char **err)
{
    nn_dataset *src = d->parent ? d->parent : d; /* a subset reads its parent's samples */
    bool batched = NN_VT_HAS(src->vt, nn_dataset_vt, get_batch);
    if (!batched && !src->x) {
        nn_status st = fill_cache(src, err);
        if (st) return st;
    }
    int64_t xn = nn_shape_numel(&d->input), yn = nn_shape_numel(&d->target);
    int64_t map[256]; /* a subset's indices, mapped to its parent's a slice at a time */
    for (int64_t i = 0; i < n;) {
        int64_t m = n - i;
        const int64_t *ids = idx + i;
        if (d->map) {
            if (m > 256) m = 256;
            for (int64_t k = 0; k < m; k++) map[k] = d->map[idx[i + k]];
            ids = map;
        }
        if (batched) {
            nn_status st = read_batch_parts(src, ids, m, x + i * xn, y + i * yn, xn, yn, err);
            if (st) return st;
        } else {
            gather_pairs(x + i * xn, src->x, xn, y + i * yn, src->y, yn, ids, m);
        }
        i += m;
    }
    return NN_OK;
}

nn_status nn_dataset_gather_batch(nn_dataset *d, const int64_t *idx, int64_t n, nn_tensor *x,
                                  nn_tensor *y, float *hx, float *hy, char **err)
{
    if (d->ctx->dev.host_memory) /* the device's memory takes the samples straight */
        return nn_dataset_gather(d, idx, n, x->data, y->data, err);
    nn_status st = nn_dataset_gather(d, idx, n, hx, hy, err);
    if (!st) {
        nn_tensor_from_host(x, hx, x->numel);
        nn_tensor_from_host(y, hy, y->numel);
    }
    return st;
}

/* ---- the next batch in the background ---- */

struct nn_gather_job {
    gather_job j;
    nn_ctx *ctx;
    int ticket;
    int64_t ids[]; /* the samples, the parent's where d is a subset */
};

bool nn_dataset_gather_ahead(const nn_dataset *d, int64_t n)
{
    const nn_dataset *src = d->parent ? d->parent : d;
    const nn_device_vt *vt = d->ctx->dev.vt;
    return d->ctx->dev.host_memory && n * nn_shape_numel(&d->input) >= GATHER_SPLIT &&
           n <= INT32_MAX / 2 && NN_VT_HAS(src->vt, nn_dataset_vt, get_batch) &&
           batch_threads(src) && NN_VT_HAS(vt, nn_device_vt, post) &&
           NN_VT_HAS(vt, nn_device_vt, wait);
}

nn_gather_job *nn_dataset_gather_post(nn_dataset *d, const int64_t *idx, int64_t n, nn_tensor *x,
                                      nn_tensor *y)
{
    nn_dataset *src = d->parent ? d->parent : d;
    int64_t xn = nn_shape_numel(&d->input), yn = nn_shape_numel(&d->target);
    if (!nn_dataset_gather_ahead(d, n)) return NULL;
    nn_gather_job *g = malloc(sizeof *g + (size_t)n * sizeof g->ids[0]);
    if (!g) return NULL; /* the caller gathers it when it comes to it */
    for (int64_t k = 0; k < n; k++) g->ids[k] = d->map ? d->map[idx[k]] : idx[k];
    int64_t parts = (n + GATHER_BG_ROWS - 1) / GATHER_BG_ROWS;
    if (parts > GATHER_MAX) parts = GATHER_MAX;
    g->j = (gather_job){.src = src, .ids = g->ids, .m = n, .xn = xn, .yn = yn,
                        .x = x->data, .y = y->data, .parts = (int)parts};
    g->ctx = d->ctx;
    if (!(g->ticket = nn_dev_post(d->ctx, gather_part, &g->j, (int)parts))) {
        free(g);
        return NULL;
    }
    return g;
}

nn_status nn_dataset_gather_finish(nn_gather_job *g, char **err)
{
    nn_dev_wait(g->ctx, g->ticket);
    nn_status st = gather_status(&g->j, err);
    free(g);
    return st;
}

/* ---- the DataLoader ---- */

struct nn_loader {
    nn_dataset *d;
    int64_t batch, pos;
    nn_shuffle shuffle;
    bool drop_last;
    int64_t *order;
    float *hx, *hy;
};

nn_status nn_loader_open(nn_dataset *d, int64_t batch, nn_shuffle shuffle, int drop_last,
                         nn_loader **out, char **err)
{
    *out = NULL;
    if (batch <= 0) return nn_fail(err, NN_INVALID, "batch size must be positive, got %lld",
                                   (long long)batch);
    if (batch > NN_MAX_NUMEL)
        return nn_fail(err, NN_INVALID, "batch size %lld is more than nn allows (2^31 - 1)",
                       (long long)batch);
    if (shuffle == NN_SHUFFLE_SAMPLE && d->len > (int64_t)UINT32_MAX)
        return nn_fail(err, NN_INVALID, "shuffle sample takes at most %lu samples",
                       (unsigned long)UINT32_MAX);
    if (drop_last && batch > d->len)
        return nn_fail(err, NN_INVALID, "batch size %lld with drop_last leaves no batch of %lld samples",
                       (long long)batch, (long long)d->len);
    nn_loader *l = calloc(1, sizeof *l);
    int64_t b = batch < d->len ? batch : d->len;
    bool stage = !d->ctx->dev.host_memory; /* host rows, then a copy to the device */
    if (l) {
        l->order = malloc((size_t)d->len * sizeof *l->order);
        if (stage) {
            l->hx = malloc((size_t)(b * nn_shape_numel(&d->input)) * sizeof(float));
            l->hy = malloc((size_t)(b * nn_shape_numel(&d->target)) * sizeof(float));
        }
    }
    if (!l || !l->order || (stage && (!l->hx || !l->hy))) {
        nn_loader_free(l);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    l->d = d;
    l->batch = batch;
    l->shuffle = shuffle;
    l->drop_last = drop_last != 0;
    l->pos = -1; /* a pass starts on the first call */
    for (int64_t i = 0; i < d->len; i++) l->order[i] = i;
    *out = l;
    return NN_OK;
}

void nn_loader_free(nn_loader *l)
{
    if (!l) return;
    free(l->order);
    free(l->hx);
    free(l->hy);
    free(l);
}

/* A scratch tensor of n samples. */
static nn_tensor *batch_tensor(nn_ctx *ctx, const nn_shape *sample, int64_t n)
{
    nn_shape s = {sample->ndim + 1, {n}};
    memcpy(s.dim + 1, sample->dim, (size_t)sample->ndim * sizeof s.dim[0]);
    return nn_tensor_scratch(ctx, &s);
}

int nn_loader_next(nn_loader *l, nn_tensor **x, nn_tensor **y)
{
    nn_dataset *d = l->d;
    *x = *y = NULL;
    if (l->pos < 0) {
        if (l->shuffle == NN_SHUFFLE_EPOCH) nn_order_shuffle(&d->ctx->rng, l->order, d->len);
        if (l->shuffle == NN_SHUFFLE_SAMPLE) /* n draws with replacement, batch by batch */
            for (int64_t i = 0; i < d->len; i++)
                l->order[i] = nn_rng_below(&d->ctx->rng, (uint32_t)d->len);
        l->pos = 0;
    }
    int64_t n = d->len - l->pos < l->batch ? d->len - l->pos : l->batch;
    if (n <= 0 || (l->drop_last && n < l->batch)) {
        l->pos = -1;
        return 0;
    }
    nn_tensor *tx = batch_tensor(d->ctx, &d->input, n), *ty = batch_tensor(d->ctx, &d->target, n);
    if (!tx || !ty) return -1;
    char *err = NULL;
    nn_status st = nn_dataset_gather_batch(d, l->order + l->pos, n, tx, ty, l->hx, l->hy, &err);
    if (st) {
        nn_ctx_fail(d->ctx, st, "%s", err ? err : nn_strerror(st));
        free(err);
        return -1;
    }
    l->pos += n;
    *x = tx;
    *y = ty;
    return 1;
}
