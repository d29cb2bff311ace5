/* onnx_import.c - nnrun import: an ONNX model whose graph is a chain of
 * supported nodes (what torch.onnx.export writes for an nn.Sequential MLP or
 * small CNN) becomes an nn checkpoint: the equivalent chain of modules, its
 * parameters from the graph's initializers.
 *
 * Each node must take the previous node's output as its data input; its
 * other inputs are initializers or Constant nodes. A node nn cannot take is
 * refused with its name and op type, and nothing is written. */
#define _POSIX_C_SOURCE 200809L
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "onnx_cli.h"

#ifdef NN_HAVE_ONNX
#include "onnx.pb-c.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WEIGHTS 256

/* A tensor of the graph, as float32 (int64 data converted). */
typedef struct tensor {
    nn_shape shape;
    float *f;
    int64_t n;
} tensor;

/* What one chain element's state tensor gets: "3.weight". */
typedef struct weight {
    int elem;
    const char *param;
    tensor t;
} weight;

typedef struct imp {
    const Onnx__GraphProto *g;
    const char *path;
    char chain[8192];
    size_t len;
    int nelem;
    weight w[MAX_WEIGHTS];
    int nw;
    const Onnx__NodeProto *consts[64]; /* Constant nodes seen so far */
    int nconsts;
    const char *cur; /* the value the next node must read */
    int64_t opset;   /* of the default domain */
    char **err;
} imp;

/* ---- reading the graph ---------------------------------------------------------- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *nd, const char *name)
{
    for (size_t i = 0; i < nd->n_attribute; i++)
        if (!strcmp(nd->attribute[i]->name, name)) return nd->attribute[i];
    return NULL;
}

static int64_t attr_int(const Onnx__NodeProto *nd, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = attr(nd, name);
    return a && a->has_i ? a->i : def;
}

static float attr_float(const Onnx__NodeProto *nd, const char *name, float def)
{
    const Onnx__AttributeProto *a = attr(nd, name);
    return a && a->has_f ? a->f : def;
}

/* ints attribute: all its n values equal (a square kernel, the same stride
 * both ways); *v the value, def when absent. */
static bool attr_same(const Onnx__NodeProto *nd, const char *name, int64_t def, int64_t *v)
{
    const Onnx__AttributeProto *a = attr(nd, name);
    *v = def;
    if (!a || !a->n_ints) return true;
    *v = a->ints[0];
    for (size_t i = 1; i < a->n_ints; i++)
        if (a->ints[i] != *v) return false;
    return true;
}

static nn_status refuse(imp *im, const Onnx__NodeProto *nd, const char *why)
{
    return nn_fail(im->err, NN_UNSUPPORTED, "'%s': node '%s' (op type %s) cannot be imported: %s",
                   im->path, nd->name ? nd->name : "", nd->op_type, why);
}

