/* checkpoint.c - save and load nn.Checkpoint files (proto/nn.proto).
 *
 * File = payload || trailer. The payload is the Checkpoint message without
 * its integrity field; the trailer is that field in a fixed 16-byte encoding:
 *   0x7a 0x0e | 0x09 payload_length (8 bytes LE) | 0x15 crc32 (4 bytes LE)
 * so the whole file still decodes as one Checkpoint message, while any
 * truncation or flipped byte fails the length or checksum test. */
#define _GNU_SOURCE
#include "nn-impl.h"
#include "nn.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint tensors are stored little-endian; this host needs a byte swap here"
#endif

#define MAGIC "nn.Checkpoint"
#define TRAILER 16
#define MAX_FILE ((uint64_t)1 << 40)
#define MAX_DIM ((int64_t)1 << 40)
#define MAX_CHAIN 100000
/* Step and epoch counters beyond this could not advance without overflow. */
#define MAX_COUNT ((int64_t)1 << 62)

struct nn_checkpoint {
    Nn__Checkpoint *msg;
    nn_shape input;
    Nn__Tensor **by_name; /* the model's tensors sorted by name */
};

/* ---- CRC-32 (IEEE 802.3, reflected): zlib's ---- */

/* zlib's crc32_z: a byte-at-a-time table took 3.4 ms of the 53 of
 * evaluating Fashion-MNIST's 784-256-10 model from its checkpoint. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32_z(0, p, n);
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- building the message ---- */

/* Every allocation of one save goes on this list and is freed at once. */
typedef struct pool {
    void **p;
    size_t n, cap;
    bool failed;
} pool;

static void *pool_add(pool *pl, void *ptr)
{
    if (!ptr) {
        pl->failed = true;
        return NULL;
    }
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 64;
        void **np = realloc(pl->p, cap * sizeof *np);
        if (!np) {
            free(ptr);
            pl->failed = true;
            return NULL;
        }
        pl->p = np;
        pl->cap = cap;
    }
    pl->p[pl->n++] = ptr;
    return ptr;
}

static void *pool_alloc(pool *pl, size_t bytes) { return pool_add(pl, calloc(1, bytes ? bytes : 1)); }
static char *pool_str(pool *pl, const char *s) { return pool_add(pl, nn_strdup(s ? s : "")); }

static void pool_free(pool *pl)
{
    for (size_t i = 0; i < pl->n; i++) free(pl->p[i]);
    free(pl->p);
}

static Nn__Tensor *make_tensor(pool *pl, const char *name, const nn_tensor *t)
{
    Nn__Tensor *m = pool_alloc(pl, sizeof *m);
    if (!m) return NULL;
    nn__tensor__init(m);
    m->name = pool_str(pl, name);
    m->n_shape = (size_t)t->shape.ndim;
    m->shape = pool_alloc(pl, sizeof(int64_t) * (m->n_shape ? m->n_shape : 1));
    m->data.len = (size_t)t->numel * sizeof(float);
    m->data.data = pool_alloc(pl, m->data.len);
    if (!m->name || !m->shape || !m->data.data) return NULL;
    memcpy(m->shape, t->shape.dim, m->n_shape * sizeof(int64_t));
    if (nn_tensor_to_host(t, (float *)m->data.data, t->numel)) return NULL;
    return m;
}

static Nn__Property **make_props(pool *pl, const nn_props *p, size_t *n)
{
    *n = p ? (size_t)nn_props_count(p) : 0;
    Nn__Property **arr = pool_alloc(pl, sizeof *arr * (*n ? *n : 1));
    for (size_t i = 0; arr && i < *n; i++) {
        Nn__Property *q = arr[i] = pool_alloc(pl, sizeof *q);
        if (!q) return NULL;
        nn__property__init(q);
        q->key = pool_str(pl, nn_props_key(p, (int)i));
        q->value = pool_add(pl, nn_props_text(p, (int)i));
    }
    return arr;
}

static Nn__ModuleRef *make_ref(pool *pl, const nn_module *m)
{
    Nn__ModuleRef *r = pool_alloc(pl, sizeof *r);
    if (!r) return NULL;
    nn__module_ref__init(r);
    r->name = pool_str(pl, m->comp->def->name);
    r->version = pool_str(pl, nn_component_version(m->comp));
    r->type = pool_str(pl, m->vt->type_name ? m->vt->type_name : "");
    r->properties = make_props(pl, m->props, &r->n_properties);
    return r;
}

