/*
 * plugin.h - the plugin interfaces of nn: Module, Loss, Optimizer, Dataset,
 * Device and Communicator, and ops with their kernels.
 *
 * A plugin is one shared object that exports exactly one symbol, the
 * descriptor made by NN_PLUGIN_DEFINE(). The loader reads the descriptor's
 * ABI numbers before anything else: the major must equal the core's, the
 * minor must not be newer. Each interface struct starts with abi_version and
 * struct_size; slots are only ever appended, and the core calls a slot only
 * when it lies inside struct_size and is not NULL (optional slots say so).
 *
 * A whole plugin, relu.c (cc -shared -fPIC relu.c $(pkg-config --cflags
 * --libs nn) -o relu.so). A module needs init, which declares the output
 * shape of one sample, and forward:
 *
 *   #include <nn/plugin.h>
 *
 *   static nn_status relu_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
 *                              char **err)
 *   {
 *       (void)m, (void)p, (void)err;
 *       *out = *in; // element-wise: the output has the input's shape
 *       return NN_OK;
 *   }
 *   static nn_tensor *relu_forward(nn_module *m, nn_tensor *x)
 *   {
 *       (void)m;
 *       return nn_relu(x); // on failure the op returns NULL and records why
 *   }
 *   static const nn_module_vt relu_vt = {
 *       NN_VT_HEADER(nn_module_vt),
 *       .type_name = "ReLU",
 *       .init = relu_init,
 *       .forward = relu_forward,
 *   };
 *   static const nn_component_def relu_components[] = {
 *       { NN_KIND_MODULE, "relu", "max(x, 0)", &relu_vt, NULL, 0 },
 *   };
 *   NN_PLUGIN_DEFINE("relu", "1.0", relu_components)
 */
#ifndef NN_PLUGIN_H
#define NN_PLUGIN_H

#include "nn/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ABI of this header. A plugin built against major M minor m loads in a core
 * with the same M and a minor >= m. */
#define NN_ABI_MAJOR 2
#define NN_ABI_MINOR 6
#define NN_ABI ((uint32_t)((NN_ABI_MAJOR << 16) | NN_ABI_MINOR))

#define NN_VT_HEADER(type) .abi_version = NN_ABI, .struct_size = sizeof(type)

/* ---- properties --------------------------------------------------------- */

typedef enum {
    NN_PROP_INT,
    NN_PROP_FLOAT,
    NN_PROP_BOOL,
    NN_PROP_STRING,
    NN_PROP_ENUM,  /* one of the '|'-separated words in choices */
    NN_PROP_FLOATS /* comma-separated numbers ("0.9,0.999"), as many as the default
                      has (any number without one), each in [min, max]; read with
                      nn_props_floats() */
} nn_prop_type;

typedef struct nn_prop_def {
    const char *name;
    nn_prop_type type;
    const char *def;     /* default, as text ("0.01", "true", "epoch"); NULL: required */
    double min, max;     /* inclusive range for INT and FLOAT (min > max: none) */
    const char *choices; /* ENUM: "none|epoch" */
    const char *doc;     /* one line */
} nn_prop_def;

/* "int", "float", "bool", "string", "enum", "floats". */
NN_API const char *nn_prop_type_name(nn_prop_type t);

/* ---- Module -------------------------------------------------------------- */

typedef struct nn_module_vt {
    uint32_t abi_version, struct_size;
    /* ---- slots below are ABI 1.0 ---- */
    const char *type_name; /* "Linear": used by print and summary */
    size_t priv_size;      /* bytes of zeroed state the core allocates per instance */
    /* Validates properties against the input shape of one sample, registers
     * parameters (nn_module_add_param) and sets *out to the output shape. A
     * dimension of -1 in *in is unknown (no data given yet); init resolves it
     * from its properties when it can (linear's in=) and leaves it otherwise. */
    nn_status (*init)(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                      char **err);
    /* Composes core ops and plugin ops (nn_op_call); autograd comes for
     * free. Returns a batch of the output shape init declared, or NULL on
     * error: a failed op has recorded why; for a reason of its own, record
     * it with nn_ctx_set_error. A NULL with nothing recorded, or another
     * shape, stops training naming the module. */
    nn_tensor *(*forward)(nn_module *m, nn_tensor *x);
    /* Optional: draws fresh parameters from rng (PyTorch's reset_parameters). */
    nn_status (*reset_parameters)(nn_module *m, nn_rng *rng);
    /* Optional: the text inside "Linear(...)" of the repr. */
    void (*extra_repr)(nn_module *m, char *buf, size_t len);
    /* Optional: frees what init allocated beyond priv; children and
     * parameters are already gone when it runs. */
    void (*destroy)(nn_module *m);
} nn_module_vt;