/* t's values as float32; NULL (with *err) for a type nn does not take. */
static nn_status tensor_of(imp *im, const Onnx__TensorProto *p, tensor *t)
{
    memset(t, 0, sizeof *t);
    if (p->n_dims > NN_MAX_DIMS)
        return nn_fail(im->err, NN_UNSUPPORTED, "'%s': tensor '%s' has %zu dimensions", im->path,
                       p->name ? p->name : "", p->n_dims);
    t->shape.ndim = (int)p->n_dims;
    t->n = 1;
    for (size_t k = 0; k < p->n_dims; k++) {
        if (p->dims[k] < 0 || p->dims[k] > ((int64_t)1 << 31))
            return nn_fail(im->err, NN_FORMAT, "'%s': tensor '%s' has a bad size", im->path,
                           p->name ? p->name : "");
        t->shape.dim[k] = p->dims[k];
        t->n *= p->dims[k];
    }
    bool f32 = p->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    bool i64 = p->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    if (!f32 && !i64)
        return nn_fail(im->err, NN_UNSUPPORTED, "'%s': tensor '%s' has data type %d; nn takes "
                       "float32 (and int64 shapes)", im->path, p->name ? p->name : "",
                       (int)p->data_type);
    size_t have = p->has_raw_data ? p->raw_data.len / (f32 ? 4 : 8)
                                  : f32 ? p->n_float_data : p->n_int64_data;
    if (p->n_external_data || have != (size_t)t->n)
        return nn_fail(im->err, NN_FORMAT, "'%s': tensor '%s' holds %zu values for %lld "
                       "elements (external data is not supported)", im->path,
                       p->name ? p->name : "", have, (long long)t->n);
    if (!(t->f = malloc(sizeof *t->f * (size_t)(t->n ? t->n : 1))))
        return nn_fail(im->err, NN_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < t->n; i++) {
        if (p->has_raw_data) { /* little-endian, as ONNX stores it */
            const uint8_t *b = p->raw_data.data + i * (f32 ? 4 : 8);
            uint64_t u = 0;
            for (int k = f32 ? 3 : 7; k >= 0; k--) u = u << 8 | b[k];
            if (f32) {
                uint32_t u32 = (uint32_t)u;
                memcpy(&t->f[i], &u32, 4);
            } else {
                int64_t v;
                memcpy(&v, &u, 8);
                t->f[i] = (float)v;
            }
        } else {
            t->f[i] = f32 ? p->float_data[i] : (float)p->int64_data[i];
        }
    }
    return NN_OK;
}

/* The constant named name: an initializer or a Constant node's value. */
static nn_status constant(imp *im, const Onnx__NodeProto *user, const char *name, tensor *t)
{
    for (size_t i = 0; name && *name && i < im->g->n_initializer; i++)
        if (!strcmp(im->g->initializer[i]->name, name))
            return tensor_of(im, im->g->initializer[i], t);
    for (int i = 0; name && *name && i < im->nconsts; i++) {
        const Onnx__AttributeProto *a = attr(im->consts[i], "value");
        if (!strcmp(im->consts[i]->output[0], name) && a && a->t) return tensor_of(im, a->t, t);
    }
    char why[160];
    snprintf(why, sizeof why, "its input '%s' is no initializer or constant", name ? name : "");
    return refuse(im, user, why);
}

/* ---- building the chain ---------------------------------------------------------- */

static nn_status element(imp *im, const char *fmt, ...) NN_PRINTF(2, 3);
static nn_status element(imp *im, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof im->chain - im->len;
    int n = snprintf(im->chain + im->len, room, "%s", im->nelem ? " ! " : "");
    int m = n >= 0 && (size_t)n < room ? vsnprintf(im->chain + im->len + n, room - n, fmt, ap) : -1;
    va_end(ap);
    if (m < 0 || (size_t)(n + m) >= room)
        return nn_fail(im->err, NN_UNSUPPORTED, "'%s': the model is too long a chain", im->path);
    im->len += (size_t)(n + m);
    im->nelem++;
    return NN_OK;
}

/* Gives the current element's state tensor param the values of t (owned now). */
static nn_status give(imp *im, const char *param, tensor *t)
{
    if (im->nw == MAX_WEIGHTS) {
        free(t->f);
        return nn_fail(im->err, NN_UNSUPPORTED, "'%s': more than %d tensors", im->path, MAX_WEIGHTS);
    }
    im->w[im->nw++] = (weight){im->nelem - 1, param, *t};
    t->f = NULL;
    return NN_OK;
}

/* In place: (r, c) to (c, r). */
static nn_status transpose(imp *im, tensor *t)
{
    int64_t r = t->shape.dim[0], c = t->shape.dim[1];
    float *f = malloc(sizeof *f * (size_t)(t->n ? t->n : 1));
    if (!f) return nn_fail(im->err, NN_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) f[j * r + i] = t->f[i * c + j];
    free(t->f);
    t->f = f;
    t->shape.dim[0] = c;
    t->shape.dim[1] = r;
    return NN_OK;
}

