/* small_gemm.h - matrix products too small for OpenBLAS to pay off, on
 * AVX-512 (static, compiled into the cpu device).
 *
 * On shapes such as the tutorial's (100x2 @ 2x5, 100x5 @ 5x1) OpenBLAS
 * spends most of its 0.15 to 1 us per call packing and dispatching; here
 * one pass over C does it: a block of up to 8 rows of C times 16 columns
 * stays in registers while k runs, each op(A) element broadcast against a
 * row of op(B), the columns past n masked off. op(B) is read in place when
 * it is stored untransposed, else packed first (it is small). Two shape
 * classes with rows of C narrower than a vector have their own kernels
 * (small_gemm_k12, small_gemm_tn_tiny), which store whole vectors.
 *
 * small_gemm_fits says which shapes take this path; the caller checks it,
 * and that the CPU has AVX-512 (nn_vec_avx512, clones.h), before calling
 * small_gemm. tests/vecmath.c compares it with cblas_sgemm. */
#ifndef NN_PLUGINS_SMALL_GEMM_H
#define NN_PLUGINS_SMALL_GEMM_H

#include <stdint.h>
#include <string.h>

/* Largest m n k and largest packed op(B), in floats (on the stack). */
#ifndef SMALL_GEMM_MNK
#define SMALL_GEMM_MNK (48 * 48 * 48)
#endif
#define SMALL_GEMM_PACK 4096

static inline int small_gemm_fits(int tb, int64_t m, int64_t n, int64_t k)
{
    return m > 0 && n > 0 && k > 0 && m * n * k <= SMALL_GEMM_MNK &&
           (!tb || (n == 1 || k == 1) || n * k <= SMALL_GEMM_PACK);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SMALL_GEMM_AVX512 1
#include <immintrin.h>

#define SG_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,fma")))
#define SG_INLINE SG_TARGET static inline __attribute__((always_inline))

/* op(A)(i, p) = a[i * sai + p * sap]; op(B)(p, j) = b[p * ldb + j]. */
typedef struct {
    const float *a, *b;
    float *c;
    int64_t sai, sap, ldb, n, k;
    float alpha, beta;
    const float *bias; /* added to every row of C instead of beta C, or NULL */
} small_gemm_args;

/* Rows i0 .. i0 + R - 1 of C, R <= 8 a constant once inlined. Two chains
 * of partial sums (even and odd p) halve the wait on each fma's result
 * when R is small and k long (the weight gradients: 5 x 2, k = 100). */
SG_INLINE void small_gemm_rows(const small_gemm_args *g, int64_t i0, const int R)
{
    const float *a = g->a + i0 * g->sai;
    const int64_t sai = g->sai, sap = g->sap, ldb = g->ldb, n = g->n, k = g->k;
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 mk = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
        __m512 s0[8], s1[8], cb[8];
        const __m512 alpha = _mm512_set1_ps(g->alpha), beta = _mm512_set1_ps(g->beta);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) { /* C first: its loads must not wait on this block's stores */
            s0[r] = s1[r] = _mm512_setzero_ps();
            cb[r] = g->bias ? _mm512_maskz_loadu_ps(mk, g->bias + j)
                    : g->beta == 0.0f /* beta 0: C is not read, as BLAS (NaN there is ignored) */
                        ? _mm512_setzero_ps()
                        : _mm512_mul_ps(beta, _mm512_maskz_loadu_ps(mk, g->c + (i0 + r) * n + j));
        }
        const float *b = g->b + j;
        int64_t p = 0;
        for (; p + 2 <= k; p += 2) {
            __m512 b0 = _mm512_maskz_loadu_ps(mk, b + p * ldb);
            __m512 b1 = _mm512_maskz_loadu_ps(mk, b + (p + 1) * ldb);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                s0[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * sai + p * sap]), b0, s0[r]);
                s1[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * sai + (p + 1) * sap]), b1, s1[r]);
            }
        }
        if (p < k) {
            __m512 b0 = _mm512_maskz_loadu_ps(mk, b + p * ldb);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                s0[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * sai + p * sap]), b0, s0[r]);
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            _mm512_mask_storeu_ps(g->c + (i0 + r) * n + j, mk,
                                  _mm512_fmadd_ps(alpha, _mm512_add_ps(s0[r], s1[r]), cb[r]));
    }
}

/* One column of C: c (m) = alpha op(a) b + beta c, b[p sb] and c[i sc], 16
 * rows of c at a time. Stored transposed, op(a)'s column p is a[p m ...],
 * contiguous: four chains of partial sums over p. Stored as is, it is a
 * stride-k column: gathered. */
