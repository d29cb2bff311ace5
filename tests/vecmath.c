/* vecmath.c - the cpu device's vector kernels against scalar references.
 *
 * vecmath.h's exp and log on every instruction set this CPU runs, against
 * exp and log in double over a wide sample of floats: at most 2 ulp apart,
 * and libm's special values (inf, NaN, zeros, denormals); its rint as
 * rintf. Then, through the device's own table (cpu.c built into this program): the activations and
 * their gradients, sum_rows and repeat_rows against plain loops, and the
 * small matrix products against cblas_sgemm on every layout; the bce loss's
 * AVX-512 sum against its generic one, bit for bit. Prints one line
 * per check, "ok" or "FAIL"; exits 1 on a failure. */
#include "../plugins/devices/cpu.c"
/* and the bce loss's kernels (its plugin descriptor renamed: one program) */
#undef NN_PLUGIN_SYMBOL
#define NN_PLUGIN_SYMBOL bce_plugin_descriptor
#include "../plugins/losses/bce.c"

#include <float.h>
#include <stdio.h>

static int checks, failures;

static void check(int ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok" : "FAIL", what);
    checks++;
    if (!ok) failures++;
}

/* Error of y in units of the last place of the exact value ref (ulp of a
 * denormal below FLT_MIN). Infinities and NaN must match exactly. */
static double ulp_error(float y, double ref)
{
    if (isnan(ref) || isnan(y)) return isnan(ref) && isnan(y) ? 0.0 : INFINITY;
    if (isinf(y) || fabs(ref) > FLT_MAX) /* beyond FLT_MAX, inf of the same sign */
        return isinf(y) && fabs(ref) > FLT_MAX && (y > 0) == (ref > 0) ? 0.0 : INFINITY;
    int e;
    frexp(ref, &e);
    double ulp = ldexp(1.0, e - 24 < -149 ? -149 : e - 24);
    return fabs((double)y - ref) / ulp;
}

/* ---- exp and log on each instruction set ---- */

#define MATH_LOOPS(suffix, ATTR)                                                        \
    ATTR static void exp_##suffix(int64_t n, const float *x, float *y)                 \
    {                                                                                   \
        VF_EACH(n, x, y, vf_exp(v));                                                    \
    }                                                                                   \
    ATTR static void log_##suffix(int64_t n, const float *x, float *y)                 \
    {                                                                                   \
        VF_EACH(n, x, y, vf_log(v));                                                    \
    }                                                                                   \
    ATTR static void sigmoid_##suffix(int64_t n, const float *x, float *y)             \
    {                                                                                   \
        VF_EACH(n, x, y, vf_sigmoid(v));                                                \
    }                                                                                   \
    ATTR static void rint_##suffix(int64_t n, const float *x, float *y)                \
    {                                                                                   \
        VF_EACH(n, x, y, vf_rint(v));                                                   \
    }                                                                                   \
    ATTR static void dexp_##suffix(int64_t n, const double *x, double *y) /* n % VF_N == 0 */ \
    {                                                                                   \
        for (int64_t i = 0; i < n; i += VF_N) {                                         \
            vd v;                                                                       \
            memcpy(&v, x + i, sizeof v);                                                \
            v = vd_exp(v);                                                              \
            memcpy(y + i, &v, sizeof v);                                                \
        }                                                                               \
    }

