/*
 * nn.h - the public API of libnn.
 *
 * libnn is a small core: tensors, define-by-run autograd, a module tree, a
 * training loop and a plugin registry. Layers, losses, optimizers, datasets
 * and device backends come from plugins (see nn/plugin.h).
 *
 * A program sees handles only; their structs live in core/. Every call that
 * can fail returns an nn_status; when it also takes `char **err`, a message
 * is stored there on failure (caller owns it; free with nn_free()). The
 * library never prints and never exits; logging goes through nn_log_set().
 *
 * Memory rule for tensors: tensors made by nn_tensor_new() are persistent
 * (free them with nn_tensor_free()). Tensors returned by ops (nn_sigmoid,
 * nn_addmm, ...) live in the context's scratch arena and stay valid until
 * nn_ctx_scratch_reset(), which a training step calls once at its end.
 *
 * Ops report errors through the context, not their return value: an op that
 * fails returns NULL and records a sticky error (nn_ctx_error()); an op given
 * a NULL input returns NULL, so a whole forward pass can be checked once.
 *
 * A whole program (cc net.c $(pkg-config --cflags --libs nn)):
 *
 *   #include <nn/nn.h>
 *   #include <stdio.h>
 *
 *   int main(void)
 *   {
 *       nn_registry *reg = NULL;
 *       nn_ctx *ctx = NULL;
 *       nn_module *net = NULL;
 *       char *err = NULL;
 *       nn_shape in = {1, {2}}, batch = {2, {3, 2}}; // one sample of 2 features; 3 samples
 *       if (nn_registry_open(NULL, &reg, &err) || nn_ctx_open(reg, "cpu", 0, &ctx, &err) ||
 *           nn_module_from_chain(ctx, "linear out=5 ! sigmoid", &in, &net, &err)) {
 *           fprintf(stderr, "%s\n", err);
 *           return 1;
 *       }
 *       nn_tensor *x = nn_tensor_new(ctx, &batch, 0); // zeros
 *       nn_tensor *y = nn_module_forward(net, x);     // NULL on error
 *       const char *msg;
 *       if (nn_ctx_error(ctx, &msg))
 *           fprintf(stderr, "%s\n", msg);
 *       else
 *           printf("y: (%lld, %lld)\n", (long long)nn_tensor_dim(y, 0),
 *                  (long long)nn_tensor_dim(y, 1));
 *       nn_tensor_free(x);
 *       nn_module_free(net);
 *       nn_ctx_free(ctx);
 *       nn_registry_free(reg);
 *       return y ? 0 : 1;
 *   }
 */
#ifndef NN_NN_H
#define NN_NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of these headers; nn_version() tells the library's. */
#define NN_VERSION_MAJOR 0
#define NN_VERSION_MINOR 1
#define NN_VERSION_PATCH 0
#define NN_VERSION_STRING "0.1.0"
#define NN_VERSION_NUMBER (NN_VERSION_MAJOR * 10000 + NN_VERSION_MINOR * 100 + NN_VERSION_PATCH)

#if defined(__GNUC__)
#define NN_API __attribute__((visibility("default")))
#define NN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NN_API
#define NN_PRINTF(f, a)
#endif

/* ---- status ------------------------------------------------------------ */

#define NN_STATUS_MAP(XX)                                              \
    XX(OK, "success")                                                  \
    XX(INVALID, "invalid argument")                                    \
    XX(NOT_FOUND, "not found")                                         \
    XX(NO_MEMORY, "out of memory")                                     \
    XX(IO, "input/output error")                                       \
    XX(ABI, "plugin ABI mismatch")                                     \
    XX(LOAD, "plugin could not be loaded")                             \
    XX(SHAPE, "shape mismatch")                                        \
    XX(DEVICE, "device error")                                         \
    XX(FORMAT, "malformed data")                                       \
    XX(UNSUPPORTED, "not supported")                                   \
    XX(INTERNAL, "internal error")

typedef enum {
#define NN_XX_(name, msg) NN_##name,
    NN_STATUS_MAP(NN_XX_)
#undef NN_XX_
    NN_STATUS_COUNT_
} nn_status;

/* The library's version, as NN_VERSION_NUMBER and NN_VERSION_STRING were
 * when it was built: compare with the headers a program was compiled with. */
NN_API int nn_version(void);
NN_API const char *nn_version_string(void);

/* "NN_SHAPE" for NN_SHAPE; never NULL. */
NN_API const char *nn_status_name(nn_status s);
/* "shape mismatch" for NN_SHAPE; never NULL. */
NN_API const char *nn_strerror(nn_status s);

/* Stores a formatted message in *err (if err is not NULL) and returns code.
 * Any message already in *err is freed first. */
NN_API nn_status nn_fail(char **err, nn_status code, const char *fmt, ...)
    NN_PRINTF(3, 4);
/* Frees memory the library handed to the caller (error messages, strings). */
NN_API void nn_free(void *p);

/* ---- logging ----------------------------------------------------------- */

typedef enum { NN_LOG_ERROR, NN_LOG_WARN, NN_LOG_INFO, NN_LOG_DEBUG } nn_log_level;
typedef void (*nn_log_fn)(nn_log_level level, const char *msg, void *user);
/* Sets the process-wide log sink; NULL (the default) discards messages. */
NN_API void nn_log_set(nn_log_fn fn, void *user);
NN_API void nn_log_msg(nn_log_level level, const char *fmt, ...) NN_PRINTF(2, 3);

/* ---- random numbers ---------------------------------------------------- */

/* PCG32 (O'Neill, pcg-random.org): small, fast, and its state is two words
 * that a checkpoint can store. */
typedef struct nn_rng {
    uint64_t state;
    uint64_t inc;
} nn_rng;

NN_API void nn_rng_seed(nn_rng *r, uint64_t seed, uint64_t stream);
NN_API uint32_t nn_rng_u32(nn_rng *r);
/* Uniform in [0, 1), 24 random bits. */
NN_API float nn_rng_uniform(nn_rng *r);
/* Uniform integer in [0, n), without modulo bias. n > 0. */
NN_API uint32_t nn_rng_below(nn_rng *r, uint32_t n);
/* Fisher-Yates permutation of 0..n-1 into idx. */
NN_API void nn_rng_permutation(nn_rng *r, int64_t *idx, int64_t n);

/* ---- shapes ------------------------------------------------------------ */

#define NN_MAX_DIMS 8

typedef struct nn_shape {
    int ndim;
    int64_t dim[NN_MAX_DIMS];
} nn_shape;

