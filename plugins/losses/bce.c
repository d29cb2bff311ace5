/* bce.c - PyTorch's BCELoss (mean reduction): predictions are probabilities,
 * targets 0 or 1; each log is clamped at -100. Accuracy is the share of
 * outputs that round to their target, as the tutorial's (y.round() == yb).
 *
 * The math is the op "binary_cross_entropy", defined here with its cpu
 * kernels; another device brings its own kernel for the op. */
#include <nn/plugin.h>

#include <math.h>
#include <stdlib.h>

#include "../devices/vecmath.h"

/* ---- the op: input p, target t (same shape) -> mean loss, a scalar ---- */

enum { IN_P, IN_T };

static const nn_op_arg bce_in[] = {
    [IN_P] = {"input", 0, 0.02f, 0.98f},
    [IN_T] = {"target", NN_ARG_NO_GRAD, 0.0f, 1.0f},
};
static const nn_op_arg bce_out[] = {{"loss", 0, 0, 0}};

static nn_status bce_shape(const nn_shape *const *in, const double *attr, nn_shape *out,
                           char **err)
{
    (void)attr;
    const nn_shape *p = in[IN_P], *t = in[IN_T];
    int same = p->ndim == t->ndim;
    for (int i = 0; same && i < p->ndim; i++) same = p->dim[i] == t->dim[i];
    if (!same) {
        char s1[64], s2[64];
        nn_shape_format(t, 0, s1, sizeof s1);
        nn_shape_format(p, 0, s2, sizeof s2);
        return nn_fail(err, NN_SHAPE, "target size %s differs from input size %s", s1, s2);
    }
    out[0] = (nn_shape){0, {0}};
    return NN_OK;
}

static const nn_op_def bce_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "BinaryCrossEntropyBackward0",
    .nin = 2,
    .nout = 1,
    .in = bce_in,
    .out = bce_out,
    .shape = bce_shape,
};

/* The n terms t log p + (1 - t) log(1 - p), each log clamped at -100
 * (max(log, -100) for p in [0, 1]), summed in double. */
VF_INLINE vf bce_terms(vf p, vf t)
{
    vf lp = vf_log(p), lq = vf_log(1.0f - p);
    lp = vf_sel(lp < -100.0f, vf_set(-100.0f), lp);
    lq = vf_sel(lq < -100.0f, vf_set(-100.0f), lq);
    return t * lp + (1.0f - t) * lq;
}

/* With t 0 or 1, one of the two terms is 0 (times a finite log): the
 * other log alone, clamped, gives the same bits for half the work. */
VF_INLINE vf bce_terms_01(vf p, vf t)
{
    vf l = vf_log(vf_sel(t != 0.0f, p, 1.0f - p));
    return vf_sel(l < -100.0f, vf_set(-100.0f), l);
}

/* The terms' sum in VF_N double partial sums; TERMS is bce_terms or
 * bce_terms_01. */
#define BCE_SUM(TERMS)                                                                  \
    do {                                                                                \
        vd s = {0};                                                                     \
        int64_t i = 0;                                                                  \
        for (; i + VF_N <= n; i += VF_N)                                                \
            s += __builtin_convertvector(TERMS(vf_load(p + i), vf_load(t + i)), vd);    \
        if (i < n) { /* padded with p = t = 1, whose term is 0 */                       \
            vf v = TERMS(vf_load_part(p + i, n - i, 1.0f), vf_load_part(t + i, n - i, 1.0f)); \
            s += __builtin_convertvector(v, vd);                                        \
        }                                                                               \
        for (int l = 0; l < VF_N; l++) total += s[l];                                   \
    } while (0)

NN_VEC_FN(double, bce_sum, (int64_t n, const float *restrict p, const float *restrict t),
          (n, p, t))
{
    double total = 0.0;
    BCE_SUM(bce_terms);
    return total;
}

/* The sum of the terms in one pass for hard labels (the usual case), with
 * bce_terms_01, and the checks alongside: *bad_p when some p is outside [0,
 * 1] or NaN, *soft when some t is neither 0 nor 1 (the sum is then
 * meaningless: the caller sums again with bce_terms). */
