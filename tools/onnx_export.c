/* onnx_export.c - nnrun export: a checkpoint's network as an ONNX model.
 *
 * libnn traces the model and lowers its ops (nn/onnx.h); this file only
 * turns that graph into onnx.ModelProto (the system's onnx.proto, compiled
 * by protoc-c) and writes it atomically: a temporary file beside the
 * target, renamed over it once complete. */
#define _POSIX_C_SOURCE 200809L
#include "onnx_cli.h"

#include <nn/onnx.h>

#include "onnx.pb-c.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* IR version of a model file by opset: IR 7 came with opset 13, IR 8 with 15. */
static int64_t ir_version(int opset) { return opset >= 15 ? 8 : 7; }

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

static Onnx__GraphProto *graph(pool *pl, const nn_onnx *g)
{
    Onnx__GraphProto *p = NEW(pl, Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    int nn = nn_onnx_node_count(g), ni = nn_onnx_init_count(g);
    Onnx__NodeProto **nodes = alloc(pl, sizeof *nodes * (size_t)(nn ? nn : 1));
    Onnx__TensorProto **inits = alloc(pl, sizeof *inits * (size_t)(ni ? ni : 1));
    Onnx__ValueInfoProto **in = alloc(pl, sizeof *in), **out = alloc(pl, sizeof *out);
    if (!p || !nodes || !inits || !in || !out) return NULL;
    for (int i = 0; i < nn; i++)
        if (!(nodes[i] = node(pl, nn_onnx_node_at(g, i)))) return NULL;
    for (int i = 0; i < ni; i++)
        if (!(inits[i] = tensor(pl, nn_onnx_init_at(g, i)))) return NULL;
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

/* buf to path through a temporary file beside it. */
static nn_status write_atomic(const char *path, const uint8_t *buf, size_t len, char **err)
{
    char *tmp = malloc(strlen(path) + 16);
    if (!tmp) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    sprintf(tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        nn_status st = nn_fail(err, NN_IO, "cannot write '%s': %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    mode_t u = umask(0); /* the mode open() would give, not mkstemp's 0600 */
    umask(u);
    fchmod(fd, 0666 & ~u);
    FILE *f = fdopen(fd, "wb");
    bool ok = f && fwrite(buf, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f ? fclose(f) != 0 : close(fd) != 0) ok = false;
    nn_status st = NN_OK;
    if (!ok || rename(tmp, path)) {
        st = nn_fail(err, NN_IO, "cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return st;
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
        st = write_atomic(path, buf, len, err);
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