/* Writes "[5, 2]" (or "[-1, 5]" with batch = 1 meaning a leading -1). */
NN_API void nn_shape_format(const nn_shape *s, int batch, char *buf, size_t len);
NN_API int64_t nn_shape_numel(const nn_shape *s);

/* ---- registry and plugins ---------------------------------------------- */

typedef struct nn_registry nn_registry;
typedef struct nn_component nn_component;

typedef enum {
    NN_KIND_MODULE,
    NN_KIND_LOSS,
    NN_KIND_OPTIMIZER,
    NN_KIND_DATASET,
    NN_KIND_DEVICE,
    NN_KIND_OP,     /* new math (nn_op_def), ABI 2.0 */
    NN_KIND_KERNEL, /* an op's kernel for one device (nn_kernel_def), ABI 2.0 */
    NN_KIND_COMM,   /* a communicator for data-parallel runs (nn_comm_vt), ABI 2.2 */
    NN_KIND_COUNT_
} nn_kind;

/* "module", "loss", "optimizer", "dataset", "device", "op", "kernel",
 * "communicator". */
NN_API const char *nn_kind_name(nn_kind k);

/* Options for nn_registry_open(); zero means "default". */
typedef struct nn_registry_opts {
    const char *const *paths; /* extra directories searched first (--plugin-path) */
    int npaths;
    int no_env;               /* 1: ignore NN_PLUGIN_PATH and NN_PLUGIN_SYSTEM_PATH */
} nn_registry_opts;

/* Scans the plugin search path and loads every plugin it finds (those a
 * folder's plugins.cache describes: when first used). Plugins that
 * fail to load are recorded (nn_registry_refused) and skipped; this call only
 * fails when the registry itself cannot be built. Caller owns *out; free with
 * nn_registry_free(). */
NN_API nn_status nn_registry_open(const nn_registry_opts *opts, nn_registry **out,
                                  char **err);
NN_API void nn_registry_free(nn_registry *reg);

/* The directories searched, in order (borrowed; valid while reg lives). */
NN_API int nn_registry_search_path(const nn_registry *reg, const char *const **dirs);
/* Refused files: path and reason (borrowed). */
NN_API int nn_registry_refused_count(const nn_registry *reg);
NN_API void nn_registry_refused(const nn_registry *reg, int i, const char **path,
                                const char **reason);

/* A folder with a plugins.cache (nn_registry_write_cache) has its plugins
 * registered by name and loaded when first used: nn_registry_find loads
 * one; nn_registry_count and nn_registry_at load every plugin not loaded
 * yet, so that the list they walk holds only usable components. A plugin
 * the cache does not describe as it is now is loaded at open. Threads may
 * share a registry: the look-ups that load a plugin take a lock. */
NN_API int nn_registry_count(const nn_registry *reg);
NN_API const nn_component *nn_registry_at(const nn_registry *reg, int i);
/* The i-th component looked up by name so far (registry order), or NULL
 * past the last; loads nothing. */
NN_API const nn_component *nn_registry_used(const nn_registry *reg, int i);
/* Writes DIR/plugins.cache (DIR an absolute path), whole or not at all:
 * what each plugin file in DIR provides, each loaded to see it. *written
 * (if not NULL) counts the files described; *refused counts the files
 * refused, which the cache leaves out: they are loaded, and refused with
 * their reason, at every start. Run it again when a plugin changes: until
 * then the changed file is loaded at every start. */
NN_API nn_status nn_registry_write_cache(const char *dir, int *written, int *refused,
                                         char **err);
/* Finds a component by kind and name, loading its plugin if needed. On
 * failure returns NN_NOT_FOUND with a message that lists the known names of
 * that kind and where it looked, or NN_LOAD when the plugin cannot be
 * loaded now. */
NN_API nn_status nn_registry_find(const nn_registry *reg, nn_kind kind, const char *name,
                                  const nn_component **out, char **err);

NN_API nn_kind nn_component_kind(const nn_component *c);
NN_API const char *nn_component_name(const nn_component *c);
NN_API const char *nn_component_doc(const nn_component *c);
NN_API const char *nn_component_version(const nn_component *c);
NN_API const char *nn_component_file(const nn_component *c);
NN_API const char *nn_component_plugin(const nn_component *c);
/* The file whose component of the same kind and name c hides (c's folder
 * came first on the search path, so the other file was refused), or NULL;
 * *used (if not NULL) is 1 when c was looked up by name since the
 * registry opened, that is, whether the hiding mattered. */
NN_API const char *nn_component_shadows(const nn_component *c, int *used);
NN_API const struct nn_prop_def *nn_component_props(const nn_component *c, int *count);
/* The component's interface table (nn_module_vt, nn_device_vt, ... by kind). */
NN_API const void *nn_component_vt(const nn_component *c);

/* ---- properties --------------------------------------------------------- */

typedef struct nn_props nn_props;

/* Parses "key=value key=value" (whitespace separated) against the
 * component's property table. Unknown keys and bad values are refused with
 * a message naming the valid keys or the allowed range. Caller owns *out. */
NN_API nn_status nn_props_parse(const nn_component *c, const char *words, nn_props **out,
                                char **err);
/* The same, from an argv-style list of "key=value" words. */
NN_API nn_status nn_props_parse_argv(const nn_component *c, int argc, const char *const *argv,
                                     nn_props **out, char **err);
NN_API void nn_props_free(nn_props *p);
NN_API nn_props *nn_props_clone(const nn_props *p);

/* Typed reads by table index (fast; for plugins) or by name (-1 if absent). */
NN_API int nn_props_index(const nn_props *p, const char *key);
NN_API int64_t nn_props_int(const nn_props *p, int idx);
NN_API double nn_props_float(const nn_props *p, int idx);
NN_API int nn_props_bool(const nn_props *p, int idx);
NN_API const char *nn_props_string(const nn_props *p, int idx);
/* A list property (NN_PROP_FLOATS, "betas=0.9,0.999"): its *count values,
 * borrowed, valid until the property set changes. */
NN_API const double *nn_props_floats(const nn_props *p, int idx, int *count);
/* Sets one property from text, validated against the table. */
NN_API nn_status nn_props_set(nn_props *p, const char *key, const char *value, char **err);
/* "k=v k=v" for every property (or only those that differ from the default
 * when nondefault_only). Caller owns the string; free with nn_free(). */
NN_API char *nn_props_format(const nn_props *p, int nondefault_only);