MATH_LOOPS(base, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_LEVELS 1
MATH_LOOPS(v3, __attribute__((target("arch=x86-64-v3"))))
MATH_LOOPS(v4, __attribute__((target("arch=x86-64-v4"))))
#endif

typedef void (*map_fn)(int64_t, const float *, float *);

/* The worst ulp error of f against ref over floats whose bit patterns step
 * by `stride` through [lo, hi] (as bits of non-negative floats, or of
 * negative ones when neg). */
static double worst_ulp(map_fn f, double (*ref)(double), uint32_t from, uint32_t to,
                        uint32_t stride, float *worst_x)
{
    enum { CHUNK = 4096 };
    static float x[CHUNK], y[CHUNK];
    double worst = 0.0;
    for (uint64_t b = from; b <= to;) {
        int n = 0;
        for (; n < CHUNK && b <= to; n++, b += stride) {
            uint32_t u = (uint32_t)b;
            memcpy(&x[n], &u, sizeof u);
        }
        f(n, x, y);
        for (int i = 0; i < n; i++) {
            double e = ulp_error(y[i], ref((double)x[i]));
            if (e > worst) {
                worst = e;
                *worst_x = x[i];
            }
        }
    }
    return worst;
}

static void check_math(const char *isa, map_fn fexp, map_fn flog, map_fn fsig, map_fn frint)
{
    char what[160];
    float wx = 0.0f;
    /* exp: [-104, 89] and beyond: every float from -0 down to -110 and from
     * +0 up to 95 (bits of |x|), in steps of 97 bit patterns */
    double e1 = worst_ulp(fexp, exp, 0x00000000u, 0x42be0000u, 97, &wx);
    double e2 = worst_ulp(fexp, exp, 0x80000000u, 0xc2dc0000u, 97, &wx);
    double e = e1 > e2 ? e1 : e2;
    snprintf(what, sizeof what, "%s: exp within 2 ulp of exp in double on [-110, 95] (worst %.3f)",
             isa, e);
    check(e <= 2.0, what);
    /* log: every positive float, denormals and inf included */
    e = worst_ulp(flog, log, 0x00000001u, 0x7f800000u, 89, &wx);
    snprintf(what, sizeof what, "%s: log within 2 ulp of log in double on (0, inf] (worst %.3f)",
             isa, e);
    check(e <= 2.0, what);

    const float inf = INFINITY;
    float x[] = {0.0f, -0.0f, inf, -inf, NAN, -1.0f, 0x1p-149f, 0x1p-130f, 88.72f, 88.73f,
                 -87.5f, -103.5f, -104.5f, 1.0f, -200.0f, 200.0f};
    enum { N = sizeof x / sizeof x[0] };
    float ye[N], yl[N], ys[N];
    fexp(N, x, ye);
    flog(N, x, yl);
    fsig(N, x, ys);
    int ok_e = 1, ok_l = 1, ok_s = 1;
    for (int i = 0; i < N; i++) {
        float le = expf(x[i]), ll = logf(x[i]), ls = 1.0f / (1.0f + expf(-x[i]));
        ok_e &= isnan(le) ? isnan(ye[i]) : ulp_error(ye[i], exp((double)x[i])) <= 2.0;
        if (isnan(ll) || isinf(ll))
            ok_l &= isnan(ll) ? isnan(yl[i]) : yl[i] == ll;
        else
            ok_l &= ulp_error(yl[i], log((double)x[i])) <= 2.0;
        /* sigmoid saturates where libm's formula does: 0 and 1 exactly */
        if (isnan(ls) || ls == 0.0f || ls == 1.0f)
            ok_s &= isnan(ls) ? isnan(ys[i]) : ys[i] == ls;
        else
            ok_s &= fabsf(ys[i] - ls) <= 2 * FLT_EPSILON * ls;
    }
    float xr[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 0.49999997f, -0.4f, 0x1p23f, 0x1.fffffep22f,
                  -0x1.fffffep22f, 1e30f, -1e30f, inf, -inf, NAN, 0.0f, -0.0f, 3.7f};
    enum { NR = sizeof xr / sizeof xr[0] };
    float yr[NR];
    frint(NR, xr, yr);
    int ok_r = 1;
    for (int i = 0; i < NR; i++) {
        float want = rintf(xr[i]);
        ok_r &= isnan(want) ? isnan(yr[i]) : memcmp(&want, &yr[i], sizeof want) == 0;
    }
    snprintf(what, sizeof what, "%s: rint as rintf: halves to even, signed zeros, large, inf, NaN", isa);
    check(ok_r, what);
    snprintf(what, sizeof what, "%s: exp of inf, NaN, 0, denormal results, overflow as libm", isa);
    check(ok_e, what);
    snprintf(what, sizeof what, "%s: log of inf, NaN, 0, negatives, denormals as libm", isa);
    check(ok_l, what);
    snprintf(what, sizeof what, "%s: sigmoid saturates to 0 and 1 as 1 / (1 + expf(-x))", isa);
    check(ok_s, what);
}

/* Error of y in ulp of the exact double value, approximated by libm's
 * exp (itself within 1 ulp); infinities, zeros and NaN must match. */
static double ulp_error_d(double y, double ref)
{
    if (isnan(ref) || isnan(y)) return isnan(ref) && isnan(y) ? 0.0 : INFINITY;
    if (isinf(ref) || isinf(y)) return ref == y ? 0.0 : INFINITY;
    int e;
    frexp(ref, &e);
    double ulp = ldexp(1.0, e - 53 < -1074 ? -1074 : e - 53);
    return fabs(y - ref) / ulp;
}

typedef void (*dmap_fn)(int64_t, const double *, double *);

/* vd_exp (cross_entropy's) against libm's exp: 2^21 points spread over
 * [-750, 715] and libm's special values. */
static void check_dexp(const char *isa, dmap_fn f)
{
    enum { CHUNK = 4096, POINTS = 1 << 21 };
    static double x[CHUNK], y[CHUNK];
    double worst = 0.0, wx = 0.0;
    for (int64_t b = 0; b < POINTS; b += CHUNK) {
        for (int i = 0; i < CHUNK; i++) x[i] = -750.0 + 1465.0 * (double)(b + i) / POINTS;
        f(CHUNK, x, y);
        for (int i = 0; i < CHUNK; i++) {
            double e = ulp_error_d(y[i], exp(x[i]));
            if (e > worst) worst = e, wx = x[i];
        }
    }
    char what[160];
    snprintf(what, sizeof what,
             "%s: double exp within 2 ulp of libm's on [-750, 715] (worst %.3f at %g)", isa, worst,
             wx);
    check(worst <= 2.0, what);
    double sx[16] = {0.0, -0.0, INFINITY, -INFINITY, NAN, -745.1, -745.2, -744.0, 709.78, 709.79,
                     -708.4, -1e-300, 1e-300, 1.0, -1.0, 0x1p-60};
    double sy[16];
    f(16, sx, sy);
    int ok = 1;
    for (int i = 0; i < 16; i++) ok &= ulp_error_d(sy[i], exp(sx[i])) <= 2.0;
    snprintf(what, sizeof what, "%s: double exp of inf, NaN, 0, underflow, overflow as libm", isa);
    check(ok, what);
}

/* ---- the device's kernels ---- */

static uint32_t rng = 12345;

static float uniform(float lo, float hi)
{
    rng = rng * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(rng >> 8) / 16777216.0f;
}

static void fill_uniform(float *x, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++) x[i] = uniform(lo, hi);
}

static int close_to(float a, double ref, double tol)
{
    if (isnan(ref)) return isnan(a);
    if (isinf(ref)) return (double)a == ref;
    return fabs((double)a - ref) <= tol * (1.0 + fabs(ref));
}

static double dmap_ref(nn_unary_op op, double x, double y)
{
    switch (op) {
    case NN_UNARY_SIGMOID: return y * (1.0 - y);
    case NN_UNARY_RELU: return x > 0.0 ? 1.0 : 0.0;
    case NN_UNARY_TANH: return 1.0 - y * y;
    case NN_UNARY_EXP: return y;
    case NN_UNARY_LOG: return 1.0 / x;
    case NN_UNARY_SQRT: return 0.5 / y;
    case NN_UNARY_ABS: return x > 0.0 ? 1.0 : x < 0.0 ? -1.0 : 0.0;
    default: return 0.0;
    }
}

