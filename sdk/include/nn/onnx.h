/*
 * onnx.h - a model's ONNX graph, traced from one forward pass.
 *
 * nn_onnx_trace() runs the model once in eval mode without grad on a batch
 * of zeros, records every op it calls, core ops and plugins' ops alike, and
 * lowers each through its ONNX callback (nn/plugin.h) into nodes and
 * initializers. What it gives is plain data in ONNX's terms; writing it as
 * a protobuf file is nnrun's part (tools/onnx_export.c), so libnn needs no
 * ONNX library.
 *
 *   nn_onnx *g;
 *   if (nn_onnx_trace(model, 17, &g, &err) == NN_OK) {
 *       for (int i = 0; i < nn_onnx_node_count(g); i++)
 *           puts(nn_onnx_node_at(g, i)->op_type);   // "Gemm", "Sigmoid", ...
 *       nn_onnx_free(g);
 *   }
 *
 * The graph's input is "input", (batch, one sample's shape), and its output
 * "output"; parameters and buffers become initializers named as in the
 * state_dict ("0.weight"), other constants "const_N".
 */
#ifndef NN_ONNX_H
#define NN_ONNX_H

#include "nn/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The opsets of ONNX's default domain that lowerings write. */
#define NN_ONNX_OPSET_MIN 13
#define NN_ONNX_OPSET_MAX 20
#define NN_ONNX_OPSET_DEFAULT 17

typedef enum {
    NN_ONNX_ATTR_INT,
    NN_ONNX_ATTR_FLOAT,
    NN_ONNX_ATTR_INTS,
    NN_ONNX_ATTR_STRING
} nn_onnx_attr_kind;

typedef struct nn_onnx_attr {
    const char *name;
    nn_onnx_attr_kind kind;
    int64_t i;
    float f;
    int n; /* INTS: n values in ints */
    const int64_t *ints;
    const char *s; /* STRING */
} nn_onnx_attr;

typedef struct nn_onnx_node_info {
    const char *op_type;
    const char *name; /* unique in the graph: "Gemm_3" */
    int nin, nout, nattr;
    const char *const *in; /* "" for an absent optional input */
    const char *const *out;
    const nn_onnx_attr *attr;
} nn_onnx_node_info;

typedef struct nn_onnx_init {
    const char *name;
    nn_shape shape;
    int is_int64;        /* 1: int64 data in i, 0: float32 data in f */
    const float *f;
    const int64_t *i;
} nn_onnx_init;

/* Traces m (see above) into *out for ONNX opset `opset`. A refusal (an op
 * without a lowering: its name and its plugin's; an opset outside
 * NN_ONNX_OPSET_MIN .. _MAX) says why in *err. Caller owns *out; free with
 * nn_onnx_free(). m's training mode and the context's grad mode are kept. */
NN_API nn_status nn_onnx_trace(nn_module *m, int opset, nn_onnx **out, char **err);
NN_API void nn_onnx_free(nn_onnx *g);

/* Borrowed; valid until nn_onnx_free(g). */
NN_API int nn_onnx_node_count(const nn_onnx *g);
NN_API const nn_onnx_node_info *nn_onnx_node_at(const nn_onnx *g, int i);
NN_API int nn_onnx_init_count(const nn_onnx *g);
NN_API const nn_onnx_init *nn_onnx_init_at(const nn_onnx *g, int i);
/* One sample's shape of the graph's input (output 0) or output (1). */
NN_API const nn_shape *nn_onnx_io_shape(const nn_onnx *g, int output);
/* The traced shape of the value name (the batch first where it has one), or
 * NULL for a name that no traced tensor has (a lowering's temporary). */
NN_API const nn_shape *nn_onnx_value_shape(const nn_onnx *g, const char *name);

#ifdef __cplusplus
}
#endif
#endif
