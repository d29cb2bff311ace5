/* cpu.c - the reference device: matrix products by small_gemm.h (the tiny
 * ones) and tiled_gemm.h (the rest, split among the device's threads,
 * workers.h) on AVX-512, by OpenBLAS elsewhere and for what those do not
 * take (loaded on first use); plain loops for the rest, and explicit vector
 * loops (vecmath.h, one clone per instruction set) for the hot ones: the
 * activations, their gradients, the bias's sum and repeat. Memory is
 * ordinary host memory, so "device" copies are memcpy. Kernels of other
 * plugins reach the threads through nn_kernel_parallel (the slot parallel).
 *
 * NN_CPU_DEVICE_NAME names the device and the plugin ("cpu"); the tests build
 * this file again as a second device under another name. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* sched_getaffinity (workers.h) */
#endif
#include <nn/plugin.h>

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "small_gemm.h"
#include "tiled_gemm.h"
#include "vecmath.h"
#include "workers.h"

#ifndef NN_CPU_DEVICE_NAME
#define NN_CPU_DEVICE_NAME "cpu"
#endif
/* The tests' second device says 0, so that the core's copying path, the one
 * of a device with memory of its own, is trained on too. */
#ifndef NN_CPU_DEVICE_FLAGS
#define NN_CPU_DEVICE_FLAGS NN_DEVICE_HOST_MEMORY
#endif

/* The device handle says which kernels this CPU runs; chosen once, here. */
typedef struct {
    int small_gemm; /* small_gemm.h: AVX-512 with VL and DQ */
} cpu_dev;

static const cpu_dev cpu_plain = {0};
#ifdef SMALL_GEMM_AVX512
static const cpu_dev cpu_avx512 = {1};
#endif

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                         const enum CBLAS_TRANSPOSE, const blasint, const blasint,
                         const blasint, const float, const float *, const blasint,
                         const float *, const blasint, const float, float *, const blasint);
static sgemm_fn cblas_load(char **err);

static nn_status cpu_open(const nn_props *p, void **dev, char **err)
{
    (void)p;
    /* no state but the choice: every kernel runs on the calling thread */
    *dev = (void *)&cpu_plain;
#ifdef SMALL_GEMM_AVX512
    if (nn_vec_avx512()) *dev = (void *)&cpu_avx512;
#endif
    if (*dev == (void *)&cpu_plain && !cblas_load(err)) return NN_UNSUPPORTED;
    return NN_OK;
}

static void *cpu_alloc(void *dev, size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    return posix_memalign(&p, 64, (bytes + 63) & ~(size_t)63) == 0 ? p : NULL;
}