NN_VEC_FN(double, bce_sum_01, (int64_t n, const float *restrict p, const float *restrict t, int *bad_p, int *soft),
          (n, p, t, bad_p, soft))
{
    vd s = {0};
    vi bad = vi_set(0), other = vi_set(0);
    int64_t i = 0;
    for (; i + VF_N <= n; i += VF_N) {
        vf pv = vf_load(p + i), tv = vf_load(t + i);
        bad |= ~((pv >= 0.0f) & (pv <= 1.0f));
        other |= (tv != 0.0f) & (tv != 1.0f);
        s += __builtin_convertvector(bce_terms_01(pv, tv), vd);
    }
    if (i < n) { /* padded with p = t = 1, whose term is 0 */
        vf pv = vf_load_part(p + i, n - i, 1.0f), tv = vf_load_part(t + i, n - i, 1.0f);
        bad |= ~((pv >= 0.0f) & (pv <= 1.0f));
        other |= (tv != 0.0f) & (tv != 1.0f);
        s += __builtin_convertvector(bce_terms_01(pv, tv), vd);
    }
    double total = 0.0;
    *bad_p = *soft = 0;
    for (int l = 0; l < VF_N; l++) {
        total += s[l];
        *bad_p |= bad[l] != 0;
        *soft |= other[l] != 0;
    }
    return total;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define BCE_AVX512 1
#include <immintrin.h>

#define BCE_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,fma")))

/* bce_sum_01 on AVX-512, 16 lanes, the tail through masked loads (the
 * generic code's tail copies element by element). The log is vf_log's
 * operation for operation, in the order and with the fused multiply-adds
 * of GCC's AVX-512 build of it, and each 16 terms go to the same 8 double
 * partial sums in the same order (first 8, then 8), so the sum has the
 * same bits as bce_sum_01's (tests/vecmath.c checks it). */
BCE_TARGET static double bce_sum_01_avx512(int64_t n, const float *restrict p,
                                           const float *restrict t, int *bad_p, int *soft)
{
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    const __m512i ebias = _mm512_set1_epi32(-0x3f3504f3); /* sqrt(1/2)'s bits */
    __m512d s = _mm512_setzero_pd();
    __mmask16 bad = 0, other = 0;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 mk = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        /* lanes past n: p = t = 1, whose term is +0 */
        const __m512 pv = _mm512_mask_loadu_ps(one, mk, p + i), tv = _mm512_mask_loadu_ps(one, mk, t + i);
        bad |= (__mmask16) ~(_mm512_cmp_ps_mask(pv, zero, _CMP_GE_OQ) &
                             _mm512_cmp_ps_mask(pv, one, _CMP_LE_OQ));
        other |= _mm512_cmp_ps_mask(tv, zero, _CMP_NEQ_UQ) & _mm512_cmp_ps_mask(tv, one, _CMP_NEQ_UQ);
        const __m512 x = _mm512_mask_mov_ps(_mm512_sub_ps(one, pv),
                                            _mm512_cmp_ps_mask(tv, zero, _CMP_NEQ_UQ), pv);
        const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(0x1p-126f), _CMP_LT_OS);
        const __m512 xs = _mm512_mask_mul_ps(x, tiny, x, _mm512_set1_ps(0x1p23f));
        const __m512i b = _mm512_add_epi32(_mm512_castps_si512(xs), ebias);
        __m512i e = _mm512_srai_epi32(b, 23);
        const __m512 m = _mm512_castsi512_ps(_mm512_sub_epi32(
            _mm512_castps_si512(xs), _mm512_and_si512(b, _mm512_set1_epi32((int)0xff800000u))));
        e = _mm512_mask_add_epi32(e, tiny, e, _mm512_set1_epi32(-23));
        const __m512 f = _mm512_add_ps(m, _mm512_set1_ps(-1.0f));
        const __m512 sq = _mm512_div_ps(f, _mm512_add_ps(f, _mm512_set1_ps(2.0f)));
        const __m512 z = _mm512_mul_ps(sq, sq);
        __m512 pz = _mm512_fmadd_ps(z, _mm512_set1_ps(2.0f / 9.0f), _mm512_set1_ps(2.0f / 7.0f));
        pz = _mm512_fmadd_ps(pz, z, _mm512_set1_ps(2.0f / 5.0f));
        pz = _mm512_fmadd_ps(pz, z, _mm512_set1_ps(2.0f / 3.0f));
        const __m512 u = _mm512_fnmadd_ps(z, pz, f); /* f - z pz */
        const __m512 ef = _mm512_cvtepi32_ps(e);
        const __m512 w = _mm512_fmadd_ps(sq, u, _mm512_mul_ps(ef, _mm512_set1_ps(-1.42860677e-6f)));
        __m512 y = _mm512_fmadd_ps(ef, _mm512_set1_ps(0.693145751953125f), _mm512_sub_ps(f, w));
        const float inf = __builtin_inff();
        y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(inf), _CMP_EQ_OQ),
                               _mm512_set1_ps(inf));
        y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, zero, _CMP_EQ_OQ), _mm512_set1_ps(-inf));
        y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OS),
                               _mm512_set1_ps(__builtin_nanf("")));
        y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
        y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(y, _mm512_set1_ps(-100.0f), _CMP_LT_OS),
                               _mm512_set1_ps(-100.0f));
        s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm512_castps512_ps256(y)));
        s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm512_extractf32x8_ps(y, 1)));
    }
    double l[8], total = 0.0;
    _mm512_storeu_pd(l, s);
    for (int j = 0; j < 8; j++) total += l[j];
    *bad_p = bad != 0;
    *soft = other != 0;
    return total;
}

