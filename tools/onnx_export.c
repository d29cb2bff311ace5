/* onnx_export.c - nnrun export: a checkpoint's network as an ONNX model.
 *
 * libnn traces the model and lowers its ops (nn/onnx.h); this file only
 * turns that graph into onnx.ModelProto (the system's onnx.proto, compiled
 * by protoc-c) and writes it atomically: a temporary file beside the
 * target, renamed over it once complete. */
#define _POSIX_C_SOURCE 200809L
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "onnx_cli.h"
#include "atomic.h"

#ifdef NN_HAVE_ONNX
#include <nn/onnx.h>

#include "onnx.pb-c.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* IR version of a model file by opset: IR 7 came with opset 13, 8 with 15,
 * 9 with 19. */
static int64_t ir_version(int opset) { return opset >= 19 ? 9 : opset >= 15 ? 8 : 7; }

/* Every allocation of one model, freed together. */
typedef struct pool {
    void **p;
    int n, cap;
    int failed;
} pool;

static void *alloc(pool *pl, size_t bytes)
{
    if (pl->failed) return NULL;
    if (pl->n == pl->cap) {
        int cap = pl->cap ? 2 * pl->cap : 64;
        void **p = realloc(pl->p, sizeof *p * (size_t)cap);
        if (!p) {
            pl->failed = 1;
            return NULL;
        }
        pl->p = p;
        pl->cap = cap;
    }
    void *m = calloc(1, bytes ? bytes : 1);
    if (!m) {
        pl->failed = 1;
        return NULL;
    }
    return pl->p[pl->n++] = m;
}

static void pool_free(pool *pl)
{
    for (int i = 0; i < pl->n; i++) free(pl->p[i]);
    free(pl->p);
}

#define NEW(pl, T, init) new_msg(pl, sizeof(T), &(T)init)
static void *new_msg(pool *pl, size_t size, const void *init)
{
    void *m = alloc(pl, size);
    if (m) memcpy(m, init, size);
    return m;
}

/* A ValueInfo of float32 (batch, sample...), the batch dimension named. */
static Onnx__ValueInfoProto *io_value(pool *pl, const char *name, const nn_shape *sample)
{
    Onnx__ValueInfoProto *v = NEW(pl, Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT);
    Onnx__TypeProto *t = NEW(pl, Onnx__TypeProto, ONNX__TYPE_PROTO__INIT);
    Onnx__TypeProto__Tensor *tt = NEW(pl, Onnx__TypeProto__Tensor, ONNX__TYPE_PROTO__TENSOR__INIT);
    Onnx__TensorShapeProto *s = NEW(pl, Onnx__TensorShapeProto, ONNX__TENSOR_SHAPE_PROTO__INIT);
    int nd = sample->ndim + 1;
    Onnx__TensorShapeProto__Dimension **dims = alloc(pl, sizeof *dims * (size_t)nd);
    if (!v || !t || !tt || !s || !dims) return NULL;
    for (int k = 0; k < nd; k++) {
        Onnx__TensorShapeProto__Dimension *d =
            NEW(pl, Onnx__TensorShapeProto__Dimension, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT);
        if (!d) return NULL;
        if (k == 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = "batch";
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = sample->dim[k - 1];
        }
        dims[k] = d;
    }
    s->n_dim = (size_t)nd;
    s->dim = dims;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = s;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    return v;
}

static Onnx__TensorProto *tensor(pool *pl, const nn_onnx_init *in)
{
    Onnx__TensorProto *t = NEW(pl, Onnx__TensorProto, ONNX__TENSOR_PROTO__INIT);
    int64_t *dims = alloc(pl, sizeof *dims * (size_t)(in->shape.ndim ? in->shape.ndim : 1));
    if (!t || !dims) return NULL;
    for (int k = 0; k < in->shape.ndim; k++) dims[k] = in->shape.dim[k];
    size_t n = (size_t)nn_shape_numel(&in->shape);
    t->name = (char *)in->name;
    t->n_dims = (size_t)in->shape.ndim;
    t->dims = dims;
    t->has_data_type = 1;
    if (in->is_int64) {
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
        t->n_int64_data = n;
        t->int64_data = (int64_t *)in->i;
    } else {
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        t->n_float_data = n;
        t->float_data = (float *)in->f;
    }
    return t;
}