/* ---- context ------------------------------------------------------------ */

typedef struct nn_ctx nn_ctx;

/* Opens the named device ("cpu", "cuda", ...) with the optional
 * "key=value" device properties after its name, and seeds the run's RNG.
 * reg is borrowed and must outlive the context. Caller owns *out. */
NN_API nn_status nn_ctx_open(nn_registry *reg, const char *device, uint64_t seed,
                             nn_ctx **out, char **err);
NN_API void nn_ctx_free(nn_ctx *ctx);
/* Is the device usable here? 0 with the reason in *why (caller frees) when
 * it is not, or when no plugin provides it: torch.cuda.is_available(). */
NN_API int nn_device_available(nn_registry *reg, const char *device, char **why);
NN_API nn_registry *nn_ctx_registry(nn_ctx *ctx);
NN_API const char *nn_ctx_device_name(const nn_ctx *ctx);
NN_API nn_rng *nn_ctx_rng(nn_ctx *ctx);

/* Releases every scratch tensor and the autograd tape in one call. */
NN_API void nn_ctx_scratch_reset(nn_ctx *ctx);
/* Bytes currently reserved by the scratch arena (for tests and tuning). */
NN_API size_t nn_ctx_scratch_reserved(const nn_ctx *ctx);

/* The sticky op error: NN_OK, or the first failure since the last clear. */
NN_API nn_status nn_ctx_error(const nn_ctx *ctx, const char **msg);
NN_API void nn_ctx_clear_error(nn_ctx *ctx);
/* Records the context's sticky error, first one wins; returns code. For a
 * plugin's forward that fails for its own reason: record why, return NULL.
 * A code of NN_OK records nothing. */
NN_API nn_status nn_ctx_set_error(nn_ctx *ctx, nn_status code, const char *fmt, ...)
    NN_PRINTF(3, 4);

/* Autograd recording switch, as torch.no_grad(). Returns the previous value. */
NN_API int nn_grad_set_enabled(nn_ctx *ctx, int enabled);
NN_API int nn_grad_enabled(const nn_ctx *ctx);
/* torch.autograd.set_detect_anomaly: when on, nn_backward reads back the
 * gradients each node wrote and stops at the first NaN or Inf with a sticky
 * error naming the op ("op 'SigmoidBackward0' produced NaN in its
 * backward"). Off by default (no cost then). Returns the previous value. */
NN_API int nn_ctx_set_detect_anomaly(nn_ctx *ctx, int on);
NN_API int nn_ctx_detect_anomaly(const nn_ctx *ctx);

/* ---- tensors ------------------------------------------------------------ */

typedef struct nn_tensor nn_tensor;
typedef enum { NN_F32 = 0 } nn_dtype;

/* A persistent, zero-filled tensor on the context's device. Caller owns it;
 * free with nn_tensor_free(). Returns NULL on failure (see nn_ctx_error). */
NN_API nn_tensor *nn_tensor_new(nn_ctx *ctx, const nn_shape *shape, int requires_grad);
NN_API void nn_tensor_free(nn_tensor *t);
/* A scratch tensor (valid until nn_ctx_scratch_reset), uninitialised. */
NN_API nn_tensor *nn_tensor_scratch(nn_ctx *ctx, const nn_shape *shape);

NN_API nn_ctx *nn_tensor_ctx(const nn_tensor *t);
NN_API nn_dtype nn_tensor_dtype(const nn_tensor *t);
NN_API const nn_shape *nn_tensor_shape(const nn_tensor *t);
NN_API int64_t nn_tensor_numel(const nn_tensor *t);
NN_API int64_t nn_tensor_dim(const nn_tensor *t, int i);
NN_API int nn_tensor_is_contiguous(const nn_tensor *t);
NN_API int nn_tensor_requires_grad(const nn_tensor *t);
NN_API void nn_tensor_set_requires_grad(nn_tensor *t, int on);
/* The accumulated gradient, or NULL when none (as PyTorch's None). Borrowed. */
NN_API nn_tensor *nn_tensor_grad(const nn_tensor *t);
/* Name of the backward node that made t ("AddmmBackward0"), or NULL. */
NN_API const char *nn_tensor_grad_fn_name(const nn_tensor *t);

/* Explicit copies between host memory and the tensor (n = element count,
 * must equal numel). Non-contiguous tensors are copied element by element. */
NN_API nn_status nn_tensor_from_host(nn_tensor *t, const float *src, int64_t n);
NN_API nn_status nn_tensor_to_host(const nn_tensor *t, float *dst, int64_t n);
/* Value of a one-element tensor. */
NN_API nn_status nn_tensor_item(const nn_tensor *t, float *out);

/* In-place updates, never recorded by autograd (use them under no-grad, as
 * the hand-written update of the tutorial does). */
NN_API nn_status nn_tensor_zero_(nn_tensor *t);
NN_API nn_status nn_tensor_fill_(nn_tensor *t, float v);
/* t += alpha * x (same shape). */
NN_API nn_status nn_tensor_add_(nn_tensor *t, const nn_tensor *x, float alpha);
/* t *= s. */
NN_API nn_status nn_tensor_scale_(nn_tensor *t, float s);
/* t = uniform(lo, hi) drawn from rng, on the host, then copied: the same seed
 * gives the same values on every device. */
NN_API nn_status nn_tensor_uniform_(nn_tensor *t, nn_rng *rng, float lo, float hi);
NN_API nn_status nn_tensor_copy_(nn_tensor *t, const nn_tensor *src);
/* Forgets t's gradient (PyTorch's zero_grad(set_to_none=True)); the buffer is
 * kept and overwritten by the next backward. */
NN_API void nn_tensor_zero_grad(nn_tensor *t);

/* ---- ops (differentiable; results are scratch tensors) ------------------ */