static void cpu_free(void *dev, void *p) { free(p); }
static void cpu_memcpy(void *dev, void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
static void cpu_sync(void *dev) {}

NN_VEC_FN(void, cpu_fill, (void *dev, int64_t n, float v, float *restrict y),
          (dev, n, v, y))
{
    const vf vv = vf_set(v);
    int64_t i = 0;
    for (; i + VF_N <= n; i += VF_N) vf_store(y + i, vv);
    for (; i < n; i++) y[i] = v;
}

/* OpenBLAS is loaded on the first product small_gemm does not take, not
 * with the plugin: loading it costs milliseconds of symbol relocations and
 * starts a thread that spins for a while, which the tiny networks, whose
 * every product small_gemm does, never need. NN_CBLAS_SONAME is the file
 * configure found it in. */
#ifndef NN_CBLAS_SONAME
#error "NN_CBLAS_SONAME: the file name of the library with cblas_sgemm (set by configure)"
#endif

static void *cblas_lib; /* its handle, once loaded */

/* The loaded cblas_sgemm, or NULL with the reason in *err. Two threads
 * that race here both get the same function: dlopen of a loaded library
 * returns it again. */
static sgemm_fn cblas_load(char **err)
{
    static sgemm_fn loaded;
    sgemm_fn f = __atomic_load_n(&loaded, __ATOMIC_ACQUIRE);
    if (f) return f;
    void *lib = dlopen(NN_CBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    void *sym = lib ? dlsym(lib, "cblas_sgemm") : NULL;
    if (!sym) {
        nn_fail(err, NN_UNSUPPORTED, "the " NN_CPU_DEVICE_NAME " device cannot load cblas_sgemm from "
                NN_CBLAS_SONAME " for its matrix products: %s", dlerror());
        return NULL;
    }
    __atomic_store_n(&cblas_lib, lib, __ATOMIC_RELEASE);
    memcpy(&f, &sym, sizeof f); /* object to function pointer, as POSIX allows */
    __atomic_store_n(&loaded, f, __ATOMIC_RELEASE);
    return f;
}

/* The gemm slot cannot fail. A device without the small path loads the
 * library when it opens, and refuses to open without it; with the small
 * path, a library gone since the build is found on the first large
 * product, and is fatal there. */
static sgemm_fn cblas_sgemm_lazy(void)
{
    char *err = NULL;
    sgemm_fn f = cblas_load(&err);
    if (!f) {
        fprintf(stderr, "nn: %s\n", err ? err : "out of memory");
        abort();
    }
    return f;
}

/* From this many elements on, an element-wise map (unary, its backward)
 * or a sum over rows is cut among the threads, in as many runs of whole
 * units (align elements) as there are threads, when its input is spread
 * over the cores' caches: the output of a product or a map the threads
 * wrote together. Each element is computed as on one thread. The wide
 * MLP's 256 x 1024 relu took 66 us whole and 35 in halves, its backward
 * 87 and 41. An input one core wrote (a convolution's per-sample products,
 * a pooling) stays with that core: split, the other core's half of it made
 * the small convolution's step 2.6% slower. Fashion-MNIST's 64 x 256 stay
 * whole (the hand-over costs what half of them does). */
#define MAP_SPLIT (64 * 1024)

/* The last few outputs the threads wrote together, per calling thread. */
#define SPREAD_N 4
static _Thread_local struct {
    uintptr_t p, end;
} spread[SPREAD_N];
static _Thread_local int spread_next;

static void spread_note(const float *p, int64_t n)
{
    spread[spread_next].p = (uintptr_t)p;
    spread[spread_next].end = (uintptr_t)(p + n);
    spread_next = (spread_next + 1) % SPREAD_N;
}

static int spread_has(const float *p)
{
    for (int i = 0; i < SPREAD_N; i++)
        if ((uintptr_t)p >= spread[i].p && (uintptr_t)p < spread[i].end) return 1;
    return 0;
}

#ifdef TILED_GEMM_AVX512
/* Fewer rows than a block of 8, or fewer columns than half a panel, waste
 * most of a block (a batch of 1 or 4, a layer of 8 outputs): OpenBLAS, on
 * one thread, does those faster, unless op(a) is large: a wide MLP's last
 * layer, 256 x 1024 by 10 outputs, took 131 us there and 46 here
 * (Fashion-MNIST's 64 x 256 by 10, 3.6 there and 4.2 here). Every product
 * past small_gemm's that this path takes is split among the threads. */
#define TG_MIN_M TG_MR
#define TG_MIN_N 16
#define TG_NARROW_MK (128 * 1024)

_Static_assert(NW_BUF >= TG_PACK, "a worker's buffer holds the panels tg_run packs");

static void tg_part_fn(const void *job, int p, int parts, float *buf) { tg_run(job, p, parts, buf); }

/* tiled_gemm.h's product when it takes the shape, alpha 1 and beta 0 or 1
 * (all the core asks for); 0 when OpenBLAS is to do it. */
static int tiled(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                 const float *b, float beta, const float *bias, float *c)
{
    if (alpha != 1.0f || (beta != 0.0f && beta != 1.0f) || m < TG_MIN_M ||
        (n < TG_MIN_N && m * k < TG_NARROW_MK) ||
        !tg_fits(m, n, k))
        return 0;
    tg_job j = {ta, tb, m, n, k, a, b, c, beta != 0.0f, bias};
    int parts = tg_parts(&j, nw_threads());
    if (parts > 1) spread_note(c, m * n);
    return nw_run(tg_part_fn, &j, parts);
}
#endif

/* nn_kernel_parallel: the kernel's parts on the workers. */
typedef struct {
    nn_parallel_fn fn;
    void *arg;
} par_job;

static void par_part(const void *job, int p, int parts, float *buf)
{
    (void)buf;
    const par_job *j = job;
    j->fn(j->arg, p, parts);
}

/* Parts per thread for nn_kernel_parallel: a thread that finishes early
 * takes the other's (nw_take). Fashion-MNIST's first weight updated in
 * halves took 23.6 us on one core and 14.3 on the other, the slow half
 * following the rows, not the core; in 8 parts, 3 and 5 of them, 19 us. */
#define PAR_PER_THREAD 4

static void cpu_parallel(void *dev, nn_parallel_fn fn, void *arg, int max_parts)
{
    (void)dev;
    int t = nw_threads(), parts = max_parts < t * PAR_PER_THREAD ? max_parts : t * PAR_PER_THREAD;
    if (parts > t) parts -= parts % t; /* as many for each thread: not 2 and 1 of 3 */
    par_job j = {fn, arg};
    if (parts <= 1 || !nw_run(par_part, &j, parts)) fn(arg, 0, 1);
}

/* Background parts (the slots post and wait): workers.h's job. */
static int cpu_post(void *dev, nn_parallel_fn fn, void *arg, int parts)
{
    (void)dev;
    return nw_post(fn, arg, parts);
}

static void cpu_wait(void *dev, int ticket)
{
    (void)dev;
    nw_wait(ticket);
}

typedef void (*map_range_fn)(const void *arg, int64_t i0, int64_t i1);

typedef struct {
    map_range_fn fn;
    const void *arg;
    int64_t n, align;
} map_job;

static void map_part(const void *job, int p, int parts, float *buf)
{
    (void)buf;
    const map_job *j = job;
    const int64_t units = (j->n + j->align - 1) / j->align;
    int64_t i0 = units * p / parts * j->align, i1 = units * (p + 1) / parts * j->align;
    if (i1 > j->n) i1 = j->n;
    if (i0 < i1) j->fn(j->arg, i0, i1);
}

/* fn over [0, n) in parts on the threads: 1 when done, 0 when the caller
 * is to do it whole (one thread, or none could be had). */
static int map_split(map_range_fn fn, const void *arg, int64_t n, int64_t align)
{
    int t = nw_threads();
    if (t <= 1) return 0;
    map_job j = {fn, arg, n, align};
    return nw_run(map_part, &j, t);
}

/* Whether a map over n elements reading in is to be split: wide enough,
 * its input spread (and then its output y, of yn elements, is noted). */
static int map_wanted(const float *in, int64_t n, const float *y, int64_t yn)
{
    if (n < MAP_SPLIT || !spread_has(in)) return 0;
    spread_note(y, yn);
    return 1;
}

#ifdef SMALL_GEMM_AVX512
/* Where the device computes its products itself, OpenBLAS gets only those
 * it leaves (fewer than 8 rows, fewer than 16 columns of a small op(a),
 * alpha or beta other than the core's, an op(a) too large to keep in the
 * caches), on the calling thread: its own threads, spinning after each
 * call, would take the cores from the device's (a batch of 1 ran twice as
 * slow), and on one thread its bits do not depend on the thread count
 * either. The threads OpenBLAS started when it loaded are stopped too:
 * each spins, calling sched_yield, for about 0.1 s before it sleeps, and
 * on 2 cores that took a third of the CPU time of an evaluation of
 * Fashion-MNIST. A library without openblas_set_num_threads keeps its own
 * way. */
static sgemm_fn cblas_one_thread(void)
{
    static int done;
    sgemm_fn f = cblas_sgemm_lazy();
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        void *lib = __atomic_load_n(&cblas_lib, __ATOMIC_ACQUIRE);
        void *sym = dlsym(lib, "openblas_set_num_threads");
        if (sym) {
            void (*set)(int);
            memcpy(&set, &sym, sizeof set);
            set(1);
            /* OpenBLAS's own, for fork(): joins its threads; a later call
             * for more than one thread would start them again */
            void *stop = dlsym(lib, "blas_thread_shutdown_");
            if (stop) {
                int (*shutdown)(void);
                memcpy(&shutdown, &stop, sizeof shutdown);
                shutdown();
            }
        }
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return f;
}
#endif

static void cpu_gemm(void *dev, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, const float *b, float beta, float *c)
{
#ifdef SMALL_GEMM_AVX512
    const cpu_dev *d = dev;
    if (d && d->small_gemm && small_gemm_fits(tb, m, n, k)) {
        small_gemm(ta, tb, m, n, k, alpha, a, b, beta, NULL, c);
        return;
    }
#ifdef TILED_GEMM_AVX512
    if (d && d->small_gemm && tiled(ta, tb, m, n, k, alpha, a, b, beta, NULL, c)) return;
#endif
#endif
#ifdef SMALL_GEMM_AVX512
    sgemm_fn f = d && d->small_gemm ? cblas_one_thread() : cblas_sgemm_lazy();
#else
    sgemm_fn f = cblas_sgemm_lazy();
#endif
    f(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)m,
      (blasint)n, (blasint)k, alpha, a, (blasint)(ta ? m : k), b, (blasint)(tb ? k : n), beta, c,
      (blasint)n);
}

static void cpu_repeat_rows(void *dev, int64_t rows, int64_t cols, const float *restrict b,
                            float *restrict y);

/* The small products add the bias in their own pass (the same sums as the
 * bias copied into c and beta 1); OpenBLAS gets it copied into c first. */
static void cpu_gemm_bias(void *dev, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                          const float *a, const float *b, const float *bias, float *c)
{
#ifdef SMALL_GEMM_AVX512
    const cpu_dev *d = dev;
    if (d && d->small_gemm && small_gemm_fits(tb, m, n, k)) {
        small_gemm(ta, tb, m, n, k, alpha, a, b, 0.0f, bias, c);
        return;
    }
#ifdef TILED_GEMM_AVX512
    if (d && d->small_gemm && tiled(ta, tb, m, n, k, alpha, a, b, 0.0f, bias, c)) return;
#endif
#endif
    cpu_repeat_rows(dev, m, n, bias, c);
    cpu_gemm(dev, ta, tb, m, n, k, alpha, a, b, 1.0f, c);
}

/* One loop per map, each compiled for every instruction set. ReLU keeps
 * x > 0 ? x : 0 (NaN gives 0); exp and log are vecmath.h's, within 2 ulp
 * of libm's. */
NN_VEC_FN(void, sigmoid_loop, (int64_t n, const float *restrict x, float *restrict y),
          (n, x, y))
{
    VF_EACH(n, x, y, vf_sigmoid(v));
}

NN_VEC_FN(void, relu_loop, (int64_t n, const float *restrict x, float *restrict y),
          (n, x, y))
{
    VF_EACH(n, x, y, vf_sel(v > 0.0f, v, vf_set(0.0f)));
}

NN_VEC_FN(void, exp_loop, (int64_t n, const float *restrict x, float *restrict y),
          (n, x, y))
{
    VF_EACH(n, x, y, vf_exp(v));
}

NN_VEC_FN(void, log_loop, (int64_t n, const float *restrict x, float *restrict y),
          (n, x, y))
{
    VF_EACH(n, x, y, vf_log(v));
}

NN_VEC_FN(void, abs_loop, (int64_t n, const float *restrict x, float *restrict y),
          (n, x, y))
{
    VF_EACH(n, x, y, (vf)((vu)v & 0x7fffffffu));
}

#ifdef SMALL_GEMM_AVX512
/* Sigmoid on AVX-512, 16 lanes: 1 / (1 + e^t), t = -x clamped to [-104,
 * 89] (beyond, the result is 1 or 0 all the same; NaN passes max and min
 * as their second operand). e^t = 2^n e^r with vecmath.h's reduction and
 * polynomial, the 2^n applied by vscalefps, which rounds results below
 * FLT_MIN once and gives inf above FLT_MAX (then 1 / inf = 0, as libm's
 * formula): about half the operations per element of the generic code. Within
 * 3 ulp of 1 / (1 + exp(-x)) in double (tests/vecmath.c). */
SG_TARGET static void sigmoid_avx512(int64_t n, const float *restrict x, float *restrict y)
{
    const __m512 lo = _mm512_set1_ps(-104.0f), hi = _mm512_set1_ps(89.0f), one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 mk = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 t = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(mk, x + i));
        t = _mm512_min_ps(hi, _mm512_max_ps(lo, t));
        __m512 nn = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(1.44269504f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 r = _mm512_fnmadd_ps(nn, _mm512_set1_ps(0.693145751953125f), t);
        r = _mm512_fnmadd_ps(nn, _mm512_set1_ps(1.42860677e-6f), r);
        __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 5040.0f), r, _mm512_set1_ps(1.0f / 720.0f));
        q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 120.0f));
        q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 24.0f));
        q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 6.0f));
        q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.5f));
        __m512 p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(r, r), q, r), one);
        __m512 e = _mm512_scalef_ps(p, nn);
        _mm512_mask_storeu_ps(y + i, mk, _mm512_div_ps(one, _mm512_add_ps(one, e)));
    }
}
#endif