static Onnx__AttributeProto *attribute(pool *pl, const nn_onnx_attr *a)
{
    Onnx__AttributeProto *p = NEW(pl, Onnx__AttributeProto, ONNX__ATTRIBUTE_PROTO__INIT);
    if (!p) return NULL;
    p->name = (char *)a->name;
    p->has_type = 1;
    switch (a->kind) {
    case NN_ONNX_ATTR_INT:
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        p->has_i = 1;
        p->i = a->i;
        break;
    case NN_ONNX_ATTR_FLOAT:
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        p->has_f = 1;
        p->f = a->f;
        break;
    case NN_ONNX_ATTR_INTS:
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        p->n_ints = (size_t)a->n;
        p->ints = (int64_t *)a->ints;
        break;
    case NN_ONNX_ATTR_STRING:
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        p->has_s = 1;
        p->s = (ProtobufCBinaryData){strlen(a->s), (uint8_t *)a->s};
        break;
    }
    return p;
}

static Onnx__NodeProto *node(pool *pl, const nn_onnx_node_info *in)
{
    Onnx__NodeProto *p = NEW(pl, Onnx__NodeProto, ONNX__NODE_PROTO__INIT);
    Onnx__AttributeProto **attrs = alloc(pl, sizeof *attrs * (size_t)(in->nattr ? in->nattr : 1));
    if (!p || !attrs) return NULL;
    p->op_type = (char *)in->op_type;
    p->name = (char *)in->name;
    p->n_input = (size_t)in->nin;
    p->input = (char **)in->in;
    p->n_output = (size_t)in->nout;
    p->output = (char **)in->out;
    for (int i = 0; i < in->nattr; i++)
        if (!(attrs[i] = attribute(pl, &in->attr[i]))) return NULL;
    p->n_attribute = (size_t)in->nattr;
    p->attribute = attrs;
    return p;
}

/* ---- batchnorm1d as one node -------------------------------------------------
 * batchnorm1d composes core ops, so its eval mode traces as its arithmetic:
 *   Sub(x, P.running_mean), Add(P.running_var, eps), Pow(., -0.5), Mul,
 *   and with affine=true Mul(., P.weight), Add(., P.bias).
 * On a (batch, C) input that is ONNX's BatchNormalization, which Netron and
 * runtimes know as such; other inputs keep the arithmetic. */

typedef struct node_list {
    const nn_onnx *g;
    const nn_onnx_node_info **at;
    int n;
} node_list;

static int producer(const node_list *v, const char *name)
{
    for (int i = 0; i < v->n; i++)
        if (v->at[i] && v->at[i]->nout && !strcmp(v->at[i]->out[0], name)) return i;
    return -1;
}

static int readers(const node_list *v, const char *name)
{
    int k = !strcmp(name, "output");
    for (int i = 0; i < v->n; i++)
        for (int j = 0; v->at[i] && j < v->at[i]->nin; j++) k += !strcmp(v->at[i]->in[j], name);
    return k;
}

static const nn_onnx_init *init_named(const nn_onnx *g, const char *name)
{
    for (int i = 0; i < nn_onnx_init_count(g); i++)
        if (!strcmp(nn_onnx_init_at(g, i)->name, name)) return nn_onnx_init_at(g, i);
    return NULL;
}

/* Node i is op(a, b) with one output that only the next node of the pattern reads. */
static bool is_op(const node_list *v, int i, const char *op)
{
    return i >= 0 && v->at[i] && !strcmp(v->at[i]->op_type, op) && v->at[i]->nin == 2 &&
           v->at[i]->nout == 1 && v->at[i]->nattr == 0;
}

static bool is_scalar(const nn_onnx *g, const char *name, float *f)
{
    const nn_onnx_init *in = init_named(g, name);
    if (!in || in->is_int64 || nn_shape_numel(&in->shape) != 1) return false;
    *f = in->f[0];
    return true;
}

/* "P.what" for P the prefix of "P.running_mean" (buf holds it). */
static const char *sibling(char *buf, size_t len, const char *mean, const char *what)
{
    snprintf(buf, len, "%.*s.%s", (int)(strlen(mean) - strlen(".running_mean")), mean, what);
    return buf;
}

/* The BatchNormalization that replaces the pattern whose Sub is node s;
 * NULL when node s starts none. The pattern's other nodes become NULL. */
