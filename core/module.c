/* module.c - the module tree: plugin modules, the core's Sequential, chains
 * ("linear out=5 ! sigmoid"), shape inference and PyTorch parameter names. */
#include "nn-impl.h"

#include <ctype.h>

static nn_module *module_alloc(nn_ctx *ctx, const char *name)
{
    nn_module *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->ctx = ctx;
    m->training = true;
    m->name = nn_strdup(name ? name : "");
    if (!m->name) {
        free(m);
        return NULL;
    }
    return m;
}

void nn_module_free(nn_module *m)
{
    if (!m) return;
    for (int i = 0; i < m->nchildren; i++) nn_module_free(m->children[i]);
    if (m->vt && NN_VT_HAS(m->vt, nn_module_vt, destroy)) m->vt->destroy(m);
    for (int i = 0; i < m->nparams; i++) {
        nn_tensor_free(m->params[i].t);
        free(m->params[i].name);
    }
    for (int i = 0; i < m->nbufs; i++) {
        nn_tensor_free(m->bufs[i].t);
        free(m->bufs[i].name);
    }
    for (int i = 0; i < m->nall; i++) free(m->all[i].name);
    for (int i = 0; i < m->nallbufs; i++) free(m->allbufs[i].name);
    for (int i = 0; i < m->nstate; i++) free(m->state[i].name);
    free(m->all);
    free(m->allbufs);
    free(m->state);
    free(m->bufs);
    free(m->params);
    free(m->children);
    free(m->priv);
    nn_props_free(m->props);
    free(m->name);
    free(m);
}

/* A parameter (requires grad) or a buffer of m, under a local name that
 * neither kind uses yet. */
static nn_tensor *add_tensor(nn_module *m, const char *name, const nn_shape *shape, bool buffer,
                             char **err)
{
    const char *what = buffer ? "buffer" : "parameter";
    for (int i = 0; i < m->nparams + m->nbufs; i++) {
        const nn_param *q = i < m->nparams ? &m->params[i] : &m->bufs[i - m->nparams];
        if (!strcmp(q->name, name)) {
            nn_fail(err, NN_INVALID, "%s '%s' registered twice", what, name);
            return NULL;
        }
    }
    if (!*name || strchr(name, '.')) {
        nn_fail(err, NN_INVALID, "'%s' is not a %s name (no dots, not empty)", name, what);
        return NULL;
    }
    nn_param **list = buffer ? &m->bufs : &m->params;
    int *count = buffer ? &m->nbufs : &m->nparams;
    nn_param *p = realloc(*list, (size_t)(*count + 1) * sizeof *p);
    if (!p) {
        nn_fail(err, NN_NO_MEMORY, "out of memory");
        return NULL;
    }
    *list = p;
    if (m->ctx->budget_on && shape->ndim >= 0 && shape->ndim <= NN_MAX_DIMS) {
        /* A checkpoint's model: no tensor larger than what the file holds. */
        int64_t numel = 1;
        for (int i = 0; i < shape->ndim && numel <= m->ctx->budget; i++)
            numel = shape->dim[i] > 0 && numel > INT64_MAX / shape->dim[i] ? INT64_MAX
                                                                             : numel * shape->dim[i];
        if (numel > m->ctx->budget) {
            char sh[96];
            nn_shape_format(shape, 0, sh, sizeof sh);
            nn_fail(err, NN_SHAPE, "%s '%s' of shape %s is larger than the checkpoint's tensors "
                    "that are left (%lld elements)", what, name, sh, (long long)m->ctx->budget);
            return NULL;
        }
        m->ctx->budget -= numel;
    }
    nn_tensor *t = nn_tensor_new(m->ctx, shape, !buffer);
    char *n = nn_strdup(name);
    if (!t || !n) {
        const char *msg;
        nn_ctx_error(m->ctx, &msg);
        nn_fail(err, NN_NO_MEMORY, "%s '%s': %s", what, name, t ? "out of memory" : msg);
        nn_tensor_free(t);
        free(n);
        return NULL;
    }
    p[*count] = (nn_param){n, t, buffer};
    (*count)++;
    return t;
}

nn_tensor *nn_module_add_param(nn_module *m, const char *name, const nn_shape *shape, char **err)
{
    return add_tensor(m, name, shape, false, err);
}

