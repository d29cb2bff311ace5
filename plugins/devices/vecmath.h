/* vecmath.h - element-wise math on 8 floats at a time, for the cpu kernels
 * of the device and of the ops (static inline, compiled into each plugin).
 *
 * Written with GCC's generic vector extensions, not intrinsics: the same
 * source compiles to AVX-512, AVX2 or SSE2 code. The loops that use it are
 * compiled once per instruction set (NN_VEC_FN, clones.h), each call taking
 * the build the CPU runs, so the build needs no -march and runs on any
 * x86-64.
 *
 * Accuracy, measured against exp and log in double over every float of the
 * range tested in tests/vecmath.c: vf_exp within 2 ulp, vf_log within 2 ulp,
 * with libm's special values (inf, NaN, 0, denormal results and inputs).
 *
 *     NN_VEC_FN(void, exp_loop, (int64_t n, const float *x, float *y), (n, x, y))
 *     {
 *         VF_EACH(n, x, y, vf_exp(v));
 *     } */
#ifndef NN_PLUGINS_VECMATH_H
#define NN_PLUGINS_VECMATH_H

#include <stdint.h>
#include <string.h>

/* The helpers take and return vectors wider than the baseline's registers;
 * they are always inlined, so the ABI GCC warns about is never used. */
#pragma GCC diagnostic ignored "-Wpsabi"

/* Eight lanes: AVX2's width, which AVX-512 runs as well (on AMD's Zen 4 at
 * the same rate as sixteen); sixteen would make AVX2 code compare and
 * select lane by lane, as GCC does for vectors wider than the target's. */
#define VF_N 8
typedef float vf __attribute__((vector_size(VF_N * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VF_N * sizeof(int32_t))));
typedef uint32_t vu __attribute__((vector_size(VF_N * sizeof(uint32_t)))); /* bit work: wraps */
typedef double vd __attribute__((vector_size(VF_N * sizeof(double))));

#include "clones.h" /* NN_VEC_FN */

#define VF_INLINE static inline __attribute__((always_inline))

VF_INLINE vf vf_set(float v) { return (vf){0} + v; }
VF_INLINE vi vi_set(int32_t v) { return (vi){0} + v; }

VF_INLINE vf vf_load(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

VF_INLINE void vf_store(float *p, vf v) { memcpy(p, &v, sizeof v); }

/* The first n (< VF_N) elements of p, the other lanes pad. */
VF_INLINE vf vf_load_part(const float *p, int64_t n, float pad)
{
    vf v = vf_set(pad);
    for (int64_t i = 0; i < n; i++) v[i] = p[i];
    return v;
}

VF_INLINE void vf_store_part(float *p, int64_t n, vf v)
{
    for (int64_t i = 0; i < n; i++) p[i] = v[i];
}

/* m ? a : b, lane by lane; m is a comparison's result (all ones or zero). */
VF_INLINE vf vf_sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }

VF_INLINE vf vf_max(vf a, vf b) { return vf_sel(a > b, a, b); }

VF_INLINE float vf_hsum(vf v)
{
    float s = 0.0f;
    for (int i = 0; i < VF_N; i++) s += v[i];
    return s;
}

/* y[i] = EXPR for i < n, with v naming x's vector of VF_N elements; the tail
 * runs through the same EXPR, padded with ones (finite in every map). */
#define VF_EACH(n, x, y, EXPR)                                                  \
    do {                                                                        \
        int64_t i_ = 0;                                                         \
        for (; i_ + VF_N <= (n); i_ += VF_N) {                                  \
            vf v = vf_load((x) + i_);                                           \
            vf_store((y) + i_, (EXPR));                                         \
        }                                                                       \
        if (i_ < (n)) {                                                         \
            vf v = vf_load_part((x) + i_, (n) - i_, 1.0f);                      \
            vf_store_part((y) + i_, (n) - i_, (EXPR));                          \
        }                                                                       \
    } while (0)

/* exp(x). x = n ln2 + r with |r| <= ln2 / 2; e^r by its Taylor series to
 * r^7 (truncation below 0.1 ulp); 2^n applied in two halves so that results
 * below FLT_MIN round once, as denormals, and those above FLT_MAX become
 * inf. Inputs are clamped to [-104, 89], beyond which the result is 0 or
 * inf anyway; NaN passes the clamp and the arithmetic as NaN. */
VF_INLINE vf vf_exp(vf x)
{
    const vf shift = vf_set(0x1.8p23f); /* adding it rounds to an integer */
    x = vf_sel(x < -104.0f, vf_set(-104.0f), x);
    x = vf_sel(x > 89.0f, vf_set(89.0f), x);
    vf z = x * 1.44269504f + shift;
    vf n = z - shift;
    vf r = x - n * 0.693145751953125f; /* ln2's high half: n * it is exact */
    r = r - n * 1.42860677e-6f;        /* and its low half */
    vf q = vf_set(1.0f / 5040.0f);
    q = q * r + 1.0f / 720.0f;
    q = q * r + 1.0f / 120.0f;
    q = q * r + 1.0f / 24.0f;
    q = q * r + 1.0f / 6.0f;
    q = q * r + 0.5f;
    vf p = (r * r * q + r) + 1.0f;
    vi ni = (vi)((vu)z - (vu)shift); /* n as an integer, in z's low mantissa bits */
    vi n1 = ni >> 1;
    vu n2 = (vu)ni - (vu)n1;
    return p * (vf)(((vu)n1 + 127u) << 23) * (vf)((n2 + 127u) << 23);
}