static void unary_whole(void *dev, nn_unary_op op, int64_t n, const float *restrict x,
                        float *restrict y)
{
    switch (op) {
    case NN_UNARY_SIGMOID:
#ifdef SMALL_GEMM_AVX512
        if (dev && ((const cpu_dev *)dev)->small_gemm) {
            sigmoid_avx512(n, x, y);
            break;
        }
#endif
        sigmoid_loop(n, x, y);
        break;
    case NN_UNARY_RELU: relu_loop(n, x, y); break;
    case NN_UNARY_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    case NN_UNARY_EXP: exp_loop(n, x, y); break;
    case NN_UNARY_LOG: log_loop(n, x, y); break;
    case NN_UNARY_SQRT:
        for (int64_t i = 0; i < n; i++) y[i] = sqrtf(x[i]);
        break;
    case NN_UNARY_ABS: abs_loop(n, x, y); break;
    default: break;
    }
}

typedef struct {
    void *dev;
    nn_unary_op op;
    const float *x, *y, *dy;
    float *out;
    int acc;
} unary_job;

static void unary_range(const void *arg, int64_t i0, int64_t i1)
{
    const unary_job *j = arg;
    unary_whole(j->dev, j->op, i1 - i0, j->x + i0, j->out + i0);
}

static void cpu_unary(void *dev, nn_unary_op op, int64_t n, const float *restrict x,
                      float *restrict y)
{
    unary_job j = {dev, op, x, NULL, NULL, y, 0};
    if (!map_wanted(x, n, y, n) || !map_split(unary_range, &j, n, 64))
        unary_whole(dev, op, n, x, y);
}

