/* trace.c - ONNX export by tracing (nn/onnx.h): the tracer that op calls
 * report to while ctx->trace is set, the graph builder that lowerings emit
 * nodes into (nn/plugin.h), and the walk that lowers each recorded call.
 *
 * A tensor is known by its address: scratch tensors live until the step
 * ends, so no two tensors of one forward pass share one. A tensor that no
 * recorded call produced is a leaf: the input, a parameter or buffer (an
 * initializer named as in the state_dict), or another constant. */
#include "nn-impl.h"
#include "nn/onnx.h"

#include <math.h>

/* ---- the tracer ------------------------------------------------------------ */

typedef struct rec {
    const char *op, *plugin;
    nn_onnx_lower_fn lower;
    int nin, nout, nattr;
    nn_tensor *in[NN_OP_MAX_IN], *out[NN_OP_MAX_OUT];
    double attr[NN_OP_MAX_ATTR];
} rec;

struct nn_trace {
    rec *r;
    int n, cap;
    bool oom;
};

static rec *trace_add(nn_ctx *ctx)
{
    struct nn_trace *t = ctx->trace;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        rec *r = realloc(t->r, sizeof *r * (size_t)cap);
        if (!r) {
            t->oom = true;
            return NULL;
        }
        t->r = r;
        t->cap = cap;
    }
    rec *r = &t->r[t->n++];
    memset(r, 0, sizeof *r);
    return r;
}

void nn_trace_core(nn_ctx *ctx, nn_core_op op, nn_tensor *out, nn_tensor *a, nn_tensor *b,
                   nn_tensor *c, double a0, double a1, double a2)
{
    rec *r = trace_add(ctx);
    if (!r) return;
    r->op = nn_core_lowerings[op].name;
    r->plugin = "libnn";
    r->lower = nn_core_lowerings[op].lower;
    nn_tensor *in[3] = {a, b, c};
    r->nin = c ? 3 : b ? 2 : 1;
    if (op == NN_CORE_ADDMM) r->nin = 3; /* the bias may be absent */
    memcpy(r->in, in, sizeof in);
    r->nout = 1;
    r->out[0] = out;
    r->nattr = 3;
    r->attr[0] = a0;
    r->attr[1] = a1;
    r->attr[2] = a2;
}

void nn_trace_op(nn_ctx *ctx, const struct nn_op *op, nn_tensor *const *in, nn_tensor *const *out,
                 const double *attr)
{
    rec *r = trace_add(ctx);
    if (!r) return;
    const nn_component *comp = nn_op_component(op);
    const nn_op_def *d = comp->def->vt;
    r->op = comp->def->name;
    r->plugin = nn_component_plugin(comp);
    r->lower = NN_VT_HAS(d, nn_op_def, onnx) ? d->onnx : NULL;
    r->nin = d->nin;
    r->nout = d->nout;
    r->nattr = d->nattr;
    memcpy(r->in, in, sizeof *in * (size_t)d->nin);
    memcpy(r->out, out, sizeof *out * (size_t)d->nout);
    if (d->nattr) memcpy(r->attr, attr, sizeof *attr * (size_t)d->nattr);
}

/* ---- the builder ------------------------------------------------------------- */

typedef struct value {
    const nn_tensor *t;
    const char *name;
    bool batched;
} value;

struct nn_onnx {
    int opset;
    nn_onnx_node_info *nodes;
    int nnodes, capnodes;
    nn_onnx_init *inits;
    int ninits, capinits;
    char **strs; /* every string and array the graph holds, freed together */
    int nstrs, capstrs;
    value *vals;
    int nvals, capvals;
    int counter;
    nn_shape io[2];
    nn_status st; /* the first failure */
    char *err;
    const rec *cur; /* the call being lowered */
    nn_module *model;
};