/* bce_grad_loop on AVX-512: the same operations (no fused one), 16 lanes,
 * the tail through masks rather than element by element. */
BCE_TARGET static void bce_grad_avx512(int64_t n, float g, const float *restrict p,
                                       const float *restrict t, float *restrict dp, int acc)
{
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f),
                 eps = _mm512_set1_ps(1e-12f), gv = _mm512_set1_ps(g);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 mk = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        const __m512 pv = _mm512_mask_loadu_ps(half, mk, p + i), tv = _mm512_mask_loadu_ps(half, mk, t + i);
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(one, pv), pv);
        d = _mm512_mask_mov_ps(d, _mm512_cmp_ps_mask(d, eps, _CMP_LT_OS), eps);
        __m512 v = _mm512_div_ps(_mm512_mul_ps(gv, _mm512_sub_ps(pv, tv)), d);
        if (acc) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, dp + i), v);
        _mm512_mask_storeu_ps(dp + i, mk, v);
    }
}

#endif

/* y[0] = -mean(t log p + (1 - t) log(1 - p)), each log clamped at -100 so
 * that p = 0 or 1 gives a finite loss, as PyTorch. An input outside [0, 1],
 * NaN included, is refused as PyTorch refuses it: a diverged model must not
 * pass for a finite loss. */
static nn_status bce_cpu_forward(const nn_kernel_call *c)
{
    const float *restrict p = c->in[IN_P].data, *restrict t = c->in[IN_T].data;
    int64_t n = c->in[IN_P].numel;
    int bad_p, soft;
#ifdef BCE_AVX512
    double sum = nn_vec_avx512() ? bce_sum_01_avx512(n, p, t, &bad_p, &soft)
                            : bce_sum_01(n, p, t, &bad_p, &soft);
#else
    double sum = bce_sum_01(n, p, t, &bad_p, &soft);
#endif
    if (bad_p)
        for (int64_t i = 0; i < n; i++) /* the first one, for the message */
            if (!(p[i] >= 0.0f && p[i] <= 1.0f))
                return nn_ctx_set_error(c->ctx, NN_INVALID,
                                        "binary_cross_entropy: all elements of input should be "
                                        "between 0 and 1 (element %lld is %g)",
                                        (long long)i, (double)p[i]);
    if (soft) sum = bce_sum(n, p, t);
    c->out[0].data[0] = (float)(-sum / (double)n);
    return NN_OK;
}

/* dp (+)= dy * (p - t) / max(p (1 - p), 1e-12) / n, as PyTorch. */
VF_INLINE vf bce_grad(float g, vf p, vf t)
{
    vf d = (1.0f - p) * p;
    return g * (p - t) / vf_sel(d < 1e-12f, vf_set(1e-12f), d);
}