/* For module plugins. The instance state, priv_size bytes (borrowed). */
NN_API void *nn_module_priv(nn_module *m);
NN_API const nn_props *nn_module_props(const nn_module *m);
/* Registers a parameter (persistent, requires grad) under a local name. */
NN_API nn_tensor *nn_module_add_param(nn_module *m, const char *name, const nn_shape *shape,
                                      char **err);
/* Registers a buffer (PyTorch's register_buffer): persistent, zero-filled,
 * never requires grad, not seen by optimizers, saved and loaded with the
 * parameters under its full name ("1.running_mean"). A local name is used
 * once, by a parameter or a buffer. Update it in place under no-grad
 * (nn_tensor_add_ and friends); in forward, nn_module_is_training(m) tells
 * train from eval mode. */
NN_API nn_tensor *nn_module_add_buffer(nn_module *m, const char *name, const nn_shape *shape,
                                       char **err);
/* For composite modules (the tutorial's TwoLayersNet): creates a child from a
 * registered module component and its "key=value" words, with the input
 * shape in, owned by m and named in parameter names ("fc1.weight"). Its
 * parameters are initialised (reset_parameters) from the context's RNG. Call
 * it from init; run it in forward with nn_module_forward(child, x). NULL on
 * error, with the message in *err. */
NN_API nn_module *nn_module_add_child(nn_module *m, const char *name, const char *component,
                                      const char *words, const nn_shape *in, char **err);

/* ---- Loss ---------------------------------------------------------------- */

/* What a loss takes as targets, for tools that make them (nnrun check). */
typedef enum {
    NN_TARGET_LIKE_PRED = 0, /* the predictions' shape, values 0 or 1 (BCE, MSE) */
    NN_TARGET_CLASS_INDEX,   /* one class index per row of (N, C) predictions: shape
                                (N), whole values 0 .. C-1 (CrossEntropyLoss) */
} nn_loss_target;

typedef struct nn_loss_vt {
    uint32_t abi_version, struct_size;
    /* ---- slots below are ABI 1.0 ---- */
    const char *type_name; /* "BCELoss" */
    /* Optional: validates the properties. */
    nn_status (*init)(nn_loss *l, const nn_props *p, char **err);
    /* Returns a one-element tensor built from core and plugin ops, or NULL
     * on error with the reason recorded, as a module's forward. */
    nn_tensor *(*forward)(nn_loss *l, nn_tensor *pred, nn_tensor *target);
    /* Optional: for the accuracy metric, how many of *total predictions
     * (samples or outputs, as the loss defines them) are correct. */
    nn_status (*correct)(nn_loss *l, nn_tensor *pred, nn_tensor *target, int64_t *correct,
                         int64_t *total);
    /* ---- slots below are ABI 2.0 ---- */
    size_t priv_size; /* bytes of zeroed state the core allocates per instance */
    /* Optional: frees what init allocated beyond priv. */
    void (*destroy)(nn_loss *l);
    /* The kind of targets the loss takes (0: like the predictions). */
    nn_loss_target target;
} nn_loss_vt;

NN_API const nn_props *nn_loss_props(const nn_loss *l);
/* The instance state, priv_size bytes (borrowed), and the loss's context
 * (for nn_op_find in init). */
NN_API void *nn_loss_priv(nn_loss *l);
NN_API nn_ctx *nn_loss_ctx(const nn_loss *l);

/* ---- Optimizer ----------------------------------------------------------- */

typedef struct nn_optim_vt {
    uint32_t abi_version, struct_size;
    /* ---- slots below are ABI 1.0 ---- */
    const char *type_name; /* "SGD" */
    /* NULL-terminated names of the per-parameter state slots
     * ({"momentum_buffer", NULL}); the core stores and saves them by name. */
    const char *const *state_names;
    /* Optional: checks the hyper-parameters (called again after each change). */
    nn_status (*validate)(const nn_props *p, char **err);
    /* Updates every parameter that has a gradient. */
    nn_status (*step)(nn_optim *o);
    /* ---- slots below are ABI 2.0 ---- */
    size_t priv_size; /* bytes of zeroed state the core allocates per instance */
    /* Optional: runs once when the optimizer is created, after validate:
     * resolves its ops (nn_op_find) into priv. */
    nn_status (*init)(nn_optim *o, char **err);
    /* Optional: frees what init allocated beyond priv. */
    void (*destroy)(nn_optim *o);
    /* Bit j set: state slot j holds one number, a 0-d tensor (PyTorch's
     * per-parameter "step"), not a tensor of the parameter's shape. */
    uint32_t scalar_states;
} nn_optim_vt;