/* out = bias + a @ b.  a: (m, k)  b: (k, n)  bias: (n) or (m, n). */
NN_API nn_tensor *nn_addmm(nn_tensor *bias, nn_tensor *a, nn_tensor *b);
NN_API nn_tensor *nn_mm(nn_tensor *a, nn_tensor *b);
/* Transpose of a 2-d tensor, a view (no copy). */
NN_API nn_tensor *nn_t(nn_tensor *a);
NN_API nn_tensor *nn_contiguous(nn_tensor *a);
/* Element-wise; b has a's shape, or is (n) broadcast over rows of (m, n). */
NN_API nn_tensor *nn_add(nn_tensor *a, nn_tensor *b);
NN_API nn_tensor *nn_sub(nn_tensor *a, nn_tensor *b);
NN_API nn_tensor *nn_mul(nn_tensor *a, nn_tensor *b);
NN_API nn_tensor *nn_mul_scalar(nn_tensor *a, float s);
NN_API nn_tensor *nn_sigmoid(nn_tensor *a);
NN_API nn_tensor *nn_relu(nn_tensor *a);
NN_API nn_tensor *nn_tanh(nn_tensor *a);
NN_API nn_tensor *nn_exp(nn_tensor *a);
NN_API nn_tensor *nn_log(nn_tensor *a);
/* Sum / mean of all elements: a scalar (0-d) tensor. */
NN_API nn_tensor *nn_sum(nn_tensor *a);
NN_API nn_tensor *nn_mean(nn_tensor *a);
/* ---- more ops: element-wise math, reductions along a dimension, shapes ----
 * Binary ops give a tensor of a's shape; b has a's shape, or is 1-d and
 * repeated along a's rows (its length a's last dimension), or has one
 * element. Gradients follow PyTorch's formulas. */

/* a / b (DivBackward0). */
NN_API nn_tensor *nn_div(nn_tensor *a, nn_tensor *b);
/* a ^ b element-wise, b a tensor (PowBackward1). */
NN_API nn_tensor *nn_pow(nn_tensor *a, nn_tensor *b);
/* a ^ e (PowBackward0). */
NN_API nn_tensor *nn_pow_scalar(nn_tensor *a, float e);
/* The larger of a and b, NaN if either is (MaximumBackward0; ties split the gradient). */
NN_API nn_tensor *nn_maximum(nn_tensor *a, nn_tensor *b);
/* The smaller of a and b, NaN if either is (MinimumBackward0; ties split the gradient). */
NN_API nn_tensor *nn_minimum(nn_tensor *a, nn_tensor *b);
/* a + s (AddBackward0). */
NN_API nn_tensor *nn_add_scalar(nn_tensor *a, float s);
/* sqrt(a) (SqrtBackward0). */
NN_API nn_tensor *nn_sqrt(nn_tensor *a);
/* |a| (AbsBackward0; the gradient at 0 is 0). */
NN_API nn_tensor *nn_abs(nn_tensor *a);
/* min(max(a, lo), hi); -INFINITY / INFINITY for no bound (ClampBackward1). */
NN_API nn_tensor *nn_clamp(nn_tensor *a, float lo, float hi);
/* cond != 0 ? a : b element-wise (WhereBackward0; no gradient for cond). The
 * result has the shape of the largest of the three; each other one has that
 * shape, is 1-d and repeated along its rows, or has one element. */
NN_API nn_tensor *nn_where(nn_tensor *cond, nn_tensor *a, nn_tensor *b);

/* In place, outside autograd (as under torch.no_grad), for optimizer
 * updates: t += value * a * b and t += value * a / b. t is contiguous, a has
 * t's shape, b is as in binary ops. NN_OK, or an error status with its
 * message recorded in the context (nn_ctx_error). */
NN_API nn_status nn_addcmul_(nn_tensor *t, float value, nn_tensor *a, nn_tensor *b);
NN_API nn_status nn_addcdiv_(nn_tensor *t, float value, nn_tensor *a, nn_tensor *b);

/* Reductions along dimension dim (negative: counted from the end); keepdim
 * keeps it with size 1, else it is removed. Sum (SumBackward1) and mean
 * (MeanBackward1). */
NN_API nn_tensor *nn_sum_dim(nn_tensor *a, int dim, int keepdim);
NN_API nn_tensor *nn_mean_dim(nn_tensor *a, int dim, int keepdim);
/* The maximum along dim (MaxBackward0: the gradient goes to the index
 * returned, the first maximum or the first NaN); *indices (if indices is not
 * NULL) gets the indices as float32 values, a tensor without gradient. */
NN_API nn_tensor *nn_max_dim(nn_tensor *a, int dim, int keepdim, nn_tensor **indices);
/* The indices of nn_max_dim as float32 values; no gradient. */
NN_API nn_tensor *nn_argmax(nn_tensor *a, int dim, int keepdim);

/* a's elements in shape s, one dimension of which may be -1 (inferred): a
 * view when a is contiguous (ViewBackward0), else a copy (CloneBackward0 then
 * UnsafeViewBackward0, as PyTorch). */
NN_API nn_tensor *nn_reshape(nn_tensor *a, const nn_shape *s);
/* As nn_reshape, but always a view: an error when a is not contiguous. */
NN_API nn_tensor *nn_view(nn_tensor *a, const nn_shape *s);
/* A view of a sharing its storage, with no grad_fn and not requiring grad. */
NN_API nn_tensor *nn_detach(nn_tensor *a);

/* Backpropagates from a one-element tensor, accumulating into the .grad of
 * every leaf that requires it. */
NN_API nn_status nn_backward(nn_tensor *loss);

/* ---- ops from plugins ----------------------------------------------------
 * Math beyond the core's ops comes from plugins as ops (nn/plugin.h). A
 * handle is resolved once, when a module, loss or optimizer is created, so
 * the hot path looks nothing up by name:
 *
 *   nn_op *softplus;                       (in init)
 *   nn_op_find(nn_module_ctx(m), "softplus", &softplus, err);
 *   double attr[] = {beta, threshold};     (in forward)
 *   return nn_op_call(softplus, &x, attr, NULL);
 */
typedef struct nn_op nn_op;

/* Resolves op `name` with its kernel for ctx's device. Fails when no plugin
 * defines the op, or when none brings a kernel for the device (or its
 * backward, for an op with a gradient); the message names the op, the
 * device and the devices that have kernels. The handle is borrowed from
 * ctx: valid until nn_ctx_free(). */
NN_API nn_status nn_op_find(nn_ctx *ctx, const char *name, nn_op **out, char **err);
/* Runs op on in[0..nin) (an optional input may be NULL) with its nattr
 * attributes (attr NULL: the defaults), records an autograd node when the
 * op has a gradient and an input requires grad, and stores its nout
 * outputs (scratch tensors) in out when out is not NULL. Returns the first
 * output; NULL for an op without outputs, and on error (then the
 * context's sticky error says why: nn_ctx_error). */
NN_API nn_tensor *nn_op_call(nn_op *op, nn_tensor *const *in, const double *attr,
                             nn_tensor **out);
/* The op's name, its backward node's name (NULL: no gradient), and the
 * component that defines it (borrowed). */
