/* test_main.c - the CUnit runner of tests/test_nn and the shared fixture.
 *
 *   test_nn                 every suite
 *   test_nn SUITE [TEST]    one suite, or one test of it
 *
 * Exit status: 0 when every test passed, 1 when an assertion or a suite
 * failed, 2 when the plugin registry or CUnit could not be set up. */
#include "test.h"

#include <CUnit/Basic.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nn_registry *g_reg;

/* ---- fixture ---------------------------------------------------------------- */

static nn_ctx *g_ctx;
static char *g_ctx_err;
static nn_tensor **g_tracked;
static size_t g_ntracked, g_captracked;

static void fx_setup(void)
{
    g_ctx = NULL;
    free(g_ctx_err);
    g_ctx_err = NULL;
    if (nn_ctx_open(g_reg, "cpu", FX_SEED, &g_ctx, &g_ctx_err)) g_ctx = NULL;
}

static void fx_teardown(void)
{
    for (size_t i = g_ntracked; i-- > 0;) nn_tensor_free(g_tracked[i]);
    g_ntracked = 0;
    nn_ctx_free(g_ctx);
    g_ctx = NULL;
}

CU_pSuite fx_add_suite(const char *name)
{
    return CU_add_suite_with_setup_and_teardown(name, NULL, NULL, fx_setup, fx_teardown);
}

nn_ctx *fx_ctx(void)
{
    if (!g_ctx) fprintf(stderr, "\ncannot open the cpu context: %s\n", g_ctx_err ? g_ctx_err : "?");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g_ctx);
    return g_ctx;
}

nn_op *fx_op(const char *name)
{
    nn_op *op = NULL;
    char *err = NULL;
    if (nn_op_find(fx_ctx(), name, &op, &err))
        fprintf(stderr, "\ncannot resolve op '%s': %s\n", name, err ? err : "?");
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(op);
    return op;
}

nn_tensor *fx_call(const char *name, nn_tensor *const *in, const double *attr)
{
    return nn_op_call(fx_op(name), in, attr, NULL);
}

nn_tensor *fx_bce(nn_tensor *p, nn_tensor *target)
{
    nn_tensor *in[] = {p, target};
    return fx_call("binary_cross_entropy", in, NULL);
}

nn_tensor *fx_track(nn_tensor *t)
{
    if (!t) return NULL;
    if (g_ntracked == g_captracked) {
        size_t cap = g_captracked ? 2 * g_captracked : 64;
        nn_tensor **p = realloc(g_tracked, cap * sizeof *p);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        g_tracked = p;
        g_captracked = cap;
    }
    g_tracked[g_ntracked++] = t;
    return t;
}

/* ---- tensors ---------------------------------------------------------------- */

nn_shape shp0(void)
{
    nn_shape s = {0, {0}};
    return s;
}

nn_shape shp1(int64_t a)
{
    nn_shape s = {1, {a}};
    return s;
}

nn_shape shp2(int64_t a, int64_t b)
{
    nn_shape s = {2, {a, b}};
    return s;
}

nn_tensor *tensor_from(const nn_shape *s, const float *vals, int requires_grad)
{
    nn_tensor *t = fx_track(nn_tensor_new(fx_ctx(), s, requires_grad));
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    if (vals) CU_ASSERT_EQUAL_FATAL(nn_tensor_from_host(t, vals, nn_tensor_numel(t)), NN_OK);
    return t;
}

nn_tensor *t1d(int64_t n, const float *vals, int requires_grad)
{
    nn_shape s = shp1(n);
    return tensor_from(&s, vals, requires_grad);
}

nn_tensor *t2d(int64_t r, int64_t c, const float *vals, int requires_grad)
{
    nn_shape s = shp2(r, c);
    return tensor_from(&s, vals, requires_grad);
}

nn_tensor *t2d_random(int64_t r, int64_t c, float lo, float hi, uint64_t seed, int requires_grad)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed, 7);
    nn_tensor *t = t2d(r, c, NULL, requires_grad);
    CU_ASSERT_EQUAL_FATAL(nn_tensor_uniform_(t, &rng, lo, hi), NN_OK);
    return t;
}

void to_host(const nn_tensor *t, float *dst, int64_t n)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL_FATAL(nn_tensor_numel(t), n);
    CU_ASSERT_EQUAL_FATAL(nn_tensor_to_host(t, dst, n), NN_OK);
}

float item(const nn_tensor *t)
{
    float v = NAN;
    CU_ASSERT_PTR_NOT_NULL(t);
    if (t) CU_ASSERT_EQUAL(nn_tensor_item(t, &v), NN_OK);
    return v;
}

/* ---- assertions ------------------------------------------------------------- */

static int is_close(double got, double want, double atol, double rtol)
{
    if (isnan(want)) return isnan(got);
    return fabs(got - want) <= atol + rtol * fabs(want); /* false for NaN got */
}