static bool grow(void **p, int *cap, int n, size_t size)
{
    if (n < *cap) return true;
    int c = *cap ? 2 * *cap : 16;
    void *q = realloc(*p, size * (size_t)c);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

static nn_status oom(nn_onnx *b)
{
    if (!b->st) {
        b->st = NN_NO_MEMORY;
        free(b->err);
        b->err = NULL;
        nn_fail(&b->err, NN_NO_MEMORY, "out of memory while building the ONNX graph");
    }
    return b->st;
}

/* Keeps p (malloc'd) until the graph is freed; NULL (and p freed) on failure. */
static void *keep(nn_onnx *b, void *p)
{
    if (!p || !grow((void **)&b->strs, &b->capstrs, b->nstrs, sizeof *b->strs)) {
        free(p);
        oom(b);
        return NULL;
    }
    b->strs[b->nstrs++] = p;
    return p;
}

static const char *kept_printf(nn_onnx *b, const char *fmt, ...) NN_PRINTF(2, 3);
static const char *kept_printf(nn_onnx *b, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return keep(b, strdup(buf));
}

static void *kept_copy(nn_onnx *b, const void *src, size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p && bytes) memcpy(p, src, bytes);
    return keep(b, p);
}

nn_status nn_onnx_node(nn_onnx *b, const char *op_type, int nin, const char *const *in, int nout,
                       const char *const *out)
{
    if (b->st) return b->st;
    if (!grow((void **)&b->nodes, &b->capnodes, b->nnodes, sizeof *b->nodes)) return oom(b);
    const char **ins = keep(b, malloc(sizeof *ins * (size_t)(nin ? nin : 1)));
    const char **outs = keep(b, malloc(sizeof *outs * (size_t)(nout ? nout : 1)));
    const char *type = keep(b, strdup(op_type));
    const char *name = kept_printf(b, "%s_%d", op_type, b->counter++);
    if (b->st) return b->st;
    for (int i = 0; i < nin; i++) ins[i] = in[i] ? keep(b, strdup(in[i])) : "";
    for (int k = 0; k < nout; k++) outs[k] = keep(b, strdup(out[k]));
    if (b->st) return b->st;
    b->nodes[b->nnodes++] = (nn_onnx_node_info){type, name, nin, nout, 0, ins, outs, NULL};
    return NN_OK;
}

static nn_onnx_attr *node_attr(nn_onnx *b, nn_onnx_node_info *nd, const char *name)
{
    nn_onnx_attr *a = keep(b, malloc(sizeof *a * (size_t)(nd->nattr + 1)));
    const char *nm = keep(b, strdup(name));
    if (!a || !nm) return NULL;
    if (nd->nattr) memcpy(a, nd->attr, sizeof *a * (size_t)nd->nattr);
    nd->attr = a; /* the old array stays kept until the end: small */
    a += nd->nattr++;
    memset(a, 0, sizeof *a);
    a->name = nm;
    return a;
}

/* A new attribute of the last node. */
static nn_onnx_attr *new_attr(nn_onnx *b, const char *name)
{
    if (b->st) return NULL;
    if (!b->nnodes) {
        nn_onnx_refuse(b, "an attribute before any node");
        return NULL;
    }
    return node_attr(b, &b->nodes[b->nnodes - 1], name);
}

nn_status nn_onnx_attr_int(nn_onnx *b, const char *name, int64_t v)
{
    nn_onnx_attr *a = new_attr(b, name);
    if (!a) return b->st;
    a->kind = NN_ONNX_ATTR_INT;
    a->i = v;
    return NN_OK;
}

nn_status nn_onnx_attr_float(nn_onnx *b, const char *name, float v)
{
    nn_onnx_attr *a = new_attr(b, name);
    if (!a) return b->st;
    a->kind = NN_ONNX_ATTR_FLOAT;
    a->f = v;
    return NN_OK;
}

nn_status nn_onnx_attr_ints(nn_onnx *b, const char *name, int n, const int64_t *v)
{
    nn_onnx_attr *a = new_attr(b, name);
    const int64_t *c = a ? kept_copy(b, v, sizeof *v * (size_t)n) : NULL;
    if (!c) return b->st;
    a->kind = NN_ONNX_ATTR_INTS;
    a->n = n;
    a->ints = c;
    return NN_OK;
}

nn_status nn_onnx_attr_string(nn_onnx *b, const char *name, const char *v)
{
    nn_onnx_attr *a = new_attr(b, name);
    const char *c = a ? keep(b, strdup(v)) : NULL;
    if (!c) return b->st;
    a->kind = NN_ONNX_ATTR_STRING;
    a->s = c;
    return NN_OK;
}