/* For optimizer plugins: parameters, hyper-parameters and state slots. */
NN_API int nn_optim_param_count(const nn_optim *o);
NN_API nn_tensor *nn_optim_param(nn_optim *o, int i);
NN_API const nn_props *nn_optim_hparams(const nn_optim *o);
/* State slot j of parameter i, or NULL if it does not exist yet. */
NN_API nn_tensor *nn_optim_state(nn_optim *o, int i, int j);
/* Creates state slot j of parameter i (zeroed, the parameter's shape, or 0-d
 * for a slot in scalar_states). */
NN_API nn_tensor *nn_optim_state_new(nn_optim *o, int i, int j);
/* The instance state, priv_size bytes (borrowed), and the context. */
NN_API void *nn_optim_priv(nn_optim *o);
NN_API nn_ctx *nn_optim_ctx(const nn_optim *o);

/* ---- Dataset ------------------------------------------------------------- */

typedef struct nn_dataset_vt {
    uint32_t abi_version, struct_size;
    /* ---- slots below are ABI 1.0 (get and get_batch gained err in 2.0) ---- */
    /* Opens the data; sets the length and the per-sample shapes. *priv is the
     * plugin's own state, handed back to the other slots. */
    nn_status (*open)(const nn_props *p, void **priv, int64_t *len, nn_shape *input,
                      nn_shape *target, char **err);
    void (*close)(void *priv);
    /* One sample into host memory. On failure, say why in *err (with nn_fail;
     * the core frees it and reports it after the dataset's name). */
    nn_status (*get)(void *priv, int64_t i, float *x, float *y, char **err);
    /* Optional: n samples by index, rows packed, for speed; *err as for get.
     * With it, the core keeps no copy of the samples and calls it for every
     * batch. */
    nn_status (*get_batch)(void *priv, const int64_t *idx, int64_t n, float *x, float *y,
                           char **err);
    /* ---- ABI 2.0 ---- */
    /* Optional: what the data taught the plugin (normalization statistics,
     * the number of classes), as property words that reopen other data the
     * same way: "normalize=standard mean=1.5,2 std=0.5,1". *words is
     * malloc'd ("" for nothing); the core calls it once, after open. */
    nn_status (*learned)(void *priv, char **words);
    /* ---- ABI 2.5; a table that ends before it reads as 0 ---- */
    uint32_t flags; /* NN_DATASET_* */
} nn_dataset_vt;

enum {
    /* get_batch may run on several threads at once, each call with indices
     * and rows of x and y of its own (it only reads what open loaded): the
     * core then cuts a large batch among the device's threads. */
    NN_DATASET_BATCH_THREADS = 1 << 0,
};

/* ---- Device -------------------------------------------------------------- */

typedef enum {
    NN_UNARY_SIGMOID,
    NN_UNARY_RELU,
    NN_UNARY_TANH,
    NN_UNARY_EXP,
    NN_UNARY_LOG,
    NN_UNARY_SQRT,
    NN_UNARY_ABS,
    NN_UNARY_COUNT_
} nn_unary_op;

/* MAX and MIN return a NaN operand; POW is powf. */
typedef enum {
    NN_BINARY_ADD,
    NN_BINARY_SUB,
    NN_BINARY_MUL,
    NN_BINARY_DIV,
    NN_BINARY_POW,
    NN_BINARY_MAX,
    NN_BINARY_MIN,
    NN_BINARY_COUNT_
} nn_binary_op;

/* Element-wise maps with constants s and t. */
typedef enum {
    NN_SCALAR_ADD,   /* x + s */
    NN_SCALAR_POW,   /* x ^ s */
    NN_SCALAR_CLAMP, /* min(max(x, s), t): t where s > t, NaN stays NaN */
    NN_SCALAR_COUNT_
} nn_scalar_op;

/* Reductions along one dimension. */
typedef enum {
    NN_REDUCE_SUM, /* alpha * sum */
    NN_REDUCE_MAX, /* the maximum (NaN if there is one) and its first index */
    NN_REDUCE_COUNT_
} nn_reduce_op;