/* linear from a weight (out, in) and a bias (out) or none (b->f NULL). */
static nn_status linear(imp *im, const Onnx__NodeProto *nd, tensor *w, tensor *b)
{
    if (w->shape.ndim != 2) return refuse(im, nd, "its weight is not 2-d");
    int64_t out = w->shape.dim[0];
    if (b->f && !(b->n == out && (b->shape.ndim == 1 || b->shape.ndim == 2)))
        return refuse(im, nd, "its bias does not fit its weight");
    b->shape = (nn_shape){1, {out}};
    nn_status st = element(im, "linear out=%lld bias=%s", (long long)out, b->f ? "true" : "false");
    if (!st) st = give(im, "weight", w);
    if (!st && b->f) st = give(im, "bias", b);
    return st;
}

static nn_status gemm(imp *im, const Onnx__NodeProto *nd)
{
    if (attr_int(nd, "transA", 0) || attr_float(nd, "alpha", 1) != 1 || attr_float(nd, "beta", 1) != 1)
        return refuse(im, nd, "only transA=0, alpha=1 and beta=1 are a linear layer");
    tensor w, b = {0};
    nn_status st = constant(im, nd, nd->input[1], &w);
    if (!st && nd->n_input > 2 && *nd->input[2]) st = constant(im, nd, nd->input[2], &b);
    if (!st && !attr_int(nd, "transB", 0) && w.shape.ndim == 2) st = transpose(im, &w);
    if (!st) st = linear(im, nd, &w, &b);
    free(w.f);
    free(b.f);
    return st;
}

/* MatMul by a constant (in, out), and the Add of a bias right after it. */
static nn_status matmul(imp *im, const Onnx__NodeProto *nd, const Onnx__NodeProto *next, bool *ate)
{
    tensor w, b = {0};
    nn_status st = constant(im, nd, nd->input[1], &w);
    if (!st && w.shape.ndim == 2) st = transpose(im, &w);
    *ate = next && !strcmp(next->op_type, "Add") && next->n_input == 2 &&
           !strcmp(next->input[0], nd->output[0]);
    if (!st && *ate) st = constant(im, next, next->input[1], &b);
    if (!st) st = linear(im, nd, &w, &b);
    free(w.f);
    free(b.f);
    return st;
}

static nn_status conv(imp *im, const Onnx__NodeProto *nd)
{
    int64_t k, s, p, d;
    tensor w, b = {0};
    const Onnx__AttributeProto *ap = attr(nd, "auto_pad");
    if (attr_int(nd, "group", 1) != 1) return refuse(im, nd, "groups are not supported");
    if (ap && ap->has_s && !(ap->s.len == 6 && !memcmp(ap->s.data, "NOTSET", 6)))
        return refuse(im, nd, "auto_pad is not supported; give pads");
    nn_status st = constant(im, nd, nd->input[1], &w);
    if (!st && nd->n_input > 2 && *nd->input[2]) st = constant(im, nd, nd->input[2], &b);
    if (!st && (w.shape.ndim != 4 || w.shape.dim[2] != w.shape.dim[3]))
        st = refuse(im, nd, "nn's conv2d takes square 2-d kernels only");
    if (!st && (!attr_same(nd, "strides", 1, &s) || !attr_same(nd, "pads", 0, &p) ||
                !attr_same(nd, "dilations", 1, &d)))
        st = refuse(im, nd, "nn's conv2d takes the same stride, padding and dilation both ways");
    k = w.shape.ndim == 4 ? w.shape.dim[2] : 0;
    if (!st)
        st = element(im, "conv2d out=%lld kernel=%lld stride=%lld padding=%lld dilation=%lld bias=%s",
                     (long long)w.shape.dim[0], (long long)k, (long long)s, (long long)p,
                     (long long)d, b.f ? "true" : "false");
    if (!st) st = give(im, "weight", &w);
    if (!st && b.f) st = give(im, "bias", &b);
    free(w.f);
    free(b.f);
    return st;
}

