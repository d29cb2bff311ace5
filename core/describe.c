/* describe.c - seeing a network: PyTorch's print(model), the modelsummary
 * table, the state_dict listing and the autograd graph as Graphviz DOT.
 * The first three are views of one walk over the module tree
 * (nn_module_visit); the graph walks the autograd tape from an output. */
#include "nn-impl.h"

#include <math.h>

/* ---- the walk ---- */

typedef struct walk {
    nn_module_visit_fn fn;
    void *user;
} walk;

static int visit(nn_module *m, const char *path, int depth, const walk *w)
{
    int r = w->fn(m, path, depth, w->user);
    if (r) return r < 0 ? 0 : r; /* < 0: skip the children */
    for (int i = 0; i < m->nchildren; i++) {
        char *sub = *path ? nn_format("%s.%s", path, m->children[i]->name)
                          : nn_strdup(m->children[i]->name);
        if (!sub) return 1;
        r = visit(m->children[i], sub, depth + 1, w);
        free(sub);
        if (r) return r;
    }
    return 0;
}

int nn_module_visit(nn_module *m, nn_module_visit_fn fn, void *user)
{
    walk w = {fn, user};
    return visit(m, "", 0, &w);
}

/* Parameters and buffers of m and its descendants: all, and the parameters
 * that require grad. Buffers count as non-trainable, as Keras counts a batch
 * norm's moving statistics. */
static void count_params(const nn_module *m, int64_t *all, int64_t *trainable)
{
    for (int i = 0; i < m->nparams; i++) {
        *all += m->params[i].t->numel;
        if (m->params[i].t->flags & NN_T_REQUIRES_GRAD) *trainable += m->params[i].t->numel;
    }
    for (int i = 0; i < m->nbufs; i++) *all += m->bufs[i].t->numel;
    for (int i = 0; i < m->nchildren; i++) count_params(m->children[i], all, trainable);
}

/* ---- print(model) ---- */

char *nn_module_extra_repr(nn_module *m)
{
    char buf[512] = "";
    if (m->vt && NN_VT_HAS(m->vt, nn_module_vt, extra_repr))
        m->vt->extra_repr(m, buf, sizeof buf);
    else if (m->props) { /* the core's default: "k=v, k=v" for non-default properties */
        char *words = nn_props_format(m->props, 1);
        nn_buf b = {0};
        char *save = NULL;
        for (char *t = words ? strtok_r(words, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save))
            nn_buf_addf(&b, "%s%s", b.len ? ", " : "", t);
        free(words);
        return nn_buf_take(&b);
    }
    return nn_strdup(buf);
}

static void repr(nn_buf *b, nn_module *m, int indent)
{
    char *extra = nn_module_extra_repr(m);
    nn_buf_addf(b, "%s(%s", nn_module_type(m), m->nchildren ? "\n" : (extra ? extra : ""));
    for (int i = 0; i < m->nchildren; i++) {
        nn_buf_addf(b, "%*s(%s): ", indent + 2, "", m->children[i]->name);
        repr(b, m->children[i], indent + 2);
        nn_buf_addf(b, "\n");
    }
    nn_buf_addf(b, "%*s)", m->nchildren ? indent : 0, "");
    free(extra);
}

char *nn_module_repr(nn_module *m)
{
    nn_buf b = {0};
    repr(&b, m, 0);
    nn_buf_addf(&b, "\n");
    return nn_buf_take(&b);
}

/* ---- summary ---- */

#define RULE_LEN 64

typedef struct summary {
    nn_buf *b;
    const nn_summary_opts *o;
    int row;
} summary;

static void rule(nn_buf *b, char c)
{
    char line[RULE_LEN + 2];
    memset(line, c, RULE_LEN);
    line[RULE_LEN] = '\n';
    line[RULE_LEN + 1] = 0;
    nn_buf_addf(b, "%s", line);
}

/* Flat: one row per leaf module, numbered in forward order as modelsummary
 * does. Hierarchical: every module below the root, indented by depth, a
 * composite with the parameters of its whole subtree. */
static int summary_row(nn_module *m, const char *path, int depth, void *user)
{
    summary *s = user;
    /* the root is a row only when it is a single layer */
    if ((depth == 0 && m->nchildren) || (m->nchildren && !s->o->hierarchical)) return 0;
    int64_t all = 0, trainable = 0;
    count_params(m, &all, &trainable);
    char name[96], shape[64];
    snprintf(name, sizeof name, "%*s%s-%d", s->o->hierarchical && depth ? 2 * (depth - 1) : 0, "",
             nn_module_type(m), ++s->row);
    nn_shape_format(s->o->show_input ? &m->in : &m->out, 1, shape, sizeof shape);
    nn_buf_addf(s->b, s->o->hierarchical ? "%-24s %23s %15lld\n" : "%24s %23s %15lld\n", name,
                shape, (long long)all);
    return 0;
}