/* A piece of a kernel's work: part of parts (nn_kernel_parallel). */
typedef void (*nn_parallel_fn)(void *arg, int part, int parts);

/* All kernels work on float32, contiguous, row-major device memory. "acc"
 * means: add into the output (1) or overwrite it (0). The device handle is
 * the value open() returned. Every slot but probe, close and sync is
 * required: the core refuses a device that lacks one when it opens it, so no
 * kernel call checks. Indices are float32 values (0, 1, 2, ...). */
typedef struct nn_device_vt {
    uint32_t abi_version, struct_size;
    /* ---- slots below are ABI 1.0 ---- */
    /* Optional: is the device usable here? On failure, *why says why not
     * (set it with nn_fail; the core frees it). */
    nn_status (*probe)(char **why);
    nn_status (*open)(const nn_props *p, void **dev, char **err);
    void (*close)(void *dev); /* optional */
    void *(*alloc)(void *dev, size_t bytes); /* NULL on failure; 64-byte aligned */
    void (*free)(void *dev, void *ptr);
    void (*to_device)(void *dev, void *dst, const void *src, size_t bytes);
    void (*to_host)(void *dev, void *dst, const void *src, size_t bytes);
    void (*copy)(void *dev, void *dst, const void *src, size_t bytes);
    /* Optional: waits for queued work (none where kernels are synchronous). */
    void (*sync)(void *dev);

    void (*fill)(void *dev, int64_t n, float v, float *y);
    /* c = alpha * op(a) @ op(b) + beta * c. op(a): (m, k), op(b): (k, n);
     * ta/tb: the operand is stored transposed. */
    void (*gemm)(void *dev, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, const float *b, float beta, float *c);
    /* y = f(x) */
    void (*unary)(void *dev, nn_unary_op op, int64_t n, const float *x, float *y);
    /* dx (+)= f'(x) * dy, given x and y = f(x) */
    void (*unary_backward)(void *dev, nn_unary_op op, int64_t n, const float *x,
                           const float *y, const float *dy, float *dx, int acc);
    /* y = a op b; b has n elements, or bn (< n, n % bn == 0) repeated along rows */
    void (*binary)(void *dev, nn_binary_op op, int64_t n, const float *a, int64_t bn,
                   const float *b, float *y);
    /* y = alpha * x + beta * y */
    void (*axpby)(void *dev, int64_t n, float alpha, const float *x, float beta, float *y);
    /* y (+)= alpha * x * w, element-wise */
    void (*mul_acc)(void *dev, int64_t n, float alpha, const float *x, const float *w,
                    float *y, int acc);
    /* y (rows, cols) = each row a copy of b (cols) */
    void (*repeat_rows)(void *dev, int64_t rows, int64_t cols, const float *b, float *y);
    /* y (cols) (+)= sum over rows of x (rows, cols) */
    void (*sum_rows)(void *dev, int64_t rows, int64_t cols, const float *x, float *y, int acc);
    /* y[0] = alpha * sum(x) */
    void (*sum)(void *dev, int64_t n, float alpha, const float *x, float *y);
    /* y (+)= alpha * s[0], broadcast to n elements */
    void (*broadcast)(void *dev, int64_t n, float alpha, const float *s, float *y, int acc);
    /* y (cols, rows) = transpose of x (rows, cols) */
    void (*transpose)(void *dev, int64_t rows, int64_t cols, const float *x, float *y);
    /* ---- slots below are ABI 2.0 ---- */
    /* d (+)= dy * d(a op b)/da (wrt 0) or d(a op b)/db (wrt 1); n elements, b as in binary */
    void (*binary_backward)(void *dev, nn_binary_op op, int wrt, int64_t n, const float *a,
                            int64_t bn, const float *b, const float *y, const float *dy,
                            float *d, int acc);
    /* y = f(x; s, t) */
    void (*scalar)(void *dev, nn_scalar_op op, int64_t n, float s, float t, const float *x,
                   float *y);
    /* dx (+)= f'(x; s, t) * dy, given x and y = f(x; s, t) */
    void (*scalar_backward)(void *dev, nn_scalar_op op, int64_t n, float s, float t,
                            const float *x, const float *y, const float *dy, float *dx, int acc);
    /* y = c != 0 ? a : b; c, a, b have n elements or cn, an, bn (dividing n) repeated */
    void (*where)(void *dev, int64_t n, int64_t cn, const float *c, int64_t an, const float *a,
                  int64_t bn, const float *b, float *y);
    /* y (outer, inner) = op of x (outer, len, inner) along len; idx: MAX's indices (or NULL) */
    void (*reduce_dim)(void *dev, nn_reduce_op op, int64_t outer, int64_t len, int64_t inner,
                       float alpha, const float *x, float *y, float *idx);
    /* dx (outer, len, inner) (+)= alpha * dy repeated along len (SUM), or dy at idx (MAX) */
    void (*reduce_dim_backward)(void *dev, nn_reduce_op op, int64_t outer, int64_t len,
                                int64_t inner, float alpha, const float *idx, const float *dy,
                                float *dx, int acc);
    /* t += value * (a op b); a has n elements, b n or bn as in binary */
    void (*addc)(void *dev, nn_binary_op op, int64_t n, float value, const float *a, int64_t bn,
                 const float *b, float *t);
    /* ---- ABI 2.1; a table that ends before it reads as 0 ---- */
    uint32_t flags; /* NN_DEVICE_* */
    /* ---- ABI 2.3; a table that ends before it reads as NULL ---- */
    /* Optional: c = alpha * op(a) @ op(b) + bias, the bias (n) added to
     * every row and c not read: a linear layer's forward in one pass.
     * Without it the core writes the bias into c (repeat_rows) and calls
     * gemm with beta 1; with it the result must be the same. */
    void (*gemm_bias)(void *dev, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, const float *b, const float *bias, float *c);
    /* ---- ABI 2.4; a table that ends before it reads as NULL ---- */
    /* Optional: calls fn(arg, part, parts) once for each part = 0 ..
     * parts - 1, parts between 1 and max_parts as the device chooses (its
     * threads), and returns when all are done; what kernels reach through
     * nn_kernel_parallel, and what the core gathers a large batch with
     * (NN_DATASET_BATCH_THREADS). Without it the core calls fn(arg, 0, 1). */
    void (*parallel)(void *dev, nn_parallel_fn fn, void *arg, int max_parts);
    /* ---- ABI 2.6; a table that ends before it reads as NULL ---- */
    /* Optional, both or neither: post starts fn(arg, part, parts) for part
     * = 0 .. parts - 1 in the background, on the device's threads while
     * they have nothing else to do, and returns at once with a ticket
     * (> 0), or 0 when it cannot (no threads, another job not yet waited
     * for): the caller then calls fn itself. wait(ticket) runs the parts
     * not started on the calling thread and returns when all are done;
     * until then the caller must not touch what they read or write. What
     * the core gathers the next batch with while the current one trains
     * (NN_DATASET_BATCH_THREADS, a device with host memory). */
    int (*post)(void *dev, nn_parallel_fn fn, void *arg, int parts);
    void (*wait)(void *dev, int ticket);
} nn_device_vt;