static double map_ref(nn_unary_op op, double x)
{
    switch (op) {
    case NN_UNARY_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case NN_UNARY_RELU: return x > 0.0 ? x : 0.0;
    case NN_UNARY_TANH: return tanh(x);
    case NN_UNARY_EXP: return exp(x);
    case NN_UNARY_LOG: return log(x);
    case NN_UNARY_SQRT: return sqrt(x);
    case NN_UNARY_ABS: return fabs(x);
    default: return 0.0;
    }
}

/* Every map and its gradient on lengths around the vector width, with and
 * without accumulation, against the formulas in double. */
static void check_unary(void *dev)
{
    enum { MAXN = 70 };
    float x[MAXN] = {0}, y[MAXN] = {0}, dy[MAXN] = {0}, dx[MAXN] = {0}, dx0[MAXN] = {0};
    int ok = 1, okb = 1;
    for (int op = 0; op < NN_UNARY_COUNT_; op++)
        for (int n = 0; n <= MAXN; n += (n < 34 ? 1 : 9)) {
            int positive = op == NN_UNARY_LOG || op == NN_UNARY_SQRT;
            fill_uniform(x, n, positive ? 0.01f : -30.0f, 30.0f);
            fill_uniform(dy, n, -1.0f, 1.0f);
            fill_uniform(dx0, n, -1.0f, 1.0f);
            cpu_vt.unary(dev, (nn_unary_op)op, n, x, y);
            for (int i = 0; i < n; i++) ok &= close_to(y[i], map_ref((nn_unary_op)op, x[i]), 1e-6);
            for (int acc = 0; acc <= 1; acc++) {
                memcpy(dx, dx0, sizeof dx);
                cpu_vt.unary_backward(dev, (nn_unary_op)op, n, x, y, dy, dx, acc);
                for (int i = 0; i < n; i++) {
                    double r = dmap_ref((nn_unary_op)op, x[i], y[i]) * dy[i] + (acc ? dx0[i] : 0.0);
                    okb &= close_to(dx[i], r, 1e-6);
                }
                for (int i = n; i < MAXN; i++) okb &= dx[i] == dx0[i]; /* nothing past n */
            }
        }
    check(ok, "device unary: every map within 1e-6 of the formula in double, lengths 0 to 70");
    check(okb, "device unary_backward: every gradient, acc 0 and 1, writes n elements only");
}

static void check_rows(void *dev)
{
    enum { MAXR = 40, MAXC = 40 };
    static float x[MAXR * MAXC], y[MAXC], b[MAXC], rep[MAXR * MAXC + 1];
    int ok = 1, okr = 1;
    for (int rows = 0; rows <= MAXR; rows += (rows < 20 ? 1 : 7))
        for (int cols = 1; cols <= MAXC; cols++) {
            fill_uniform(x, rows * cols, -1.0f, 1.0f);
            for (int acc = 0; acc <= 1; acc++) {
                fill_uniform(y, cols, -1.0f, 1.0f);
                float y0[MAXC];
                memcpy(y0, y, sizeof y);
                cpu_vt.sum_rows(dev, rows, cols, x, y, acc);
                for (int j = 0; j < cols; j++) {
                    double s = acc ? y0[j] : 0.0;
                    for (int r = 0; r < rows; r++) s += x[r * cols + j];
                    ok &= close_to(y[j], s, 1e-6 * (rows + 1));
                }
            }
            fill_uniform(b, cols, -1.0f, 1.0f);
            rep[rows * cols] = 42.0f;
            cpu_vt.repeat_rows(dev, rows, cols, b, rep);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < cols; j++) okr &= rep[r * cols + j] == b[j];
            okr &= rep[rows * cols] == 42.0f;
        }
    check(ok, "device sum_rows: every shape up to 40 x 40, acc 0 and 1, as summed in double");
    check(okr, "device repeat_rows: every shape up to 40 x 40, exact, nothing past the end");
}

/* The device's sigmoid (cpu.c's AVX-512 loop where the CPU has it, else
 * vecmath.h's) against 1 / (1 + exp(-x)) in double, over floats of
 * [-88.5, 20] (above, 1), in ulp of the exact value; and where
 * libm's formula saturates or meets inf and NaN, its result exactly. */
static void check_sigmoid(void *dev)
{
    enum { CHUNK = 4096 };
    static float x[CHUNK], y[CHUNK];
    double worst = 0.0;
    float wx = 0.0f;
    for (int side = 0; side < 2; side++) {
        /* non-negative floats up to 20, negative ones down to -88.5 (below about
         * -88.72, e^-x passes FLT_MAX and libm's formula gives 0, checked after) */
        uint32_t from = side ? 0x80000000u : 0x00000000u, to = side ? 0xc2b10000u : 0x41a00000u;
        for (uint64_t b = from; b <= to;) {
            int n = 0;
            for (; n < CHUNK && b <= to; n++, b += 97) {
                uint32_t u = (uint32_t)b;
                memcpy(&x[n], &u, sizeof u);
            }
            cpu_vt.unary(dev, NN_UNARY_SIGMOID, n, x, y);
            for (int i = 0; i < n; i++) {
                double e = ulp_error(y[i], 1.0 / (1.0 + exp(-(double)x[i])));
                if (e > worst) worst = e, wx = x[i];
            }
        }
    }
    const float inf = INFINITY;
    float xs[] = {0.0f, -0.0f, inf, -inf, NAN, 17.0f, 16.5f, 30.0f, 1e30f, -87.0f, -88.5f,
                  -88.8f, -89.5f, -103.5f, -104.5f, -200.0f, -1e30f, 1.0f};
    enum { N = sizeof xs / sizeof xs[0] };
    float ys[N];
    cpu_vt.unary(dev, NN_UNARY_SIGMOID, N, xs, ys);
    int ok = 1;
    for (int i = 0; i < N; i++) {
        float ls = 1.0f / (1.0f + expf(-xs[i]));
        if (isnan(ls) || ls == 0.0f || ls == 1.0f)
            ok &= isnan(ls) ? isnan(ys[i]) : ys[i] == ls;
        else
            ok &= ulp_error(ys[i], 1.0 / (1.0 + exp(-(double)xs[i]))) <= 3.0;
    }
    char what[200];
    snprintf(what, sizeof what,
             "device sigmoid: within 3 ulp of 1 / (1 + exp(-x)) in double on [-88.5, 20] (worst "
             "%.3f at %g; %s)",
             worst, wx, ((const cpu_dev *)dev)->small_gemm ? "AVX-512 loop" : "generic loop");
    check(worst <= 3.0, what);
    check(ok, "device sigmoid: 0 and 1 where libm's formula saturates, inf and NaN as it");
}

