/* nn-impl.h - core structs. Nothing outside core/ includes this. */
#ifndef NN_IMPL_H
#define NN_IMPL_H

#include "nn/nn.h"
#include "nn/plugin.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NN_ASSERT(x)                                                                  \
    do {                                                                              \
        if (!(x)) {                                                                   \
            fprintf(stderr, "nn: %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #x); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

#define NN_UNUSED(x) (void)(x)
#define NN_LIKELY(x) __builtin_expect(!!(x), 1)
#define NN_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- small helpers ------------------------------------------------------- */

char *nn_strdup(const char *s);
char *nn_vformat(const char *fmt, va_list ap);
char *nn_format(const char *fmt, ...) NN_PRINTF(1, 2);
/* Puts "PREFIX: " before the message in *err (or before nn_strerror(code)
 * when there is none) and returns code. */
nn_status nn_fail_context(char **err, nn_status code, const char *fmt, ...) NN_PRINTF(3, 4);

/* A growable string. */
typedef struct nn_buf {
    char *s;
    size_t len, cap;
} nn_buf;
void nn_buf_addf(nn_buf *b, const char *fmt, ...) NN_PRINTF(2, 3);
char *nn_buf_take(nn_buf *b); /* never NULL */

/* Non-empty, and no control character (below 0x20, or 0x7f): a name read
 * from a file that can go into a one-line message or a tab-separated line. */
bool nn_name_printable(const char *s);

/* Writes a then b to path whole or not at all (fileio.c): a temporary file
 * beside it, fsync, rename over it. The message names the step that failed.
 * The file gets mode (when >= 0), else the mode of the file it replaces, or
 * the one open() would give a new file. */
nn_status nn_write_atomic(const char *path, const uint8_t *a, size_t an, const uint8_t *b,
                          size_t bn, int mode, char **err);

/* ---- registry ------------------------------------------------------------ */

/* A component is known by kind, name and (a kernel's) device before its
 * plugin is loaded: a folder's plugins.cache names them (plugin_cache.c),
 * and the plugin is loaded when one of them is first handed out. def is
 * NULL until then; every component that nn_registry_find, nn_registry_at
 * or nn_registry_find_kernel returns has it. */
struct nn_component {
    nn_kind kind;
    const char *name, *device; /* device: a kernel's, else NULL */
    const nn_component_def *def;
    struct nn_plugin *plugin;
    const char *shadows; /* a later file's same component it hides, or NULL */
    bool used;           /* looked up by name (nn_registry_find) */
};

/* The kernel of op `op` for device `dev`, its plugin loaded, or NULL. */
const nn_component *nn_registry_find_kernel(const nn_registry *r, const char *op, const char *dev);

/* ---- the plugin cache (plugin_cache.c) ------------------------------------ */

struct stat;

#define NN_PLUGIN_CACHE_FILE "plugins.cache"

typedef struct nn_cache_comp {
    nn_kind kind;
    char *name, *device;
} nn_cache_comp;

typedef struct nn_cache_entry {
    char *file; /* the name in its folder */
    long long size, mtime_ns;
    int ncomps;
    nn_cache_comp *comps;
} nn_cache_entry;

typedef struct nn_plugin_cache {
    nn_cache_entry *e;
    int n;
} nn_plugin_cache;

/* Reads dir's cache: NN_OK with *out NULL when there is none or it was
 * written for another plugin ABI; an error (with the reason) when it is
 * there but cannot be trusted or read. */
nn_status nn_plugin_cache_read(const char *dir, nn_plugin_cache **out, char **err);
/* The entry for file `name` if the file is still the one described. */
const nn_cache_entry *nn_plugin_cache_match(const nn_plugin_cache *c, const char *name,
                                            const struct stat *st);
void nn_plugin_cache_free(nn_plugin_cache *c);
/* Writes dir's cache from n entries, whole or not at all. */
nn_status nn_plugin_cache_write(const char *dir, const nn_cache_entry *e, int n, char **err);
/* May this entry go into a cache (names without tabs or control bytes)? */
bool nn_plugin_cache_can_hold(const nn_cache_entry *e);
/* Sets e's size and modification time from st. */
void nn_plugin_cache_key(const struct stat *st, nn_cache_entry *e);
/* The kind named s ("module", ...), or -1. */
int nn_kind_parse(const char *s);
/* Why path may not be loaded (see registry.c), or NULL; *st is filled. */
char *nn_untrusted(const char *path, bool folder, struct stat *st);

/* Does vtable `vt` (of type T) reach slot `field`? Is that slot also set? */
#define NN_VT_IN(vt, T, field) ((vt)->struct_size >= offsetof(T, field) + sizeof((vt)->field))
#define NN_VT_HAS(vt, T, field) (NN_VT_IN(vt, T, field) && (vt)->field != NULL)

/* ---- context and arena --------------------------------------------------- */

typedef struct nn_chunk {
    struct nn_chunk *next;
    size_t size, used;
    char *mem; /* device memory for dev chunks, host memory for meta chunks */
} nn_chunk;

typedef struct nn_arena {
    nn_chunk *head;  /* current chunk first */
    nn_chunk *spare; /* chunks emptied by a reset, reused before allocating */
    size_t reserved;
    bool device;     /* true: memory from the device's alloc */
} nn_arena;

typedef struct nn_device {
    const nn_device_vt *vt;
    void *h; /* the plugin's handle */
    const nn_component *comp;
    nn_props *props;
    bool host_memory; /* NN_DEVICE_HOST_MEMORY */
} nn_device;

typedef struct nn_node nn_node;

struct nn_ctx {
    nn_registry *reg;
    nn_device dev;
    struct nn_op **ops; /* handles resolved so far, each allocated on its own */
    int nops;
    nn_rng rng;
    nn_arena scratch; /* device memory of scratch tensors */
    nn_arena meta;    /* host memory: scratch tensor structs, tape nodes */
    nn_node *tape;    /* newest node first */
    bool grad_enabled;
    bool detect_anomaly; /* nn_backward checks each node's input gradients */
    nn_status err;
    char *err_msg;
    /* While a checkpoint's model is built: the elements its tensors hold
     * that no parameter or buffer has claimed yet (budget_on). */
    bool budget_on;
    int64_t budget;
    /* While nnrun export traces a forward pass: where each op call goes
     * (core/trace.c); NULL otherwise, and then an op pays one test. */
    struct nn_trace *trace;
};

/* The most elements one tensor may hold (8 GB of float32), and the largest
 * batch a loader takes: sizes beyond are refused before allocating. */
#define NN_MAX_NUMEL (((int64_t)1 << 31) - 1)

#define NN_ARENA_ALIGN 64

/* bytes from a, 64-byte aligned, until the arena is reset; NULL when out of
 * memory. The common case, room left in the current chunk, is in line:
 * every op takes its output and node this way. */
void *nn_arena_alloc_slow(nn_ctx *ctx, nn_arena *a, size_t bytes);
static inline void *nn_arena_alloc(nn_ctx *ctx, nn_arena *a, size_t bytes)
{
    bytes = bytes ? (bytes + NN_ARENA_ALIGN - 1) & ~(size_t)(NN_ARENA_ALIGN - 1) : NN_ARENA_ALIGN;
    nn_chunk *c = a->head;
    if (NN_LIKELY(c && c->size - c->used >= bytes)) {
        void *p = c->mem + c->used;
        c->used += bytes;
        return p;
    }
    return nn_arena_alloc_slow(ctx, a, bytes);
}
void nn_arena_reset(nn_arena *a);
void nn_arena_release(nn_ctx *ctx, nn_arena *a);
/* Records the first op error; returns NULL for tail calls. */
void *nn_ctx_fail(nn_ctx *ctx, nn_status code, const char *fmt, ...) NN_PRINTF(3, 4);

/* Frees the context's op handles (nn_ctx_free). */
void nn_ops_release(nn_ctx *ctx);
/* fn's parts on the device's threads (its slot parallel), at most
 * max_parts; fn(arg, 0, 1) on this thread without the slot (op.c). */
void nn_dev_parallel(nn_ctx *ctx, nn_parallel_fn fn, void *arg, int max_parts);
/* fn's parts in the background on the device's threads (the slots post
 * and wait): a ticket for nn_dev_wait, or 0 when the device cannot (the
 * caller runs them itself). */
int nn_dev_post(nn_ctx *ctx, nn_parallel_fn fn, void *arg, int parts);
void nn_dev_wait(nn_ctx *ctx, int ticket);

/* ---- tensors ------------------------------------------------------------- */

enum {
    NN_T_PERSISTENT = 1 << 0, /* malloc'd struct and device memory it owns */
    NN_T_REQUIRES_GRAD = 1 << 1,
    NN_T_GRAD_VALID = 1 << 2,  /* grad holds a value (not None) */
    NN_T_VIEW = 1 << 3,        /* data belongs to another tensor */
};

struct nn_tensor {
    nn_ctx *ctx;
    float *data; /* device pointer */
    nn_shape shape;
    int64_t stride[NN_MAX_DIMS];
    int64_t numel;
    nn_dtype dtype;
    uint32_t flags;
    nn_tensor *grad;  /* leaves: persistent; others: scratch */
    nn_node *grad_fn; /* NULL for leaves */
};

static inline bool nn_t_contig(const nn_tensor *t)
{
    int64_t s = 1;
    for (int i = t->shape.ndim - 1; i >= 0; i--) {
        if (t->shape.dim[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape.dim[i];
    }
    return true;
}

/* 2-d tensor stored as the transpose of a contiguous one. */
static inline bool nn_t_transposed(const nn_tensor *t)
{
    return t->shape.ndim == 2 && t->stride[0] == 1 && t->stride[1] == t->shape.dim[0] &&
           !(t->shape.dim[0] == 1 || t->shape.dim[1] == 1);
}

/* Can gemm read t as the transpose of a contiguous matrix? As
 * nn_t_transposed, but also for a vector: a (k, 1) view of a (1, k) row is
 * then read with its leading dimension k, the fast way, not as k rows of 1. */
static inline bool nn_t_gemm_transposed(const nn_tensor *t)
{
    return t->shape.ndim == 2 && t->stride[0] == 1 && t->stride[1] == t->shape.dim[0] &&
           t->shape.dim[0] > 1;
}

/* Every field of t zero, by plain stores: a memset of the whole struct
 * compiles to rep stos, which takes longer to start than these stores
 * take, on the several tensor structs of every step. */
static inline void nn_tensor_clear(nn_tensor *t)
{
    t->ctx = NULL;
    t->data = NULL;
    memset(&t->shape, 0, sizeof t->shape);
    memset(t->stride, 0, sizeof t->stride);
    t->numel = 0;
    t->dtype = NN_F32;
    t->flags = 0;
    t->grad = NULL;
    t->grad_fn = NULL;
}
/* A field added at the end of nn_tensor must be cleared above too. */
_Static_assert(sizeof(nn_tensor) == offsetof(nn_tensor, grad_fn) + sizeof(nn_node *),
               "nn_tensor_clear sets every field of nn_tensor");

/* The strides of a contiguous tensor of shape s; returns its element count. */
int64_t nn_strides_contig(const nn_shape *s, int64_t *stride);
nn_tensor *nn_tensor_scratch_like(nn_ctx *ctx, const nn_shape *shape);

/* ---- autograd ------------------------------------------------------------ */

#define NN_NODE_MAX_IN NN_OP_MAX_IN

typedef void (*nn_backward_fn)(nn_node *n);

struct nn_node {
    const char *name; /* "AddmmBackward0" */
    nn_backward_fn backward;
    nn_node *next_in_tape;
    nn_tensor *out;
    nn_tensor *in[NN_NODE_MAX_IN]; /* nin used; an absent optional input is NULL */
    int nin;
    float scalar; /* op constant (mul_scalar) */
    float scalar2;    /* a second constant (clamp's upper bound) */
    int iarg;         /* an integer constant (a kernel's op, a reduction's dimension) */
    nn_tensor *saved; /* read by backward, no input (where's condition, max's indices) */
    /* The output is a view of in[0], a leaf, whose gradient is in[0]'s seen
     * through the view's strides (nn_t of a parameter): nn_grad_dst hands
     * out in[0]'s gradient, so backward has nothing to copy. */
    bool grad_alias;
    /* Plugin ops only (op NULL for core ops). */
    const struct nn_op *op;
    int nout;         /* outputs; out is outs[0] */
    nn_tensor **outs; /* in the meta arena */
    double *attr;     /* the call's attributes, in the meta arena */
};
/* Creates the node for `out` when grad mode is on and an input requires grad. */
nn_node *nn_node_record(nn_ctx *ctx, const char *name, nn_backward_fn fn, nn_tensor *out,
                        nn_tensor *a, nn_tensor *b, nn_tensor *c);
/* Where to write the gradient of t: allocates it on first use; *acc tells
 * whether to add (1) or overwrite (0). NULL if t does not need a gradient. */
float *nn_grad_dst(nn_tensor *t, int *acc);
/* With detect_anomaly on: a NaN or Inf in a gradient n wrote fails the context. */
void nn_anomaly_check(nn_ctx *ctx, const nn_node *n);

/* ---- shared by the op files ----------------------------------------------- */

/* The context of an op's inputs. NULL when a is NULL or an earlier error is
 * recorded, so every op is then a no-op returning NULL; tensors from two
 * contexts are refused. */
static inline nn_ctx *nn_op_ctx(nn_tensor *a, nn_tensor *b)
{
    if (!a) return NULL;
    if (b && b->ctx != a->ctx) return nn_ctx_fail(a->ctx, NN_INVALID, "tensors from two contexts");
    return a->ctx->err ? NULL : a->ctx;
}

static inline bool nn_shape_equal(const nn_shape *a, const nn_shape *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i]) return false;
    return true;
}

static inline bool nn_same_shape(const nn_tensor *a, const nn_tensor *b)
{
    return nn_shape_equal(&a->shape, &b->shape);
}

/* "[2, 3]" in buf. */
static inline const char *nn_fmt_shape(const nn_tensor *t, char *buf, size_t n)
{
    nn_shape_format(&t->shape, 0, buf, n);
    return buf;
}

/* n floats of scratch device memory; NULL (and the error recorded) if none. */
float *nn_scratch_floats(nn_ctx *ctx, int64_t n);
/* t's gradient (+)= alpha * g (n elements) reduced to t's size: a sum over
 * rows when t was broadcast along them (one element: the sum of all). */
void nn_grad_reduce(nn_ctx *ctx, nn_tensor *t, const float *g, int64_t n, float alpha);
/* y = f(a) for a unary kernel op, with its node (SigmoidBackward0, ...). */
nn_tensor *nn_unary_apply(nn_unary_op op, nn_tensor *a);

/* ---- modules, losses, optimizers, datasets ------------------------------- */

typedef struct nn_param {
    char *name; /* local ("weight") in a module; full ("0.weight") in the cache */
    nn_tensor *t;
    bool buffer; /* a buffer (register_buffer), in the state_dict cache */
} nn_param;

struct nn_module {
    nn_ctx *ctx;
    const nn_component *comp; /* NULL for the core's Sequential */
    const nn_module_vt *vt;
    nn_props *props;
    void *priv;
    char *name;
    nn_module **children;
    int nchildren;
    nn_param *params;
    int nparams;
    nn_param *all; /* cache of the tree's parameters with full names */
    int nall;
    nn_param *bufs; /* buffers (PyTorch's register_buffer), local names */
    int nbufs;
    nn_param *allbufs; /* cache of the tree's buffers with full names */
    int nallbufs;
    nn_param *state; /* cache of the state_dict: parameters and buffers, PyTorch's order */
    int nstate;
    nn_shape in, out;
    bool training;
};

struct nn_loss {
    nn_ctx *ctx;
    const nn_component *comp;
    const nn_loss_vt *vt;
    nn_props *props;
    void *priv;
};

struct nn_optim {
    nn_ctx *ctx;
    const nn_component *comp;
    const nn_optim_vt *vt;
    nn_props *props;
    nn_param *params; /* borrowed tensors, owned names */
    int nparams;
    int nstate;
    nn_tensor **state; /* nparams x nstate */
    int64_t steps;
    void *priv;
};

/* Is state slot j one number (nn_optim_vt.scalar_states)? */
bool nn_optim_state_is_scalar(const nn_optim *o, int j);

struct nn_dataset {
    nn_ctx *ctx;
    const nn_component *comp;
    const nn_dataset_vt *vt;
    nn_props *props;
    void *priv;
    int64_t len;
    nn_shape input, target;
    float *x, *y; /* without get_batch: host cache of every sample, filled on first batch */
    nn_dataset *parent; /* a subset: parent's sample map[i] is sample i */
    int64_t *map;
    char *learned; /* nn_dataset_vt.learned's words, or NULL */
};

/* order = order[randperm(n)], the tutorial's X = X[idx], in place.
 * nn_fit and the DataLoader both shuffle this way, so they give the same run. */
void nn_order_shuffle(nn_rng *r, int64_t *order, int64_t n);
/* The same shuffle, its remainders without a division: m (n + 1 entries)
 * from nn_shuffle_magic, made once for every epoch's shuffle of n. */
void nn_shuffle_magic(uint64_t *m, int64_t n);
void nn_order_shuffle_magic(nn_rng *r, int64_t *order, int64_t n, const uint64_t *m);

/* Fills host rows for idx[0..n) from the dataset. */
nn_status nn_dataset_gather(nn_dataset *d, const int64_t *idx, int64_t n, float *x, float *y,
                            char **err);
/* Fills the batch tensors x and y with samples idx[0..n): straight into
 * them on a device whose memory is host memory, otherwise into the host
 * rows hx and hy and then to the device (hx, hy unused: may be NULL). */
nn_status nn_dataset_gather_batch(nn_dataset *d, const int64_t *idx, int64_t n, nn_tensor *x,
                                  nn_tensor *y, float *hx, float *hy, char **err);
/* The same, started in the background on the device's threads, which take
 * its parts while they have nothing else to do (the device's slots post
 * and wait): a job to finish with nn_dataset_gather_finish before x and y
 * are read (idx is copied, and may change at once). NULL when it was not
 * started (a device without the slots or whose memory is not host memory,
 * a dataset without NN_DATASET_BATCH_THREADS, a small batch, another job
 * running): the caller then gathers the batch itself. */
typedef struct nn_gather_job nn_gather_job;
/* Whether batches of n samples of d can be gathered so. */
bool nn_dataset_gather_ahead(const nn_dataset *d, int64_t n);
nn_gather_job *nn_dataset_gather_post(nn_dataset *d, const int64_t *idx, int64_t n, nn_tensor *x,
                                      nn_tensor *y);
/* Waits for the job (running the parts no thread took), frees it, and
 * returns what nn_dataset_gather_batch would have. */
nn_status nn_dataset_gather_finish(nn_gather_job *g, char **err);

/* Property i as key and text (value caller-owned), for checkpoints. */
int nn_props_count(const nn_props *p);
const char *nn_props_key(const nn_props *p, int i);
char *nn_props_text(const nn_props *p, int i);

/* Looks up name in kind and parses words into props. */
nn_status nn_component_open(nn_registry *reg, nn_kind kind, const char *name, const char *words,
                            const nn_component **comp, nn_props **props, char **err);

/* ---- tracing for ONNX export (core/trace.c, core/ops_onnx.c) ---- */

/* The core's own ops, as the tracer knows them; their lowerings are in
 * core/ops_onnx.c. */
typedef enum {
    NN_CORE_ADDMM,      /* out = c + a @ b (c may be NULL) */
    NN_CORE_T,          /* the transposed view of a 2-d a */
    NN_CORE_COPY,       /* contiguous(a), detach(a): a's values */
    NN_CORE_BINARY,     /* a op b; attr 0: nn_binary_op */
    NN_CORE_MUL_SCALAR, /* a * s; attr 0: s */
    NN_CORE_UNARY,      /* f(a); attr 0: nn_unary_op */
    NN_CORE_SCALAR,     /* f(a; s, t); attrs: nn_scalar_op, s, t */
    NN_CORE_REDUCE,     /* sum or mean of all of a; attr 0: 1 for the mean */
    NN_CORE_REDUCE_DIM, /* along a dim; attrs: nn_reduce_op, 1 for the mean, dim */
    NN_CORE_WHERE,      /* c != 0 ? a : b */
    NN_CORE_VIEW,       /* a with the output's shape */
    NN_CORE_ARGMAX,     /* attr 0: dim */
    NN_CORE_COUNT_
} nn_core_op;

typedef struct nn_core_lowering {
    const char *name; /* as export names it in a refusal: "addmm" */
    nn_onnx_lower_fn lower;
} nn_core_lowering;
extern const nn_core_lowering nn_core_lowerings[NN_CORE_COUNT_];

/* Records a call of a core op or of a plugin's op into ctx->trace. */
void nn_trace_core(nn_ctx *ctx, nn_core_op op, nn_tensor *out, nn_tensor *a, nn_tensor *b,
                   nn_tensor *c, double a0, double a1, double a2);
void nn_trace_op(nn_ctx *ctx, const struct nn_op *op, nn_tensor *const *in, nn_tensor *const *out,
                 const double *attr);
#define NN_TRACE_CORE(ctx, ...)                                        \
    do {                                                               \
        if (NN_UNLIKELY((ctx)->trace)) nn_trace_core((ctx), __VA_ARGS__); \
    } while (0)

#endif