static nn_onnx_node_info *batchnorm_at(pool *pl, node_list *v, int s)
{
    const nn_onnx_node_info *sub = v->at[s];
    if (!is_op(v, s, "Sub") || readers(v, sub->out[0]) != 1) return NULL;
    const char *mean = sub->in[1];
    size_t ml = strlen(mean), sl = strlen(".running_mean");
    const nn_shape *xs = nn_onnx_value_shape(v->g, sub->in[0]);
    if (ml <= sl || strcmp(mean + ml - sl, ".running_mean") || !xs || xs->ndim != 2) return NULL;
    char var[256], weight[256], bias[256];
    sibling(var, sizeof var, mean, "running_var");
    sibling(weight, sizeof weight, mean, "weight");
    sibling(bias, sizeof bias, mean, "bias");
    int q = -1; /* the Mul of sub by the inverse std */
    for (int i = s + 1; i < v->n && q < 0; i++)
        if (is_op(v, i, "Mul") && !strcmp(v->at[i]->in[0], sub->out[0])) q = i;
    int pw = q < 0 ? -1 : producer(v, v->at[q]->in[1]);
    int ad = pw < 0 ? -1 : producer(v, v->at[pw]->in[0]);
    float half, eps;
    if (!is_op(v, pw, "Pow") || !is_op(v, ad, "Add") || strcmp(v->at[ad]->in[0], var) ||
        !is_scalar(v->g, v->at[pw]->in[1], &half) || half != -0.5f ||
        !is_scalar(v->g, v->at[ad]->in[1], &eps) || readers(v, v->at[pw]->out[0]) != 1 ||
        readers(v, v->at[ad]->out[0]) != 1 || readers(v, v->at[q]->out[0]) != 1 ||
        !init_named(v->g, var))
        return NULL;
    int r = -1, t = -1; /* the affine Mul and Add */
    for (int i = q + 1; i < v->n && r < 0; i++)
        if (is_op(v, i, "Mul") && !strcmp(v->at[i]->in[0], v->at[q]->out[0])) r = i;
    for (int i = r + 1; r >= 0 && i < v->n && t < 0; i++)
        if (is_op(v, i, "Add") && !strcmp(v->at[i]->in[0], v->at[r]->out[0])) t = i;
    if (t < 0 || strcmp(v->at[r]->in[1], weight) || strcmp(v->at[t]->in[1], bias) ||
        readers(v, v->at[r]->out[0]) != 1 || !init_named(v->g, weight) || !init_named(v->g, bias))
        return NULL; /* affine=false stays as it is */
    nn_onnx_node_info *bn = alloc(pl, sizeof *bn);
    const char **in = alloc(pl, sizeof *in * 5);
    nn_onnx_attr *a = alloc(pl, sizeof *a);
    if (!bn || !in || !a) return NULL;
    in[0] = sub->in[0], in[1] = v->at[r]->in[1], in[2] = v->at[t]->in[1], in[3] = mean;
    in[4] = v->at[ad]->in[0];
    *a = (nn_onnx_attr){"epsilon", NN_ONNX_ATTR_FLOAT, 0, eps, 0, NULL, NULL};
    *bn = (nn_onnx_node_info){"BatchNormalization", sub->name, 5, 1, 1, in, v->at[t]->out, a};
    v->at[s] = v->at[ad] = v->at[pw] = v->at[q] = v->at[r] = NULL;
    return bn; /* in t's place: its inputs are all there by then */
}

static void fuse_batchnorms(pool *pl, node_list *v)
{
    for (int s = 0; s < v->n; s++) {
        nn_onnx_node_info *bn = v->at[s] ? batchnorm_at(pl, v, s) : NULL;
        for (int i = s + 1; bn && i < v->n; i++) /* into the Add's place */
            if (v->at[i] && v->at[i]->nout && !strcmp(v->at[i]->out[0], bn->out[0])) {
                v->at[i] = bn;
                break;
            }
    }
}

/* Is initializer name read by a node? (The constants of a fused pattern are not.) */
static bool used(const node_list *v, const char *name) { return readers(v, name) > 0; }