/* The device's gemm (small_gemm.h where the CPU has AVX-512, cblas
 * elsewhere) against cblas_sgemm, on every layout, shapes from 1 to past
 * the small path's limit, beta 0 (with NaN in C, which must be ignored),
 * 1 and 0.5. */
static void check_gemm(void *dev)
{
    enum { MAXE = 64 * 64 };
    static float a[MAXE], b[MAXE], c[MAXE], want[MAXE];
    static const int dims[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 48, 64};
    enum { ND = sizeof dims / sizeof dims[0] };
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    int ok = 1, cases = 0;
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++)
            for (int im = 0; im < ND; im++)
                for (int in = 0; in < ND; in++)
                    for (int ik = 0; ik < ND; ik += (im + in) % 3 + 1) {
                        int m = dims[im], n = dims[in], k = dims[ik];
                        float beta = betas[(im + in + ik) % 3];
                        float alpha = (ik % 2) ? 0.5f : 1.0f;
                        fill_uniform(a, m * k, -1.0f, 1.0f);
                        fill_uniform(b, k * n, -1.0f, 1.0f);
                        fill_uniform(c, m * n, -1.0f, 1.0f);
                        if (beta == 0.0f) c[0] = NAN;
                        memcpy(want, c, (size_t)(m * n) * sizeof(float));
                        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                                    tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
                                    ta ? m : k, b, tb ? k : n, beta, want, n);
                        cpu_vt.gemm(dev, ta, tb, m, n, k, alpha, a, b, beta, c);
                        for (int i = 0; i < m * n; i++)
                            ok &= close_to(c[i], want[i], 1e-6 * (k + 1));
                        cases++;
                    }
    /* the narrow-row kernels on the shapes of small networks: long m with
     * small n and k (forward, and dh = dy W), long k with a tiny m x n
     * (weight gradients), tails of every length past a block of 16 rows */
    static const int shapes[][5] = {
        /* ta, tb, m, n, k */
        {0, 1, 100, 5, 2},  {0, 1, 100, 1, 5}, {0, 0, 100, 5, 1}, {1, 0, 1, 5, 100},
        {1, 0, 5, 2, 100},  {0, 1, 37, 7, 8},  {0, 0, 50, 15, 3}, {0, 0, 33, 3, 7},
        {0, 1, 64, 10, 8},  {1, 0, 8, 2, 77},  {1, 0, 4, 4, 19},  {1, 0, 3, 5, 256},
        {0, 0, 200, 9, 5},  {0, 1, 19, 2, 2},  {1, 0, 2, 8, 33},  {0, 0, 1000, 4, 6},
        {0, 0, 100, 1, 8},  {0, 1, 45, 1, 3},  {0, 0, 17, 1, 7},  {0, 1, 100, 1, 2},
        {0, 0, 33, 1, 1},   {0, 1, 250, 1, 4}, {0, 0, 16, 1, 6},  {0, 1, 31, 15, 1},
        {1, 0, 1, 1, 100},  {1, 0, 2, 3, 101}, {1, 0, 1, 8, 17},  {1, 0, 3, 1, 50},
        {1, 0, 1, 3, 16},   {1, 0, 2, 2, 99},  {1, 0, 7, 1, 64},  {1, 0, 1, 16, 40},
    };
    static float big_a[8000], big_b[8000], big_c[8000], big_want[8000];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int bi = 0; bi < 3; bi++) {
            int ta = shapes[s][0], tb = shapes[s][1], m = shapes[s][2], n = shapes[s][3],
                k = shapes[s][4];
            float beta = betas[bi], alpha = bi == 2 ? 0.5f : 1.0f;
            fill_uniform(big_a, m * k, -1.0f, 1.0f);
            fill_uniform(big_b, k * n, -1.0f, 1.0f);
            fill_uniform(big_c, m * n + 1, -1.0f, 1.0f);
            if (beta == 0.0f) big_c[m * n - 1] = NAN;
            big_c[m * n] = 42.0f; /* nothing written past C */
            memcpy(big_want, big_c, (size_t)(m * n) * sizeof(float));
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, big_a, ta ? m : k,
                        big_b, tb ? k : n, beta, big_want, n);
            cpu_vt.gemm(dev, ta, tb, m, n, k, alpha, big_a, big_b, beta, big_c);
            for (int i = 0; i < m * n; i++)
                ok &= close_to(big_c[i], big_want[i], 1e-6 * (k + 1));
            ok &= big_c[m * n] == 42.0f;
            cases++;
        }
    char what[160];
    snprintf(what, sizeof what,
             "device gemm: %d shapes, every layout, alpha and beta, as cblas_sgemm (%s)", cases,
             ((const cpu_dev *)dev)->small_gemm ? "small path on AVX-512" : "cblas only");
    check(ok, what);
}

/* gemm_bias, the linear layer's product with its bias row, gives the bits
 * of the path it replaces (the bias copied into every row of C by
 * repeat_rows, then gemm with beta 1), does not read C (NaN there), and
 * writes nothing past it: every layout, the grid of shapes of check_gemm
 * and the narrow networks' shapes, alpha 1 and 0.5. */