SG_TARGET static void small_gemv(int ta, int64_t m, int64_t k, float alpha, const float *a,
                                 const float *b, int64_t sb, float beta, const float *bias,
                                 float *c, int64_t sc)
{
    const __m512i rows = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32((int)k));
    for (int64_t i = 0; i < m; i += 16) {
        const __mmask16 mk = m - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (m - i)) - 1);
        __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                       _mm512_setzero_ps()};
        if (ta) {
            int64_t p = 0;
            for (; p + 4 <= k; p += 4)
#pragma GCC unroll 4
                for (int q = 0; q < 4; q++)
                    s[q] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + (p + q) * m + i),
                                           _mm512_set1_ps(b[(p + q) * sb]), s[q]);
            for (; p < k; p++)
                s[0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + p * m + i),
                                       _mm512_set1_ps(b[p * sb]), s[0]);
        } else {
            const float *ai = a + i * k;
            int64_t p = 0;
            for (; p + 4 <= k; p += 4)
#pragma GCC unroll 4
                for (int q = 0; q < 4; q++)
                    s[q] = _mm512_fmadd_ps(
                        _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, rows, ai + p + q, 4),
                        _mm512_set1_ps(b[(p + q) * sb]), s[q]);
            for (; p < k; p++)
                s[0] = _mm512_fmadd_ps(
                    _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, rows, ai + p, 4),
                    _mm512_set1_ps(b[p * sb]), s[0]);
        }
        __m512 v = _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3])),
                                 _mm512_set1_ps(alpha));
        if (bias) v = _mm512_add_ps(v, _mm512_set1_ps(*bias));
        if (sc != 1) { /* a column of a wider C */
            float t[16];
            _mm512_storeu_ps(t, v);
            for (int64_t l = 0; l < 16 && i + l < m; l++) {
                float *ci = c + (i + l) * sc;
                /* beta 0 (or a bias): c not read, as BLAS */
                *ci = beta != 0.0f && !bias ? t[l] + beta * *ci : t[l];
            }
            continue;
        }
        if (beta != 0.0f && !bias)
            v = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mk, c + i), v);
        _mm512_mask_storeu_ps(c + i, mk, v);
    }
}

/* ---- shape classes where rows of C are narrower than a vector ----
 *
 * Masked stores of a few floats per row of C are slow on some CPUs (AMD's
 * Zen 4: the row kernel above spends most of its time storing). The two
 * kernels below store whole vectors, or one masked vector per call. */

/* The first f (0 to 16 or more) lanes of a vector. */
SG_INLINE __mmask16 sg_first(int64_t f)
{
    return f >= 16 ? (__mmask16)0xffff : f <= 0 ? (__mmask16)0 : (__mmask16)((1u << f) - 1);
}

/* 16 rows of C (16 n floats, n whole vectors) from 16 rows of A (16 K
 * floats, K <= 2: one or two vectors, v0 and v1): lane l of output vector
 * v is C's element (r, j), its op(A) elements permuted out of v0 and v1 by
 * idx[v K + p] = r K + p, its op(B) elements bp[v K + p]. TAIL: only the
 * first rows (< 16) are there, read and written through masks (the lanes
 * past them compute on zeros and are dropped). */
SG_INLINE void small_gemm_k12_block(int64_t n, const int K, const __m512i *idx, const __m512 *bp,
                                    const __m512 *biasp, float alpha, float beta, const float *a,
                                    float *c, const int TAIL, int64_t rows)
{
    const __m512 v0 = TAIL ? _mm512_maskz_loadu_ps(sg_first(rows * K), a) : _mm512_loadu_ps(a);
    const __m512 v1 = K != 2 ? v0
                      : TAIL ? _mm512_maskz_loadu_ps(sg_first(rows * K - 16), a + 16)
                             : _mm512_loadu_ps(a + 16);
    for (int64_t v = 0; v < n; v++) {
        const __mmask16 mc = TAIL ? sg_first(rows * n - 16 * v) : (__mmask16)0xffff;
        __m512 acc = _mm512_mul_ps(_mm512_permutex2var_ps(v0, idx[v * K], v1), bp[v * K]);
        if (K == 2)
            acc = _mm512_fmadd_ps(_mm512_permutex2var_ps(v0, idx[v * K + 1], v1), bp[v * K + 1], acc);
        if (alpha != 1.0f) acc = _mm512_mul_ps(acc, _mm512_set1_ps(alpha));
        if (biasp)
            acc = _mm512_add_ps(acc, biasp[v]);
        else if (beta != 0.0f) /* beta 0: C is not read, as BLAS */
            acc = _mm512_fmadd_ps(_mm512_set1_ps(beta),
                                  TAIL ? _mm512_maskz_loadu_ps(mc, c + 16 * v)
                                       : _mm512_loadu_ps(c + 16 * v),
                                  acc);
        if (TAIL)
            _mm512_mask_storeu_ps(c + 16 * v, mc, acc);
        else
            _mm512_storeu_ps(c + 16 * v, acc);
    }
}