const char *nn_onnx_temp(nn_onnx *b)
{
    return b->st ? NULL : kept_printf(b, "tmp_%d", b->counter++);
}

static const char *add_init(nn_onnx *b, const char *name, const nn_shape *s, const float *f,
                            const int64_t *i)
{
    if (b->st) return NULL;
    if (!grow((void **)&b->inits, &b->capinits, b->ninits, sizeof *b->inits)) {
        oom(b);
        return NULL;
    }
    int64_t n = nn_shape_numel(s);
    const char *nm = keep(b, strdup(name));
    const void *data = f ? kept_copy(b, f, sizeof *f * (size_t)n)
                         : kept_copy(b, i, sizeof *i * (size_t)n);
    if (!nm || !data) return NULL;
    b->inits[b->ninits++] = (nn_onnx_init){nm, *s, !f, f ? data : NULL, f ? NULL : data};
    return nm;
}

const char *nn_onnx_const(nn_onnx *b, const nn_shape *s, const float *data)
{
    char name[32];
    snprintf(name, sizeof name, "const_%d", b->counter++);
    return add_init(b, name, s, data, NULL);
}

const char *nn_onnx_const_ints(nn_onnx *b, int n, const int64_t *v)
{
    char name[32];
    snprintf(name, sizeof name, "const_%d", b->counter++);
    nn_shape s = {1, {n}};
    return add_init(b, name, &s, NULL, v);
}

nn_status nn_onnx_refuse(nn_onnx *b, const char *why)
{
    if (b->st) return b->st;
    b->st = NN_UNSUPPORTED;
    if (b->cur)
        nn_fail(&b->err, NN_UNSUPPORTED, "op '%s' (plugin '%s') cannot be exported to ONNX: %s",
                b->cur->op, b->cur->plugin, why);
    else
        nn_fail(&b->err, NN_UNSUPPORTED, "cannot export to ONNX: %s", why);
    return b->st;
}

/* ---- values -------------------------------------------------------------------- */

static value *find_value(nn_onnx *b, const nn_tensor *t)
{
    for (int i = b->nvals - 1; i >= 0; i--)
        if (b->vals[i].t == t) return &b->vals[i];
    return NULL;
}

static value *set_value(nn_onnx *b, const nn_tensor *t, const char *name, bool batched)
{
    value *v = find_value(b, t);
    if (!v) {
        if (!grow((void **)&b->vals, &b->capvals, b->nvals, sizeof *b->vals)) {
            oom(b);
            return NULL;
        }
        v = &b->vals[b->nvals++];
    }
    *v = (value){t, name, batched};
    return v;
}

/* The name of a tensor that no call produced: an initializer. */
static value *leaf(nn_onnx *b, const nn_tensor *t)
{
    const char *name = NULL;
    for (int i = 0, n = nn_module_state_count(b->model); i < n && !name; i++) {
        const char *nm;
        int is_buffer;
        if (nn_module_state(b->model, i, &nm, &is_buffer) == t) name = nm;
    }
    char cname[32];
    if (!name) {
        snprintf(cname, sizeof cname, "const_%d", b->counter++);
        name = cname;
    }
    float *h = malloc(sizeof *h * (size_t)(t->numel ? t->numel : 1));
    if (!h) {
        oom(b);
        return NULL;
    }
    nn_status st = nn_tensor_to_host(t, h, t->numel);
    const char *kept = st ? NULL : add_init(b, name, &t->shape, h, NULL);
    free(h);
    if (st && !b->st) {
        b->st = st;
        nn_fail(&b->err, st, "cannot read the constant '%s' of the model", name);
    }
    return kept ? set_value(b, t, kept, false) : NULL;
}

nn_status nn_onnx_alias(nn_onnx *b, int out, const char *name)
{
    if (b->st) return b->st;
    if (!b->cur || out < 0 || out >= b->cur->nout) return nn_onnx_refuse(b, "alias of no output");
    const char *kept = keep(b, strdup(name));
    bool batched = false;
    for (int i = 0; i < b->cur->nin; i++) {
        value *v = b->cur->in[i] ? find_value(b, b->cur->in[i]) : NULL;
        if (v && !strcmp(v->name, name)) batched = v->batched;
    }
    return kept && set_value(b, b->cur->out[out], kept, batched) ? NN_OK : b->st;
}