static void check_gemm_bias(void *dev)
{
    enum { MAXE = 1000 * 64 };
    static float a[MAXE], b[MAXE], bias[1024], c[MAXE + 1], want[MAXE];
    static const int dims[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 48, 64, 100, 1000};
    enum { ND = sizeof dims / sizeof dims[0] };
    int ok = 1, cases = 0;
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++)
            for (int im = 0; im < ND; im++)
                for (int in = 0; in < ND - 2; in++)
                    for (int ik = 0; ik < ND - 2; ik++) {
                        int m = dims[im], n = dims[in], k = dims[ik];
                        if (m * k > MAXE || m * n > MAXE || k * n > MAXE) continue;
                        float alpha = (im + ik) % 2 ? 0.5f : 1.0f;
                        fill_uniform(a, m * k, -1.0f, 1.0f);
                        fill_uniform(b, k * n, -1.0f, 1.0f);
                        fill_uniform(bias, n, -1.0f, 1.0f);
                        cpu_vt.repeat_rows(dev, m, n, bias, want);
                        cpu_vt.gemm(dev, ta, tb, m, n, k, alpha, a, b, 1.0f, want);
                        for (int i = 0; i < m * n; i++) c[i] = NAN;
                        c[m * n] = 42.0f;
                        cpu_vt.gemm_bias(dev, ta, tb, m, n, k, alpha, a, b, bias, c);
                        ok &= !memcmp(c, want, (size_t)(m * n) * sizeof(float)) &&
                              c[m * n] == 42.0f;
                        cases++;
                    }
    char what[160];
    snprintf(what, sizeof what,
             "device gemm_bias: %d shapes, every layout, the bits of repeat_rows then gemm (%s)",
             cases, ((const cpu_dev *)dev)->small_gemm ? "small path on AVX-512" : "cblas only");
    check(ok, what);
}

/* tiled_gemm.h's products. Each element is one chain of fused multiply-
 * adds over p from zero, then c or the bias added: a scalar loop with fmaf
 * in that order is the oracle, bit for bit. Every layout, shapes with
 * tails in m, n and k, beta 0 (NaN in C ignored) and 1, with and without a
 * bias row; nothing written past C; the same bits however the work is cut
 * (tg_run's parts run in turn) and through the device's gemm slot, which
 * splits it among the workers. */
#ifdef TILED_GEMM_AVX512
static float tiled_ref(int ta, int tb, int m, int n, int k, const float *a, const float *b,
                       int i, int j)
{
    float s = 0.0f;
    for (int p = 0; p < k; p++)
        s = fmaf(ta ? a[p * m + i] : a[i * k + p], tb ? b[j * k + p] : b[p * n + j], s);
    return s;
}

/* A case's inputs, random, c0 with a NaN where it is not to be read and
 * 42 past its end, and the c it must give: op(a) op(b), + c0 (mode 1) or
 * + bias (mode 2), as tiled_ref sums. */
static void tiled_case(int ta, int tb, int m, int n, int k, int mode, float *a, float *b,
                       float *bias, float *c0, float *want)
{
    fill_uniform(a, m * k, -1.0f, 1.0f);
    fill_uniform(b, k * n, -1.0f, 1.0f);
    fill_uniform(bias, n, -1.0f, 1.0f);
    fill_uniform(c0, m * n, -1.0f, 1.0f);
    if (mode != 1) c0[m * n - 1] = NAN;
    c0[m * n] = 42.0f;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = tiled_ref(ta, tb, m, n, k, a, b, i, j);
            want[i * n + j] = mode == 1 ? s + c0[i * n + j] : mode == 2 ? s + bias[j] : s;
        }
}

static void check_tiled(void *dev)
{
    if (!((const cpu_dev *)dev)->small_gemm) {
        printf("ok - tiled products # SKIP this CPU lacks AVX-512\n");
        return;
    }
    static const int ms[] = {1, 7, 8, 9, 64, 131}, ns[] = {1, 10, 16, 17, 32, 33, 70, 256},
                     ks[] = {1, 17, 64, 300};
    /* the largest m, n and k */
    static float a[131 * 300], b[300 * 256], bias[256], c0[131 * 256 + 1], c[131 * 256 + 1],
        want[131 * 256];
    int exact = 1, split = 1, slot = 1, cases = 0;
    float *buf = aligned_alloc(64, TG_PACK * sizeof(float));
    if (!buf) {
        check(0, "tiled products: memory for the panels");
        return;
    }
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++)
            for (size_t im = 0; im < sizeof ms / sizeof *ms; im++)
                for (size_t in = 0; in < sizeof ns / sizeof *ns; in++)
                    for (size_t ik = 0; ik < sizeof ks / sizeof *ks; ik++)
                        for (int mode = 0; mode < 3; mode++) { /* beta 0, beta 1, bias */
                            int m = ms[im], n = ns[in], k = ks[ik];
                            tiled_case(ta, tb, m, n, k, mode, a, b, bias, c0, want);
                            tg_job g = {ta, tb, m, n, k, a, b, c, mode == 1,
                                        mode == 2 ? bias : NULL};
                            for (int parts = 1; parts <= 5; parts += 2) {
                                memcpy(c, c0, sizeof(float) * (size_t)(m * n + 1));
                                for (int p = 0; p < parts; p++) tg_run(&g, p, parts, buf);
                                int same = !memcmp(c, want, sizeof(float) * (size_t)(m * n)) &&
                                           c[m * n] == 42.0f;
                                if (parts == 1) exact &= same;
                                else split &= same;
                            }
                            memcpy(c, c0, sizeof(float) * (size_t)(m * n + 1));
                            if (mode == 2)
                                cpu_vt.gemm_bias(dev, ta, tb, m, n, k, 1.0f, a, b, bias, c);
                            else
                                cpu_vt.gemm(dev, ta, tb, m, n, k, 1.0f, a, b, (float)mode, c);
                            /* the slot takes this path past small_gemm's limit, from 8
                             * rows and 16 columns */
                            if (!small_gemm_fits(tb, m, n, k) && m >= TG_MIN_M && n >= TG_MIN_N)
                                slot &= !memcmp(c, want, sizeof(float) * (size_t)(m * n)) &&
                                        c[m * n] == 42.0f;
                            cases++;
                        }
    free(buf);
    char what[160];
    snprintf(what, sizeof what,
             "tiled products: %d cases, the bits of one fma chain each (panels of 32 and of 16)",
             cases);
    check(exact, what);
    check(split, "tiled products: the same bits cut into 3 and 5 parts");
    snprintf(what, sizeof what, "tiled products: the same bits through the gemm slot on %d threads",
             nw_threads());
    check(slot, what);
}
#endif