static Nn__Model *make_model(pool *pl, nn_module *m, char **err)
{
    Nn__Model *mm = pool_alloc(pl, sizeof *mm);
    if (!mm) return NULL;
    nn__model__init(mm);
    /* A core Sequential saves its children; a plugin module saves itself. */
    const nn_module *const *elems = (const nn_module *const *)&m;
    size_t n = 1;
    if (!m->comp) {
        elems = (const nn_module *const *)m->children;
        n = (size_t)m->nchildren;
    }
    mm->n_chain = n;
    mm->chain = pool_alloc(pl, sizeof *mm->chain * (n ? n : 1));
    for (size_t i = 0; mm->chain && i < n; i++) {
        if (!elems[i]->comp) {
            nn_fail(err, NN_UNSUPPORTED, "a nested Sequential cannot be saved as a chain");
            return NULL;
        }
        mm->chain[i] = make_ref(pl, elems[i]);
    }
    mm->n_input_shape = (size_t)m->in.ndim;
    mm->input_shape = pool_alloc(pl, sizeof(int64_t) * (m->in.ndim ? (size_t)m->in.ndim : 1));
    if (mm->input_shape) memcpy(mm->input_shape, m->in.dim, sizeof(int64_t) * (size_t)m->in.ndim);
    return mm;
}

static Nn__Optimizer *make_optim(pool *pl, nn_optim *o)
{
    Nn__Optimizer *mo = pool_alloc(pl, sizeof *mo);
    if (!mo) return NULL;
    nn__optimizer__init(mo);
    mo->name = pool_str(pl, o->comp->def->name);
    mo->version = pool_str(pl, nn_component_version(o->comp));
    mo->hyperparameters = make_props(pl, o->props, &mo->n_hyperparameters);
    mo->steps = o->steps;
    mo->state = pool_alloc(pl, sizeof *mo->state * (size_t)(o->nparams ? o->nparams : 1));
    for (int i = 0; mo->state && i < o->nparams; i++) {
        int have = 0;
        for (int j = 0; j < o->nstate; j++) have += o->state[i * o->nstate + j] != NULL;
        if (!have) continue;
        Nn__ParamState *ps = pool_alloc(pl, sizeof *ps);
        if (!ps) return NULL;
        nn__param_state__init(ps);
        ps->param = pool_str(pl, o->params[i].name);
        ps->slots = pool_alloc(pl, sizeof *ps->slots * (size_t)have);
        for (int j = 0; ps->slots && j < o->nstate; j++) {
            nn_tensor *t = o->state[i * o->nstate + j];
            if (t) ps->slots[ps->n_slots++] = make_tensor(pl, o->vt->state_names[j], t);
        }
        mo->state[mo->n_state++] = ps;
    }
    return mo;
}

static Nn__TrainState *make_train(pool *pl, const nn_train_state *ts)
{
    Nn__TrainState *t = pool_alloc(pl, sizeof *t);
    if (!t) return NULL;
    nn__train_state__init(t);
    t->epoch = ts->epoch;
    t->step = ts->step;
    t->rng_state = ts->rng.state;
    t->rng_inc = ts->rng.inc;
    t->data = pool_str(pl, ts->data);
    t->loss = pool_str(pl, ts->loss);
    t->device = pool_str(pl, ts->device);
    t->batch = ts->batch;
    t->shuffle = pool_str(pl, ts->shuffle == NN_SHUFFLE_EPOCH    ? "epoch"
                              : ts->shuffle == NN_SHUFFLE_SAMPLE ? "sample"
                                                                 : "none");
    t->seed = ts->seed;
    if (ts->order && ts->norder > 0) {
        t->n_order = (size_t)ts->norder;
        t->order = pool_alloc(pl, (size_t)ts->norder * sizeof(int64_t));
        if (t->order) memcpy(t->order, ts->order, (size_t)ts->norder * sizeof(int64_t));
    }
    return t;
}

/* RFC 3339 local time: 2026-11-27T05:50:19+01:00 */
static void now_iso(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
    if (n >= 5 && n + 1 < len) { /* +0100 -> +01:00 */
        memmove(buf + n - 1, buf + n - 2, 3);
        buf[n - 2] = ':';
    }
}

/* proto3 strings must be UTF-8: other readers (Python, C++) refuse the file. */
static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        int n = *p < 0x80                          ? 0
                : (*p & 0xE0) == 0xC0 && *p >= 0xC2 ? 1
                : (*p & 0xF0) == 0xE0              ? 2
                : (*p & 0xF8) == 0xF0 && *p <= 0xF4 ? 3
                                                   : -1;
        if (n < 0) return false;
        uint32_t c = *p++ & (0x3Fu >> n);
        for (int i = 0; i < n; i++, p++) {
            if ((*p & 0xC0) != 0x80) return false;
            c = c << 6 | (*p & 0x3F);
        }
        if ((n == 2 && c < 0x800) || (n == 3 && (c < 0x10000 || c > 0x10FFFF)) ||
            (c >= 0xD800 && c <= 0xDFFF))
            return false;
    }
    return true;
}

/* A name read from a file ends up in one-line messages: non-empty UTF-8
 * without control characters. */
static bool name_ok(const char *s)
{
    return nn_name_printable(s) && utf8_ok(s);
}