NN_API const char *nn_op_name(const nn_op *op);
NN_API const char *nn_op_node_name(const nn_op *op);
NN_API const nn_component *nn_op_component(const nn_op *op);

/* ---- modules ------------------------------------------------------------ */

typedef struct nn_module nn_module;

/* Builds a Sequential from a chain "linear out=5 ! sigmoid ! linear out=1"
 * (its children named "0", "1", ...); a chain of one element is that module
 * itself, as nn.Linear alone is in PyTorch. in is the shape of one sample; a
 * dimension of -1 is unknown and the first element resolves it (linear's
 * in=). Each element infers its input shape from the one before.
 * Parameters are initialised from the context's RNG. */
NN_API nn_status nn_module_from_chain(nn_ctx *ctx, const char *chain, const nn_shape *in,
                                      nn_module **out, char **err);
/* Creates one module from a component and its "key=value" words. */
NN_API nn_status nn_module_create(nn_ctx *ctx, const char *name, const char *words,
                                  const nn_shape *in, nn_module **out, char **err);
NN_API void nn_module_free(nn_module *m);

/* Runs m on a batch x, (N, in...). NULL on error, with the reason recorded
 * in the context (nn_ctx_error): an op's, the plugin's own, or the core's
 * naming the module when a plugin's forward returned NULL without a reason
 * or a shape other than (N, out...) of its declared output. */
NN_API nn_tensor *nn_module_forward(nn_module *m, nn_tensor *x);
/* Train (1) or eval (0) mode for m and every descendant, as PyTorch's
 * model.train(mode). A module starts in train mode. Training runs in train
 * mode; evaluation (nn_fit_epoch without an optimizer) in eval mode. */
NN_API void nn_module_train(nn_module *m, int training);
NN_API int nn_module_is_training(const nn_module *m);

/* The type name ("Linear", "Sequential") and the child name ("0", "fc1"). */
NN_API const char *nn_module_type(const nn_module *m);
NN_API const char *nn_module_name(const nn_module *m);
NN_API const nn_shape *nn_module_in_shape(const nn_module *m);
NN_API const nn_shape *nn_module_out_shape(const nn_module *m);
NN_API int nn_module_child_count(const nn_module *m);
NN_API nn_module *nn_module_child(const nn_module *m, int i);
NN_API nn_ctx *nn_module_ctx(const nn_module *m);

/* Every parameter in the tree, depth first, with PyTorch names ("0.weight").
 * Borrowed; valid while the module lives. The three counts below are -1
 * when memory ran out listing them. */
NN_API int nn_module_param_count(nn_module *m);
NN_API nn_tensor *nn_module_param(nn_module *m, int i, const char **name);
/* Every buffer in the tree (PyTorch's named_buffers: running statistics and
 * the like), in the same order and naming ("1.running_mean"). Buffers never
 * require grad and optimizers never see them; checkpoints save them. */
NN_API int nn_module_buffer_count(nn_module *m);
NN_API nn_tensor *nn_module_buffer(nn_module *m, int i, const char **name);
/* The state_dict: each module's parameters, then its buffers, then its
 * children's, depth first; *is_buffer (if not NULL) tells which is which. */
NN_API int nn_module_state_count(nn_module *m);
NN_API nn_tensor *nn_module_state(nn_module *m, int i, const char **name, int *is_buffer);
/* zero_grad on every parameter. */
NN_API void nn_module_zero_grad(nn_module *m);
/* NN_OK when every parameter and buffer of m is finite; NN_INVALID at the
 * first that holds NaN or Inf, with its name and the element in *name and
 * *value (either may be NULL); another status when one cannot be read. */
NN_API nn_status nn_module_check_finite(nn_module *m, const char **name, float *value);

/* ---- seeing a network ----------------------------------------------------
 * print(model), modelsummary's table and the state_dict listing are views of
 * one walk over the module tree; the graph walks autograd from an output. */

/* Called for m and each descendant, depth first; path is the dotted name
 * ("" for m itself, "0", "fc1", "block.0"). Return 0 to go on, a negative
 * value to skip this module's children, a positive one to stop the walk. */
typedef int (*nn_module_visit_fn)(nn_module *m, const char *path, int depth, void *user);
NN_API int nn_module_visit(nn_module *m, nn_module_visit_fn fn, void *user);

/* The text inside "Linear(...)": the plugin's extra_repr, or by default the
 * properties that differ from their defaults. Caller frees with nn_free. */
NN_API char *nn_module_extra_repr(nn_module *m);
/* PyTorch's repr: "Sequential(\n  (0): Linear(in_features=2, ...)\n ...)". */
NN_API char *nn_module_repr(nn_module *m);

typedef struct nn_summary_opts {
    int show_input;   /* the input shape of each layer instead of its output */
    int hierarchical; /* containers too, children indented under them */
} nn_summary_opts;
/* The modelsummary table: Layer (type) / Output Shape / Param #, totals;
 * buffers (running statistics) count as non-trainable. */
NN_API char *nn_module_summary(nn_module *m, const nn_summary_opts *opts);
/* One line per tensor of the state_dict, parameters and buffers:
 * "0.weight             :     10  shape: (5, 2)", then the total; with_values
 * also prints the numbers, layer by layer. */
NN_API char *nn_module_params_text(nn_module *m, int with_values);
/* Graphviz DOT of the autograd graph that produced out: backward nodes by
 * their PyTorch names, AccumulateGrad and a labelled box (name, shape) for
 * each parameter of m, the output marked. Caller frees *dot. */
NN_API nn_status nn_graph_dot(nn_tensor *out, nn_module *m, char **dot, char **err);

/* ---- losses ------------------------------------------------------------- */

typedef struct nn_loss nn_loss;
NN_API nn_status nn_loss_create(nn_ctx *ctx, const char *name, const char *words,
                                nn_loss **out, char **err);
NN_API void nn_loss_free(nn_loss *l);
/* The loss, one element. NULL on error, with the reason recorded in the
 * context, as nn_module_forward (the core names a loss that returned NULL
 * without a reason, or more than one element). */
NN_API nn_tensor *nn_loss_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target);
/* Correct predictions out of *total, when the loss defines an accuracy
 * (NN_UNSUPPORTED otherwise). */
NN_API nn_status nn_loss_correct(nn_loss *l, nn_tensor *pred, nn_tensor *target,
                                 int64_t *correct, int64_t *total);