SG_INLINE void small_gemm_k12_rows(int64_t m, int64_t n, const int K, const __m512i *idx,
                                   const __m512 *bp, const __m512 *biasp, float alpha,
                                   float beta, const float *a, float *c)
{
    int64_t i = 0;
    for (; i + 16 <= m; i += 16)
        small_gemm_k12_block(n, K, idx, bp, biasp, alpha, beta, a + i * K, c + i * n, 0, 16);
    if (i < m) /* the last rows */
        small_gemm_k12_block(n, K, idx, bp, biasp, alpha, beta, a + i * K, c + i * n, 1, m - i);
}

/* C = alpha A op(B) + beta C for A stored as is (m x k) with k <= 2 and
 * n < 16: the first layers of narrow networks (k inputs) and their
 * dh = dy W for k = 1. C is taken as one flat array, 16 rows (n whole
 * vectors) at a time, stored without masks; each lane's op(A) elements are
 * permuted out of the block's rows of A (vpermt2ps), its op(B) elements
 * from patterns made once per call. */
SG_TARGET static void small_gemm_k12(int tb, int64_t m, int64_t n, int64_t k, float alpha,
                                     const float *a, const float *b, float beta,
                                     const float *bias, float *c)
{
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    /* all of op(B), n k <= 30 floats, in two vectors; element (p, j) at
     * p sbp + j sbj */
    const int64_t nk = n * k, sbp = tb ? 1 : n, sbj = tb ? k : 1;
    const __m512 b0 = _mm512_maskz_loadu_ps((__mmask16)((1u << (nk < 16 ? nk : 16)) - 1), b);
    const __m512 b1 = _mm512_maskz_loadu_ps((__mmask16)((1u << (nk > 16 ? nk - 16 : 0)) - 1), b + 16);
    __m512i idx[32];
    __m512 bp[32], biasp[16];
    /* the bias (n < 16 floats): lane l of output vector v is column j */
    const __m512 bias0 = bias ? _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), bias)
                              : _mm512_setzero_ps();
    for (int64_t v = 0; v < n; v++) {
        __m512i flat = _mm512_add_epi32(iota, _mm512_set1_epi32((int)(16 * v)));
        /* row r = flat / n, exact: (flat + 1/2) / n is 1/(2n) or more from
         * a whole number, far more than the float product's error */
        __m512i r = _mm512_cvttps_epi32(
            _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(flat), _mm512_set1_ps(0.5f)),
                          _mm512_set1_ps(1.0f / (float)n)));
        __m512i j = _mm512_sub_epi32(flat, _mm512_mullo_epi32(r, _mm512_set1_epi32((int)n)));
        __m512i jb = _mm512_mullo_epi32(j, _mm512_set1_epi32((int)sbj));
        biasp[v] = _mm512_permutexvar_ps(j, bias0);
        for (int64_t p = 0; p < k; p++) {
            idx[v * k + p] = _mm512_add_epi32(_mm512_mullo_epi32(r, _mm512_set1_epi32((int)k)),
                                              _mm512_set1_epi32((int)p));
            bp[v * k + p] = _mm512_permutex2var_ps(
                b0, _mm512_add_epi32(jb, _mm512_set1_epi32((int)(p * sbp))), b1);
        }
    }
    const __m512 *bpp = bias ? biasp : NULL;
    if (k == 1)
        small_gemm_k12_rows(m, n, 1, idx, bp, bpp, alpha, beta, a, c);
    else
        small_gemm_k12_rows(m, n, 2, idx, bp, bpp, alpha, beta, a, c);
}

/* 16 rows of c = A b (16 K floats of A, K whole vectors): lane r of the
 * output takes A's element r K + p of the block, for each p, from the pair
 * of vectors (2q, 2q + 1) that holds it (the mask mk[p][q]), through
 * vpermt2ps with idx[p]. TAIL: only the first rows (< 16) are there, read
 * and written through masks. */