nn_status nn_checkpoint_save(const char *path, const nn_save_opts *o, char **err)
{
    if (!path || !*path || !o || !o->model)
        return nn_fail(err, NN_INVALID, "checkpoint save needs a path and a model");
    bool text_ok = utf8_ok(o->info) && utf8_ok(o->date);
    for (int i = 0; text_ok && i < 2 * o->nmetadata; i++) text_ok = utf8_ok(o->metadata[i]);
    if (text_ok && o->train)
        text_ok = utf8_ok(o->train->data) && utf8_ok(o->train->loss) && utf8_ok(o->train->device);
    if (!text_ok)
        return nn_fail(err, NN_INVALID,
                       "checkpoint text (info, date, metadata, specs) must be UTF-8");
    pool pl = {0};
    Nn__Checkpoint ck;
    nn__checkpoint__init(&ck);
    char date[64];
    if (!o->date) now_iso(date, sizeof date);
    ck.magic = MAGIC;
    ck.format_version = NN_CHECKPOINT_FORMAT;
    ck.info = pool_str(&pl, o->info);
    ck.date = pool_str(&pl, o->date ? o->date : date);
    nn_status st = NN_OK;
    if (!(ck.model = make_model(&pl, o->model, err))) {
        st = pl.failed ? nn_fail(err, NN_NO_MEMORY, "out of memory") : NN_UNSUPPORTED;
        goto out;
    }
    nn_module *m = o->model;
    /* The state_dict: parameters and buffers, by name (a model knows which is which). */
    int np = nn_module_state_count(m);
    if (np < 0) {
        st = nn_fail(err, NN_NO_MEMORY, "out of memory listing the model's tensors");
        goto out;
    }
    ck.tensors = pool_alloc(&pl, sizeof *ck.tensors * (size_t)(np ? np : 1));
    for (int i = 0; ck.tensors && i < np; i++) ck.tensors[ck.n_tensors++] = make_tensor(&pl, m->state[i].name, m->state[i].t);
    if (o->optim) ck.optimizer = make_optim(&pl, o->optim);
    if (o->train) ck.train = make_train(&pl, o->train);
    if (o->nmetadata > 0) {
        ck.n_metadata = (size_t)o->nmetadata;
        ck.metadata = pool_alloc(&pl, sizeof *ck.metadata * ck.n_metadata);
        for (size_t i = 0; ck.metadata && i < ck.n_metadata; i++) {
            Nn__Checkpoint__MetadataEntry *e = ck.metadata[i] = pool_alloc(&pl, sizeof *e);
            if (!e) break;
            nn__checkpoint__metadata_entry__init(e);
            e->key = pool_str(&pl, o->metadata[2 * i]);
            e->value = pool_str(&pl, o->metadata[2 * i + 1]);
        }
    }
    if (pl.failed) {
        st = nn_fail(err, NN_NO_MEMORY, "out of memory building the checkpoint");
        goto out;
    }
    size_t n = nn__checkpoint__get_packed_size(&ck);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        st = nn_fail(err, NN_NO_MEMORY, "out of memory (%zu bytes)", n);
        goto out;
    }
    nn__checkpoint__pack(&ck, buf);
    uint8_t tr[TRAILER] = {0x7a, 0x0e, 0x09};
    put_le(tr + 3, n, 8);
    tr[11] = 0x15;
    put_le(tr + 12, crc32_ieee(buf, n), 4);
    st = nn_write_atomic(path, buf, n, tr, sizeof tr, -1, err);
    free(buf);
out:
    pool_free(&pl);
    return st;
}

/* ---- loading and validation ---- */

static nn_status read_file(const char *path, uint8_t **out, size_t *len, char **err)
{
    /* O_NONBLOCK: a FIFO must not hang the open before it is refused. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return nn_fail(err, NN_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return nn_fail(err, NN_FORMAT, "'%s' is not a regular file", path);
    }
    fcntl(fd, F_SETFL, 0);
    if ((uint64_t)sb.st_size > MAX_FILE) {
        close(fd);
        return nn_fail(err, NN_FORMAT, "'%s' is too large to be a checkpoint", path);
    }
    /* The head and the trailer first: a file that is no checkpoint, or whose
     * length disagrees, is refused before its body is read. */
    uint8_t hd[2 + sizeof MAGIC - 1], tr[TRAILER];
    size_t n = (size_t)sb.st_size, got = 0;
    if (n < sizeof hd + TRAILER || pread(fd, hd, sizeof hd, 0) != (ssize_t)sizeof hd ||
        hd[0] != 0x0a || hd[1] != sizeof MAGIC - 1 || memcmp(hd + 2, MAGIC, sizeof MAGIC - 1)) {
        close(fd);
        return nn_fail(err, NN_FORMAT, "'%s' is not an nn checkpoint", path);
    }
    if (pread(fd, tr, sizeof tr, (off_t)(n - TRAILER)) != (ssize_t)sizeof tr || tr[0] != 0x7a ||
        tr[1] != 0x0e || tr[2] != 0x09 || tr[11] != 0x15 || get_le(tr + 3, 8) != n - TRAILER) {
        close(fd);
        return nn_fail(err, NN_FORMAT, "'%s' is truncated or damaged (length check failed)", path);
    }
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return nn_fail(err, NN_NO_MEMORY, "out of memory reading '%s'", path);
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return nn_fail(err, NN_IO, "cannot read '%s'", path);
    }
    *out = buf;
    *len = n;
    return NN_OK;
}