/* The class of each of the N rows of pred, by the loss's own rule: the
 * highest score for a loss over class indices (cross_entropy, nll); for one
 * output per sample, 1 when the accuracy rule counts target 1 correct (bce:
 * p > 0.5, bce_with_logits: logit > 0), else 0. NN_UNSUPPORTED when the loss
 * defines no classes. cls holds N entries. */
NN_API nn_status nn_loss_predict_class(nn_loss *l, nn_tensor *pred, int64_t *cls, char **err);

/* ---- optimizers --------------------------------------------------------- */

typedef struct nn_optim nn_optim;
/* An optimizer over every parameter of m that requires grad. */
NN_API nn_status nn_optim_create(nn_ctx *ctx, const char *name, const char *words,
                                 nn_module *m, nn_optim **out, char **err);
/* The same over any named tensors (torch.optim.SGD([p1, p2])); params are
 * borrowed and must outlive the optimizer; names key the saved state. */
NN_API nn_status nn_optim_create_over(nn_ctx *ctx, const char *name, const char *words, int n,
                                      nn_tensor *const *params, const char *const *names,
                                      nn_optim **out, char **err);
NN_API void nn_optim_free(nn_optim *o);
NN_API nn_status nn_optim_step(nn_optim *o);
NN_API void nn_optim_zero_grad(nn_optim *o);
/* Hyper-parameters by name, at any time ("lr", "momentum", "betas" with
 * "0.3,0.999"). A change replaces the property set: strings and lists read
 * from it before are then stale. nn_optim_get reads a number or a bool
 * (NN_NOT_FOUND for an unknown key, NN_INVALID for a string or a list: read
 * a list with nn_props_floats on nn_optim_props(o)). */
NN_API nn_status nn_optim_set(nn_optim *o, const char *key, const char *value, char **err);
NN_API nn_status nn_optim_get(const nn_optim *o, const char *key, double *value);
NN_API nn_props *nn_optim_props(nn_optim *o);
NN_API const char *nn_optim_name(const nn_optim *o);
/* Steps taken so far (saved and restored with checkpoints). */
NN_API int64_t nn_optim_steps(const nn_optim *o);

/* ---- datasets and batches ----------------------------------------------- */

typedef struct nn_dataset nn_dataset;
NN_API nn_status nn_dataset_open(nn_ctx *ctx, const char *name, const char *words,
                                 nn_dataset **out, char **err);
NN_API void nn_dataset_free(nn_dataset *d);
NN_API int64_t nn_dataset_len(const nn_dataset *d);
NN_API const nn_shape *nn_dataset_input_shape(const nn_dataset *d);
NN_API const nn_shape *nn_dataset_target_shape(const nn_dataset *d);
/* The property words the dataset learned from its data (nn_dataset_vt.learned),
 * "" when none: append them to another spec of the same dataset to treat that
 * data the same way. Borrowed from d. */
NN_API const char *nn_dataset_learned(const nn_dataset *d);
/* One sample into host memory (numel of the input / target shapes). When
 * the plugin fails, its message (after the dataset's name) is also recorded
 * as the context's sticky error (nn_ctx_error); an index outside 0..len-1 is
 * NN_INVALID and records nothing. */
NN_API nn_status nn_dataset_get(nn_dataset *d, int64_t i, float *x, float *y);
/* A view of d by index (PyTorch's Subset): sample k is d's sample idx[k].
 * It reads d's samples (through d's plugin or cache), so d must outlive it;
 * idx is copied. */
NN_API nn_status nn_dataset_subset(nn_dataset *d, const int64_t *idx, int64_t n,
                                   nn_dataset **out, char **err);

/* NONE: 0..n-1 in order; EPOCH: a fresh permutation each pass; SAMPLE: each
 * batch drawn at random with replacement (the tutorial's
 * idx = np.random.randint(0, n, batch)). Draws come from the context's RNG. */
typedef enum { NN_SHUFFLE_NONE, NN_SHUFFLE_EPOCH, NN_SHUFFLE_SAMPLE } nn_shuffle;

/* Batches as PyTorch's DataLoader gives them: batch samples each (a batch
 * larger than the dataset gives one batch of all), the last one smaller
 * unless drop_last, shuffled per nn_shuffle (n draws a pass for SAMPLE).
 * Batches are assembled in host memory and copied to the context's device one
 * at a time. Caller owns *out. */
typedef struct nn_loader nn_loader;
NN_API nn_status nn_loader_open(nn_dataset *d, int64_t batch, nn_shuffle shuffle, int drop_last,
                                nn_loader **out, char **err);
/* 1 with the next batch in *x and *y (scratch tensors on the context's
 * device, valid until nn_ctx_scratch_reset), 0 at the end of a pass (the
 * next call starts another), -1 on error (see nn_ctx_error). */
NN_API int nn_loader_next(nn_loader *l, nn_tensor **x, nn_tensor **y);
NN_API void nn_loader_free(nn_loader *l);

/* ---- training loop ------------------------------------------------------ */


/* ---- hyper-parameter schedules ----------------------------------------- */

/* Changes to an optimizer's hyper-parameters at the start of epochs (0-based,
 * as nn_fit counts them), rule by rule in the order they were added:
 *   "E: key=value ..."       at the start of epoch E
 *   "E+: key=value key*=F"   at the start of every epoch from E on; key*=F
 *                            multiplies a float property by F
 * Values are text handed to nn_optim_set, so any property type can be set.
 * Learning-rate schedules step lr once per epoch exactly as PyTorch's
 * lr_scheduler (1.13, recursive form) with last_epoch = the epoch:
 *   "step step_size=N gamma=G"   (gamma 0.1)   StepLR
 *   "exponential gamma=G"                       ExponentialLR
 *   "cosine T_max=N eta_min=E"   (eta_min 0)   CosineAnnealingLR
 * each with base_lr=X (default: the lr when the schedule first runs). */
typedef struct nn_schedule nn_schedule;
NN_API nn_schedule *nn_schedule_new(void); /* NULL when out of memory */
NN_API void nn_schedule_free(nn_schedule *s);
/* Adds a rule "E: ..." or "E+: ..."; its syntax is checked here. */
NN_API nn_status nn_schedule_add(nn_schedule *s, const char *rule, char **err);
/* Adds a learning-rate schedule "step ...", "exponential ..." or "cosine ...". */
NN_API nn_status nn_schedule_add_lr(nn_schedule *s, const char *spec, char **err);
NN_API int nn_schedule_count(const nn_schedule *s);
/* Checks every rule against o: known keys, float properties for *=, and a dry
 * run of epochs first .. end-1 on a copy of o's hyper-parameters, validated
 * as nn_optim_set validates them. o is left unchanged. */