NN_VEC_FN(void, bce_grad_loop, (int64_t n, float g, const float *restrict p, const float *restrict t, float *restrict dp, int acc),
          (n, g, p, t, dp, acc))
{
    int64_t i = 0;
    for (; i + VF_N <= n; i += VF_N) {
        vf v = bce_grad(g, vf_load(p + i), vf_load(t + i));
        vf_store(dp + i, acc ? vf_load(dp + i) + v : v);
    }
    if (i < n) {
        int64_t r = n - i;
        vf v = bce_grad(g, vf_load_part(p + i, r, 0.5f), vf_load_part(t + i, r, 0.5f));
        vf_store_part(dp + i, r, acc ? vf_load_part(dp + i, r, 0.0f) + v : v);
    }
}

static nn_status bce_cpu_backward(const nn_kernel_call *c)
{
    const float *restrict p = c->in[IN_P].data, *restrict t = c->in[IN_T].data;
    int64_t n = c->in[IN_P].numel;
#ifdef BCE_AVX512
    if (nn_vec_avx512()) {
        bce_grad_avx512(n, c->gout[0].data[0] / (float)n, p, t, c->gin[IN_P].data, c->acc[IN_P]);
        return NN_OK;
    }
#endif
    bce_grad_loop(n, c->gout[0].data[0] / (float)n, p, t, c->gin[IN_P].data, c->acc[IN_P]);
    return NN_OK;
}

static const nn_kernel_def bce_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = bce_cpu_forward,
    .backward = bce_cpu_backward,
};

/* ---- the loss ---- */

typedef struct {
    nn_op *bce;
} bce_loss;

static nn_status bce_init(nn_loss *l, const nn_props *p, char **err)
{
    (void)p;
    bce_loss *s = nn_loss_priv(l);
    return nn_op_find(nn_loss_ctx(l), "binary_cross_entropy", &s->bce, err);
}

static nn_tensor *bce_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    bce_loss *s = nn_loss_priv(l);
    nn_tensor *in[] = {pred, target};
    return nn_op_call(s->bce, in, NULL, NULL);
}

/* How many of the n predictions round (half to even, as rintf) to their
 * target. */
NN_VEC_FN(int64_t, count_rounded_hits, (int64_t n, const float *restrict p, const float *restrict t),
          (n, p, t))
{
    vi hits = vi_set(0);
    int64_t i = 0;
    for (; i + VF_N <= n; i += VF_N) {
        hits -= vf_rint(vf_load(p + i)) == vf_load(t + i); /* true is -1 */
    }
    int64_t c = 0;
    for (int l = 0; l < VF_N; l++) c += hits[l];
    for (; i < n; i++) c += rintf(p[i]) == t[i];
    return c;
}

static nn_status bce_correct(nn_loss *l, nn_tensor *pred, nn_tensor *target, int64_t *correct,
                            int64_t *total)
{
    (void)l;
    int64_t n = nn_tensor_numel(pred);
    if (n != nn_tensor_numel(target)) return NN_SHAPE;
    float stack[512]; /* a batch of the tutorial's size needs no allocation */
    float *h = n <= 256 ? stack : malloc((size_t)n * 2 * sizeof(float));
    if (!h) return NN_NO_MEMORY;
    nn_status st = nn_tensor_to_host(pred, h, n);
    if (!st) st = nn_tensor_to_host(target, h + n, n);
    int64_t c = st ? 0 : count_rounded_hits(n, h, h + n); /* half to even, as torch */
    if (h != stack) free(h);
    *correct = c;
    *total = n;
    return st;
}

static const nn_loss_vt bce_vt = {
    NN_VT_HEADER(nn_loss_vt),
    .type_name = "BCELoss",
    .init = bce_init,
    .forward = bce_forward,
    .correct = bce_correct,
    .priv_size = sizeof(bce_loss),
};

static const nn_component_def bce_components[] = {
    {NN_KIND_LOSS, "bce", "binary cross-entropy on probabilities (PyTorch BCELoss)", &bce_vt, NULL,
     0},
    {NN_KIND_OP, "binary_cross_entropy", "mean binary cross-entropy of probabilities", &bce_op,
     NULL, 0},
    {NN_KIND_KERNEL, "binary_cross_entropy", "cpu loops", &bce_cpu, NULL, 0},
};

NN_PLUGIN_DEFINE("bce", "2.0", bce_components)