SG_INLINE void small_gemv_rows_block(const int K, const __m512i *idx, const __mmask16 (*mk)[4],
                                     const __m512 *bb, float alpha, float beta, const float *bias,
                                     const float *a, float *c, const int TAIL, int64_t rows)
{
    __m512 v[8];
#pragma GCC unroll 8
    for (int u = 0; u < K; u++)
        v[u] = TAIL ? _mm512_maskz_loadu_ps(sg_first(rows * K - 16 * u), a + 16 * u)
                    : _mm512_loadu_ps(a + 16 * u);
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int p = 0; p < K; p++)
#pragma GCC unroll 4
        for (int q = 0; q < (K + 1) / 2; q++) {
            __m512 e = _mm512_maskz_permutex2var_ps(mk[p][q], v[2 * q], idx[p],
                                                    v[2 * q + 1 < K ? 2 * q + 1 : 2 * q]);
            if (q % 2)
                s1 = _mm512_fmadd_ps(e, bb[p], s1);
            else
                s0 = _mm512_fmadd_ps(e, bb[p], s0);
        }
    __m512 acc = _mm512_add_ps(s0, s1);
    const __mmask16 mc = TAIL ? sg_first(rows) : (__mmask16)0xffff;
    if (alpha != 1.0f) acc = _mm512_mul_ps(acc, _mm512_set1_ps(alpha));
    if (bias)
        acc = _mm512_add_ps(acc, _mm512_set1_ps(*bias));
    else if (beta != 0.0f) /* beta 0: c is not read, as BLAS */
        acc = _mm512_fmadd_ps(_mm512_set1_ps(beta),
                              TAIL ? _mm512_maskz_loadu_ps(mc, c) : _mm512_loadu_ps(c), acc);
    if (TAIL)
        _mm512_mask_storeu_ps(c, mc, acc);
    else
        _mm512_storeu_ps(c, acc);
}

SG_INLINE void small_gemv_rows_k(int64_t m, const int K, const float *b, float alpha, float beta,
                                 const float *bias, const float *a, float *c)
{
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    __m512i idx[8];
    __mmask16 mk[8][4];
    __m512 bb[8];
#pragma GCC unroll 8
    for (int p = 0; p < K; p++) {
        __m512i f = _mm512_add_epi32(_mm512_mullo_epi32(iota, _mm512_set1_epi32(K)),
                                     _mm512_set1_epi32(p));
        idx[p] = _mm512_and_si512(f, _mm512_set1_epi32(31));
        __m512i fq = _mm512_srli_epi32(f, 5);
#pragma GCC unroll 4
        for (int q = 0; q < (K + 1) / 2; q++)
            mk[p][q] = _mm512_cmpeq_epi32_mask(fq, _mm512_set1_epi32(q));
        bb[p] = _mm512_set1_ps(b[p]);
    }
    int64_t i = 0;
    for (; i + 16 <= m; i += 16)
        small_gemv_rows_block(K, idx, mk, bb, alpha, beta, bias, a + i * K, c + i, 0, 16);
    if (i < m) /* the last rows */
        small_gemv_rows_block(K, idx, mk, bb, alpha, beta, bias, a + i * K, c + i, 1, m - i);
}

/* c (m x 1) = alpha A b + beta c for A stored as is, m x k with 3 <= k <=
 * 8 (b, k x 1 or 1 x k, contiguous either way): the output layer of a
 * narrow network. The
 * column gathers of small_gemv cost more than permuting each row's k
 * elements out of the 16-row block's k vectors. */
SG_TARGET static void small_gemv_rows(int64_t m, int64_t k, const float *b, float alpha,
                                      float beta, const float *bias, const float *a, float *c)
{
    switch (k) {
    case 3: small_gemv_rows_k(m, 3, b, alpha, beta, bias, a, c); break;
    case 4: small_gemv_rows_k(m, 4, b, alpha, beta, bias, a, c); break;
    case 5: small_gemv_rows_k(m, 5, b, alpha, beta, bias, a, c); break;
    case 6: small_gemv_rows_k(m, 6, b, alpha, beta, bias, a, c); break;
    case 7: small_gemv_rows_k(m, 7, b, alpha, beta, bias, a, c); break;
    default: small_gemv_rows_k(m, 8, b, alpha, beta, bias, a, c); break;
    }
}

