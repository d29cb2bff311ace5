/* tiled_gemm.h - the cpu device's AVX-512 matrix product for the sizes
 * between small_gemm.h's and those OpenBLAS is left with: c (m, n) =
 * op(a) op(b) (+ c, or + a bias row), row-major as the device's gemm slot
 * has it, op(x) x or its transpose.
 *
 * A transposed op(b) is packed 32 columns at a time into panels, k rows of
 * 32 floats; a plain one is read in place, 32 columns of its rows at a
 * time (a copy only cost time: a weight gradient's step was 2 us faster
 * without it, and the update after it 3 us, its rows no longer pushed out
 * of the cache by the copy). Each panel is multiplied by every 8 rows of
 * op(a), read in place, into 16 vector sums held in registers (8 rows x 2
 * vectors of 16; x 1 for a panel of 16 columns or fewer). The sum of one
 * element of c is one chain of fused multiply-adds over p = 0 .. k-1, from
 * zero, with c or the bias added last, as small_gemm does; so its bits do
 * not depend on how the work is cut, and tg_part may split the columns or
 * the rows among threads: every split gives the same c. tests/vecmath.c
 * checks each element against a scalar fmaf loop in that order, bit for
 * bit, and across splits.
 *
 * On this path the product's own arithmetic is all there is: no blocking
 * over k, so op(a) should stay in the caches (tg_fits bounds it).
 * Measured against OpenBLAS 0.3.21 on an AMD Zen 4 (bench/README.md). */
#ifndef NN_PLUGINS_TILED_GEMM_H
#define NN_PLUGINS_TILED_GEMM_H

#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define TILED_GEMM_AVX512 1
#include <immintrin.h>

#define TG_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,fma")))
#define TG_INLINE TG_TARGET static inline __attribute__((always_inline))

#define TG_MR 8                  /* rows of c per block */
#define TG_NR 32                 /* columns per panel */
#define TG_PACK (256 * 1024)     /* floats of packed panels at a time, per thread */
#define TG_MAX_A (1024 * 1024)   /* largest op(a), in floats: it is read once per panel group */

typedef struct {
    int ta, tb;
    int64_t m, n, k;
    const float *a, *b;
    float *c;
    int beta;          /* 1: c += op(a) op(b); 0: c is written, not read */
    const float *bias; /* with beta 0: a row (n) added to every row of c, or NULL */
} tg_job;

/* Whether a product of this shape takes this path. */
static inline int tg_fits(int64_t m, int64_t n, int64_t k)
{
    return m > 0 && n > 0 && k > 0 && m * k <= TG_MAX_A && k * TG_NR <= TG_PACK;
}

/* The panels that go into one packing: as many as TG_PACK floats hold. */
static inline int64_t tg_group(int64_t k)
{
    return TG_PACK / (k * TG_NR);
}

/* Whether threads split the rows of c (else its columns). A weight's
 * gradient (op(b) not transposed) is split by rows, as the optimizer's
 * update splits the weight, so each thread finds the rows it updates in
 * its own caches: a line one core wrote is slow for the other to read here
 * (a batch of 1, whose gradient one core computed, had the other core's
 * half of the update take twice as long). Each thread then reads all of
 * op(b), in place. A transposed op(b) (a forward's weight) is split by
 * columns, each thread transposing only its rows of the weight, the rows
 * its part of the update wrote. */
static inline int tg_by_rows(const tg_job *g, int parts)
{
    int64_t panels = (g->n + TG_NR - 1) / TG_NR, blocks = (g->m + TG_MR - 1) / TG_MR;
    return (!g->tb && blocks >= parts) || panels < parts;
}

/* How many parts to cut a product into for threads: one each, fewer when
 * there are fewer blocks of rows to split. */
static inline int tg_parts(const tg_job *g, int threads)
{
    int64_t blocks = (g->m + TG_MR - 1) / TG_MR;
    if (threads <= 1) return 1;
    return tg_by_rows(g, threads) && blocks < threads ? (int)blocks : threads;
}

/* Part p of parts: columns [*j0, *j1) and rows [*i0, *i1) of c, by whole
 * panels or whole blocks of TG_MR rows (tg_by_rows). A part may be empty. */