enum {
    /* Device memory is host memory: a pointer alloc() returned may be read
     * and written by the host as to_host and to_device would, so the core
     * gathers a batch straight into it instead of through a host buffer. */
    NN_DEVICE_HOST_MEMORY = 1 << 0,
};

/* ---- Ops and kernels (ABI 2.0) ---------------------------------------------
 * An op is math that the core does not have: a name, its inputs, outputs
 * and scalar attributes, how the output shapes follow from the input shapes,
 * and its backward. It is a component of kind NN_KIND_OP whose vt is an
 * nn_op_def. Its kernels are components of kind NN_KIND_KERNEL, named as the
 * op, one per device; they may come from other plugins than the op (the op's
 * plugin brings the cpu kernel, a device plugin or a kernel plugin brings
 * the one for its device), so a new device needs no rebuild of the op.
 *
 * A module, loss or optimizer resolves its ops once, at creation, with
 * nn_op_find() (nn.h), and calls them with nn_op_call(). A missing kernel
 * for the context's device is an error at creation, never mid-training.
 * Autograd records an op call as it records a core op: the node carries the
 * op's node_name, and backward runs the kernel's backward (or the op's
 * composed backward) with the "acc" rule of the Device interface.
 *
 * Kernels see contiguous, row-major float32 device memory, never tensors:
 * the core makes inputs contiguous and allocates outputs before it calls
 * one. A kernel returns NN_OK, or a status after recording its reason with
 * nn_ctx_set_error(c->ctx, ...). */

#define NN_OP_MAX_IN 8
#define NN_OP_MAX_OUT 4
#define NN_OP_MAX_ATTR 16