/* ---- lowering the trace -------------------------------------------------------- */

static nn_status lower_one(nn_onnx *b, const rec *r, const nn_tensor *y)
{
    const char *in[NN_OP_MAX_IN] = {0}, *out[NN_OP_MAX_OUT];
    const nn_shape *ish[NN_OP_MAX_IN] = {0}, *osh[NN_OP_MAX_OUT];
    int batched[NN_OP_MAX_IN] = {0};
    bool any = false;
    b->cur = r;
    if (!r->lower) {
        b->st = NN_UNSUPPORTED;
        return nn_fail(&b->err, NN_UNSUPPORTED,
                       "op '%s' (plugin '%s') has no ONNX lowering, so the model cannot be "
                       "exported (docs/onnx.md: how an op declares one)",
                       r->op, r->plugin);
    }
    for (int i = 0; i < r->nin; i++) {
        if (!r->in[i]) continue;
        value *v = find_value(b, r->in[i]);
        if (!v && !(v = leaf(b, r->in[i]))) return b->st;
        in[i] = v->name;
        ish[i] = &r->in[i]->shape;
        batched[i] = v->batched;
        any = any || v->batched;
    }
    for (int k = 0; k < r->nout; k++) {
        out[k] = r->out[k] == y ? "output" : kept_printf(b, "%s_%d", r->op, b->counter++);
        osh[k] = &r->out[k]->shape;
        if (!out[k] || !set_value(b, r->out[k], out[k], any)) return b->st;
    }
    nn_onnx_call c = {b->opset, r->nin, r->nout, r->nattr, in, out, ish, osh, batched, r->attr};
    nn_status st = r->lower(b, &c);
    if (st && !b->st) {
        b->st = st;
        nn_fail(&b->err, st, "op '%s' (plugin '%s'): its ONNX lowering failed: %s", r->op,
                r->plugin, nn_strerror(st));
    }
    return b->st;
}

/* The forward pass, with the tracer on. */
static nn_tensor *traced_forward(nn_module *m, struct nn_trace *t, nn_tensor **x, char **err)
{
    nn_ctx *ctx = nn_module_ctx(m);
    const nn_shape *in = nn_module_in_shape(m);
    nn_shape s = {in->ndim + 1, {2}}; /* two samples: a batch, not a lone row */
    memcpy(s.dim + 1, in->dim, sizeof in->dim[0] * (size_t)in->ndim);
    if (!(*x = nn_tensor_scratch(ctx, &s)) || nn_tensor_zero_(*x)) {
        nn_fail(err, NN_NO_MEMORY, "out of memory for the traced input");
        return NULL;
    }
    int was_training = nn_module_is_training(m);
    int prev_grad = nn_grad_set_enabled(ctx, 0);
    nn_module_train(m, 0); /* model.eval(), torch.no_grad(), as torch.onnx.export */
    ctx->trace = t;
    nn_tensor *y = nn_module_forward(m, *x);
    ctx->trace = NULL;
    nn_module_train(m, was_training);
    nn_grad_set_enabled(ctx, prev_grad);
    const char *msg;
    nn_status st = nn_ctx_error(ctx, &msg);
    if (!y || st) {
        nn_fail(err, st ? st : NN_INTERNAL, "the traced forward pass failed: %s",
                st ? msg : "no output");
        nn_ctx_clear_error(ctx);
        return NULL;
    }
    if (t->oom) {
        nn_fail(err, NN_NO_MEMORY, "out of memory while tracing");
        return NULL;
    }
    return y;
}

/* How many inputs of nodes read value name. */
static int uses(const nn_onnx *b, const char *name)
{
    int n = 0;
    for (int i = 0; i < b->nnodes; i++)
        for (int k = 0; k < b->nodes[i].nin; k++) n += !strcmp(b->nodes[i].in[k], name);
    return n;
}

/* Linear's x @ W^T traces as t(W) and addmm: Transpose and Gemm. Gemm reads
 * B transposed itself (transB), as torch.onnx.export writes it: the
 * Transpose goes when the Gemm is its only reader. */