/* dx (+)= DMAP * dy for the n elements, DMAP an expression of the vectors
 * xv and yv (x and f(x)): the local derivative of each map. The tail is
 * padded with ones. */
#define DMAP_EACH(DMAP)                                                                 \
    do {                                                                                \
        int64_t i = 0;                                                                  \
        for (; i + VF_N <= n; i += VF_N) {                                              \
            const vf xv = vf_load(x + i), yv = vf_load(y + i), g = vf_load(dy + i);     \
            (void)xv, (void)yv;                                                         \
            vf d = (DMAP) * g;                                                          \
            vf_store(dx + i, acc ? vf_load(dx + i) + d : d);                            \
        }                                                                               \
        if (i < n) {                                                                    \
            const int64_t r = n - i;                                                    \
            const vf xv = vf_load_part(x + i, r, 1.0f), yv = vf_load_part(y + i, r, 1.0f); \
            const vf g = vf_load_part(dy + i, r, 1.0f);                                 \
            (void)xv, (void)yv;                                                         \
            vf d = (DMAP) * g;                                                          \
            vf_store_part(dx + i, r, acc ? vf_load_part(dx + i, r, 0.0f) + d : d);     \
        }                                                                               \
    } while (0)

#define UNARY_BACKWARD_LOOP(name, DMAP)                                                 \
    NN_VEC_FN(void, name,                                                               \
              (int64_t n, const float *restrict x, const float *restrict y,             \
               const float *restrict dy, float *restrict dx, int acc),                  \
              (n, x, y, dy, dx, acc))                                                   \
    {                                                                                   \
        DMAP_EACH(DMAP);                                                                \
    }

/* sigmoid' = y (1 - y), tanh' = 1 - y^2, exp' = y, log' = 1 / x, sqrt' =
 * 0.5 / y, relu' = x > 0, abs' = sign(x) with abs'(0) = 0 */
UNARY_BACKWARD_LOOP(sigmoid_backward, yv * (1.0f - yv))
UNARY_BACKWARD_LOOP(relu_backward, vf_sel(xv > 0.0f, vf_set(1.0f), vf_set(0.0f)))
UNARY_BACKWARD_LOOP(tanh_backward, 1.0f - yv * yv)
UNARY_BACKWARD_LOOP(exp_backward, yv)
UNARY_BACKWARD_LOOP(log_backward, 1.0f / xv)
UNARY_BACKWARD_LOOP(sqrt_backward, 0.5f / yv)
UNARY_BACKWARD_LOOP(abs_backward, vf_sel(xv > 0.0f, vf_set(1.0f),
                                         vf_sel(xv < 0.0f, vf_set(-1.0f), vf_set(0.0f))))

#ifdef SMALL_GEMM_AVX512
/* dx (+)= dy y (1 - y) on AVX-512, 16 lanes, the tail masked: the generic
 * loop's 8 lanes and element-by-element tail cost twice as much on the
 * sizes of small networks (a few hundred elements). */
SG_TARGET static void sigmoid_backward_avx512(int64_t n, const float *restrict y,
                                              const float *restrict dy, float *restrict dx, int acc)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 mk = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 yv = _mm512_maskz_loadu_ps(mk, y + i);
        __m512 d = _mm512_mul_ps(_mm512_mul_ps(yv, _mm512_sub_ps(one, yv)),
                                 _mm512_maskz_loadu_ps(mk, dy + i));
        if (acc) d = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, dx + i), d);
        if (mk == 0xffff) /* a masked store costs more, even with every lane on */
            _mm512_storeu_ps(dx + i, d);
        else
            _mm512_mask_storeu_ps(dx + i, mk, d);
    }
}
#endif