enum {
    NN_ARG_NO_GRAD = 1 << 0,  /* input: no gradient flows to it (a target, an index); a
                                 tensor that requires grad is refused there */
    NN_ARG_OPTIONAL = 1 << 1, /* input: may be NULL (a momentum buffer not in use) */
    NN_ARG_WRITTEN = 1 << 2,  /* input: updated in place by the kernel (a parameter, a
                                 buffer); it must be contiguous */
    /* Hints for nnrun check, which otherwise gives every input input 0's
     * shape: */
    NN_ARG_INDEX = 1 << 3,    /* input: one index per row of input 0 (a class target):
                                 shape (rows), whole values 0 .. cols-1 */
    NN_ARG_PER_COL = 1 << 4,  /* input: one value per column of input 0 (per-class
                                 weights): shape (cols), values in [lo, hi] */
};

typedef struct nn_op_arg {
    const char *name; /* "input", "target" */
    uint32_t flags;   /* NN_ARG_* */
    float lo, hi;     /* nnrun check draws values in [lo, hi]; lo == hi: [-2, 2] */
} nn_op_arg;

typedef struct nn_op_attr {
    const char *name; /* "beta" */
    double def;       /* the value used when a caller passes no attributes */
    const char *doc;  /* one line */
} nn_op_attr;

/* One tensor as a kernel sees it. data is NULL for an absent optional input
 * and for the gradient of an input that needs none; shape is NULL for an
 * absent optional input. */
typedef struct nn_kernel_tensor {
    float *data;
    const nn_shape *shape;
    int64_t numel;
} nn_kernel_tensor;

/* Everything one kernel call gets. Forward reads in and writes out;
 * backward reads in, out and gout, and writes gin[i] for each input whose
 * data is not NULL: added to it when acc[i] is 1, overwriting it when 0. */
typedef struct nn_kernel_call {
    nn_ctx *ctx;
    void *dev;                    /* the device handle its open() made: a device
                                     hands its kernels what they need (a stream)
                                     through its own header */
    const double *attr;           /* the op's nattr attributes, in its order */
    const nn_kernel_tensor *in;   /* nin inputs */
    const nn_kernel_tensor *out;  /* nout outputs */
    const nn_kernel_tensor *gout; /* backward: gradients of the outputs (zeros for
                                     an output that received none) */
    const nn_kernel_tensor *gin;  /* backward: gradients of the inputs */
    const int *acc;               /* backward: per input, add (1) or overwrite (0) */
} nn_kernel_call;

typedef nn_status (*nn_kernel_fn)(const nn_kernel_call *c);

/* Device memory for a kernel's temporaries, nbytes, 64-byte aligned, valid
 * until the step ends (nn_ctx_scratch_reset). NULL when out of memory. */
NN_API void *nn_kernel_scratch(const nn_kernel_call *c, size_t nbytes);

/* (ABI 2.1) The device's own matrix product, for a kernel on that device: row-major
 * c (m, n) = alpha * op(a) @ op(b) + beta * c, op transposing when ta or tb
 * is 1, on device memory; the device picks its path (on cpu: a small-matrix
 * kernel or OpenBLAS), so a kernel need not link a BLAS of its own. */
NN_API void nn_kernel_gemm(const nn_kernel_call *c, int ta, int tb, int64_t m, int64_t n,
                           int64_t k, float alpha, const float *a, const float *b, float beta,
                           float *out);

/* (ABI 2.4) Runs fn(arg, part, parts) for part = 0 .. parts - 1 on the
 * device's threads, parts at most max_parts, and returns when every part is
 * done. A device without threads (without the slot parallel) runs fn(arg,
 * 0, 1) on the calling thread. The parts must not depend on each other,
 * and what they compute together must not depend on parts, so that a run
 * gives the same numbers whatever the thread count: an element-wise loop
 * split into ranges does this. Below some tens of thousands of elements a
 * kernel does better to pass max_parts 1. */
NN_API void nn_kernel_parallel(const nn_kernel_call *c, nn_parallel_fn fn, void *arg,
                               int max_parts);

/* ---- ONNX lowering (ABI 2.2) ----------------------------------------------
 * nnrun export traces one forward pass of a model (eval mode, no grad) and
 * turns each op it called into ONNX nodes. An op says how through the onnx
 * slot of its nn_op_def; the core's own ops (addmm, sigmoid, reshape, ...)
 * declare theirs with the same callback and the same builder. An op without
 * one is refused by export, with its name and its plugin's.
 *
 * The callback reads the call (value names, traced shapes, attributes) and
 * emits nodes into the builder. A Softplus of beta 1 as ONNX's own
 * (examples/plugins/softplus.c also scales for other betas):
 *
 *   static nn_status softplus_onnx(nn_onnx *b, const nn_onnx_call *c)
 *   {
 *       if (c->attr[0] != 1.0) return nn_onnx_refuse(b, "beta other than 1");
 *       return nn_onnx_node(b, "Softplus", 1, c->in, 1, c->out);
 *   }
 *
 * Names the builder returns are borrowed: valid until the export ends. A
 * failed builder call records its reason in the builder and returns
 * NN_NO_MEMORY or NULL; the callback may return that status as it is. */