static nn_status pool(imp *im, const Onnx__NodeProto *nd, bool max)
{
    int64_t k, s, p, d;
    if (!attr_same(nd, "kernel_shape", 0, &k) || !attr_same(nd, "strides", 1, &s) ||
        !attr_same(nd, "pads", 0, &p) || !attr_same(nd, "dilations", 1, &d) || k < 1)
        return refuse(im, nd, "nn's pools take square windows, the same stride and padding both ways");
    if (attr_int(nd, "ceil_mode", 0) || d != 1 || attr_int(nd, "storage_order", 0))
        return refuse(im, nd, "ceil_mode, dilations and storage_order are not supported");
    if (max) return element(im, "max_pool2d kernel=%lld stride=%lld padding=%lld", (long long)k,
                            (long long)s, (long long)p);
    return element(im, "avg_pool2d kernel=%lld stride=%lld padding=%lld count_include_pad=%s",
                   (long long)k, (long long)s, (long long)p,
                   attr_int(nd, "count_include_pad", 0) ? "true" : "false");
}

static nn_status batchnorm(imp *im, const Onnx__NodeProto *nd)
{
    static const char *const names[] = {"weight", "bias", "running_mean", "running_var"};
    tensor t[4];
    memset(t, 0, sizeof t);
    if (nd->n_input != 5) return refuse(im, nd, "it needs scale, bias, mean and var");
    nn_status st = element(im, "batchnorm1d eps=%.9g momentum=%.9g", attr_float(nd, "epsilon", 1e-5f),
                           1 - attr_float(nd, "momentum", 0.9f));
    for (int i = 0; !st && i < 4; i++)
        if (!(st = constant(im, nd, nd->input[i + 1], &t[i]))) st = give(im, names[i], &t[i]);
    for (int i = 0; i < 4; i++) free(t[i].f);
    return st;
}

/* Reshape to (batch, -1) or Flatten at axis 1: flatten. */
static nn_status flatten(imp *im, const Onnx__NodeProto *nd, bool reshape)
{
    if (!reshape) {
        if (attr_int(nd, "axis", 1) != 1) return refuse(im, nd, "only axis=1 is nn's flatten");
        return element(im, "flatten");
    }
    tensor s;
    nn_status st = constant(im, nd, nd->input[1], &s);
    bool ok = !st && s.n == 2 && s.f[1] == -1;
    free(s.f);
    if (st) return st;
    return ok ? element(im, "flatten") : refuse(im, nd, "only a reshape to (batch, -1) is a flatten");
}

static nn_status one_node(imp *im, const Onnx__NodeProto *nd, const Onnx__NodeProto *next,
                          bool *ate)
{
    const char *t = nd->op_type;
    *ate = false;
    if (!strcmp(t, "Gemm")) return gemm(im, nd);
    if (!strcmp(t, "MatMul")) return matmul(im, nd, next, ate);
    if (!strcmp(t, "Conv")) return conv(im, nd);
    if (!strcmp(t, "MaxPool")) return pool(im, nd, true);
    if (!strcmp(t, "AveragePool")) return pool(im, nd, false);
    if (!strcmp(t, "BatchNormalization")) return batchnorm(im, nd);
    if (!strcmp(t, "Flatten")) return flatten(im, nd, false);
    if (!strcmp(t, "Reshape")) return flatten(im, nd, true);
    if (!strcmp(t, "Relu")) return element(im, "relu");
    if (!strcmp(t, "Sigmoid")) return element(im, "sigmoid");
    if (!strcmp(t, "Tanh")) return element(im, "tanh");
    if (!strcmp(t, "LeakyRelu"))
        return element(im, "leaky_relu negative_slope=%.9g", attr_float(nd, "alpha", 0.01f));
    if (!strcmp(t, "Softmax") || !strcmp(t, "LogSoftmax")) /* the default axis was 1 before 13 */
        return element(im, "%s dim=%lld", t[0] == 'S' ? "softmax" : "log_softmax",
                       (long long)attr_int(nd, "axis", im->opset < 13 ? 1 : -1));
    if (!strcmp(t, "Identity") || !strcmp(t, "Dropout")) return NN_OK; /* eval: the input */
    return refuse(im, nd, "its op type is not supported (docs/onnx.md lists those that are)");
}