static void unary_backward_whole(void *dev, nn_unary_op op, int64_t n, const float *restrict x,
                                 const float *restrict y, const float *restrict dy,
                                 float *restrict dx, int acc)
{
    switch (op) {
    case NN_UNARY_SIGMOID:
#ifdef SMALL_GEMM_AVX512
        if (dev && ((const cpu_dev *)dev)->small_gemm) {
            sigmoid_backward_avx512(n, y, dy, dx, acc);
            break;
        }
#endif
        sigmoid_backward(n, x, y, dy, dx, acc);
        break;
    case NN_UNARY_RELU: relu_backward(n, x, y, dy, dx, acc); break;
    case NN_UNARY_TANH: tanh_backward(n, x, y, dy, dx, acc); break;
    case NN_UNARY_EXP: exp_backward(n, x, y, dy, dx, acc); break;
    case NN_UNARY_LOG: log_backward(n, x, y, dy, dx, acc); break;
    case NN_UNARY_SQRT: sqrt_backward(n, x, y, dy, dx, acc); break;
    case NN_UNARY_ABS: abs_backward(n, x, y, dy, dx, acc); break;
    default: break;
    }
}

static void unary_backward_range(const void *arg, int64_t i0, int64_t i1)
{
    const unary_job *j = arg;
    unary_backward_whole(j->dev, j->op, i1 - i0, j->x ? j->x + i0 : NULL, j->y ? j->y + i0 : NULL,
                         j->dy + i0, j->out + i0, j->acc);
}

static void cpu_unary_backward(void *dev, nn_unary_op op, int64_t n, const float *restrict x,
                               const float *restrict y, const float *restrict dy,
                               float *restrict dx, int acc)
{
    unary_job j = {dev, op, x, y, dy, dx, acc};
    if (!map_wanted(dy, n, dx, n) || !map_split(unary_backward_range, &j, n, 64))
        unary_backward_whole(dev, op, n, x, y, dy, dx, acc);
}

/* Runs STMT for every element k of a, with av = a[k] and bv its b: b has n
 * elements, one, or bn repeated along rows. One loop per op, so each vectorizes. */
#define EACH_AB(STMT)                                                                   \
    do {                                                                                \
        if (bn == 1) {                                                                  \
            const float bv = b[0];                                                      \
            for (int64_t k = 0; k < n; k++) {                                           \
                const float av = a[k];                                                  \
                STMT;                                                                   \
            }                                                                           \
        } else {                                                                        \
            for (int64_t r = 0; r < n; r += bn) /* bn == n: one row */                  \
                for (int64_t j = 0; j < bn; j++) {                                      \
                    const int64_t k = r + j;                                            \
                    const float av = a[k], bv = b[j];                                   \
                    STMT;                                                               \
                }                                                                       \
        }                                                                               \
    } while (0)

/* a op b; MAX and MIN return a NaN operand, as torch.maximum and minimum do. */
static inline float bin(nn_binary_op op, float a, float b)
{
    switch (op) {
    case NN_BINARY_ADD: return a + b;
    case NN_BINARY_SUB: return a - b;
    case NN_BINARY_MUL: return a * b;
    case NN_BINARY_DIV: return a / b;
    case NN_BINARY_POW: return powf(a, b);
    case NN_BINARY_MAX: return a >= b || a != a ? a : b;
    case NN_BINARY_MIN: return a <= b || a != a ? a : b;
    default: return 0.0f;
    }
}

/* A switch on nn_binary_op with one loop per op, STMT(OP) naming the op as a
 * constant, so that each loop is specialised. */
#define BINARY_CASES(STMT)                                                              \
    case NN_BINARY_ADD: EACH_AB(STMT(NN_BINARY_ADD)); break;                            \
    case NN_BINARY_SUB: EACH_AB(STMT(NN_BINARY_SUB)); break;                            \
    case NN_BINARY_MUL: EACH_AB(STMT(NN_BINARY_MUL)); break;                            \
    case NN_BINARY_DIV: EACH_AB(STMT(NN_BINARY_DIV)); break;                            \
    case NN_BINARY_POW: EACH_AB(STMT(NN_BINARY_POW)); break;                            \
    case NN_BINARY_MAX: EACH_AB(STMT(NN_BINARY_MAX)); break;                            \
    case NN_BINARY_MIN: EACH_AB(STMT(NN_BINARY_MIN)); break;                            \
    default: break;

static void cpu_binary(void *dev, nn_binary_op op, int64_t n, const float *restrict a, int64_t bn,
                       const float *restrict b, float *restrict y)
{
#define SET_Y(OP) y[k] = bin(OP, av, bv)
    switch (op) { BINARY_CASES(SET_Y) }
#undef SET_Y
}

static void cpu_axpby(void *dev, int64_t n, float alpha, const float *restrict x, float beta,
                      float *restrict y)
{
    if (beta == 0.0f)
        for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i] + beta * y[i];
}

static void cpu_mul_acc(void *dev, int64_t n, float alpha, const float *restrict x,
                        const float *restrict w, float *restrict y, int acc)
{
    if (acc)
        for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i] * w[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i] * w[i];
}

/* The first row, then copies of what is done, doubling: a few memcpy calls
 * rather than one per row (the tutorial's rows are 5 floats and 1). */
static void cpu_repeat_rows(void *dev, int64_t rows, int64_t cols, const float *restrict b,
                            float *restrict y)
{
    if (rows <= 0 || cols <= 0) return;
    memcpy(y, b, (size_t)cols * sizeof(float));
    for (int64_t done = 1; done < rows;) {
        int64_t now = done < rows - done ? done : rows - done;
        memcpy(y + done * cols, y, (size_t)(now * cols) * sizeof(float));
        done += now;
    }
}