/* exp(x) in double, for the kernels that keep double sums (cross_entropy):
 * x = n ln2 + r with |r| <= ln2 / 2 and e^r by its Taylor series to r^13
 * (truncation below 0.03 ulp), 2^n applied in two halves as in vf_exp.
 * Inputs are clamped to [-746, 710], beyond which the result is 0 or inf;
 * NaN stays NaN. Within 2 ulp of libm's exp (tests/vecmath.c). */
typedef int64_t vl __attribute__((vector_size(VF_N * sizeof(int64_t))));
typedef uint64_t vul __attribute__((vector_size(VF_N * sizeof(uint64_t))));

VF_INLINE vd vd_set(double v) { return (vd){0} + v; }

VF_INLINE vd vd_sel(vl m, vd a, vd b) { return (vd)((m & (vl)a) | (~m & (vl)b)); }

VF_INLINE vd vd_exp(vd x)
{
    const vd shift = vd_set(0x1.8p52); /* adding it rounds to an integer */
    x = vd_sel(x < -746.0, vd_set(-746.0), x);
    x = vd_sel(x > 710.0, vd_set(710.0), x);
    vd z = x * 0x1.71547652b82fep0 + shift;
    vd n = z - shift;
    vd r = x - n * 0x1.62e42feep-1;   /* ln2's high part: n * it is exact */
    r = r - n * 0x1.a39ef35793c76p-33; /* and the rest */
    static const double inv_fact[] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
        1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5};
    vd q = vd_set(inv_fact[0]);
    for (int i = 1; i < 12; i++) q = q * r + inv_fact[i];
    vd p = (r * r * q + r) + 1.0;
    vl ni = (vl)((vul)z - (vul)shift); /* n as an integer, in z's low mantissa bits */
    vl n1 = ni >> 1;
    vul n2 = (vul)ni - (vul)n1;
    return p * (vd)(((vul)n1 + 1023u) << 52) * (vd)((n2 + 1023u) << 52);
}

/* log(x). x = 2^e m with m in [sqrt(1/2), sqrt(2)); with f = m - 1 and
 * s = f / (2 + f), log(m) = 2 atanh(s) = f - s (f - s^2 P(s^2)), P the
 * series' next four terms (truncation below 0.01 ulp). Denormals are scaled
 * up first; 0 gives -inf, a negative input or NaN gives NaN, inf gives inf. */
VF_INLINE vf vf_log(vf x)
{
    vi tiny = x < 0x1p-126f;
    vf xs = vf_sel(tiny, x * 0x1p23f, x);
    vu bits = (vu)xs;
    vi e = (vi)(bits - 0x3f3504f3u) >> 23; /* 0x3f3504f3: sqrt(1/2) */
    vf m = (vf)(bits - ((vu)e << 23));
    e += tiny & -23;
    vf f = m - 1.0f;
    vf s = f / (f + 2.0f);
    vf z = s * s;
    vf pz = vf_set(2.0f / 9.0f);
    pz = pz * z + 2.0f / 7.0f;
    pz = pz * z + 2.0f / 5.0f;
    pz = pz * z + 2.0f / 3.0f;
    vf ef = __builtin_convertvector(e, vf);
    vf y = ef * 0.693145751953125f + (f - (s * (f - z * pz) - ef * 1.42860677e-6f));
    const float inf = __builtin_inff();
    y = vf_sel(x == inf, vf_set(inf), y);
    y = vf_sel(x == 0.0f, vf_set(-inf), y);
    y = vf_sel(x < 0.0f, vf_set(__builtin_nanf("")), y);
    return vf_sel(x != x, x, y);
}

/* rintf(x): |x| >= 2^23 is a whole number already; below, adding and
 * subtracting 2^23 rounds |x| in the current mode (half to even by
 * default), and x's sign goes back on (-0.4 gives -0, as rintf). */
VF_INLINE vf vf_rint(vf x)
{
    vf a = (vf)((vu)x & 0x7fffffffu);
    vf r = (vf)((vu)((a + 0x1p23f) - 0x1p23f) | ((vu)x & 0x80000000u));
    return vf_sel(a < 0x1p23f, r, x);
}

/* 1 / (1 + exp(-x)): 0 below about -88, exactly 1 above about 17. */
VF_INLINE vf vf_sigmoid(vf x) { return 1.0f / (1.0f + vf_exp(-x)); }

#endif