static void fold_transposes(nn_onnx *b)
{
    for (int i = 0; i < b->nnodes && !b->st; i++) {
        nn_onnx_node_info *t = &b->nodes[i];
        bool swap = t->nattr == 1 && t->attr[0].n == 2 && t->attr[0].ints[0] == 1;
        if (strcmp(t->op_type, "Transpose") || !swap || uses(b, t->out[0]) != 1) continue;
        for (int j = i + 1; j < b->nnodes; j++) {
            nn_onnx_node_info *g = &b->nodes[j];
            if (strcmp(g->op_type, "Gemm") || g->nin < 2 || strcmp(g->in[1], t->out[0]) ||
                g->nattr)
                continue;
            nn_onnx_attr *a = node_attr(b, g, "transB");
            if (!a) return;
            a->kind = NN_ONNX_ATTR_INT;
            a->i = 1;
            ((const char **)g->in)[1] = t->in[0];
            memmove(t, t + 1, sizeof *t * (size_t)(b->nnodes - i - 1));
            b->nnodes--;
            i--;
            break;
        }
    }
}

static nn_status lower_all(nn_onnx *b, const struct nn_trace *t, nn_tensor *x, nn_tensor *y)
{
    if (!set_value(b, x, "input", true)) return b->st;
    for (int i = 0; i < t->n && !b->st; i++) lower_one(b, &t->r[i], y);
    b->cur = NULL;
    fold_transposes(b);
    if (b->st) return b->st;
    value *v = find_value(b, y);
    if (!v) return nn_onnx_refuse(b, "the model's output comes from no op");
    if (strcmp(v->name, "output")) { /* a model whose last op is a view or none */
        const char *in[] = {v->name}, *out[] = {"output"};
        nn_onnx_node(b, "Identity", 1, in, 1, out);
    }
    return b->st;
}

nn_status nn_onnx_trace(nn_module *m, int opset, nn_onnx **out, char **err)
{
    *out = NULL;
    if (opset < NN_ONNX_OPSET_MIN || opset > NN_ONNX_OPSET_MAX)
        return nn_fail(err, NN_UNSUPPORTED, "ONNX opset %d is not supported: nn writes opsets %d "
                       "to %d", opset, NN_ONNX_OPSET_MIN, NN_ONNX_OPSET_MAX);
    nn_onnx *b = calloc(1, sizeof *b);
    if (!b) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    b->opset = opset;
    b->model = m;
    b->io[0] = *nn_module_in_shape(m);
    b->io[1] = *nn_module_out_shape(m);
    struct nn_trace t = {0};
    nn_tensor *x;
    nn_tensor *y = traced_forward(m, &t, &x, err);
    nn_status st = y ? lower_all(b, &t, x, y) : NN_INVALID;
    if (y && st) {
        *err = b->err;
        b->err = NULL;
    }
    if (y && !st && !find_value(b, y)->batched)
        st = nn_fail(err, NN_UNSUPPORTED, "the model's output does not depend on its input");
    free(t.r);
    nn_ctx_scratch_reset(nn_module_ctx(m));
    if (st) {
        nn_onnx_free(b);
        return st;
    }
    *out = b;
    return NN_OK;
}

void nn_onnx_free(nn_onnx *g)
{
    if (!g) return;
    for (int i = 0; i < g->nstrs; i++) free(g->strs[i]);
    free(g->strs);
    free(g->nodes);
    free(g->inits);
    free(g->vals);
    free(g->err);
    free(g);
}

int nn_onnx_node_count(const nn_onnx *g) { return g->nnodes; }
const nn_onnx_node_info *nn_onnx_node_at(const nn_onnx *g, int i) { return &g->nodes[i]; }
int nn_onnx_init_count(const nn_onnx *g) { return g->ninits; }
const nn_onnx_init *nn_onnx_init_at(const nn_onnx *g, int i) { return &g->inits[i]; }
const nn_shape *nn_onnx_io_shape(const nn_onnx *g, int output) { return &g->io[output ? 1 : 0]; }

const nn_shape *nn_onnx_value_shape(const nn_onnx *g, const char *name)
{
    for (int i = 0; i < g->nvals; i++)
        if (!strcmp(g->vals[i].name, name)) return &g->vals[i].t->shape;
    return NULL;
}