/* Few columns (fewer than a vector): x runs as one flat array, in vectors
 * that keep lcm(cols, VF_N) / VF_N = NV partial sums, each lane's column
 * known from its place in that period; the rows after the last whole
 * period make one more, zero-padded. The period (whole rows) is then
 * folded a row at a time, a vector load at each row's start whose lanes
 * past cols are ignored. NV is a constant in each copy, so that the sums
 * stay in registers (through memory, each add waits on a store). */
static inline __attribute__((always_inline)) void
sum_rows_period(int64_t rows, int64_t cols, const float *restrict x, float *restrict y, const int NV)
{
    const int64_t period = NV * VF_N, total = rows * cols;
    vf part[8];
    for (int v = 0; v < NV; v++) part[v] = vf_set(0.0f);
    int64_t i = 0;
    for (; i + period <= total; i += period)
        for (int v = 0; v < NV; v++) part[v] += vf_load(x + i + v * VF_N);
    float buf[8 * VF_N + VF_N] = {0};
    if (i < total) {
        memcpy(buf, x + i, (size_t)(total - i) * sizeof(float));
        for (int v = 0; v < NV; v++) part[v] += vf_load(buf + v * VF_N);
    }
    for (int v = 0; v < NV; v++) vf_store(buf + v * VF_N, part[v]);
    vf c = vf_load(buf);
    for (int64_t r = 1; r < period / cols; r++) c += vf_load(buf + r * cols);
    for (int64_t j = 0; j < cols; j++) y[j] += c[j];
}

NN_VEC_FN(void, sum_rows_narrow, (int64_t rows, int64_t cols, const float *restrict x, float *restrict y),
          (rows, cols, x, y))
{
    switch (cols / (cols & -cols)) { /* cols (< 8)'s odd part: lcm(cols, 8) / 8 */
    case 1: sum_rows_period(rows, cols, x, y, 1); break;
    case 3: sum_rows_period(rows, cols, x, y, 3); break;
    case 5: sum_rows_period(rows, cols, x, y, 5); break;
    default: sum_rows_period(rows, cols, x, y, 7); break;
    }
}

#ifdef SMALL_GEMM_AVX512
/* sum_rows_period's sums, in the same order (so the same bits), without
 * going through memory: on AVX-512 (VL: 8 lanes, its width), the tail
 * read through a mask rather than copied, and the period's rows permuted
 * out of the partial sums in registers rather than loaded back from a
 * store (which the CPU cannot forward: the loads straddle the stores). */
SG_INLINE void sum_rows_period_avx512(int64_t rows, int64_t cols, const float *restrict x,
                                      float *restrict y, const int NV)
{
    const int64_t period = NV * 8, total = rows * cols;
    __m256 part[8];
    for (int v = 0; v < NV; v++) part[v] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + period <= total; i += period)
        for (int v = 0; v < NV; v++) part[v] = _mm256_add_ps(part[v], _mm256_loadu_ps(x + i + v * 8));
    if (i < total)
        for (int v = 0; v < NV; v++) {
            int64_t left = total - i - v * 8;
            __mmask8 mk = left >= 8 ? (__mmask8)0xff : left <= 0 ? (__mmask8)0 : (__mmask8)((1u << left) - 1);
            part[v] = _mm256_add_ps(part[v], _mm256_maskz_loadu_ps(mk, x + i + v * 8));
        }
    /* row r of the period: floats r cols .. r cols + cols - 1 of the
     * concatenated sums, within part[q] and part[q + 1], q = r cols / 8 */
    const __m256i iota = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    __m256 c = part[0];
    for (int64_t r = 1; r < period / cols; r++) {
        int64_t f = r * cols, q = f / 8;
        __m256i idx = _mm256_add_epi32(iota, _mm256_set1_epi32((int)(f % 8)));
        c = _mm256_add_ps(c, _mm256_permutex2var_ps(part[q], idx, part[q + 1 < NV ? q + 1 : q]));
    }
    float out[8];
    _mm256_storeu_ps(out, c);
    for (int64_t j = 0; j < cols; j++) y[j] += out[j];
}

SG_TARGET static void sum_rows_narrow_avx512(int64_t rows, int64_t cols, const float *restrict x,
                                             float *restrict y)
{
    switch (cols / (cols & -cols)) {
    case 1: sum_rows_period_avx512(rows, cols, x, y, 1); break;
    case 3: sum_rows_period_avx512(rows, cols, x, y, 3); break;
    case 5: sum_rows_period_avx512(rows, cols, x, y, 5); break;
    default: sum_rows_period_avx512(rows, cols, x, y, 7); break;
    }
}
#endif

/* Each column's sum in row order, from y; SR_W vectors of columns at a
 * time, so that each row gives one run of SR_W * VF_N floats, not one
 * vector every row's length. */
#define SR_W 8
NN_VEC_FN(void, sum_rows_wide,
          (int64_t rows, int64_t cols, int64_t ld, const float *restrict x, float *restrict y),
          (rows, cols, ld, x, y))
{
    int64_t j = 0;
    for (; j + SR_W * VF_N <= cols; j += SR_W * VF_N) {
        vf s[SR_W];
        for (int q = 0; q < SR_W; q++) s[q] = vf_load(y + j + q * VF_N);
        for (int64_t r = 0; r < rows; r++)
            for (int q = 0; q < SR_W; q++) s[q] += vf_load(x + r * ld + j + q * VF_N);
        for (int q = 0; q < SR_W; q++) vf_store(y + j + q * VF_N, s[q]);
    }
    for (; j + VF_N <= cols; j += VF_N) {
        vf s = vf_load(y + j);
        for (int64_t r = 0; r < rows; r++) s += vf_load(x + r * ld + j);
        vf_store(y + j, s);
    }
    for (; j < cols; j++)
        for (int64_t r = 0; r < rows; r++) y[j] += x[r * ld + j];
}