typedef struct nn_onnx nn_onnx; /* the graph being built; opaque */

typedef struct nn_onnx_call {
    int opset;                 /* the default domain's opset being written: 13 .. 20 */
    int nin, nout, nattr;      /* as the op's definition has them */
    const char *const *in;     /* value names of the inputs; NULL: an absent optional one */
    const char *const *out;    /* value names the outputs must get */
    const nn_shape *const *in_shape; /* as traced: dim 0 is the batch where in_batched */
    const nn_shape *const *out_shape;
    const int *in_batched;     /* per input, 1 when it depends on the model's input */
    const double *attr;        /* the call's attributes */
} nn_onnx_call;

typedef nn_status (*nn_onnx_lower_fn)(nn_onnx *b, const nn_onnx_call *c);

/* Adds a node op_type (default domain) from nin input names to nout output
 * names ("" for an absent optional input). The attributes that follow it
 * are its. */
NN_API nn_status nn_onnx_node(nn_onnx *b, const char *op_type, int nin, const char *const *in,
                              int nout, const char *const *out);
/* An attribute of the last node. */
NN_API nn_status nn_onnx_attr_int(nn_onnx *b, const char *name, int64_t v);
NN_API nn_status nn_onnx_attr_float(nn_onnx *b, const char *name, float v);
NN_API nn_status nn_onnx_attr_ints(nn_onnx *b, const char *name, int n, const int64_t *v);
NN_API nn_status nn_onnx_attr_string(nn_onnx *b, const char *name, const char *v);
/* A fresh value name for an intermediate result. */
NN_API const char *nn_onnx_temp(nn_onnx *b);
/* A constant (an initializer): float32 of shape s, or int64 of shape (n). */
NN_API const char *nn_onnx_const(nn_onnx *b, const nn_shape *s, const float *data);
NN_API const char *nn_onnx_const_ints(nn_onnx *b, int n, const int64_t *v);
/* Output out of the call is the value name, with no node (a view, a copy). */
NN_API nn_status nn_onnx_alias(nn_onnx *b, int out, const char *name);
/* Refuses this call: export fails with the op's name and why (NN_UNSUPPORTED). */
NN_API nn_status nn_onnx_refuse(nn_onnx *b, const char *why);

typedef struct nn_op_def {
    uint32_t abi_version, struct_size;
    /* ---- slots below are ABI 2.0 ---- */
    /* The backward node's name in graphs ("SoftplusBackward0"); NULL: the op
     * has no gradient (an optimizer's update, an argmax) and records none. */
    const char *node_name;
    int nin, nout, nattr; /* at most NN_OP_MAX_IN, _OUT, _ATTR */
    const nn_op_arg *in;
    const nn_op_arg *out; /* names only */
    const nn_op_attr *attr;
    /* Optional: checks the input shapes (in[i] NULL for an absent optional
     * input) and attributes, and sets the nout output shapes; a refusal
     * says why in *err (nn_fail). Without it, every given input must have
     * input 0's shape, and so has every output. */
    nn_status (*shape)(const nn_shape *const *in, const double *attr, nn_shape *out,
                       char **err);
    /* Optional: a backward composed of other ops, for kernels that have no
     * backward of their own. It runs with grad mode off, and sets gin[i] to
     * the gradient of input i (a tensor of its shape) or leaves it NULL. */
    nn_status (*backward)(nn_tensor *const *in, nn_tensor *const *out,
                          nn_tensor *const *gout, const double *attr, nn_tensor **gin);
    /* Optional: the nin input shapes `nnrun check` gives the op, for one
     * whose shape function refuses its default of (4, 5) for every input
     * (a convolution's input and weight). */
    const nn_shape *check_shapes;
    /* ---- ABI 2.2; a table that ends before it reads as NULL ---- */
    /* Optional: the op's ONNX form (above), for nnrun export. */
    nn_onnx_lower_fn onnx;
} nn_op_def;