static nn_status walk(imp *im)
{
    const Onnx__GraphProto *g = im->g;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        if (!strcmp(nd->op_type, "Constant") && nd->n_output == 1) {
            if (im->nconsts == (int)(sizeof im->consts / sizeof im->consts[0])) return refuse(im, nd, "too many constants");
            im->consts[im->nconsts++] = nd;
            continue;
        }
        if (nd->domain && *nd->domain && strcmp(nd->domain, "ai.onnx"))
            return refuse(im, nd, "its domain is not ONNX's default");
        if (!nd->n_input || !nd->n_output || strcmp(nd->input[0], im->cur))
            return refuse(im, nd, "it does not take the previous node's output: the graph is "
                                  "not a chain");
        bool ate;
        nn_status st = one_node(im, nd, i + 1 < g->n_node ? g->node[i + 1] : NULL, &ate);
        if (st) return st;
        if (ate) nd = g->node[++i];
        im->cur = nd->output[0];
    }
    if (g->n_output != 1 || strcmp(g->output[0]->name, im->cur))
        return nn_fail(im->err, NN_UNSUPPORTED, "'%s': the graph's output is not its last node's",
                       im->path);
    if (!im->nelem) return element(im, "identity");
    return NN_OK;
}

/* ---- the model and the checkpoint -------------------------------------------------- */

/* The graph's one input that is no initializer: float32 (batch, sample...). */
static nn_status input_shape(imp *im, nn_shape *s)
{
    const Onnx__ValueInfoProto *in = NULL;
    for (size_t i = 0; i < im->g->n_input; i++) {
        bool init = false;
        for (size_t k = 0; k < im->g->n_initializer; k++)
            init = init || !strcmp(im->g->initializer[k]->name, im->g->input[i]->name);
        if (init) continue;
        if (in) return nn_fail(im->err, NN_UNSUPPORTED, "'%s': the graph has more than one input",
                               im->path);
        in = im->g->input[i];
    }
    const Onnx__TypeProto *t = in ? in->type : NULL;
    const Onnx__TypeProto__Tensor *tt =
        t && t->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ? t->tensor_type : NULL;
    if (!tt || tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || !tt->shape ||
        tt->shape->n_dim < 2 || tt->shape->n_dim > NN_MAX_DIMS)
        return nn_fail(im->err, NN_UNSUPPORTED, "'%s': the graph's input is not a float32 tensor "
                       "of known shape (batch, ...)", im->path);
    s->ndim = (int)tt->shape->n_dim - 1;
    for (int k = 0; k < s->ndim; k++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k + 1];
        if (d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || d->dim_value < 1)
            return nn_fail(im->err, NN_UNSUPPORTED, "'%s': the input's dimension %d has no size",
                           im->path, k + 1);
        s->dim[k] = d->dim_value;
    }
    im->cur = in->name;
    return NN_OK;
}

static bool same_shape(const nn_shape *a, const nn_shape *b)
{
    if (a->ndim != b->ndim) return false;
    for (int k = 0; k < a->ndim; k++)
        if (a->dim[k] != b->dim[k]) return false;
    return true;
}