NN_API nn_status nn_schedule_check(nn_schedule *s, const nn_optim *o, int64_t first, int64_t end,
                                   char **err);
/* Applies the rules due at the start of epoch to o. */
NN_API nn_status nn_schedule_apply(nn_schedule *s, nn_optim *o, int64_t epoch, char **err);
/* The rules as text, one a line: "schedule RULE" or "lr-schedule SPEC" (with
 * base_lr once known), for nn_schedule_parse_text. nnrun keeps it in a
 * checkpoint's metadata under "schedule". Caller frees with nn_free. */
NN_API char *nn_schedule_text(const nn_schedule *s);
NN_API nn_status nn_schedule_parse_text(nn_schedule *s, const char *text, char **err);

typedef struct nn_epoch_stats {
    int64_t epoch;   /* -1 for the evaluation before training */
    double loss;     /* per sample: sum of batch loss * batch size / samples */
    double accuracy; /* correct / total over the epoch; NaN without a metric */
    int64_t batches;
} nn_epoch_stats;

/* Called after every epoch; a non-zero return stops training early. */
typedef int (*nn_epoch_fn)(const nn_epoch_stats *s, void *user);

/* One training batch, as nn_fit hands it to opts->on_batch (a progress bar,
 * a step counter, a stop at a time limit). */
typedef struct nn_batch_stats {
    int64_t epoch;   /* as nn_epoch_stats.epoch */
    int64_t batch;   /* 0-based index in the epoch */
    int64_t batches; /* batches in this epoch */
    int64_t samples; /* samples of this epoch trained so far, this batch included */
    double loss;     /* the batch's loss (the mean over its samples) */
} nn_batch_stats;

/* Called after every training batch, its optimizer step done; a non-zero
 * return stops training after that batch. */
typedef int (*nn_batch_fn)(const nn_batch_stats *s, void *user);

typedef struct nn_fit_opts {
    int64_t epochs;      /* train until this many epochs are complete */
    int64_t batch;
    nn_shuffle shuffle;
    nn_epoch_fn on_epoch;
    void *user;
    int64_t first_epoch; /* epochs already complete (a resumed run) */
    int64_t *order;      /* in/out: the data order, nn_dataset_len entries; each
                            shuffled epoch permutes it, as the tutorial's X = X[idx].
                            NULL: start from 0..n-1 internally */
    nn_schedule *schedule; /* optional: applied to the optimizer before each epoch */
    int drop_last;       /* training skips the last partial batch */
    double clip_grad_norm; /* > 0: nn_clip_grad_norm(m, it) between backward and step */
    /* Fields are only ever appended here, so that initialisers by position
     * or by name keep their meaning; one left out is 0 (NULL): off. */
    nn_batch_fn on_batch; /* optional: after every training batch, with user; its
                             non-zero return stops training at once: the epoch's
                             on_epoch is called only if that batch was its last */
    struct nn_comm *comm; /* optional: data-parallel over its ranks (see nn_comm_open) */
} nn_fit_opts;

/* torch.nn.utils.clip_grad_norm_: the 2-norm of every gradient together
 * into *total_norm (may be NULL), and each gradient scaled in place by
 * max_norm / (norm + 1e-6) when that is below 1. Parameters without a
 * gradient are skipped. Its temporaries live in the scratch arena (released
 * by nn_ctx_scratch_reset); NN_INVALID for a negative or infinite max_norm. */
NN_API nn_status nn_clip_grad_norm(nn_module *m, double max_norm, double *total_norm);
NN_API nn_status nn_clip_grad_norm_params(nn_tensor *const *params, int n, double max_norm,
                                          double *total_norm);

/* One pass over d as the tutorial's fit(): batches of `batch` samples, the
 * last partial batch kept (a batch larger than d gives one batch), train mode
 * with an optimizer step per batch when o is not NULL, else evaluation (eval
 * mode, no grad). Each batch is gathered into host memory, then copied to the
 * model's device on its own. Every module's mode is restored afterwards.
 * order may be NULL (0..n-1). */
NN_API nn_status nn_fit_epoch(nn_module *m, nn_loss *l, nn_optim *o, nn_dataset *d,
                              int64_t batch, const int64_t *order, nn_epoch_stats *out,
                              char **err);
/* The whole loop: epochs first_epoch .. epochs-1, shuffling per opts->shuffle
 * with the context's RNG (SAMPLE leaves opts->order as it is), dropping the
 * last partial batch when opts->drop_last, applying opts->schedule before each epoch and
 * calling opts->on_epoch after each, opts->on_batch (when set) after each
 * training batch. Either callback stops training by returning non-zero; nn_fit
 * then returns NN_OK, the parameters checked finite as at an epoch's end. */
NN_API nn_status nn_fit(nn_module *m, nn_loss *l, nn_optim *o, nn_dataset *d,
                        const nn_fit_opts *opts, char **err);

/* ---- checkpoints ---------------------------------------------------------
 * One nn.Checkpoint protobuf message per file (proto/nn.proto): info, date,
 * the model as a chain of plugin references plus named tensors, the
 * optimizer with its hyper-parameters and named state, the training state.
 * Saving is atomic (temporary file, fsync, rename, fsync of the folder);
 * loading verifies a length and CRC-32 trailer, then every size, before it
 * allocates anything for the tensors. */

#define NN_CHECKPOINT_FORMAT 1

typedef struct nn_checkpoint nn_checkpoint;

/* Where a training run stands, for an exact resume. Strings are borrowed. */
typedef struct nn_train_state {
    int64_t epoch;        /* epochs complete */
    int64_t step;         /* optimizer steps taken */
    int64_t batch;
    nn_shuffle shuffle;
    uint64_t seed;
    nn_rng rng;           /* the run's RNG after `epoch` epochs */
    const char *data;     /* dataset spec: "circle n=1200" */
    const char *loss;     /* loss spec: "bce" */
    const char *device;
    const int64_t *order; /* data order, norder entries (may be NULL) */
    int64_t norder;
} nn_train_state;

typedef struct nn_save_opts {
    const char *info;              /* free text (UTF-8) */
    const char *date;              /* NULL: now, ISO 8601 */
    nn_module *model;              /* required */
    nn_optim *optim;               /* optional */
    const nn_train_state *train;   /* optional */
    const char *const *metadata;   /* key, value, key, value ... */
    int nmetadata;                 /* number of pairs */
} nn_save_opts;