typedef struct nn_kernel_def {
    uint32_t abi_version, struct_size;
    /* ---- slots below are ABI 2.0 ---- */
    const char *device;    /* the device it runs on: "cpu" */
    nn_kernel_fn forward;
    nn_kernel_fn backward; /* optional: NULL uses the op's composed backward */
} nn_kernel_def;

/* ---- Communicator (ABI 2.2) -------------------------------------------------
 * A communicator joins the processes of one job (ranks 0 .. size-1) for
 * data-parallel training: the mpi plugin on Open MPI, NCCL later. libnn links
 * no transport; it calls these slots. broadcast, allreduce_sum and barrier
 * are collective: every rank calls them in the same order with the same
 * sizes. A slot that fails says why in *err (nn_fail); the job is then
 * unusable and the caller aborts it. Every slot but probe and close is
 * required: the core refuses a communicator that lacks one when it opens it. */

enum {
    /* allreduce_sum takes memory of the device named in the table's device
     * slot (on_device 1) as well as host memory (on_device 0). */
    NN_COMM_DEVICE_MEMORY = 1 << 0,
};

typedef struct nn_comm_vt {
    uint32_t abi_version, struct_size;
    /* ---- slots below are ABI 2.2 ---- */
    /* Optional: 1 when this process was started as one rank of a job (by
     * mpirun: its environment says so), 0 when it runs alone; for
     * --dist auto. Touches no transport. */
    int (*probe)(void);
    /* Joins the job; *comm is the plugin's handle, handed back to the other
     * slots. Called once per process. */
    nn_status (*open)(const nn_props *p, void **comm, char **err);
    /* Optional: leaves the job (collective). */
    void (*close)(void *comm);
    int (*rank)(void *comm);
    int (*size)(void *comm);
    /* bytes at buf on root go to buf on every rank (host memory). */
    nn_status (*broadcast)(void *comm, void *buf, size_t bytes, int root, char **err);
    /* buf[0..n) = the sum over ranks, in place, every rank the same result.
     * on_device 1: buf is memory of the device named in `device` (only with
     * NN_COMM_DEVICE_MEMORY in flags; the core hands over the gradients so,
     * on that device, after its sync), else host memory. */
    nn_status (*allreduce_sum)(void *comm, float *buf, int64_t n, int on_device, char **err);
    nn_status (*barrier)(void *comm, char **err);
    /* Stops every rank of the job with exit status code, after printing msg
     * with this rank's number on stderr. Not collective; does not return. */
    void (*abort)(void *comm, int code, const char *msg);
    uint32_t flags;     /* NN_COMM_* */
    const char *device; /* with NN_COMM_DEVICE_MEMORY: the device ("cuda") */
} nn_comm_vt;

/* ---- the descriptor ------------------------------------------------------ */

typedef struct nn_component_def {
    nn_kind kind;
    const char *name;          /* unique within its kind: "linear"; a kernel bears
                                  its op's name, unique with its device */
    const char *doc;           /* one line for nnrun plugins / inspect */
    const void *vt;            /* nn_module_vt, nn_loss_vt, ... by kind */
    const nn_prop_def *props;  /* property table (may be NULL) */
    int nprops;
} nn_component_def;

typedef struct nn_plugin_desc {
    uint32_t abi_major, abi_minor; /* read before anything else */
    uint32_t struct_size;
    const char *name;              /* plugin name: "linear" */
    const char *version;           /* "1.0" */
    const nn_component_def *components;
    int ncomponents;
} nn_plugin_desc;

/* Registers a program's own components (a layer or dataset written in the
 * program, no .so), checked as a loaded plugin's are. desc must stay valid
 * while reg lives. */
NN_API nn_status nn_registry_add(nn_registry *reg, const nn_plugin_desc *desc, char **err);

#define NN_PLUGIN_SYMBOL nn_plugin_descriptor
#define NN_PLUGIN_SYMBOL_NAME "nn_plugin_descriptor"
#define NN_COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Defines the plugin's one exported symbol. components is a static array. */
#define NN_PLUGIN_DEFINE(pname, pversion, components)                                 \
    NN_API extern const nn_plugin_desc NN_PLUGIN_SYMBOL;                              \
    const nn_plugin_desc NN_PLUGIN_SYMBOL = {NN_ABI_MAJOR, NN_ABI_MINOR,              \
                                             (uint32_t)sizeof(nn_plugin_desc), pname, \
                                             pversion, components, NN_COUNT_OF(components)};

#ifdef __cplusplus
}
#endif
#endif