typedef struct {
    int64_t rows, cols;
    const float *x;
    float *y;
} sum_rows_job;

static void sum_rows_range(const void *arg, int64_t j0, int64_t j1)
{
    const sum_rows_job *j = arg;
    sum_rows_wide(j->rows, j1 - j0, j->cols, j->x + j0, j->y + j0);
}

static void cpu_sum_rows(void *dev, int64_t rows, int64_t cols, const float *restrict x,
                         float *restrict y, int acc)
{
    if (!acc) cpu_fill(dev, cols, 0.0f, y);
#ifdef SMALL_GEMM_AVX512
    if (cols < VF_N && dev && ((const cpu_dev *)dev)->small_gemm) {
        sum_rows_narrow_avx512(rows, cols, x, y);
        return;
    }
#endif
    sum_rows_job j = {rows, cols, x, y};
    if (cols < VF_N)
        sum_rows_narrow(rows, cols, x, y);
    else if (!map_wanted(x, rows * cols, y, cols) ||
             !map_split(sum_rows_range, &j, cols, SR_W * VF_N))
        sum_rows_wide(rows, cols, cols, x, y);
}

static void cpu_sum(void *dev, int64_t n, float alpha, const float *restrict x, float *y)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    y[0] = (float)(alpha * s);
}

static void cpu_broadcast(void *dev, int64_t n, float alpha, const float *s, float *restrict y,
                          int acc)
{
    float v = alpha * s[0];
    if (acc)
        for (int64_t i = 0; i < n; i++) y[i] += v;
    else
        cpu_fill(dev, n, v, y);
}

static void cpu_transpose(void *dev, int64_t rows, int64_t cols, const float *restrict x,
                          float *restrict y)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) y[c * rows + r] = x[r * cols + c];
}

/* d(a op b)/da and /db at (a, b) with y = a op b, times dy, as PyTorch
 * computes them: pow's are 0 where b == 0 (for a) and where a == 0 <= b (for
 * b); maximum and minimum split dy in halves on ties. */
static inline float dbin_da(nn_binary_op op, float a, float b, float y, float dy)
{
    switch (op) {
    case NN_BINARY_ADD:
    case NN_BINARY_SUB: return dy;
    case NN_BINARY_MUL: return dy * b;
    case NN_BINARY_DIV: return dy / b;
    case NN_BINARY_POW: return b == 0.0f ? 0.0f : dy * (b * powf(a, b - 1.0f));
    case NN_BINARY_MAX: return a == b ? dy * 0.5f : a < b ? 0.0f : dy;
    case NN_BINARY_MIN: return a == b ? dy * 0.5f : a > b ? 0.0f : dy;
    default: return 0.0f;
    }
}

static inline float dbin_db(nn_binary_op op, float a, float b, float y, float dy)
{
    switch (op) {
    case NN_BINARY_ADD: return dy;
    case NN_BINARY_SUB: return -dy;
    case NN_BINARY_MUL: return dy * a;
    case NN_BINARY_DIV: return -dy * (a / b / b);
    case NN_BINARY_POW: return a == 0.0f && b >= 0.0f ? 0.0f : dy * (y * logf(a));
    case NN_BINARY_MAX: return a == b ? dy * 0.5f : a > b ? 0.0f : dy;
    case NN_BINARY_MIN: return a == b ? dy * 0.5f : a < b ? 0.0f : dy;
    default: return 0.0f;
    }
}

static void cpu_binary_backward(void *dev, nn_binary_op op, int wrt, int64_t n,
                                const float *restrict a, int64_t bn, const float *restrict b,
                                const float *restrict y, const float *restrict dy,
                                float *restrict d, int acc)
{
#define D_A(OP) d[k] = (acc ? d[k] : 0.0f) + dbin_da(OP, av, bv, y[k], dy[k])
#define D_B(OP) d[k] = (acc ? d[k] : 0.0f) + dbin_db(OP, av, bv, y[k], dy[k])
    if (wrt == 0)
        switch (op) { BINARY_CASES(D_A) }
    else
        switch (op) { BINARY_CASES(D_B) }
#undef D_A
#undef D_B
}

static void cpu_addc(void *dev, nn_binary_op op, int64_t n, float value, const float *restrict a,
                     int64_t bn, const float *restrict b, float *restrict t)
{
#define ADD_T(OP) t[k] += value * bin(OP, av, bv)
    switch (op) { BINARY_CASES(ADD_T) }
#undef ADD_T
}

/* f(x; s, t) and its derivative, as PyTorch: pow' is 0 where s == 0, clamp
 * passes the gradient where s <= x <= t. */
static inline float scalar_f(nn_scalar_op op, float x, float s, float t)
{
    switch (op) {
    case NN_SCALAR_ADD: return x + s;
    case NN_SCALAR_POW: return powf(x, s);
    case NN_SCALAR_CLAMP: {
        float v = x < s ? s : x;
        return v > t ? t : v;
    }
    default: return 0.0f;
    }
}

static inline float scalar_df(nn_scalar_op op, float x, float s, float t, float dy)
{
    switch (op) {
    case NN_SCALAR_ADD: return dy;
    case NN_SCALAR_POW: return s == 0.0f ? 0.0f : dy * (s * powf(x, s - 1.0f));
    case NN_SCALAR_CLAMP: return x >= s && x <= t ? dy : 0.0f;
    default: return 0.0f;
    }
}

static void cpu_scalar(void *dev, nn_scalar_op op, int64_t n, float s, float t,
                       const float *restrict x, float *restrict y)
{
    switch (op) {
    case NN_SCALAR_ADD:
        for (int64_t i = 0; i < n; i++) y[i] = scalar_f(NN_SCALAR_ADD, x[i], s, t);
        break;
    case NN_SCALAR_POW:
        for (int64_t i = 0; i < n; i++) y[i] = scalar_f(NN_SCALAR_POW, x[i], s, t);
        break;
    case NN_SCALAR_CLAMP:
        for (int64_t i = 0; i < n; i++) y[i] = scalar_f(NN_SCALAR_CLAMP, x[i], s, t);
        break;
    default: break;
    }
}