static inline void tg_part(const tg_job *g, int p, int parts, int64_t *i0, int64_t *i1,
                           int64_t *j0, int64_t *j1)
{
    int64_t panels = (g->n + TG_NR - 1) / TG_NR, blocks = (g->m + TG_MR - 1) / TG_MR;
    *i0 = 0, *i1 = g->m, *j0 = 0, *j1 = g->n;
    if (parts <= 1) return;
    if (!tg_by_rows(g, parts)) {
        *j0 = panels * p / parts * TG_NR;
        *j1 = panels * (p + 1) / parts * TG_NR;
        if (*j1 > g->n) *j1 = g->n;
    } else {
        *i0 = blocks * p / parts * TG_MR;
        *i1 = blocks * (p + 1) / parts * TG_MR;
        if (*i1 > g->m) *i1 = g->m;
    }
}

/* A 16 x 16 block transposed in registers: r[i] holds row i on entry and
 * column i on return. */
TG_INLINE void tg_transpose16(__m512 r[16])
{
    __m512 t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

/* Panel of a transposed op(b), columns j0 .. j0 + nr - 1 (nr <= 32), into
 * bp: k rows of 32, the missing columns 0. */
TG_TARGET static void tg_pack(const tg_job *g, int64_t j0, int64_t nr, float *bp)
{
    const int64_t k = g->k;
    /* op(b) (p, j) = b[j k + p]: rows of b become columns, 16 x 16 at a
     * time, both halves of a panel row stored together */
    const float *s = g->b + j0 * k;
    for (int64_t p = 0; p < k; p += 16) {
        const __mmask16 mk = k - p >= 16 ? 0xffff : (__mmask16)((1u << (k - p)) - 1);
        for (int h = 0; h < 2; h++) {
            __m512 r[16];
            if (nr == TG_NR && mk == 0xffff) { /* the common case, kept in registers */
#pragma GCC unroll 16
                for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(s + (i + 16 * h) * k + p);
            } else {
                for (int i = 0; i < 16; i++)
                    r[i] = i + 16 * h < nr ? _mm512_maskz_loadu_ps(mk, s + (i + 16 * h) * k + p)
                                           : _mm512_setzero_ps();
            }
            tg_transpose16(r);
            if (k - p >= 16) {
#pragma GCC unroll 16
                for (int i = 0; i < 16; i++) _mm512_storeu_ps(bp + (p + i) * TG_NR + 16 * h, r[i]);
            } else {
                for (int i = 0; p + i < k; i++) _mm512_storeu_ps(bp + (p + i) * TG_NR + 16 * h, r[i]);
            }
        }
    }
}

/* Rows i0 .. i0 + mr - 1 (mr <= 8) of c, columns j0 .. j0 + 31 under the
 * masks, from panel bp; ta a constant once inlined. Rows past mr repeat the
 * last row's arithmetic and are not stored. */
TG_INLINE void tg_block_t(const tg_job *g, int64_t i0, int mr, int64_t j0, const float *bp,
                          __mmask16 m0, __mmask16 m1, const int ta, const int two,
                          const int inplace)
{
    const int64_t k = g->k;
    /* op(a) (i, p) = a[i sai + p sap] */
    const int64_t sai = ta ? 1 : k, sap = ta ? g->m : 1;
    const float *a[TG_MR];
    for (int r = 0; r < TG_MR; r++) a[r] = g->a + (i0 + (r < mr ? r : mr - 1)) * sai;
    __m512 s0[TG_MR], s1[TG_MR];
#pragma GCC unroll 8
    for (int r = 0; r < TG_MR; r++) s0[r] = s1[r] = _mm512_setzero_ps();
    /* a packed panel's rows are 32 floats, padded with zeros; in place
     * (inplace 1 or 2), op(b)'s rows are b's, n floats apart, and a panel
     * short of 32 columns (2) is read under the masks, which cost more */
    const int64_t ldp = inplace ? g->n : TG_NR;
    for (int64_t p = 0; p < k; p++, bp += ldp) {
        const __m512 b0 = inplace == 2 ? _mm512_maskz_loadu_ps(m0, bp) : _mm512_loadu_ps(bp);
        const __m512 b1 = !two           ? b0
                          : inplace == 2 ? _mm512_maskz_loadu_ps(m1, bp + 16)
                                         : _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 8
        for (int r = 0; r < TG_MR; r++) {
            const __m512 x = _mm512_set1_ps(a[r][p * sap]);
            s0[r] = _mm512_fmadd_ps(x, b0, s0[r]);
            if (two) s1[r] = _mm512_fmadd_ps(x, b1, s1[r]);
        }
    }
    const int64_t n = g->n;
    __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps();
    if (g->bias) {
        c0 = _mm512_maskz_loadu_ps(m0, g->bias + j0);
        c1 = _mm512_maskz_loadu_ps(m1, g->bias + j0 + 16);
    }
#pragma GCC unroll 8
    for (int r = 0; r < TG_MR; r++) {
        if (r >= mr) break;
        float *c = g->c + (i0 + r) * n + j0;
        if (g->beta) {
            c0 = _mm512_maskz_loadu_ps(m0, c);
            c1 = _mm512_maskz_loadu_ps(m1, c + 16);
        }
        if (m0 == 0xffff && m1 == 0xffff) { /* a masked store costs more, even with every lane on */
            _mm512_storeu_ps(c, _mm512_add_ps(s0[r], c0));
            _mm512_storeu_ps(c + 16, _mm512_add_ps(s1[r], c1));
        } else {
            _mm512_mask_storeu_ps(c, m0, _mm512_add_ps(s0[r], c0));
            _mm512_mask_storeu_ps(c + 16, m1, _mm512_add_ps(s1[r], c1));
        }
    }
}

TG_TARGET static void tg_block(const tg_job *g, int64_t i0, int mr, int64_t j0, const float *bp,
                               __mmask16 m0, __mmask16 m1)
{
    /* a panel of 16 columns or fewer (a narrow product's only one) takes
     * half the work */
    if (!g->tb && m0 == 0xffff && m1 == 0xffff) { /* in place, a whole panel */
        if (g->ta)
            tg_block_t(g, i0, mr, j0, bp, m0, m1, 1, 1, 1);
        else
            tg_block_t(g, i0, mr, j0, bp, m0, m1, 0, 1, 1);
    } else if (!g->tb) { /* in place, the last panel */
        if (g->ta)
            m1 ? tg_block_t(g, i0, mr, j0, bp, m0, m1, 1, 1, 2)
               : tg_block_t(g, i0, mr, j0, bp, m0, 0, 1, 0, 2);
        else
            m1 ? tg_block_t(g, i0, mr, j0, bp, m0, m1, 0, 1, 2)
               : tg_block_t(g, i0, mr, j0, bp, m0, 0, 0, 0, 2);
    } else if (g->ta)
        m1 ? tg_block_t(g, i0, mr, j0, bp, m0, m1, 1, 1, 0)
           : tg_block_t(g, i0, mr, j0, bp, m0, 0, 1, 0, 0);
    else
        m1 ? tg_block_t(g, i0, mr, j0, bp, m0, m1, 0, 1, 0)
           : tg_block_t(g, i0, mr, j0, bp, m0, 0, 0, 0, 0);
}

/* Part p of parts of the product (tg_part), with bp, tg_group(k) panels
 * of k x 32 floats, to pack into. */
TG_TARGET static void tg_run(const tg_job *g, int p, int parts, float *bp)
{
    int64_t i0, i1, j0, j1;
    tg_part(g, p, parts, &i0, &i1, &j0, &j1);
    const int64_t group = tg_group(g->k) * TG_NR, panel = g->k * TG_NR;
    for (int64_t jg = j0; jg < j1; jg += group) {
        const int64_t jn = j1 - jg < group ? j1 - jg : group;
        if (g->tb)
            for (int64_t j = 0; j < jn; j += TG_NR)
                tg_pack(g, jg + j, jn - j < TG_NR ? jn - j : TG_NR, bp + j / TG_NR * panel);
        for (int64_t j = 0; j < jn; j += TG_NR) {
            const int64_t nr = jn - j < TG_NR ? jn - j : TG_NR;
            const __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
            const __mmask16 m1 = nr >= 32 ? 0xffff : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
            const float *pj = g->tb ? bp + j / TG_NR * panel : g->b + jg + j;
            for (int64_t i = i0; i < i1; i += TG_MR)
                tg_block(g, i, i1 - i < TG_MR ? (int)(i1 - i) : TG_MR, jg + j, pj, m0, m1);
        }
    }
}

#endif /* x86-64 GCC */
#endif