void check_close_(double got, double want, double atol, double rtol, const char *what,
                  unsigned line, const char *file, const char *func)
{
    char msg[512];
    int ok = is_close(got, want, atol, rtol);
    snprintf(msg, sizeof msg, "%s = %.9g, expected %.9g (atol %g, rtol %g)", what, got, want,
             atol, rtol);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, file, func, CU_FALSE);
}

void check_array_(const float *got, const double *want, int64_t n, double atol, double rtol,
                  const char *what, unsigned line, const char *file, const char *func)
{
    int64_t bad = -1, nbad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!is_close(got[i], want[i], atol, rtol)) {
            if (bad < 0) bad = i;
            nbad++;
        }
    char msg[512];
    if (bad < 0)
        snprintf(msg, sizeof msg, "%s: %lld values close", what, (long long)n);
    else
        snprintf(msg, sizeof msg,
                 "%s: %lld of %lld values differ; first [%lld] = %.9g, expected %.9g "
                 "(atol %g, rtol %g)",
                 what, (long long)nbad, (long long)n, (long long)bad, (double)got[bad],
                 want[bad], atol, rtol);
    CU_assertImplementation(bad < 0 ? CU_TRUE : CU_FALSE, line, msg, file, func, CU_FALSE);
}

void check_status_(int got, int want, const char *what, const char *msg, unsigned line,
                   const char *file, const char *func)
{
    char buf[768];
    snprintf(buf, sizeof buf, "%s = %s, expected %s%s%s", what, nn_status_name((nn_status)got),
             nn_status_name((nn_status)want), msg ? ": " : "", msg ? msg : "");
    CU_assertImplementation(got == want ? CU_TRUE : CU_FALSE, line, buf, file, func, CU_FALSE);
}

void check_contains_(const char *s, const char *sub, const char *what, unsigned line,
                     const char *file, const char *func)
{
    char buf[768];
    snprintf(buf, sizeof buf, "%s = \"%s\" contains \"%s\"", what, s ? s : "(null)", sub);
    CU_assertImplementation(s && strstr(s, sub) ? CU_TRUE : CU_FALSE, line, buf, file, func,
                            CU_FALSE);
}

/* ---- main --------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    char *err = NULL;
    if (nn_registry_open(NULL, &g_reg, &err) != NN_OK) {
        fprintf(stderr, "test_nn: cannot open the plugin registry: %s\n", err ? err : "?");
        nn_free(err);
        return 2;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "test_nn: CUnit: %s\n", CU_get_error_msg());
        nn_registry_free(g_reg);
        return 2;
    }
    register_tensor_tests();
    register_grad_tests();
    register_sgd_tests();
    register_loader_tests();
    register_props_tests();
    register_train_tests();
    register_on_batch_tests();
    register_batches_tests();
    register_checkpoint_tests();
    register_describe_tests();
    register_op_tests();
    register_ops_math_tests();
    register_error_tests();
    register_golden_tests();
    register_schedule_tests();
    register_golden_activations_tests();
    register_golden_losses_tests();
    register_golden_conv_tests();
    register_golden_batchnorm_tests();
    register_buffer_tests();
    register_golden_optim_tests();
    register_optim_tests();
    register_subset_tests();
    register_idx_tests();
    register_csv_tests();
    register_numerics_tests();
    register_clip_tests();
    register_checkpoint_mem_tests();
    if (CU_get_error() != CUE_SUCCESS) {
        fprintf(stderr, "test_nn: registering the tests: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        nn_registry_free(g_reg);
        return 2;
    }

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_ErrorCode rc = CUE_SUCCESS;
    if (argc > 1) {
        CU_pSuite s = CU_get_suite(argv[1]);
        CU_pTest t = s && argc > 2 ? CU_get_test(s, argv[2]) : NULL;
        if (!s || (argc > 2 && !t)) {
            fprintf(stderr, "test_nn: no suite '%s'%s%s\n", argv[1], argc > 2 ? " or test " : "",
                    argc > 2 ? argv[2] : "");
            CU_cleanup_registry();
            nn_registry_free(g_reg);
            return 2;
        }
        rc = t ? CU_basic_run_test(s, t) : CU_basic_run_suite(s);
    } else {
        rc = CU_basic_run_tests(); /* prints the run summary in verbose mode */
    }
    unsigned failures = CU_get_number_of_failures();
    unsigned tests_failed = CU_get_number_of_tests_failed();
    unsigned suites_failed = CU_get_number_of_suites_failed();
    unsigned tests_run = CU_get_number_of_tests_run();
    printf("\ntest_nn: %u tests run, %u failed, %u failed assertions, %u failed suites\n",
           tests_run, tests_failed, failures, suites_failed);
    CU_cleanup_registry();
    nn_registry_free(g_reg);
    free(g_tracked);
    free(g_ctx_err);
    if (rc != CUE_SUCCESS) return 2;
    return failures || tests_failed || suites_failed || tests_run == 0 ? 1 : 0;
}