/* C (m x n, m n <= 16) = alpha A^T B + beta C with A (k x m) and B (k x n)
 * stored as is: the weight gradients of narrow layers, k the batch. The
 * wider of the two (w = max(m, n) floats a row) is loaded G = 16 / w rows
 * to a vector, as it is; from the same G rows of the narrower (O floats a
 * row), one permute per column c < O puts element (g, c) in the lanes of
 * row g. So G rows cost two loads and O permutes, not two permutes a row
 * (when m n > 8 there is one row to a vector of all m n products). Four
 * chains of sums per column over p; then the G rows of each column's sums
 * are added, and the O columns' w sums interleaved into C's m n. AW: A is
 * the wider (lane l is C's row l, column c its column), else B (row c,
 * column l). */
#define SG_DIV(x, d)                                                                    \
    _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(x), _mm512_set1_ps(0.5f)), \
                                      _mm512_set1_ps(1.0f / (float)(d))))
SG_INLINE void small_gemm_tn_lanes(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                                   const float *b, float beta, const float *bias, float *c,
                                   const int O, const int AW)
{
    const int64_t w = AW ? m : n, G = 16 / w;
    const float *wide = AW ? a : b, *narrow = AW ? b : a;
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    /* lane l = g w + i (exact quotients: see small_gemm_k12); the lanes
     * past G w take lane 15 of the narrower's load, a zero there (G O <
     * 16 when G w < 16) */
    const __m512i g = SG_DIV(iota, w);
    const __mmask16 used = (__mmask16)((1u << (G * w)) - 1);
    __m512i idx[4];
#pragma GCC unroll 4
    for (int q = 0; q < O; q++)
        idx[q] = _mm512_mask_add_epi32(
            _mm512_set1_epi32(15), used,
            _mm512_mullo_epi32(g, _mm512_set1_epi32(O)), _mm512_set1_epi32(q));
    __m512 s[4][4];
#pragma GCC unroll 4
    for (int q = 0; q < O; q++) s[q][0] = s[q][1] = s[q][2] = s[q][3] = _mm512_setzero_ps();
    const __mmask16 mw = used, mo = (__mmask16)((1u << (G * O)) - 1);
#define SG_TN_ROWS(p, ch, MW, MO)                                                         \
    do {                                                                                  \
        const __m512 vw_ = _mm512_maskz_loadu_ps(MW, wide + (p) * w);                      \
        const __m512 vo_ = _mm512_maskz_loadu_ps(MO, narrow + (p) * O);                    \
        _Pragma("GCC unroll 4") for (int q = 0; q < O; q++) s[q][ch] =                    \
            _mm512_fmadd_ps(vw_, _mm512_permutexvar_ps(idx[q], vo_), s[q][ch]);           \
    } while (0)
    int64_t p = 0;
    for (; p + 4 * G <= k; p += 4 * G) {
        SG_TN_ROWS(p, 0, mw, mo);
        SG_TN_ROWS(p + G, 1, mw, mo);
        SG_TN_ROWS(p + 2 * G, 2, mw, mo);
        SG_TN_ROWS(p + 3 * G, 3, mw, mo);
    }
    for (; p + G <= k; p += G) SG_TN_ROWS(p, 0, mw, mo);
    if (p < k) /* fewer than G rows left: the others' lanes load zeros */
        SG_TN_ROWS(p, 0, (__mmask16)((1u << ((k - p) * w)) - 1),
                   (__mmask16)((1u << ((k - p) * O)) - 1));
#undef SG_TN_ROWS
    /* out lane f = i n + j of C: column q = (AW ? j : i)'s lane (AW ? i : j) */
    const int64_t mn = m * n;
    const __m512i fi = SG_DIV(iota, n);
    const __m512i fj = _mm512_sub_epi32(iota, _mm512_mullo_epi32(fi, _mm512_set1_epi32((int)n)));
    const __m512i from = AW ? fi : fj, col = AW ? fj : fi;
    __m512 v = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int q = 0; q < O; q++) {
        __m512 t = _mm512_add_ps(_mm512_add_ps(s[q][0], s[q][1]), _mm512_add_ps(s[q][2], s[q][3]));
        __m512 r = t;
        for (int64_t h = 1; h < G; h++) /* row h's sums, moved down to lanes 0 .. w - 1 */
            r = _mm512_add_ps(r, _mm512_maskz_permutexvar_ps(
                                     (__mmask16)((1u << (16 - h * w)) - 1),
                                     _mm512_add_epi32(iota, _mm512_set1_epi32((int)(h * w))), t));
        v = _mm512_mask_permutexvar_ps(v, _mm512_cmpeq_epi32_mask(col, _mm512_set1_epi32(q)), from, r);
    }
    const __mmask16 mc = (__mmask16)((1u << mn) - 1);
    v = _mm512_mul_ps(v, _mm512_set1_ps(alpha));
    if (bias) /* lane f < m n is column j = f % n */
        v = _mm512_add_ps(v, _mm512_permutexvar_ps(
                                 fj, _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), bias)));
    else if (beta != 0.0f)
        v = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mc, c), v);
    _mm512_mask_storeu_ps(c, mc, v);
}
#undef SG_DIV