static void cpu_scalar_backward(void *dev, nn_scalar_op op, int64_t n, float s, float t,
                                const float *restrict x, const float *restrict y,
                                const float *restrict dy, float *restrict dx, int acc)
{
    if (acc)
        for (int64_t i = 0; i < n; i++) dx[i] += scalar_df(op, x[i], s, t, dy[i]);
    else
        for (int64_t i = 0; i < n; i++) dx[i] = scalar_df(op, x[i], s, t, dy[i]);
}

static void cpu_where(void *dev, int64_t n, int64_t cn, const float *restrict c, int64_t an,
                      const float *restrict a, int64_t bn, const float *restrict b,
                      float *restrict y)
{
    if (cn == n && an == n && bn == n) {
        for (int64_t i = 0; i < n; i++) y[i] = c[i] != 0.0f ? a[i] : b[i];
        return;
    }
    for (int64_t i = 0, ic = 0, ia = 0, ib = 0; i < n; i++) { /* each operand repeated */
        y[i] = c[ic] != 0.0f ? a[ia] : b[ib];
        if (++ic == cn) ic = 0;
        if (++ia == an) ia = 0;
        if (++ib == bn) ib = 0;
    }
}

/* x is (outer, len, inner): row o, position j, column i at (o * len + j) * inner + i. */
static void cpu_reduce_dim(void *dev, nn_reduce_op op, int64_t outer, int64_t len, int64_t inner,
                           float alpha, const float *restrict x, float *restrict y,
                           float *restrict idx)
{
    for (int64_t o = 0; o < outer; o++) {
        const float *xo = x + o * len * inner;
        float *yo = y + o * inner;
        if (op == NN_REDUCE_SUM) {
            if (inner == 1) { /* one sum per row: in double, as cpu_sum */
                double s = 0.0;
                for (int64_t j = 0; j < len; j++) s += xo[j];
                yo[0] = (float)(alpha * s);
                continue;
            }
            cpu_fill(dev, inner, 0.0f, yo);
            for (int64_t j = 0; j < len; j++)
                for (int64_t i = 0; i < inner; i++) yo[i] += xo[j * inner + i];
            for (int64_t i = 0; i < inner; i++) yo[i] *= alpha;
        } else if (op == NN_REDUCE_MAX) {
            for (int64_t i = 0; i < inner; i++) {
                float best = len ? xo[i] : NAN;
                int64_t at = 0;
                for (int64_t j = 1; j < len && best == best; j++) {
                    float v = xo[j * inner + i];
                    if (v > best || v != v) { /* the first maximum, or the first NaN */
                        best = v;
                        at = j;
                    }
                }
                yo[i] = best;
                if (idx) idx[o * inner + i] = (float)at;
            }
        }
    }
}

static void cpu_reduce_dim_backward(void *dev, nn_reduce_op op, int64_t outer, int64_t len,
                                    int64_t inner, float alpha, const float *restrict idx,
                                    const float *restrict dy, float *restrict dx, int acc)
{
    for (int64_t o = 0; o < outer; o++) {
        const float *g = dy + o * inner;
        float *d = dx + o * len * inner;
        if (op == NN_REDUCE_SUM) {
            for (int64_t j = 0; j < len; j++)
                for (int64_t i = 0; i < inner; i++)
                    d[j * inner + i] = (acc ? d[j * inner + i] : 0.0f) + alpha * g[i];
        } else if (op == NN_REDUCE_MAX) {
            if (!acc) cpu_fill(dev, len * inner, 0.0f, d);
            for (int64_t i = 0; i < inner; i++) {
                int64_t j = (int64_t)idx[o * inner + i];
                if (j >= 0 && j < len) d[j * inner + i] += g[i];
            }
        }
    }
}

static const nn_device_vt cpu_vt = {
    NN_VT_HEADER(nn_device_vt),
    .open = cpu_open,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .to_device = cpu_memcpy,
    .to_host = cpu_memcpy,
    .copy = cpu_memcpy,
    .sync = cpu_sync,
    .fill = cpu_fill,
    .gemm = cpu_gemm,
    .unary = cpu_unary,
    .unary_backward = cpu_unary_backward,
    .binary = cpu_binary,
    .axpby = cpu_axpby,
    .mul_acc = cpu_mul_acc,
    .repeat_rows = cpu_repeat_rows,
    .sum_rows = cpu_sum_rows,
    .sum = cpu_sum,
    .broadcast = cpu_broadcast,
    .transpose = cpu_transpose,
    .binary_backward = cpu_binary_backward,
    .scalar = cpu_scalar,
    .scalar_backward = cpu_scalar_backward,
    .where = cpu_where,
    .reduce_dim = cpu_reduce_dim,
    .reduce_dim_backward = cpu_reduce_dim_backward,
    .addc = cpu_addc,
    .flags = NN_CPU_DEVICE_FLAGS,
    .gemm_bias = cpu_gemm_bias,
    .parallel = cpu_parallel,
    .post = cpu_post,
    .wait = cpu_wait,
};

static const nn_component_def cpu_components[] = {
    {NN_KIND_DEVICE, NN_CPU_DEVICE_NAME,
     "host CPU: threaded AVX-512 or OpenBLAS sgemm, vectorized loops", &cpu_vt, NULL, 0},
};

NN_PLUGIN_DEFINE(NN_CPU_DEVICE_NAME, "2.0", cpu_components)