char *nn_module_summary(nn_module *m, const nn_summary_opts *o)
{
    static const nn_summary_opts none = {0, 0};
    if (!o) o = &none;
    nn_buf b = {0};
    summary s = {&b, o, 0};
    rule(&b, '-');
    nn_buf_addf(&b, "%24s %23s %15s\n", "Layer (type)", o->show_input ? "Input Shape" : "Output Shape",
                "Param #");
    rule(&b, '=');
    nn_module_visit(m, summary_row, &s);
    int64_t all = 0, trainable = 0;
    count_params(m, &all, &trainable);
    rule(&b, '=');
    nn_buf_addf(&b, "Total params: %lld\nTrainable params: %lld\nNon-trainable params: %lld\n",
                (long long)all, (long long)trainable, (long long)(all - trainable));
    rule(&b, '-');
    return nn_buf_take(&b);
}

/* ---- the state_dict listing ---- */

static void tuple(nn_buf *b, const nn_shape *s)
{
    nn_buf_addf(b, "(");
    for (int i = 0; i < s->ndim; i++)
        nn_buf_addf(b, "%lld%s", (long long)s->dim[i], s->ndim == 1 ? "," : i + 1 < s->ndim ? ", " : "");
    nn_buf_addf(b, ")");
}

/* Values as nested lists, the last dimension on one line. */
static void values(nn_buf *b, const float *v, const nn_shape *s, int d, int64_t *k, int indent)
{
    if (s->ndim == 0) {
        nn_buf_addf(b, "%.8g", v[(*k)++]);
        return;
    }
    nn_buf_addf(b, "[");
    for (int64_t i = 0; i < s->dim[d]; i++) {
        if (d + 1 == s->ndim) {
            nn_buf_addf(b, "%s%11.8f", i ? ", " : "", v[(*k)++]);
        } else {
            if (i) nn_buf_addf(b, ",\n%*s", indent + d + 1, "");
            values(b, v, s, d + 1, k, indent);
        }
    }
    nn_buf_addf(b, "]");
}

typedef struct listing {
    nn_buf *b;
    int with_values;
    nn_status st;
} listing;

static int list_params(nn_module *m, const char *path, int depth, void *user)
{
    listing *l = user;
    if (l->with_values && m->nparams + m->nbufs) {
        char *extra = nn_module_extra_repr(m);
        nn_buf_addf(l->b, "*** %s%s%s(%s)\n", path, *path ? ": " : "", nn_module_type(m),
                    extra ? extra : "");
        free(extra);
    }
    for (int i = 0; i < m->nparams + m->nbufs; i++) { /* the state_dict's order */
        const nn_param *p = i < m->nparams ? &m->params[i] : &m->bufs[i - m->nparams];
        const nn_tensor *t = p->t;
        char *name = *path ? nn_format("%s.%s", path, p->name) : nn_strdup(p->name);
        nn_buf_addf(l->b, "%-20s :%7lld  shape: ", name ? name : "?", (long long)t->numel);
        tuple(l->b, &t->shape);
        nn_buf_addf(l->b, "\n");
        free(name);
        if (!l->with_values) continue;
        float *h = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
        if (!h || nn_tensor_to_host(t, h, t->numel)) {
            free(h);
            l->st = NN_NO_MEMORY;
            return 1;
        }
        int64_t k = 0;
        values(l->b, h, &t->shape, 0, &k, 0);
        nn_buf_addf(l->b, "\n");
        free(h);
    }
    return 0;
}

char *nn_module_params_text(nn_module *m, int with_values)
{
    nn_buf b = {0};
    listing l = {&b, with_values, NN_OK};
    nn_module_visit(m, list_params, &l);
    int64_t all = 0, trainable = 0;
    count_params(m, &all, &trainable);
    nn_buf_addf(&b, "%-20s :%7lld\n", "total", (long long)all);
    char *s = nn_buf_take(&b);
    if (l.st) {
        free(s);
        return NULL;
    }
    return s;
}

/* ---- the autograd graph as DOT (torchviz's picture) ---- */

/* Pointers met so far, numbered in order: an open-addressing hash table. */
typedef struct seen {
    const void **p;
    int *id;
    int n, cap; /* cap: a power of two, kept at least twice n */
} seen;

static size_t slot_of(const seen *s, const void *p)
{
    uintptr_t h = (uintptr_t)p;
    h ^= h >> 17;
    h *= (uintptr_t)0x9E3779B97F4A7C15u;
    h ^= h >> 29;
    size_t i = (size_t)h & (size_t)(s->cap - 1);
    while (s->p[i] && s->p[i] != p) i = (i + 1) & (size_t)(s->cap - 1);
    return i;
}

static bool grow(seen *s)
{
    seen g = {0};
    g.cap = s->cap ? 2 * s->cap : 128;
    g.p = calloc((size_t)g.cap, sizeof *g.p);
    g.id = calloc((size_t)g.cap, sizeof *g.id);
    if (!g.p || !g.id) {
        free(g.p);
        free(g.id);
        return false;
    }
    for (int i = 0; i < s->cap; i++)
        if (s->p[i]) {
            size_t k = slot_of(&g, s->p[i]);
            g.p[k] = s->p[i];
            g.id[k] = s->id[i];
        }
    g.n = s->n;
    free(s->p);
    free(s->id);
    *s = g;
    return true;
}