/* Every parameter and buffer of m from the initializers ("k.name" of element k). */
static nn_status load_weights(imp *im, nn_module *m)
{
    for (int i = 0, n = nn_module_state_count(m); i < n; i++) {
        const char *name;
        int is_buffer;
        nn_tensor *t = nn_module_state(m, i, &name, &is_buffer);
        char *dot;
        long elem = strtol(name, &dot, 10);
        const weight *w = NULL;
        for (int k = 0; *dot == '.' && k < im->nw && !w; k++)
            if (im->w[k].elem == elem && !strcmp(im->w[k].param, dot + 1)) w = &im->w[k];
        nn_status st;
        if (!w && !strcmp(dot, ".num_batches_tracked"))
            st = nn_tensor_zero_(t);
        else if (!w)
            return nn_fail(im->err, NN_INVALID, "'%s': nothing in the graph gives '%s'", im->path, name);
        else if (!same_shape(&w->t.shape, nn_tensor_shape(t)))
            return nn_fail(im->err, NN_SHAPE, "'%s': '%s' of the graph does not have the shape "
                           "nn's chain gives it", im->path, name);
        else
            st = nn_tensor_from_host(t, w->t.f, w->t.n);
        if (st) return nn_fail(im->err, st, "'%s': cannot set '%s'", im->path, name);
    }
    return NN_OK;
}

static nn_status build_and_save(imp *im, nn_registry *reg, const nn_shape *in, const char *out,
                                const char *info)
{
    nn_ctx *ctx = NULL;
    nn_module *m = NULL;
    nn_status st = nn_ctx_open(reg, "cpu", 1, &ctx, im->err);
    if (!st && (st = nn_module_from_chain(ctx, im->chain, in, &m, im->err))) {
        char *why = *im->err;
        *im->err = NULL;
        nn_fail(im->err, st, "'%s': nn's chain '%s' refuses it: %s", im->path, im->chain,
                why ? why : nn_strerror(st));
        nn_free(why);
    }
    if (!st) st = load_weights(im, m);
    char deflt[512];
    snprintf(deflt, sizeof deflt, "imported from %s", im->path);
    const char *meta[] = {"onnx_source", im->path};
    nn_save_opts so = {info ? info : deflt, NULL, m, NULL, NULL, meta, 1};
    if (!st) st = nn_checkpoint_save(out, &so, im->err);
    nn_module_free(m);
    nn_ctx_free(ctx);
    return st;
}

static nn_status read_file(const char *path, uint8_t **buf, size_t *len, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return nn_fail(err, NN_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *nb = cap < ((size_t)1 << 31) ? realloc(b, cap *= 2) : NULL;
        if (!nb) free(b);
        b = nb;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!b) return nn_fail(err, NN_NO_MEMORY, "'%s' is too large to read", path);
    if (bad) {
        free(b);
        return nn_fail(err, NN_IO, "cannot read '%s'", path);
    }
    *buf = b;
    *len = n;
    return NN_OK;
}

nn_status onnx_import(nn_registry *reg, const char *onnx, const char *out, const char *info,
                      char **err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    nn_status st = read_file(onnx, &buf, &len, err);
    if (st) return st;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!mp || !mp->graph) {
        if (mp) onnx__model_proto__free_unpacked(mp, NULL);
        return nn_fail(err, NN_FORMAT, "'%s' is not an ONNX model (no ModelProto with a graph)",
                       onnx);
    }
    imp *im = calloc(1, sizeof *im);
    if (!im) st = nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_shape in;
    if (im) {
        *im = (imp){.g = mp->graph, .path = onnx, .err = err, .opset = 13};
        for (size_t i = 0; i < mp->n_opset_import; i++)
            if (!mp->opset_import[i]->domain || !*mp->opset_import[i]->domain)
                im->opset = mp->opset_import[i]->version;
        st = input_shape(im, &in);
        if (!st) st = walk(im);
        if (!st) st = build_and_save(im, reg, &in, out, info);
        for (int i = 0; i < im->nw; i++) free(im->w[i].t.f);
        free(im);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return st;
}

#endif