static nn_status check_frame(const char *path, const uint8_t *b, size_t n, char **err)
{
    static const uint8_t head[] = {0x0a, sizeof MAGIC - 1};
    if (n < sizeof head + sizeof MAGIC - 1 || memcmp(b, head, sizeof head) ||
        memcmp(b + 2, MAGIC, sizeof MAGIC - 1))
        return nn_fail(err, NN_FORMAT, "'%s' is not an nn checkpoint", path);
    const uint8_t *t = n < TRAILER + 2 + sizeof MAGIC - 1 ? NULL : b + n - TRAILER;
    if (!t || t[0] != 0x7a || t[1] != 0x0e || t[2] != 0x09 ||
        t[11] != 0x15 || get_le(t + 3, 8) != n - TRAILER)
        return nn_fail(err, NN_FORMAT, "'%s' is truncated or damaged (length check failed)", path);
    if (get_le(t + 12, 4) != crc32_ieee(b, n - TRAILER))
        return nn_fail(err, NN_FORMAT, "'%s' is damaged (checksum mismatch)", path);
    return NN_OK;
}

static nn_status check_shape(const char *what, size_t ndim, const int64_t *dim, nn_shape *out,
                             char **err)
{
    if (ndim > NN_MAX_DIMS)
        return nn_fail(err, NN_FORMAT, "%s: %zu dimensions (at most %d)", what, ndim, NN_MAX_DIMS);
    out->ndim = (int)ndim;
    for (size_t i = 0; i < ndim; i++) {
        if (dim[i] < 0 || dim[i] > MAX_DIM)
            return nn_fail(err, NN_FORMAT, "%s: bad dimension %lld", what, (long long)dim[i]);
        out->dim[i] = dim[i];
    }
    return NN_OK;
}

static nn_status check_tensor(const Nn__Tensor *t, nn_shape *shape, char **err)
{
    if (!name_ok(t->name))
        return nn_fail(err, NN_FORMAT, "a tensor without a name (or one not printable UTF-8)");
    nn_status st = check_shape(t->name, t->n_shape, t->shape, shape, err);
    if (st) return st;
    if (t->dtype != NN__TENSOR__DTYPE__F32)
        return nn_fail(err, NN_FORMAT, "tensor '%s': unknown dtype %d", t->name, (int)t->dtype);
    uint64_t bytes = sizeof(float); /* each dimension <= 2^40 and <= 8 dims: check as we go */
    for (int i = 0; i < shape->ndim; i++) {
        if (shape->dim[i] && bytes > UINT64_MAX / (uint64_t)shape->dim[i])
            return nn_fail(err, NN_FORMAT, "tensor '%s': size overflows", t->name);
        bytes *= (uint64_t)shape->dim[i];
    }
    if (bytes != t->data.len)
        return nn_fail(err, NN_FORMAT, "tensor '%s': shape needs %llu bytes, data has %zu",
                       t->name, (unsigned long long)bytes, t->data.len);
    return NN_OK;
}

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp((*(Nn__Tensor *const *)a)->name, (*(Nn__Tensor *const *)b)->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_state(const void *a, const void *b)
{
    return strcmp((*(Nn__ParamState *const *)a)->param, (*(Nn__ParamState *const *)b)->param);
}

/* Checks each tensor, then that no name appears twice: on a sorted copy,
 * kept in *sorted when asked for (else freed). */
static nn_status check_tensors(Nn__Tensor *const *ts, size_t n, const char *where,
                               Nn__Tensor ***sorted, char **err)
{
    for (size_t i = 0; i < n; i++) {
        nn_shape s;
        nn_status st = check_tensor(ts[i], &s, err);
        if (st) return st;
    }
    Nn__Tensor **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    if (n) memcpy(v, ts, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_tensor);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(v[i]->name, v[i - 1]->name)) {
            nn_status st = nn_fail(err, NN_FORMAT, "%s: tensor '%s' appears twice", where,
                                   v[i]->name);
            free(v);
            return st;
        }
    if (sorted) *sorted = v;
    else free(v);
    return NN_OK;
}

static bool props_ok(Nn__Property *const *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!name_ok(p[i]->key) || !p[i]->value || (*p[i]->value && !name_ok(p[i]->value)) ||
            strpbrk(p[i]->key, " \t\n=!") || strpbrk(p[i]->value, " \t\n!"))
            return false;
    return true;
}

static bool props_utf8(Nn__Property *const *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!utf8_ok(p[i]->key) || !utf8_ok(p[i]->value)) return false;
    return true;
}

static bool tensors_utf8(Nn__Tensor *const *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!utf8_ok(t[i]->name)) return false;
    return true;
}