#ifdef TILED_GEMM_AVX512
/* Fewer columns than half a panel take the tiled path once op(a) has
 * TG_NARROW_MK elements (a wide MLP's last layer): through the gemm slot,
 * the bits of one fma chain each, every layout, beta 0 and 1 and a bias. */
static void check_tiled_narrow(void *dev)
{
    if (!((const cpu_dev *)dev)->small_gemm) return;
    enum { M = 448, K = 300 };
    _Static_assert((long)M * K >= TG_NARROW_MK, "op(a) large enough for the narrow path");
    static const int ns[] = {1, 10, 15};
    static float a[M * K], b[K * 15], bias[15], c[M * 15 + 1], want[M * 15];
    int same = 1, cases = 0;
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++)
            for (size_t in = 0; in < sizeof ns / sizeof *ns; in++)
                for (int mode = 0; mode < 3; mode++) {
                    const int n = ns[in];
                    tiled_case(ta, tb, M, n, K, mode, a, b, bias, c, want);
                    if (mode == 2)
                        cpu_vt.gemm_bias(dev, ta, tb, M, n, K, 1.0f, a, b, bias, c);
                    else
                        cpu_vt.gemm(dev, ta, tb, M, n, K, 1.0f, a, b, (float)mode, c);
                    same &= !memcmp(c, want, sizeof(float) * (size_t)(M * n)) && c[M * n] == 42.0f;
                    cases++;
                }
    char what[160];
    snprintf(what, sizeof what,
             "tiled products: %d cases of 1 to 15 columns from a %d x %d op(a), through the gemm slot, one fma chain each",
             cases, M, K);
    check(same, what);
}

/* Two threads multiplying at once: one holds the workers, the other runs
 * its products alone; both get the bits of one thread. */
typedef struct {
    void *dev;
    const float *a, *b, *want;
    float *c;
    int same;
} race_arg;

static void *race(void *u)
{
    race_arg *r = u;
    r->same = 1;
    for (int i = 0; i < 40; i++) {
        memset(r->c, 0, sizeof(float) * 96 * 200);
        cpu_vt.gemm(r->dev, 0, 1, 96, 200, 300, 1.0f, r->a, r->b, 0.0f, r->c);
        r->same &= !memcmp(r->c, r->want, sizeof(float) * 96 * 200);
    }
    return NULL;
}

static void check_tiled_race(void *dev)
{
    if (!((const cpu_dev *)dev)->small_gemm) return;
    static float a[96 * 300], b[200 * 300], want[96 * 200], c[2][96 * 200];
    fill_uniform(a, 96 * 300, -1.0f, 1.0f);
    fill_uniform(b, 200 * 300, -1.0f, 1.0f);
    cpu_vt.gemm(dev, 0, 1, 96, 200, 300, 1.0f, a, b, 0.0f, want);
    race_arg r[2] = {{dev, a, b, want, c[0], 0}, {dev, a, b, want, c[1], 0}};
    pthread_t t[2];
    int started = 0;
    for (int i = 0; i < 2; i++) started += !pthread_create(&t[i], NULL, race, &r[i]);
    for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
    check(started == 2 && r[0].same && r[1].same,
          "tiled products: two threads multiplying at once get the bits of one");
}
#endif

/* Maps and sums over rows from MAP_SPLIT elements on, their inputs noted
 * as written by the threads together, are cut among the threads: the same
 * bits as on one thread, nothing written past the end;
 * each column's sum over rows is the float sum in row order from y, in
 * blocks of SR_W vectors of columns and after them. */
static void check_split_maps(void *dev)
{
    static const int64_t ns[] = {MAP_SPLIT - 1, MAP_SPLIT, MAP_SPLIT + 13, 262144 + 77};
    enum { MAXN = 262144 + 77 };
    static float x[MAXN], y[MAXN + 1], y1[MAXN + 1], dy[MAXN], dx[MAXN + 1], dx1[MAXN + 1];
    int same = 1, sameb = 1;
    for (int op = 0; op < NN_UNARY_COUNT_; op++)
        for (size_t in = 0; in < sizeof ns / sizeof *ns; in++) {
            const int64_t n = ns[in];
            int positive = op == NN_UNARY_LOG || op == NN_UNARY_SQRT;
            fill_uniform(x, n, positive ? 0.01f : -30.0f, 30.0f);
            fill_uniform(dy, n, -1.0f, 1.0f);
            y[n] = y1[n] = 42.0f;
            spread_note(x, n);
            spread_note(dy, n);
            cpu_vt.unary(dev, (nn_unary_op)op, n, x, y);
            unary_whole(dev, (nn_unary_op)op, n, x, y1);
            same &= !memcmp(y, y1, sizeof(float) * (size_t)(n + 1));
            for (int acc = 0; acc <= 1; acc++) {
                fill_uniform(dx, n, -1.0f, 1.0f);
                memcpy(dx1, dx, sizeof(float) * (size_t)n);
                dx[n] = dx1[n] = 42.0f;
                cpu_vt.unary_backward(dev, (nn_unary_op)op, n, x, y, dy, dx, acc);
                unary_backward_whole(dev, (nn_unary_op)op, n, x, y, dy, dx1, acc);
                sameb &= !memcmp(dx, dx1, sizeof(float) * (size_t)(n + 1));
            }
        }
    char what[160];
    snprintf(what, sizeof what, "device unary from %d elements, cut among %d threads: the bits of one",
             MAP_SPLIT, nw_threads());
    check(same, what);
    check(sameb, "device unary_backward, cut among the threads: the bits of one, acc 0 and 1");

    static const int64_t shapes[][2] = {{3, 64}, {5, 200}, {256, 1024}, {100, 1000}, {71, 937}, {1024, 70}};
    int rows_ok = 1;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const int64_t rows = shapes[i][0], cols = shapes[i][1];
        fill_uniform(x, rows * cols, -1.0f, 1.0f);
        spread_note(x, rows * cols);
        for (int acc = 0; acc <= 1; acc++) {
            fill_uniform(y, cols, -1.0f, 1.0f);
            memcpy(y1, y, sizeof(float) * (size_t)cols);
            y[cols] = 42.0f;
            cpu_vt.sum_rows(dev, rows, cols, x, y, acc);
            for (int64_t j = 0; j < cols; j++) {
                float t = acc ? y1[j] : 0.0f;
                for (int64_t r = 0; r < rows; r++) t += x[r * cols + j];
                rows_ok &= y[j] == t;
            }
            rows_ok &= y[cols] == 42.0f;
        }
    }
    check(rows_ok, "device sum_rows past 64 columns and cut among the threads: each column's float sum in row order, bit for bit");
}