nn_tensor *nn_module_add_buffer(nn_module *m, const char *name, const nn_shape *shape, char **err)
{
    return add_tensor(m, name, shape, true, err);
}

static nn_status module_from(nn_ctx *ctx, const nn_component *comp, nn_props *props,
                             const nn_shape *in, const char *name, nn_module **out, char **err)
{
    *out = NULL;
    const nn_module_vt *vt = comp->def->vt;
    if (!NN_VT_HAS(vt, nn_module_vt, init) || !NN_VT_HAS(vt, nn_module_vt, forward)) {
        nn_props_free(props);
        return nn_fail(err, NN_ABI, "module '%s' (%s) lacks init or forward", comp->def->name,
                       nn_component_file(comp));
    }
    nn_module *m = module_alloc(ctx, name);
    if (!m || (vt->priv_size && !(m->priv = calloc(1, vt->priv_size)))) {
        nn_props_free(props);
        nn_module_free(m);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    m->comp = comp;
    m->vt = vt;
    m->props = props;
    m->in = *in;
    nn_status st = vt->init(m, props, &m->in, &m->out, err);
    for (int i = 0; !st && i < m->in.ndim + m->out.ndim; i++) {
        const nn_shape *s = i < m->in.ndim ? &m->in : &m->out;
        int64_t d = s->dim[i < m->in.ndim ? i : i - m->in.ndim];
        if (d < 0)
            st = nn_fail(err, NN_SHAPE, "its %s shape is unknown; give the input width (in=N) "
                         "or the data", s == &m->in ? "input" : "output");
        else if (d == 0)
            st = nn_fail(err, NN_SHAPE, "a dimension of size 0");
    }
    if (!st && NN_VT_HAS(vt, nn_module_vt, reset_parameters)) st = vt->reset_parameters(m, &ctx->rng);
    if (st) {
        if (err && !*err) nn_fail(err, st, "%s: %s", comp->def->name, nn_strerror(st));
        nn_module_free(m);
        return st;
    }
    *out = m;
    return NN_OK;
}

nn_status nn_module_create(nn_ctx *ctx, const char *name, const char *words, const nn_shape *in,
                           nn_module **out, char **err)
{
    const nn_component *comp;
    nn_props *props;
    *out = NULL;
    nn_status st = nn_component_open(ctx->reg, NN_KIND_MODULE, name, words, &comp, &props, err);
    if (st) return st;
    return module_from(ctx, comp, props, in, "", out, err);
}

static nn_status add_child(nn_module *parent, nn_module *child, char **err);

nn_module *nn_module_add_child(nn_module *m, const char *name, const char *component,
                               const char *words, const nn_shape *in, char **err)
{
    for (int i = 0; i < m->nchildren; i++)
        if (!strcmp(m->children[i]->name, name)) {
            nn_fail(err, NN_INVALID, "child '%s' added twice", name);
            return NULL;
        }
    if (!*name || strchr(name, '.')) {
        nn_fail(err, NN_INVALID, "'%s' is not a child name (no dots, not empty)", name);
        return NULL;
    }
    const nn_component *comp;
    nn_props *props;
    nn_module *c = NULL;
    nn_status st = nn_component_open(m->ctx->reg, NN_KIND_MODULE, component, words, &comp, &props, err);
    if (!st) st = module_from(m->ctx, comp, props, in, name, &c, err);
    if (!st && (st = add_child(m, c, err))) {
        nn_module_free(c);
        c = NULL;
    }
    if (st) {
        nn_fail_context(err, st, "child '%s' (%s)", name, component);
        return NULL;
    }
    return c;
}

static nn_status add_child(nn_module *parent, nn_module *child, char **err)
{
    nn_module **c = realloc(parent->children, (size_t)(parent->nchildren + 1) * sizeof *c);
    if (!c) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    parent->children = c;
    c[parent->nchildren++] = child;
    return NN_OK;
}

/* Splits one chain element "name k=v k=v" into its name and its words. */
static nn_status chain_element(const char *text, size_t len, char *name, size_t name_len,
                               const char **words, size_t *words_len, char **err)
{
    while (len && isspace((unsigned char)*text)) text++, len--;
    while (len && isspace((unsigned char)text[len - 1])) len--;
    size_t n = 0;
    while (n < len && !isspace((unsigned char)text[n])) n++;
    if (n == 0) return nn_fail(err, NN_INVALID, "empty element in the model chain");
    if (n >= name_len || memchr(text, '=', n))
        return nn_fail(err, NN_INVALID, "'%.*s' is not a component name", (int)n, text);
    memcpy(name, text, n);
    name[n] = 0;
    *words = text + n;
    *words_len = len - n;
    return NN_OK;
}

nn_status nn_module_from_chain(nn_ctx *ctx, const char *chain, const nn_shape *in,
                               nn_module **out, char **err)
{
    *out = NULL;
    nn_module *seq = module_alloc(ctx, "");
    if (!seq) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    seq->in = *in;
    nn_shape cur = *in;
    nn_status st = NN_OK;
    int index = 0;
    for (const char *p = chain;; index++) {
        size_t len = strcspn(p, "!");
        char name[64], child[16];
        const char *words = NULL;
        size_t wlen = 0;
        if ((st = chain_element(p, len, name, sizeof name, &words, &wlen, err))) break;
        char *w = malloc(wlen + 1);
        if (!w) {
            st = nn_fail(err, NN_NO_MEMORY, "out of memory");
            break;
        }
        memcpy(w, words, wlen);
        w[wlen] = 0;
        const nn_component *comp;
        nn_props *props;
        st = nn_component_open(ctx->reg, NN_KIND_MODULE, name, w, &comp, &props, err);
        free(w);
        nn_module *m = NULL;
        snprintf(child, sizeof child, "%d", index);
        if (!st) st = module_from(ctx, comp, props, &cur, child, &m, err);
        if (!st && (st = add_child(seq, m, err))) nn_module_free(m);
        if (st) {
            /* Say which element failed: "element 2 (linear): ..." */
            nn_fail_context(err, st, "model element %d (%s)", index, name);
            break;
        }
        if (index == 0) seq->in = m->in; /* with its unknown dimensions resolved */
        cur = m->out;
        if (!p[len]) break;
        p += len + 1;
    }
    if (st) {
        nn_module_free(seq);
        return st;
    }
    seq->out = cur;
    if (seq->nchildren == 1) { /* one element is the model itself, as nn.Linear alone */
        nn_module *only = seq->children[0];
        seq->nchildren = 0;
        nn_module_free(seq);
        free(only->name);
        if (!(only->name = nn_strdup(""))) {
            nn_module_free(only);
            return nn_fail(err, NN_NO_MEMORY, "out of memory");
        }
        *out = only;
        return NN_OK;
    }
    *out = seq;
    return NN_OK;
}

/* Is t a batch of samples of shape s: (N, s...)? */
static bool batch_of(const nn_shape *t, const nn_shape *s)
{
    if (t->ndim != s->ndim + 1) return false;
    for (int i = 0; i < s->ndim; i++)
        if (t->dim[i + 1] != s->dim[i]) return false;
    return true;
}

/* A plugin's forward must return a tensor, or NULL with the context's error
 * recorded; given a batch of its declared input, the batch of its declared
 * output. Either mistake is recorded here, naming the component, so that it
 * stops training instead of showing up later as someone else's error. */
static nn_tensor *plugin_forward(nn_module *m, nn_tensor *x)
{
    nn_ctx *ctx = m->ctx;
    const char *name = m->comp->def->name;
    const char *type = m->vt->type_name ? m->vt->type_name : name;
    nn_tensor *y = m->vt->forward(m, x);
    if (!y) {
        if (ctx->err == NN_OK)
            nn_ctx_fail(ctx, NN_INTERNAL, "module '%s' (%s) returned no tensor and recorded no error",
                        name, type);
        return NULL;
    }
    if (batch_of(&x->shape, &m->in) &&
        !(batch_of(&y->shape, &m->out) && y->shape.dim[0] == x->shape.dim[0])) {
        nn_shape want = {m->out.ndim + 1, {x->shape.dim[0]}};
        memcpy(want.dim + 1, m->out.dim, (size_t)m->out.ndim * sizeof want.dim[0]);
        char got[96], decl[96], exp[96];
        nn_shape_format(&y->shape, 0, got, sizeof got);
        nn_shape_format(&m->out, 0, decl, sizeof decl);
        nn_shape_format(&want, 0, exp, sizeof exp);
        return nn_ctx_fail(ctx, NN_SHAPE,
                           "module '%s' (%s) returned shape %s, but its init declared the output "
                           "%s per sample (%s for this batch)",
                           name, type, got, decl, exp);
    }
    return y;
}

nn_tensor *nn_module_forward(nn_module *m, nn_tensor *x)
{
    if (!x) return NULL;
    if (m->vt) return plugin_forward(m, x);
    for (int i = 0; i < m->nchildren && x; i++) x = nn_module_forward(m->children[i], x);
    return x;
}

void nn_module_train(nn_module *m, int training)
{
    m->training = training != 0;
    for (int i = 0; i < m->nchildren; i++) nn_module_train(m->children[i], training);
}

int nn_module_is_training(const nn_module *m) { return m->training; }
const char *nn_module_type(const nn_module *m) { return m->vt ? m->vt->type_name : "Sequential"; }
const char *nn_module_name(const nn_module *m) { return m->name; }
const nn_shape *nn_module_in_shape(const nn_module *m) { return &m->in; }
const nn_shape *nn_module_out_shape(const nn_module *m) { return &m->out; }
int nn_module_child_count(const nn_module *m) { return m->nchildren; }
nn_module *nn_module_child(const nn_module *m, int i)
{
    return i >= 0 && i < m->nchildren ? m->children[i] : NULL;
}
nn_ctx *nn_module_ctx(const nn_module *m) { return m->ctx; }
void *nn_module_priv(nn_module *m) { return m->priv; }
const nn_props *nn_module_props(const nn_module *m) { return m->props; }

/* Depth first, own parameters (and buffers) before children's, as PyTorch's
 * named_parameters, named_buffers and state_dict. what: 1 parameters, 2
 * buffers, 3 both. */
static bool collect(nn_param **arr, int *n, const nn_module *m, const char *prefix, int what)
{
    for (int i = 0; i < m->nparams + m->nbufs; i++) {
        const nn_param *q = i < m->nparams ? &m->params[i] : &m->bufs[i - m->nparams];
        if (!(what & (q->buffer ? 2 : 1))) continue;
        nn_param p = {nn_format("%s%s", prefix, q->name), q->t, q->buffer};
        nn_param *a = realloc(*arr, (size_t)(*n + 1) * sizeof *a);
        if (!p.name || !a) {
            free(p.name);
            if (a) *arr = a;
            return false;
        }
        *arr = a;
        a[(*n)++] = p;
    }
    for (int i = 0; i < m->nchildren; i++) {
        char *pre = nn_format("%s%s.", prefix, m->children[i]->name);
        bool ok = pre && collect(arr, n, m->children[i], pre, what);
        free(pre);
        if (!ok) return false;
    }
    return true;
}

/* Builds the cache *arr of m's tree on first use; its length, or -1 when
 * memory ran out (never a shorter list). */
static int cached(nn_module *m, nn_param **arr, int *n, int what)
{
    if (!*arr && !collect(arr, n, m, "", what)) {
        for (int i = 0; i < *n; i++) free((*arr)[i].name);
        free(*arr);
        *arr = NULL;
        *n = 0;
        return -1;
    }
    return *n;
}

int nn_module_param_count(nn_module *m) { return cached(m, &m->all, &m->nall, 1); }

nn_tensor *nn_module_param(nn_module *m, int i, const char **name)
{
    if (i < 0 || i >= nn_module_param_count(m)) return NULL;
    if (name) *name = m->all[i].name;
    return m->all[i].t;
}

int nn_module_buffer_count(nn_module *m) { return cached(m, &m->allbufs, &m->nallbufs, 2); }

nn_tensor *nn_module_buffer(nn_module *m, int i, const char **name)
{
    if (i < 0 || i >= nn_module_buffer_count(m)) return NULL;
    if (name) *name = m->allbufs[i].name;
    return m->allbufs[i].t;
}

int nn_module_state_count(nn_module *m) { return cached(m, &m->state, &m->nstate, 3); }

nn_tensor *nn_module_state(nn_module *m, int i, const char **name, int *is_buffer)
{
    if (i < 0 || i >= nn_module_state_count(m)) return NULL;
    if (name) *name = m->state[i].name;
    if (is_buffer) *is_buffer = m->state[i].buffer;
    return m->state[i].t;
}

void nn_module_zero_grad(nn_module *m)
{
    int n = nn_module_param_count(m);
    for (int i = 0; i < n; i++) nn_tensor_zero_grad(m->all[i].t);
}