/* Every string of the file is UTF-8, as the writer makes them. */
static bool text_utf8(const Nn__Checkpoint *m)
{
    bool ok = utf8_ok(m->magic) && utf8_ok(m->info) && utf8_ok(m->date) &&
              tensors_utf8(m->tensors, m->n_tensors);
    for (size_t i = 0; ok && m->model && i < m->model->n_chain; i++) {
        const Nn__ModuleRef *r = m->model->chain[i];
        ok = utf8_ok(r->name) && utf8_ok(r->version) && utf8_ok(r->type) &&
             props_utf8(r->properties, r->n_properties);
    }
    for (size_t i = 0; ok && i < m->n_metadata; i++)
        ok = utf8_ok(m->metadata[i]->key) && utf8_ok(m->metadata[i]->value);
    if (ok && m->optimizer) {
        const Nn__Optimizer *o = m->optimizer;
        ok = utf8_ok(o->name) && utf8_ok(o->version) &&
             props_utf8(o->hyperparameters, o->n_hyperparameters);
        for (size_t i = 0; ok && i < o->n_state; i++)
            ok = utf8_ok(o->state[i]->param) &&
                 tensors_utf8(o->state[i]->slots, o->state[i]->n_slots);
    }
    if (ok && m->train)
        ok = utf8_ok(m->train->data) && utf8_ok(m->train->loss) && utf8_ok(m->train->shuffle) &&
             utf8_ok(m->train->device);
    return ok;
}

static nn_status validate(nn_checkpoint *c, char **err)
{
    const Nn__Checkpoint *m = c->msg;
    if (!text_utf8(m))
        return nn_fail(err, NN_FORMAT, "a text of the checkpoint (info, names, specs) is not UTF-8");
    if (m->format_version == 0) return nn_fail(err, NN_FORMAT, "checkpoint without a format version");
    if (m->format_version > NN_CHECKPOINT_FORMAT)
        return nn_fail(err, NN_FORMAT,
                       "checkpoint format %u is newer than this nn reads (%d); upgrade nn",
                       m->format_version, NN_CHECKPOINT_FORMAT);
    if (!m->model || m->model->n_chain == 0) return nn_fail(err, NN_FORMAT, "checkpoint without a model");
    if (m->model->n_chain > MAX_CHAIN)
        return nn_fail(err, NN_FORMAT, "a chain of %zu elements (at most %d)", m->model->n_chain,
                       MAX_CHAIN);
    /* One sample's shape: the batch dimension makes one more. */
    if (m->model->n_input_shape > NN_MAX_DIMS - 1)
        return nn_fail(err, NN_FORMAT, "model input: %zu dimensions (at most %d)",
                       m->model->n_input_shape, NN_MAX_DIMS - 1);
    for (size_t i = 0; i < m->model->n_chain; i++) {
        const Nn__ModuleRef *r = m->model->chain[i];
        if (!name_ok(r->name) || strpbrk(r->name, " \t\n=!") ||
            !props_ok(r->properties, r->n_properties))
            return nn_fail(err, NN_FORMAT, "model element %zu is malformed", i);
    }
    nn_status st = check_shape("model input", m->model->n_input_shape, m->model->input_shape,
                               &c->input, err);
    if (!st) st = check_tensors(m->tensors, m->n_tensors, "model", &c->by_name, err);
    if (st) return st;
    if (m->optimizer) {
        const Nn__Optimizer *o = m->optimizer;
        if (o->steps < 0 || o->steps > MAX_COUNT)
            return nn_fail(err, NN_FORMAT, "the optimizer's step count %lld cannot advance "
                           "(0 to 2^62)", (long long)o->steps);
        if (!name_ok(o->name) || strpbrk(o->name, " \t\n=!") ||
            !props_ok(o->hyperparameters, o->n_hyperparameters))
            return nn_fail(err, NN_FORMAT, "the optimizer record is malformed");
        for (size_t i = 0; i < o->n_state; i++) {
            if (!name_ok(o->state[i]->param))
                return nn_fail(err, NN_FORMAT, "optimizer state without a parameter name "
                                               "(or one not printable UTF-8)");
            if ((st = check_tensors(o->state[i]->slots, o->state[i]->n_slots, o->state[i]->param,
                                    NULL, err)))
                return st;
        }
        Nn__ParamState **v = malloc((o->n_state ? o->n_state : 1) * sizeof *v);
        if (!v) return nn_fail(err, NN_NO_MEMORY, "out of memory");
        if (o->n_state) memcpy(v, o->state, o->n_state * sizeof *v);
        qsort(v, o->n_state, sizeof *v, cmp_state);
        for (size_t i = 1; i < o->n_state && !st; i++)
            if (!strcmp(v[i]->param, v[i - 1]->param))
                st = nn_fail(err, NN_FORMAT, "optimizer state for '%s' appears twice",
                             v[i]->param);
        free(v);
        if (st) return st;
    }
    if (m->train) {
        const Nn__TrainState *t = m->train;
        if (t->epoch > MAX_COUNT || t->step > MAX_COUNT)
            return nn_fail(err, NN_FORMAT, "the training state's counters (epoch %lld, step %lld) "
                           "cannot advance (0 to 2^62)", (long long)t->epoch, (long long)t->step);
        if (t->epoch < 0 || t->step < 0 || t->batch < 0 || (t->rng_inc & 1) == 0 ||
            (t->data && *t->data && !name_ok(t->data)) ||
            (t->loss && *t->loss && !name_ok(t->loss)) ||
            (t->device && *t->device && !name_ok(t->device)) ||
            (t->shuffle && strcmp(t->shuffle, "none") && strcmp(t->shuffle, "epoch") &&
             strcmp(t->shuffle, "sample")))
            return nn_fail(err, NN_FORMAT, "the training state is malformed");
    }
    return NN_OK;
}