SG_TARGET static void small_gemm_tn_tiny(int64_t m, int64_t n, int64_t k, float alpha,
                                         const float *a, const float *b, float beta,
                                         const float *bias, float *c)
{
    const int aw = m > n, o = (int)(aw ? n : m); /* m n <= 16: o <= 4 */
    switch (o * 2 + aw) {
    case 2: small_gemm_tn_lanes(m, n, k, alpha, a, b, beta, bias, c, 1, 0); break;
    case 3: small_gemm_tn_lanes(m, n, k, alpha, a, b, beta, bias, c, 1, 1); break;
    case 4: small_gemm_tn_lanes(m, n, k, alpha, a, b, beta, bias, c, 2, 0); break;
    case 5: small_gemm_tn_lanes(m, n, k, alpha, a, b, beta, bias, c, 2, 1); break;
    case 6: small_gemm_tn_lanes(m, n, k, alpha, a, b, beta, bias, c, 3, 0); break;
    case 7: small_gemm_tn_lanes(m, n, k, alpha, a, b, beta, bias, c, 3, 1); break;
    default: small_gemm_tn_lanes(m, n, k, alpha, a, b, beta, bias, c, 4, 0); break;
    }
}

/* c (m, n) = alpha op(a) op(b) + beta c, row-major, as cblas_sgemm with
 * lda, ldb, ldc the packed ones; the shape must pass small_gemm_fits. With
 * a bias (n floats), c = alpha op(a) op(b) + the bias on every row instead
 * (beta is not used and c is not read): the same sums as the bias copied
 * into c and beta 1, in one pass. */
SG_TARGET static void small_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                                 const float *a, const float *b, float beta, const float *bias,
                                 float *c)
{
    if (ta && !tb && m * n <= 16 && (m * n <= 8 || (m > 1 && n > 1)) && k >= 16) {
        small_gemm_tn_tiny(m, n, k, alpha, a, b, beta, bias, c);
        return;
    }
    if (!ta && n < 16 && k <= 2 && m >= 16) {
        small_gemm_k12(tb, m, n, k, alpha, a, b, beta, bias, c);
        return;
    }
    if (!ta && n == 1 && k >= 3 && k <= 8 && m >= 16) {
        small_gemv_rows(m, k, b, alpha, beta, bias, a, c);
        return;
    }
    if (n == 1 || (ta && n <= 4 && k >= 32)) { /* column by column */
        for (int64_t j = 0; j < n; j++)
            small_gemv(ta, m, k, alpha, a, tb ? b + j * k : b + j, tb ? 1 : n, beta,
                       bias ? bias + j : NULL, c + j, n);
        return;
    }
    float pack[SMALL_GEMM_PACK];
    small_gemm_args g = {a, b, c, ta ? 1 : k, ta ? m : 1, n, n, k, alpha, beta, bias};
    if (tb && n > 1 && k > 1) { /* op(B)(p, j) = b[j * k + p]: pack it row by row */
        for (int64_t p = 0; p < k; p++)
            for (int64_t j = 0; j < n; j++) pack[p * n + j] = b[j * k + p];
        g.b = pack;
    }
    int64_t i = 0;
    for (; i + 8 <= m; i += 8) small_gemm_rows(&g, i, 8);
    switch (m - i) { /* the last rows, each count its own unrolled block */
    case 7: small_gemm_rows(&g, i, 7); break;
    case 6: small_gemm_rows(&g, i, 6); break;
    case 5: small_gemm_rows(&g, i, 5); break;
    case 4: small_gemm_rows(&g, i, 4); break;
    case 3: small_gemm_rows(&g, i, 3); break;
    case 2: small_gemm_rows(&g, i, 2); break;
    case 1: small_gemm_rows(&g, i, 1); break;
    default: break;
    }
}
#endif

#endif