/* nn_kernel_parallel's parts (the slot parallel): each of 0 .. parts - 1
 * run once, parts at most max_parts and, past the thread count, a
 * multiple of it; many calls in a row, so that the caller's parts from the
 * front and the workers' from the back meet in different places. */
typedef struct {
    _Atomic int runs[64];
    _Atomic int parts, calls;
} par_count;

/* A while of work the compiler keeps. */
static void busy(int n)
{
    volatile float s = 0;
    for (int i = 0; i < n; i++) s = s + 1.0f;
}

static void count_part(void *arg, int p, int parts)
{
    par_count *c = arg;
    if (p >= 0 && p < 64) atomic_fetch_add(&c->runs[p], 1);
    atomic_store(&c->parts, parts);
    atomic_fetch_add(&c->calls, 1);
    busy((p * 37 % 11) * 300); /* parts of uneven length */
}

static void check_parallel(void *dev)
{
    int once = 1, fits = 1, even = 1, t = nw_threads(), calls = 0;
    for (int round = 0; round < 50; round++)
        for (int max = 1; max <= 64; max++) {
            par_count c = {0};
            cpu_vt.parallel(dev, count_part, &c, max);
            int parts = atomic_load(&c.parts);
            fits &= parts >= 1 && parts <= max && atomic_load(&c.calls) == parts;
            even &= parts <= t || parts % t == 0;
            for (int p = 0; p < 64; p++) once &= atomic_load(&c.runs[p]) == (p < parts);
            calls++;
        }
    char what[160];
    snprintf(what, sizeof what, "parallel slot: each part once, %d calls on %d threads", calls, t);
    check(once && fits, what);
    check(even, "parallel slot: past the thread count, as many parts for each thread");
}

/* Background parts (the slots post and wait): each part of a posted job
 * runs once by the time wait returns, some on a worker while the caller
 * does other work (its own parallel calls among it); a second post while
 * one is pending is refused; wait of no job or of one waited for returns. */
typedef struct {
    _Atomic int runs[64];
    _Atomic int on_worker;
    pthread_t caller;
} bg_count;

static void bg_part(void *arg, int p, int parts)
{
    bg_count *c = arg;
    (void)parts;
    if (p >= 0 && p < 64) atomic_fetch_add(&c->runs[p], 1);
    if (!pthread_equal(pthread_self(), c->caller)) atomic_fetch_add(&c->on_worker, 1);
    busy(2000);
}

static void check_background(void *dev)
{
    int t = nw_threads(), once = 1, refused = 1, posted = 0, worker = 0;
    for (int round = 0; round < 300; round++) {
        static bg_count c;
        memset(&c, 0, sizeof c);
        c.caller = pthread_self();
        int parts = 1 + round % 40;
        int ticket = cpu_vt.post(dev, bg_part, &c, parts);
        if (!ticket) { /* no workers: the caller's own */
            for (int p = 0; p < parts; p++) bg_part(&c, p, parts);
        } else {
            posted++;
            refused &= cpu_vt.post(dev, bg_part, &c, parts) == 0;
            par_count pc = {0};
            for (int k = 0; k < round % 3; k++) cpu_vt.parallel(dev, count_part, &pc, 8);
            busy(20000); /* the caller busy a while, the workers idle */
            cpu_vt.wait(dev, ticket);
            cpu_vt.wait(dev, ticket);
        }
        cpu_vt.wait(dev, 0);
        for (int p = 0; p < 64; p++) once &= atomic_load(&c.runs[p]) == (p < parts);
        worker += atomic_load(&c.on_worker) > 0;
    }
    char what[160];
    snprintf(what, sizeof what, "background parts: each once, %d jobs posted on %d threads", posted,
             t);
    check(once && (t <= 1 ? posted == 0 : posted == 300), what);
    check(refused, "background parts: a second job while one is pending is refused");
    if (t > 1)
        check(worker > 0, "background parts: workers take parts while the caller works");
}

/* The AVX-512 sum over rows of fewer than 8 columns gives the generic
 * one's bits (the same sums in the same order), and writes cols floats. */
static void check_sum_rows_narrow(void *dev)
{
#ifdef SMALL_GEMM_AVX512
    if (!((const cpu_dev *)dev)->small_gemm) {
        printf("ok - sum_rows on AVX-512 # SKIP this CPU lacks AVX-512\n");
        return;
    }
    static float x[300 * 7];
    int same = 1;
    for (int64_t cols = 1; cols < 8; cols++)
        for (int64_t rows = 0; rows <= 300; rows += rows < 50 ? 1 : 50) {
            fill_uniform(x, rows * cols, -1.0f, 1.0f);
            float y1[9], y2[9];
            for (int j = 0; j < 9; j++) y1[j] = y2[j] = (float)j;
            sum_rows_narrow(rows, cols, x, y1);
            sum_rows_narrow_avx512(rows, cols, x, y2);
            same &= memcmp(y1, y2, sizeof y1) == 0;
        }
    check(same, "sum_rows on AVX-512: the generic sums' bits, 1 to 7 columns, 0 to 300 rows");
#endif
}

