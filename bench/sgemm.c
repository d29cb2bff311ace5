/* sgemm.c - OpenBLAS's own cblas_sgemm rate on given shapes: the ceiling
 * that a GEMM-bound training step of nn is compared with; built with
 * -DNN_MM, the rate of nn's own products on the same shapes (nn_mm on the
 * cpu device, through libnn), which a training step runs.
 *
 *   sgemm [-t SECONDS] SHAPE...
 *
 * SHAPE is M,N,K,TA,TB: row-major C[M x N] = op(A)[M x K] op(B)[K x N],
 * TA and TB N (as stored) or T (transposed), as nn's cpu device calls it.
 * Each shape is warmed up, then timed in 5 rounds of about SECONDS/5
 * (default 1 s in all); its time per call is the median round's. Prints one
 * line per shape and a last line for the whole set called once each, the
 * figure to hold against a training step that makes the same calls:
 *   shape 256,1024,784,N,T us 1234.567 gflops 83.2
 *   total flop 2448424960 us 29000.123 gflops 84.4
 * and first the library and its thread count:
 *   openblas OpenBLAS 0.3.21 ... threads 2
 *   nn 0.1.0 cpu
 * OpenBLAS keeps its default thread count, as nn does, and so do nn's
 * threads. */
#define _POSIX_C_SOURCE 200809L
#ifdef NN_MM
#include <nn/nn.h>
#else
#include <cblas.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 5

typedef struct {
    int m, n, k;
    char ta, tb;
} shape;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_shape(const char *s, shape *sh)
{
    char ta = 0, tb = 0, end = 0;
    if (sscanf(s, "%d,%d,%d,%c,%c%c", &sh->m, &sh->n, &sh->k, &ta, &tb, &end) != 5) return -1;
    if (sh->m < 1 || sh->n < 1 || sh->k < 1) return -1;
    if ((ta != 'N' && ta != 'T') || (tb != 'N' && tb != 'T')) return -1;
    sh->ta = ta;
    sh->tb = tb;
    return 0;
}

static float *filled(size_t n, unsigned *seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = (float)((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#ifdef NN_MM
static nn_ctx *ctx;

static void fail_nn(const char *what)
{
    const char *msg = NULL;
    nn_ctx_error(ctx, &msg);
    fprintf(stderr, "sgemm: %s: %s\n", what, msg ? msg : "out of memory");
    exit(1);
}
#endif

/* The median round's seconds per call of one shape; negative when out of memory. */
static double time_shape(const shape *sh, double seconds)
{
    unsigned seed = 1;
    size_t m = (size_t)sh->m, n = (size_t)sh->n, k = (size_t)sh->k;
    float *a = filled(m * k, &seed), *b = filled(k * n, &seed), *c = filled(m * n, &seed);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return -1;
    }
#ifdef NN_MM
    /* a transposed operand is the transpose view of a tensor stored so,
     * read in place as nn's linear layers have it */
    nn_shape as = {2, {sh->ta == 'T' ? sh->k : sh->m, sh->ta == 'T' ? sh->m : sh->k}};
    nn_shape bs = {2, {sh->tb == 'T' ? sh->n : sh->k, sh->tb == 'T' ? sh->k : sh->n}};
    nn_tensor *ta = nn_tensor_new(ctx, &as, 0), *tb = nn_tensor_new(ctx, &bs, 0);
    if (!ta || !tb || nn_tensor_from_host(ta, a, (int64_t)(m * k)) ||
        nn_tensor_from_host(tb, b, (int64_t)(k * n))) {
        fail_nn("tensors");
    }
    /* the views are scratch tensors, made again after each reset, as a
     * linear layer makes its weight's every step */
#define CALL()                                                                          \
    do {                                                                                \
        if (!nn_mm(sh->ta == 'T' ? nn_t(ta) : ta, sh->tb == 'T' ? nn_t(tb) : tb))       \
            fail_nn("nn_mm");                                                           \
        nn_ctx_scratch_reset(ctx);                                                      \
    } while (0)
#else
    enum CBLAS_TRANSPOSE ta = sh->ta == 'T' ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = sh->tb == 'T' ? CblasTrans : CblasNoTrans;
    int lda = sh->ta == 'T' ? sh->m : sh->k;
    int ldb = sh->tb == 'T' ? sh->k : sh->n;
#define CALL() cblas_sgemm(CblasRowMajor, ta, tb, sh->m, sh->n, sh->k, 1.0f, a, lda, b, ldb, 0.0f, c, sh->n)
#endif
    /* Warm up: the first calls fault the pages in and start OpenBLAS's threads. */
    double t0 = now();
    long warm = 0;
    do {
        CALL();
        warm++;
    } while (warm < 3 || (now() - t0 < 0.05 && warm < 1000));
    double per_call = (now() - t0) / (double)warm;
    long calls = (long)(seconds / ROUNDS / per_call);
    if (calls < 1) calls = 1;
    double rounds[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t = now();
        for (long i = 0; i < calls; i++) CALL();
        rounds[r] = (now() - t) / (double)calls;
    }
#undef CALL
#ifdef NN_MM
    nn_tensor_free(ta);
    nn_tensor_free(tb);
#endif
    free(a);
    free(b);
    free(c);
    qsort(rounds, ROUNDS, sizeof rounds[0], cmp_double);
    return rounds[ROUNDS / 2];
}

int main(int argc, char **argv)
{
    double seconds = 1.0;
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "-t")) {
        char *end;
        seconds = strtod(argv[i + 1], &end);
        if (*end || !(seconds > 0)) {
            fprintf(stderr, "sgemm: -t wants a positive number of seconds, not '%s'\n", argv[i + 1]);
            return 2;
        }
        i += 2;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: sgemm [-t SECONDS] M,N,K,TA,TB...\n");
        return 2;
    }
    int nshapes = argc - i;
#ifdef NN_MM
    nn_registry *reg = NULL;
    char *err = NULL;
    if (nn_registry_open(NULL, &reg, &err) || nn_ctx_open(reg, "cpu", 1, &ctx, &err)) {
        fprintf(stderr, "sgemm: %s\n", err ? err : "out of memory");
        return 1;
    }
    nn_grad_set_enabled(ctx, 0);
    printf("nn %s cpu\n", nn_version_string());
#else
    printf("openblas %s threads %d\n", openblas_get_config(), openblas_get_num_threads());
#endif
    double flop = 0, total = 0;
    for (int j = 0; j < nshapes; j++) {
        shape sh;
        if (parse_shape(argv[i + j], &sh)) {
            fprintf(stderr, "sgemm: '%s' is not M,N,K,TA,TB with positive sizes and N or T\n",
                    argv[i + j]);
            return 2;
        }
        double t = time_shape(&sh, seconds / nshapes);
        if (t < 0) {
            fprintf(stderr, "sgemm: out of memory for %s\n", argv[i + j]);
            return 1;
        }
        double f = 2.0 * sh.m * sh.n * sh.k;
        printf("shape %s us %.3f gflops %.1f\n", argv[i + j], t * 1e6, f / t * 1e-9);
        fflush(stdout);
        flop += f;
        total += t;
    }
    printf("total flop %.0f us %.3f gflops %.1f\n", flop, total * 1e6, flop / total * 1e-9);
#ifdef NN_MM
    nn_ctx_free(ctx);
    nn_registry_free(reg);
#endif
    return 0;
}