static Onnx__GraphProto *graph(pool *pl, const nn_onnx *g)
{
    Onnx__GraphProto *p = NEW(pl, Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    int nn = nn_onnx_node_count(g), ni = nn_onnx_init_count(g), kn = 0, ki = 0;
    Onnx__NodeProto **nodes = alloc(pl, sizeof *nodes * (size_t)(nn ? nn : 1));
    Onnx__TensorProto **inits = alloc(pl, sizeof *inits * (size_t)(ni ? ni : 1));
    Onnx__ValueInfoProto **in = alloc(pl, sizeof *in), **out = alloc(pl, sizeof *out);
    node_list v = {g, alloc(pl, sizeof *v.at * (size_t)(nn ? nn : 1)), nn};
    if (!p || !nodes || !inits || !in || !out || !v.at) return NULL;
    for (int i = 0; i < nn; i++) v.at[i] = nn_onnx_node_at(g, i);
    fuse_batchnorms(pl, &v);
    for (int i = 0; i < nn; i++)
        if (v.at[i] && !(nodes[kn++] = node(pl, v.at[i]))) return NULL;
    for (int i = 0; i < ni; i++)
        if (used(&v, nn_onnx_init_at(g, i)->name) && !(inits[ki++] = tensor(pl, nn_onnx_init_at(g, i))))
            return NULL;
    nn = kn;
    ni = ki;
    if (!(in[0] = io_value(pl, "input", nn_onnx_io_shape(g, 0))) ||
        !(out[0] = io_value(pl, "output", nn_onnx_io_shape(g, 1))))
        return NULL;
    p->name = "nn";
    p->n_node = (size_t)nn;
    p->node = nodes;
    p->n_initializer = (size_t)ni;
    p->initializer = inits;
    p->n_input = 1;
    p->input = in;
    p->n_output = 1;
    p->output = out;
    return p;
}

static Onnx__ModelProto *model(pool *pl, const nn_onnx *g, int opset, const nn_checkpoint *ck)
{
    Onnx__ModelProto *m = NEW(pl, Onnx__ModelProto, ONNX__MODEL_PROTO__INIT);
    Onnx__OperatorSetIdProto *os = NEW(pl, Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT);
    Onnx__OperatorSetIdProto **oss = alloc(pl, sizeof *oss);
    Onnx__StringStringEntryProto *meta[2], **metas = alloc(pl, sizeof *metas * 2);
    const char *keys[2] = {"info", "date"};
    const char *vals[2] = {nn_checkpoint_info(ck), nn_checkpoint_date(ck)};
    size_t nmeta = 0;
    for (int i = 0; i < 2; i++) {
        meta[i] = NEW(pl, Onnx__StringStringEntryProto, ONNX__STRING_STRING_ENTRY_PROTO__INIT);
        if (meta[i] && vals[i]) {
            meta[i]->key = (char *)keys[i];
            meta[i]->value = (char *)vals[i];
            if (metas) metas[nmeta++] = meta[i];
        }
    }
    Onnx__GraphProto *gp = graph(pl, g);
    if (!m || !os || !oss || !metas || !gp || pl->failed) return NULL;
    os->domain = "";
    os->has_version = 1;
    os->version = opset;
    oss[0] = os;
    m->has_ir_version = 1;
    m->ir_version = ir_version(opset);
    m->n_opset_import = 1;
    m->opset_import = oss;
    m->producer_name = "nn";
    m->producer_version = (char *)nn_version_string();
    m->graph = gp;
    m->n_metadata_props = nmeta;
    m->metadata_props = metas;
    return m;
}


static nn_status write_model(const nn_onnx *g, int opset, const nn_checkpoint *ck,
                             const char *path, char **err)
{
    pool pl = {0};
    Onnx__ModelProto *m = model(&pl, g, opset, ck);
    nn_status st = m ? NN_OK : nn_fail(err, NN_NO_MEMORY, "out of memory");
    size_t len = m ? onnx__model_proto__get_packed_size(m) : 0;
    uint8_t *buf = m ? malloc(len ? len : 1) : NULL;
    if (m && !buf) st = nn_fail(err, NN_NO_MEMORY, "out of memory for %zu bytes", len);
    if (buf) {
        onnx__model_proto__pack(m, buf);
        st = atomic_write(path, buf, len, err);
    }
    free(buf);
    pool_free(&pl);
    return st;
}

nn_status onnx_export(nn_registry *reg, const char *ckpt, const char *out, int opset, char **err)
{
    nn_checkpoint *ck = NULL;
    nn_ctx *ctx = NULL;
    nn_module *m = NULL;
    nn_onnx *g = NULL;
    nn_status st = nn_checkpoint_load(ckpt, &ck, err);
    if (!st) st = nn_ctx_open(reg, "cpu", 1, &ctx, err);
    if (!st) st = nn_checkpoint_build_model(ck, ctx, &m, err);
    if (!st) st = nn_onnx_trace(m, opset, &g, err);
    if (!st) st = write_model(g, opset, ck, out, err);
    nn_onnx_free(g);
    nn_module_free(m);
    nn_ctx_free(ctx);
    nn_checkpoint_free(ck);
    return st;
}

#endif