/* protobuf-c's allocator, which tells a failed allocation from bad bytes. */
static void *pb_alloc(void *data, size_t n)
{
    void *p = malloc(n);
    if (!p) *(bool *)data = true;
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    free(p);
}

/* Verifies, unpacks and validates the bytes of a checkpoint; `name` only
 * labels the messages. */
static nn_status load_bytes(const char *name, const uint8_t *buf, size_t n, nn_checkpoint **out,
                            char **err)
{
    nn_status st = check_frame(name, buf, n, err);
    if (st) return st;
    nn_checkpoint *c = calloc(1, sizeof *c);
    bool oom = !c;
    ProtobufCAllocator pa = {pb_alloc, pb_free, &oom};
    if (c) c->msg = nn__checkpoint__unpack(&pa, n - TRAILER, buf);
    if (!c || !c->msg) {
        free(c);
        if (oom) return nn_fail(err, NN_NO_MEMORY, "out of memory reading '%s'", name);
        return nn_fail(err, NN_FORMAT, "'%s' is not a valid nn.Checkpoint message", name);
    }
    if ((st = validate(c, err))) {
        nn_fail_context(err, st, "'%s'", name);
        nn_checkpoint_free(c);
        return st;
    }
    *out = c;
    return NN_OK;
}

nn_status nn_checkpoint_load_mem(const void *buf, size_t n, nn_checkpoint **out, char **err)
{
    *out = NULL;
    if (n > MAX_FILE) return nn_fail(err, NN_FORMAT, "a buffer too large to be a checkpoint");
    return load_bytes("buffer", buf ? buf : (const void *)"", buf ? n : 0, out, err);
}

nn_status nn_checkpoint_load(const char *path, nn_checkpoint **out, char **err)
{
    *out = NULL;
    uint8_t *buf = NULL;
    size_t n = 0;
    nn_status st = read_file(path, &buf, &n, err);
    if (st) return st;
    st = load_bytes(path, buf, n, out, err);
    free(buf);
    return st;
}

void nn_checkpoint_free(nn_checkpoint *c)
{
    if (!c) return;
    if (c->msg) nn__checkpoint__free_unpacked(c->msg, NULL);
    free(c->by_name);
    free(c);
}

const char *nn_checkpoint_info(const nn_checkpoint *c) { return c->msg->info; }
const char *nn_checkpoint_date(const nn_checkpoint *c) { return c->msg->date; }
uint32_t nn_checkpoint_format(const nn_checkpoint *c) { return c->msg->format_version; }
const nn_shape *nn_checkpoint_input_shape(const nn_checkpoint *c) { return &c->input; }
int nn_checkpoint_tensor_count(const nn_checkpoint *c) { return (int)c->msg->n_tensors; }

const char *nn_checkpoint_tensor(const nn_checkpoint *c, int i, nn_shape *shape)
{
    if (i < 0 || (size_t)i >= c->msg->n_tensors) return NULL;
    const Nn__Tensor *t = c->msg->tensors[i];
    if (shape) check_shape(t->name, t->n_shape, t->shape, shape, NULL); /* validated at load */
    return t->name;
}

const char *nn_checkpoint_metadata(const nn_checkpoint *c, const char *key)
{
    for (size_t i = 0; i < c->msg->n_metadata; i++)
        if (c->msg->metadata[i]->key && !strcmp(c->msg->metadata[i]->key, key))
            return c->msg->metadata[i]->value;
    return NULL;
}

static void add_props(nn_buf *b, Nn__Property *const *p, size_t n)
{
    for (size_t i = 0; i < n; i++) nn_buf_addf(b, " %s=%s", p[i]->key, p[i]->value);
}

char *nn_checkpoint_model_chain(const nn_checkpoint *c)
{
    nn_buf b = {0};
    const Nn__Model *m = c->msg->model;
    for (size_t i = 0; i < m->n_chain; i++) {
        nn_buf_addf(&b, "%s%s", i ? " ! " : "", m->chain[i]->name);
        add_props(&b, m->chain[i]->properties, m->chain[i]->n_properties);
    }
    return nn_buf_take(&b);
}

char *nn_checkpoint_optim_spec(const nn_checkpoint *c)
{
    const Nn__Optimizer *o = c->msg->optimizer;
    if (!o) return NULL;
    nn_buf b = {0};
    nn_buf_addf(&b, "%s", o->name);
    add_props(&b, o->hyperparameters, o->n_hyperparameters);
    return nn_buf_take(&b);
}