static void seen_free(seen *s)
{
    free(s->p);
    free(s->id);
}

/* The number of p in s; *fresh tells whether it was added just now. -1: no memory. */
static int mark(seen *s, const void *p, bool *fresh)
{
    *fresh = false;
    if (2 * (s->n + 1) > s->cap && !grow(s)) return -1;
    size_t i = slot_of(s, p);
    if (s->p[i]) return s->id[i];
    *fresh = true;
    s->p[i] = p;
    s->id[i] = s->n;
    return s->n++;
}

static const char *param_name(nn_module *m, const nn_tensor *t)
{
    int n = m ? nn_module_param_count(m) : 0;
    for (int i = 0; i < n; i++)
        if (m->all[i].t == t) return m->all[i].name;
    return NULL;
}

/* Nodes are numbered in the order the walk meets them, so the same network
 * always gives the same text. The walk is depth-first, on a stack of its own
 * (a chain of 100000 modules is as deep): a node's label comes when it is
 * met, the edge to its consumer once its inputs are done. */
typedef struct frame {
    const nn_node *n;
    int id, next; /* next: the input to look at */
} frame;

static int dot_walk(nn_buf *b, seen *s, nn_module *m, const nn_node *root)
{
    bool fresh;
    int id = mark(s, root, &fresh);
    if (id < 0) return -1;
    nn_buf_addf(b, "  n%d [label=\"%s\"]\n", id, root->name);
    frame *st = malloc(64 * sizeof *st);
    int depth = 0, cap = 64;
    if (!st) return -1;
    st[depth++] = (frame){root, id, 0};
    while (depth) {
        frame *f = &st[depth - 1];
        if (f->next == f->n->nin) {
            if (--depth) nn_buf_addf(b, "  n%d -> n%d\n", f->id, st[depth - 1].id);
            continue;
        }
        const nn_tensor *in = f->n->in[f->next++];
        if (!in || !(in->flags & NN_T_REQUIRES_GRAD)) continue;
        if (in->grad_fn) {
            int from = mark(s, in->grad_fn, &fresh);
            if (from < 0) break;
            if (!fresh) {
                nn_buf_addf(b, "  n%d -> n%d\n", from, f->id);
                continue;
            }
            nn_buf_addf(b, "  n%d [label=\"%s\"]\n", from, in->grad_fn->name);
            if (depth == cap) {
                frame *ns = realloc(st, 2 * (size_t)cap * sizeof *ns);
                if (!ns) break;
                st = ns;
                cap *= 2;
            }
            st[depth++] = (frame){in->grad_fn, from, 0};
            continue;
        }
        /* A leaf: its AccumulateGrad node and the parameter itself. */
        int leaf = mark(s, in, &fresh);
        if (leaf < 0) break;
        if (fresh) {
            const char *name = param_name(m, in);
            nn_buf_addf(b, "  a%d [label=\"AccumulateGrad\"]\n", leaf);
            nn_buf_addf(b, "  p%d [label=\"%s\\n", leaf, name ? name : "");
            tuple(b, &in->shape);
            nn_buf_addf(b, "\" fillcolor=lightblue]\n  p%d -> a%d\n", leaf, leaf);
        }
        nn_buf_addf(b, "  a%d -> n%d\n", leaf, f->id);
    }
    free(st);
    return depth ? -1 : id;
}

nn_status nn_graph_dot(nn_tensor *out, nn_module *m, char **dot, char **err)
{
    *dot = NULL;
    if (!out) return nn_fail(err, NN_INVALID, "no output tensor to draw");
    if (!out->grad_fn)
        return nn_fail(err, NN_INVALID,
                       "the output has no autograd graph (made under no-grad, or no parameter "
                       "requires grad)");
    nn_buf b = {0};
    seen s = {0};
    nn_buf_addf(&b, "digraph {\n  graph [size=\"12,12\"]\n"
                    "  node [align=left fontname=monospace fontsize=10 height=0.2 ranksep=0.1 "
                    "shape=box style=filled fillcolor=lightgrey]\n");
    nn_buf_addf(&b, "  output [label=\"output\\n");
    tuple(&b, &out->shape);
    nn_buf_addf(&b, "\" fillcolor=darkolivegreen1]\n");
    int last = dot_walk(&b, &s, m, out->grad_fn);
    nn_buf_addf(&b, "  n%d -> output\n}\n", last);
    if (last < 0) {
        seen_free(&s);
        free(nn_buf_take(&b));
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    seen_free(&s);
    *dot = nn_buf_take(&b);
    return *dot ? NN_OK : nn_fail(err, NN_NO_MEMORY, "out of memory");
}
