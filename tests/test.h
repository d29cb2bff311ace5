/* test.h - shared fixture and helpers of the CUnit suite (tests/test_nn).
 *
 * The registry is opened once by main() (g_reg); every test of a suite made
 * with fx_add_suite() gets a fresh "cpu" context (fx_ctx(), seed FX_SEED)
 * opened before the test and freed after it, together with every persistent
 * tensor made through the helpers below (they are tracked by the fixture). */
#ifndef NN_TEST_H
#define NN_TEST_H

#include <CUnit/CUnit.h>
#include <nn/nn.h>

#include <stddef.h>
#include <stdint.h>

#define FX_SEED 1234u

/* ---- fixture ---------------------------------------------------------------- */

extern nn_registry *g_reg;

/* A suite whose tests each run with a fresh context. */
CU_pSuite fx_add_suite(const char *name);
#define FX_ADD(suite, fn) CU_add_test((suite), #fn, (fn))

/* The current test's context (a fatal assert if it could not be opened). */
nn_ctx *fx_ctx(void);
/* Frees t (a persistent tensor) when the test ends; returns t. */
nn_tensor *fx_track(nn_tensor *t);
/* The op `name` on the current context (a fatal assert if it cannot be
 * resolved), and a call of it on in[] with attributes attr (NULL: defaults). */
nn_op *fx_op(const char *name);
nn_tensor *fx_call(const char *name, nn_tensor *const *in, const double *attr);
/* The bce plugin's op, binary_cross_entropy(p, target). */
nn_tensor *fx_bce(nn_tensor *p, nn_tensor *target);

/* ---- tensors from host arrays (persistent, tracked) -------------------------- */

nn_shape shp0(void);
nn_shape shp1(int64_t a);
nn_shape shp2(int64_t a, int64_t b);
/* A tensor of the given shape holding vals (numel floats; NULL: zeros). */
nn_tensor *tensor_from(const nn_shape *s, const float *vals, int requires_grad);
nn_tensor *t1d(int64_t n, const float *vals, int requires_grad);
nn_tensor *t2d(int64_t r, int64_t c, const float *vals, int requires_grad);
/* Values drawn uniformly from [lo, hi) with the given seed. */
nn_tensor *t2d_random(int64_t r, int64_t c, float lo, float hi, uint64_t seed, int requires_grad);

/* Host copy of any tensor (views too); a fatal assert on failure. */
void to_host(const nn_tensor *t, float *dst, int64_t n);
/* Value of a one-element tensor (NAN and a failed assert if t is NULL). */
float item(const nn_tensor *t);

/* ---- assertions that print the values on failure ----------------------------- */

void check_close_(double got, double want, double atol, double rtol, const char *what,
                  unsigned line, const char *file, const char *func);
void check_array_(const float *got, const double *want, int64_t n, double atol, double rtol,
                  const char *what, unsigned line, const char *file, const char *func);
void check_status_(int got, int want, const char *what, const char *msg, unsigned line,
                   const char *file, const char *func);
void check_contains_(const char *s, const char *sub, const char *what, unsigned line,
                     const char *file, const char *func);

/* |got - want| <= atol + rtol * |want| */
#define CHECK_CLOSE(got, want, atol, rtol) \
    check_close_((double)(got), (double)(want), (atol), (rtol), #got, __LINE__, __FILE__, __func__)
#define CHECK_ARRAY(got, want, n, atol, rtol) \
    check_array_((got), (want), (n), (atol), (rtol), #got, __LINE__, __FILE__, __func__)
/* st == want; msg (an error text, may be NULL) is shown on failure. st is
 * evaluated first: it may replace the message that msg points to. */
#define CHECK_STATUS(st, want, msg)                                            \
    do {                                                                       \
        int st_ = (int)(st);                                                   \
        check_status_(st_, (int)(want), #st, (msg), __LINE__, __FILE__, __func__); \
    } while (0)
#define CHECK_OK(st, msg) CHECK_STATUS((st), NN_OK, (msg))
/* s is not NULL and contains sub. */
#define CHECK_CONTAINS(s, sub) check_contains_((s), (sub), #s, __LINE__, __FILE__, __func__)
/* The context's sticky error is `want` with a message containing sub; then clears it. */
#define CHECK_CTX_ERROR(ctx, want, sub)                            \
    do {                                                           \
        const char *m_ = NULL;                                     \
        CHECK_STATUS(nn_ctx_error((ctx), &m_), (want), m_);        \
        CHECK_CONTAINS(m_, (sub));                                 \
        nn_ctx_clear_error(ctx);                                   \
    } while (0)
/* The context has no error (shows the message otherwise). */
#define CHECK_CTX_OK(ctx)                                          \
    do {                                                           \
        const char *m_ = NULL;                                     \
        CHECK_STATUS(nn_ctx_error((ctx), &m_), NN_OK, m_);         \
    } while (0)

/* ---- gradient checks (test_grad.c) ------------------------------------------ */

#define GC_MAX_IN 6

/* A function of leaf tensors whose backward is checked against central
 * differences; see test_grad.c. */
typedef struct gc gc;
struct gc {
    nn_tensor *(*f)(gc *g, nn_tensor *const *in);
    nn_tensor *in[GC_MAX_IN];
    int nin;
    double eps;   /* 0: the default step */
    int fd_phase; /* 1 while finite differences run (for the self-test) */
    float s;      /* an op constant */
    nn_module *m;
    nn_loss *l;
};

/* Returns the number of gradient elements that disagree with the finite
 * differences; with report, each input's comparison is also an assertion,
 * and so is a largest gradient element above 0.05. */
int64_t gc_run(gc *g, const char *what, int report);
#define GRADCHECK(g) gc_run((g), __func__, 1)

/* ---- the suites ------------------------------------------------------------- */

void register_tensor_tests(void);
void register_checkpoint_mem_tests(void);
void register_grad_tests(void);
void register_sgd_tests(void);
void register_loader_tests(void);
void register_batches_tests(void);
void register_props_tests(void);
void register_train_tests(void);
void register_on_batch_tests(void);
void register_checkpoint_tests(void);
void register_describe_tests(void);
void register_op_tests(void);
void register_ops_math_tests(void);
void register_error_tests(void);
void register_golden_tests(void);
void register_schedule_tests(void);
void register_golden_activations_tests(void);
void register_golden_losses_tests(void);
void register_golden_conv_tests(void);
void register_golden_batchnorm_tests(void);
void register_buffer_tests(void);
void register_golden_optim_tests(void);
void register_optim_tests(void);
void register_subset_tests(void);
void register_idx_tests(void);
void register_csv_tests(void);
void register_numerics_tests(void);
void register_clip_tests(void);

#endif