nn_status nn_checkpoint_train_state(const nn_checkpoint *c, nn_train_state *ts)
{
    const Nn__TrainState *t = c->msg->train;
    if (!t) return NN_NOT_FOUND;
    *ts = (nn_train_state){
        .epoch = t->epoch,
        .step = t->step,
        .batch = t->batch,
        .shuffle = !t->shuffle                 ? NN_SHUFFLE_NONE
                   : !strcmp(t->shuffle, "epoch")  ? NN_SHUFFLE_EPOCH
                   : !strcmp(t->shuffle, "sample") ? NN_SHUFFLE_SAMPLE
                                                   : NN_SHUFFLE_NONE,
        .seed = t->seed,
        .rng = {t->rng_state, t->rng_inc},
        .data = t->data,
        .loss = t->loss,
        .device = t->device,
        .order = t->order,
        .norder = (int64_t)t->n_order,
    };
    return NN_OK;
}

static const Nn__Tensor *find_tensor(const nn_checkpoint *c, const char *name)
{
    Nn__Tensor key = {.name = (char *)name}, *k = &key;
    Nn__Tensor **hit = bsearch(&k, c->by_name, c->msg->n_tensors, sizeof k, cmp_tensor);
    return hit ? *hit : NULL;
}

static bool shape_eq(const Nn__Tensor *t, const nn_tensor *x)
{
    if (t->n_shape != (size_t)x->shape.ndim) return false;
    for (size_t i = 0; i < t->n_shape; i++)
        if (t->shape[i] != x->shape.dim[i]) return false;
    return true;
}

static void fmt_pb_shape(const Nn__Tensor *t, char *buf, size_t len)
{
    nn_shape s;
    check_shape(t->name, t->n_shape, t->shape, &s, NULL);
    nn_shape_format(&s, 0, buf, len);
}

/* The tensor's bytes into t: the data may be unaligned, so copy through. */
static nn_status load_tensor(nn_tensor *t, const Nn__Tensor *src)
{
    float *tmp = malloc(src->data.len ? src->data.len : 1);
    if (!tmp) return NN_NO_MEMORY;
    memcpy(tmp, src->data.data, src->data.len);
    nn_status st = nn_tensor_from_host(t, tmp, t->numel);
    free(tmp);
    return st;
}

static nn_status shape_mismatch(const char *what, const char *name, const Nn__Tensor *t,
                                const nn_tensor *x, char **err)
{
    char a[96], b[96];
    fmt_pb_shape(t, a, sizeof a);
    nn_shape_format(&x->shape, 0, b, sizeof b);
    return nn_fail(err, NN_SHAPE, "%s '%s': the checkpoint has shape %s, the model %s", what, name,
                   a, b);
}

nn_status nn_checkpoint_load_model(const nn_checkpoint *c, nn_module *m, char **err)
{
    const Nn__Checkpoint *ck = c->msg;
    int np = nn_module_state_count(m); /* parameters and buffers */
    if (np < 0) return nn_fail(err, NN_NO_MEMORY, "out of memory listing the model's tensors");
    const nn_param *all = m->state;
    /* Check everything first, so that a mismatch leaves m unchanged. */
    for (int i = 0; i < np; i++) {
        const Nn__Tensor *t = find_tensor(c, all[i].name);
        if (!t)
            return nn_fail(err, NN_SHAPE, "the checkpoint has no tensor '%s' that the model needs",
                           all[i].name);
        if (!shape_eq(t, all[i].t)) return shape_mismatch("tensor", all[i].name, t, all[i].t, err);
    }
    /* Names are unique on both sides and each of the model's is in the file:
     * the file has a tensor without a place exactly when it has more. */
    if ((size_t)np < ck->n_tensors) {
        const char **names = malloc((size_t)(np > 0 ? np : 1) * sizeof *names);
        if (!names) return nn_fail(err, NN_NO_MEMORY, "out of memory");
        for (int i = 0; i < np; i++) names[i] = all[i].name;
        qsort(names, (size_t)np, sizeof *names, cmp_str);
        size_t k = 0;
        while (k < ck->n_tensors &&
               bsearch(&ck->tensors[k]->name, names, (size_t)np, sizeof *names, cmp_str))
            k++;
        free(names);
        return nn_fail(err, NN_SHAPE, "the checkpoint's tensor '%s' has no place in the model",
                       ck->tensors[k < ck->n_tensors ? k : 0]->name);
    }
    for (int i = 0; i < np; i++) {
        nn_status st = load_tensor(all[i].t, find_tensor(c, all[i].name));
        if (st) return nn_fail(err, st, "loading '%s': %s", all[i].name, nn_strerror(st));
    }
    return NN_OK;
}