/* The bce loss's AVX-512 sum of hard-label terms gives bce_sum_01's bits
 * and flags: every length to 80 and a few longer, probabilities over
 * (0, 1) with exact 0s, 1s and denormals, then a NaN, a p outside [0, 1],
 * a soft label. The terms themselves: near the double formula. */
static void check_bce_sum(void)
{
#ifdef BCE_AVX512
    if (!nn_vec_avx512()) {
        printf("ok - bce sum on AVX-512 # SKIP this CPU lacks AVX-512\n");
        return;
    }
    enum { N = 1100 };
    static float p[N], t[N];
    int same = 1, near = 1;
    for (int64_t n = 0; n <= N; n += n < 80 ? 1 : 97) {
        for (int64_t i = 0; i < n; i++) {
            p[i] = uniform(0.0f, 1.0f);
            if (i % 13 == 0) p[i] = uniform(0.0f, 1.0f) * 0x1p-140f; /* denormal */
            if (i % 29 == 0) p[i] = (float)(i % 2);
            t[i] = (float)(rng >> 7 & 1);
        }
        for (int c = 0; c < 4; c++) {
            int64_t at = n ? (int64_t)(rng % (uint32_t)n) : 0;
            float keep_p = n ? p[at] : 0.0f, keep_t = n ? t[at] : 0.0f;
            if (n && c == 1) p[at] = NAN;
            if (n && c == 2) p[at] = 1.5f;
            if (n && c == 3) t[at] = 0.25f;
            int b1, s1, b2, s2;
            double a = bce_sum_01(n, p, t, &b1, &s1), v = bce_sum_01_avx512(n, p, t, &b2, &s2);
            same &= (memcmp(&a, &v, sizeof a) == 0 || (isnan(a) && isnan(v))) && b1 == b2 &&
                    s1 == s2;
            if (c == 0) {
                double ref = 0.0;
                for (int64_t i = 0; i < n; i++) {
                    double x = t[i] != 0.0f ? p[i] : 1.0 - (double)p[i];
                    ref += x > 0.0 && log(x) > -100.0 ? log(x) : -100.0;
                }
                near &= fabs(v - ref) <= 1e-6 * (fabs(ref) + 1.0);
            }
            if (n) p[at] = keep_p, t[at] = keep_t;
        }
    }
    check(same, "bce sum on AVX-512: the bits and checks of the generic sum, lengths 0 to 1100");
    /* the gradient: the generic loop's bits, acc 0 and 1, nothing past n */
    static float d1[N + 1], d2[N + 1];
    int same_g = 1;
    for (int64_t n = 0; n <= 300; n++)
        for (int acc = 0; acc <= 1; acc++) {
            for (int64_t i = 0; i < n; i++) {
                p[i] = i % 31 == 0 ? (float)(i % 2) : uniform(0.0f, 1.0f);
                t[i] = i % 37 == 5 ? 0.3f : (float)(rng >> 7 & 1);
            }
            if (n > 7) p[7] = NAN;
            fill_uniform(d1, n + 1, -1.0f, 1.0f);
            memcpy(d2, d1, (size_t)(n + 1) * sizeof(float));
            bce_grad_loop(n, 0.37f, p, t, d1, acc);
            bce_grad_avx512(n, 0.37f, p, t, d2, acc);
            same_g &= memcmp(d1, d2, (size_t)(n + 1) * sizeof(float)) == 0;
        }
    check(same_g, "bce gradient on AVX-512: the generic loop's bits, acc 0 and 1, n floats written");
    check(near, "bce sum on AVX-512: within 1e-6 of the terms in double");
#else
    printf("ok - bce sum on AVX-512 # SKIP not an x86-64 build\n");
#endif
}

int main(void)
{
    check_math("baseline x86-64", exp_base, log_base, sigmoid_base, rint_base);
    check_dexp("baseline x86-64", dexp_base);
#ifdef HAVE_LEVELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        check_math("x86-64-v3 (AVX2, FMA)", exp_v3, log_v3, sigmoid_v3, rint_v3);
        check_dexp("x86-64-v3 (AVX2, FMA)", dexp_v3);
    } else
        printf("ok - x86-64-v3 # SKIP this CPU lacks AVX2 or FMA\n");
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
        check_math("x86-64-v4 (AVX-512)", exp_v4, log_v4, sigmoid_v4, rint_v4);
        check_dexp("x86-64-v4 (AVX-512)", dexp_v4);
    } else
        printf("ok - x86-64-v4 # SKIP this CPU lacks AVX-512\n");
#endif
    void *dev = NULL;
    char *err = NULL;
    if (cpu_vt.open(NULL, &dev, &err) != NN_OK) {
        printf("FAIL - the cpu device opens\n");
        return 1;
    }
    check_unary(dev);
    check_sigmoid(dev);
    check_rows(dev);
    check_gemm(dev);
    check_gemm_bias(dev);
#ifdef TILED_GEMM_AVX512
    check_tiled(dev);
    check_tiled_narrow(dev);
    check_tiled_race(dev);
#endif
    check_parallel(dev);
    check_background(dev);
    check_split_maps(dev);
    check_bce_sum();
    check_sum_rows_narrow(dev);
    /* and, on a CPU with AVX-512, the paths of one without: vecmath.h's
     * sigmoid, cblas_sgemm for every product */
    if (dev != (void *)&cpu_plain) {
        check_sigmoid((void *)&cpu_plain);
        check_gemm((void *)&cpu_plain);
        check_gemm_bias((void *)&cpu_plain);
    }
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