NN_API nn_status nn_checkpoint_save(const char *path, const nn_save_opts *opts, char **err);
/* Reads, verifies and validates a file. Caller owns *out; free with
 * nn_checkpoint_free(). */
NN_API nn_status nn_checkpoint_load(const char *path, nn_checkpoint **out, char **err);
/* The same for the n bytes of a checkpoint file already in memory (borrowed). */
NN_API nn_status nn_checkpoint_load_mem(const void *buf, size_t n, nn_checkpoint **out,
                                       char **err);
NN_API void nn_checkpoint_free(nn_checkpoint *c);

NN_API const char *nn_checkpoint_info(const nn_checkpoint *c);
NN_API const char *nn_checkpoint_date(const nn_checkpoint *c);
NN_API uint32_t nn_checkpoint_format(const nn_checkpoint *c);
NN_API const char *nn_checkpoint_metadata(const nn_checkpoint *c, const char *key);
/* "linear in=0 out=5 bias=true ! sigmoid ! ..." Caller frees with nn_free. */
NN_API char *nn_checkpoint_model_chain(const nn_checkpoint *c);
NN_API const nn_shape *nn_checkpoint_input_shape(const nn_checkpoint *c);
/* "sgd lr=0.5 momentum=0.8 ..." or NULL without an optimizer. Caller frees. */
NN_API char *nn_checkpoint_optim_spec(const nn_checkpoint *c);
/* The training state, or NN_NOT_FOUND when the file has none. Strings and
 * order are borrowed from c. */
NN_API nn_status nn_checkpoint_train_state(const nn_checkpoint *c, nn_train_state *out);
/* Named tensors of the model (borrowed). */
NN_API int nn_checkpoint_tensor_count(const nn_checkpoint *c);
NN_API const char *nn_checkpoint_tensor(const nn_checkpoint *c, int i, nn_shape *shape);

/* Rebuilds the model from its chain and loads its tensors. */
NN_API nn_status nn_checkpoint_build_model(const nn_checkpoint *c, nn_ctx *ctx, nn_module **out,
                                           char **err);
/* load_state_dict: every parameter and buffer of m must be in c with the same
 * shape and c must hold no other; on any mismatch m is left unchanged and the message
 * names the first one with both shapes. */
NN_API nn_status nn_checkpoint_load_model(const nn_checkpoint *c, nn_module *m, char **err);
/* Creates the saved optimizer over m and loads its state. */
NN_API nn_status nn_checkpoint_build_optim(const nn_checkpoint *c, nn_module *m, nn_optim **out,
                                           char **err);
/* Loads hyper-parameters and state into o (same optimizer kind); all or nothing. */
NN_API nn_status nn_checkpoint_load_optim(const nn_checkpoint *c, nn_optim *o, char **err);

/* ---- communicators: data-parallel training across processes -------------
 * A communicator (nn/plugin.h's nn_comm_vt; the mpi plugin) joins the
 * processes of one job, ranks 0 .. size-1, each holding a full copy of the
 * model. Calls marked collective must be made by every rank, in the same
 * order, with the same sizes; after one fails, the job is unusable: abort
 * it. As DistributedDataParallel: broadcast rank 0's parameters once, then
 * give nn_fit the communicator (nn_fit_opts.comm): each rank trains on its
 * contiguous slice of every global batch, and after backward one allreduce
 * sums the gradients, each weighted by its slice's share of the batch, so
 * that every rank steps with the gradient of the whole batch. */
typedef struct nn_comm nn_comm;

/* Was this process started as one rank of a job the communicator `name`
 * can join (by mpirun)? 0 when it runs alone, or when no plugin provides
 * `name` or it cannot tell. Starts nothing. */
NN_API int nn_comm_launched(nn_registry *reg, const char *name);
/* Joins the job through communicator `name` with its "key=value" words.
 * reg must outlive it. Caller owns *out; nn_comm_free() leaves the job. */
NN_API nn_status nn_comm_open(nn_registry *reg, const char *name, const char *words,
                              nn_comm **out, char **err);
NN_API void nn_comm_free(nn_comm *c); /* collective */
NN_API int nn_comm_rank(const nn_comm *c);
NN_API int nn_comm_size(const nn_comm *c);
NN_API const char *nn_comm_name(const nn_comm *c);
/* Collective: bytes at buf on rank root go to buf on every rank. */
NN_API nn_status nn_comm_broadcast(nn_comm *c, void *buf, size_t bytes, int root, char **err);
/* Collective: buf[0..n) (host memory) becomes the sum over ranks, in place. */
NN_API nn_status nn_comm_allreduce_sum(nn_comm *c, float *buf, int64_t n, char **err);
NN_API nn_status nn_comm_barrier(nn_comm *c, char **err); /* collective */
/* Stops every rank of the job with exit status code (non-zero), msg on
 * stderr with this rank's number. Not collective; does not return. */
NN_API void nn_comm_abort(nn_comm *c, int code, const char *msg);

/* Collective: root's parameters and buffers (the state_dict) into every
 * rank's m, which must have the same structure. */
NN_API nn_status nn_comm_broadcast_module(nn_comm *c, nn_module *m, int root, char **err);
/* Collective: every gradient of m times weight, summed over the ranks, in
 * one allreduce of a flat buffer (parameters without a gradient are left
 * out, on every rank alike). The buffer is on m's device when the
 * communicator takes that device's memory (NN_COMM_DEVICE_MEMORY), else in
 * host memory. */
NN_API nn_status nn_comm_allreduce_grads(nn_comm *c, nn_module *m, float weight, char **err);
/* This rank's contiguous slice [*lo, *lo + *count) of n items: the first
 * n % size ranks get one more than the others (c NULL: all of them). Not
 * collective. */
NN_API void nn_comm_slice(const nn_comm *c, int64_t n, int64_t *lo, int64_t *count);
/* nn_fit_epoch sharded over c's ranks (collective; c NULL: nn_fit_epoch):
 * each rank runs its slice of every batch; the figures in *out are the
 * whole pass's, the same on every rank. */
NN_API nn_status nn_fit_epoch_comm(nn_module *m, nn_loss *l, nn_optim *o, nn_dataset *d,
                                   int64_t batch, const int64_t *order, nn_comm *comm,
                                   nn_epoch_stats *out, char **err);

#ifdef __cplusplus
}
#endif
#endif