nn_status nn_checkpoint_build_model(const nn_checkpoint *c, nn_ctx *ctx, nn_module **out,
                                    char **err)
{
    *out = NULL;
    char *chain = nn_checkpoint_model_chain(c);
    if (!chain) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_module *m;
    /* The model may claim no more than the file's tensors hold: sizes are
     * checked before each parameter is allocated, names and shapes after. */
    int64_t held = 0;
    for (size_t i = 0; i < c->msg->n_tensors; i++)
        held += (int64_t)(c->msg->tensors[i]->data.len / sizeof(float));
    ctx->budget_on = true;
    ctx->budget = held;
    nn_status st = nn_module_from_chain(ctx, chain, &c->input, &m, err);
    ctx->budget_on = false;
    free(chain);
    if (st) return st;
    if ((st = nn_checkpoint_load_model(c, m, err))) {
        nn_module_free(m);
        return st;
    }
    *out = m;
    return NN_OK;
}

static int param_index(const nn_optim *o, const char *name)
{
    for (int i = 0; i < o->nparams; i++)
        if (!strcmp(o->params[i].name, name)) return i;
    return -1;
}

static int slot_index(const nn_optim *o, const char *name)
{
    for (int j = 0; j < o->nstate; j++)
        if (!strcmp(o->vt->state_names[j], name)) return j;
    return -1;
}

nn_status nn_checkpoint_load_optim(const nn_checkpoint *c, nn_optim *o, char **err)
{
    const Nn__Optimizer *so = c->msg->optimizer;
    if (!so) return nn_fail(err, NN_NOT_FOUND, "the checkpoint holds no optimizer");
    if (strcmp(so->name, o->comp->def->name))
        return nn_fail(err, NN_INVALID, "the checkpoint's optimizer is '%s', not '%s'", so->name,
                       o->comp->def->name);
    /* Check first: hyper-parameters on a copy, every state tensor's place and shape. */
    nn_props *next = nn_props_clone(o->props);
    if (!next) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_status st = NN_OK;
    for (size_t i = 0; !st && i < so->n_hyperparameters; i++)
        st = nn_props_set(next, so->hyperparameters[i]->key, so->hyperparameters[i]->value, err);
    if (!st && NN_VT_HAS(o->vt, nn_optim_vt, validate)) st = o->vt->validate(next, err);
    for (size_t i = 0; !st && i < so->n_state; i++) {
        const Nn__ParamState *ps = so->state[i];
        int pi = param_index(o, ps->param);
        if (pi < 0) {
            st = nn_fail(err, NN_SHAPE, "optimizer state for '%s', which the model lacks", ps->param);
            break;
        }
        for (size_t k = 0; !st && k < ps->n_slots; k++) {
            int j = slot_index(o, ps->slots[k]->name);
            if (j < 0)
                st = nn_fail(err, NN_INVALID, "optimizer '%s' has no state named '%s'", so->name,
                             ps->slots[k]->name);
            else if (nn_optim_state_is_scalar(o, j)) {
                if (ps->slots[k]->n_shape)
                    st = nn_fail(err, NN_SHAPE,
                                 "optimizer state '%s' of '%s' is one number, not a tensor",
                                 ps->slots[k]->name, ps->param);
            } else if (!shape_eq(ps->slots[k], o->params[pi].t))
                st = shape_mismatch("optimizer state of", ps->param, ps->slots[k], o->params[pi].t, err);
        }
    }
    if (st) {
        nn_props_free(next);
        return st;
    }
    /* Replace, as PyTorch's load_state_dict: state the file lacks is dropped. */
    for (int i = 0; i < o->nparams * o->nstate; i++) {
        nn_tensor_free(o->state[i]);
        o->state[i] = NULL;
    }
    for (size_t i = 0; !st && i < so->n_state; i++) {
        const Nn__ParamState *ps = so->state[i];
        int pi = param_index(o, ps->param);
        for (size_t k = 0; !st && k < ps->n_slots; k++) {
            nn_tensor *t = nn_optim_state_new(o, pi, slot_index(o, ps->slots[k]->name));
            st = t ? load_tensor(t, ps->slots[k]) : NN_NO_MEMORY;
        }
    }
    if (st) {
        nn_props_free(next);
        return nn_fail(err, st, "loading the optimizer state: %s", nn_strerror(st));
    }
    nn_props_free(o->props);
    o->props = next;
    o->steps = so->steps;
    return NN_OK;
}

nn_status nn_checkpoint_build_optim(const nn_checkpoint *c, nn_module *m, nn_optim **out,
                                    char **err)
{
    *out = NULL;
    const Nn__Optimizer *so = c->msg->optimizer;
    if (!so) return nn_fail(err, NN_NOT_FOUND, "the checkpoint holds no optimizer");
    nn_buf words = {0};
    add_props(&words, so->hyperparameters, so->n_hyperparameters);
    char *w = nn_buf_take(&words);
    if (!w) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_optim *o;
    nn_status st = nn_optim_create(m->ctx, so->name, w, m, &o, err);
    free(w);
    if (st) return st;
    if ((st = nn_checkpoint_load_optim(c, o, err))) {
        nn_optim_free(o);
        return st;
    }
    *out = o;
    return NN_OK;
}
