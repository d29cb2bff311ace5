/* util.c - status names, error messages, logging, strings, the RNG. */
#include "nn-impl.h"

static const char *const status_names[] = {
#define XX(name, msg) "NN_" #name,
    NN_STATUS_MAP(XX)
#undef XX
};
static const char *const status_msgs[] = {
#define XX(name, msg) msg,
    NN_STATUS_MAP(XX)
#undef XX
};

int nn_version(void) { return NN_VERSION_NUMBER; }
const char *nn_version_string(void) { return NN_VERSION_STRING; }

const char *nn_status_name(nn_status s)
{
    return (unsigned)s < NN_STATUS_COUNT_ ? status_names[s] : "NN_UNKNOWN";
}

const char *nn_strerror(nn_status s)
{
    return (unsigned)s < NN_STATUS_COUNT_ ? status_msgs[s] : "unknown status";
}

char *nn_vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *nn_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = nn_vformat(fmt, ap);
    va_end(ap);
    return s;
}

char *nn_strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

nn_status nn_fail(char **err, nn_status code, const char *fmt, ...)
{
    if (err) {
        free(*err);
        va_list ap;
        va_start(ap, fmt);
        *err = nn_vformat(fmt, ap);
        va_end(ap);
    }
    return code;
}

nn_status nn_fail_context(char **err, nn_status code, const char *fmt, ...)
{
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    char *prefix = nn_vformat(fmt, ap);
    va_end(ap);
    char *why = *err;
    *err = nn_format("%s: %s", prefix ? prefix : "", why ? why : nn_strerror(code));
    free(prefix);
    free(why);
    return code;
}

void nn_free(void *p) { free(p); }

/* A buffer that ran out of memory stays failed (cap SIZE_MAX, no text):
 * nn_buf_take then returns NULL, never a text with a part missing. */
static void buf_fail(nn_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = 0;
    b->cap = SIZE_MAX;
}

void nn_buf_addf(nn_buf *b, const char *fmt, ...)
{
    if (b->cap == SIZE_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    char *s = nn_vformat(fmt, ap);
    va_end(ap);
    if (!s) {
        buf_fail(b);
        return;
    }
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            free(s);
            buf_fail(b);
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
    free(s);
}

char *nn_buf_take(nn_buf *b)
{
    char *s = b->cap == SIZE_MAX ? NULL : b->s ? b->s : nn_strdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

/* ---- logging ---- */

static nn_log_fn log_fn;
static void *log_user;

void nn_log_set(nn_log_fn fn, void *user)
{
    log_fn = fn;
    log_user = user;
}

void nn_log_msg(nn_log_level level, const char *fmt, ...)
{
    if (!log_fn) return;
    va_list ap;
    va_start(ap, fmt);
    char *s = nn_vformat(fmt, ap);
    va_end(ap);
    if (s) log_fn(level, s, log_user);
    free(s);
}

bool nn_name_printable(const char *s)
{
    if (!s || !*s) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return false;
    return true;
}

/* ---- PCG32 (pcg-random.org, "pcg32_random_r") ---- */

#define PCG_MULT 6364136223846793005ULL

void nn_rng_seed(nn_rng *r, uint64_t seed, uint64_t stream)
{
    r->state = 0;
    r->inc = (stream << 1) | 1u;
    nn_rng_u32(r);
    r->state += seed;
    nn_rng_u32(r);
}

/* The generator's step, in line for the loops below (nn_rng_u32 is an
 * exported symbol, which calls from within the library do not inline). */
static inline uint32_t rng_next(nn_rng *r)
{
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint32_t nn_rng_u32(nn_rng *r) { return rng_next(r); }

float nn_rng_uniform(nn_rng *r) { return (float)(rng_next(r) >> 8) * (1.0f / 16777216.0f); }

/* x % d without a division, given m = 2^64 / d rounded up: exact for every
 * 32-bit x and d (Lemire, Kaser and Kurz, "Faster remainder by direct
 * computation", 2019). The division it replaces was the shuffle's slowest
 * step, about 6 cycles a draw. */
static inline uint32_t fastmod(uint32_t x, uint64_t m, uint32_t d)
{
    return (uint32_t)(((unsigned __int128)(m * x) * d) >> 64);
}

/* A draw below n; m: n's entry of nn_shuffle_magic's table, or 0 to divide
 * (the same draw either way). */
static inline uint32_t rng_below(nn_rng *r, uint32_t n, uint64_t m)
{
    /* pcg32_boundedrand's rejection: draws below (2^32 - n) % n are redrawn.
     * That threshold is below n, so a draw of n or more (nearly all of them
     * for the n of a shuffle) is kept without dividing to find it. */
    for (;;) {
        uint32_t x = rng_next(r);
        if (NN_LIKELY(x >= n) || x >= (uint32_t)(-n) % n) return m ? fastmod(x, m, n) : x % n;
    }
}

uint32_t nn_rng_below(nn_rng *r, uint32_t n) { return rng_below(r, n, 0); }

void nn_shuffle_magic(uint64_t *m, int64_t n)
{
    m[0] = 0;
    for (int64_t d = 1; d <= n; d++) m[d] = UINT64_MAX / (uint64_t)d + 1;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define SHUFFLE_LANES 1
#endif
#endif

#ifdef SHUFFLE_LANES
/* The generator moved on by steps draws in O(log steps): an LCG's k steps
 * are one affine map, state a^k + inc (a^(k-1) + ... + a + 1), built here
 * by squaring (Brown, "Random number generation with arbitrary strides",
 * 1994); *mul and *add, when asked for, get the map's two terms. */
static uint64_t rng_jump(uint64_t state, uint64_t inc, uint64_t steps, uint64_t *mul, uint64_t *add)
{
    uint64_t am = 1, aa = 0, cm = PCG_MULT, ca = inc;
    for (; steps; steps >>= 1) {
        if (steps & 1) {
            am *= cm;
            aa = aa * cm + ca;
        }
        ca *= cm + 1;
        cm *= cm;
    }
    if (mul) *mul = am;
    if (add) *add = aa;
    return state * am + aa;
}

/* The shuffle's draws 8 at a time, on AVX-512 (F, DQ, VL): the generator
 * is 8 generators a step apart, each stepping 8, and x % d is x - d
 * trunc(x / d) in double (exact: x / d is at least 1 / d from the next
 * whole number, more than half its ulp, so the rounded quotient never
 * reaches it). The draws go to a buffer, the swaps follow one by one. A
 * draw below its bound (about 1 in 2^32 / n) might be redrawn; from the
 * block of 8 that has one, the scalar loop takes over. Returns the draws
 * made: n - 1, or fewer when the scalar loop must go on from r.
 * nn_rng_permutation(1200) went from 4.8 to 3.5 TSC ticks a draw, the
 * tutorial's run from 22.2 to 21.0 ms. (GCC's vector extensions, tried
 * first, made slow conversions of this: 4.8 again.) */
#include <immintrin.h>

#define LANES_TARGET __attribute__((target("avx512f,avx512dq,avx512vl")))

/* PCG32's output for 8 states */
LANES_TARGET static inline __m256i pcg_out8(__m512i old)
{
    __m512i xs = _mm512_srli_epi64(_mm512_xor_si512(_mm512_srli_epi64(old, 18), old), 27);
    return _mm256_rorv_epi32(_mm512_cvtepi64_epi32(xs),
                             _mm512_cvtepi64_epi32(_mm512_srli_epi64(old, 59)));
}

LANES_TARGET static int64_t shuffle_lanes(nn_rng *r, int64_t *idx, int64_t n)
{
    uint64_t a8, c8, st[8];
    rng_jump(0, r->inc, 8, &a8, &c8);
    st[0] = r->state;
    for (int l = 1; l < 8; l++) st[l] = st[l - 1] * PCG_MULT + r->inc;
    __m512i s = _mm512_loadu_si512(st);
    const __m512i va8 = _mm512_set1_epi64((long long)a8), vc8 = _mm512_set1_epi64((long long)c8);
    const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    uint32_t J[256];
    int64_t t = 0; /* draws made; draw t picks below d = n - t, for i = n - 1 - t */
    while (t < n - 1) {
        const int64_t len = n - 1 - t < 256 ? n - 1 - t : 256;
        int64_t k = 0;
        for (; k < len; k += 8) {
            const __m256i x = pcg_out8(s);
            const __m256i d = _mm256_sub_epi32(_mm256_set1_epi32((int)(n - t - k)), lane);
            const __mmask8 live = len - k >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (len - k)) - 1);
            if (__builtin_expect(_mm256_mask_cmplt_epu32_mask(live, x, d) != 0, 0)) break;
            const __m512d xd = _mm512_cvtepu32_pd(x), dd = _mm512_cvtepu32_pd(d);
            const __m512d q = _mm512_roundscale_pd(_mm512_div_pd(xd, dd),
                                                   _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            _mm256_storeu_si256((__m256i *)(J + k), _mm512_cvttpd_epu32(_mm512_fnmadd_pd(q, dd, xd)));
            s = _mm512_add_epi64(_mm512_mullo_epi64(s, va8), vc8);
        }
        const int64_t done = k < len ? k : len;
        for (int64_t u = 0; u < done; u++) {
            int64_t i = n - 1 - t - u, j = J[u], v = idx[i];
            idx[i] = idx[j];
            idx[j] = v;
        }
        if (k < len) { /* a low draw in the block at k: the state there is lane 0's */
            _mm512_storeu_si512(st, s);
            r->state = st[0];
            return t + k;
        }
        t += len;
    }
    r->state = rng_jump(r->state, r->inc, (uint64_t)t, NULL, NULL);
    return t;
}

/* glibc's CPU_FEATURE_ACTIVE with an unsigned shift: its (1 << bit) is
 * undefined for bit 31, AVX512VL's. */
static int cpu_active(unsigned int index)
{
    const struct cpuid_feature *f = __x86_get_cpuid_feature_leaf(index / 128);
    return (f->active_array[index % 128 / 32] >> (index % 32)) & 1u;
}

static int shuffle_lanes_ok(void)
{
    static int ok = -1; /* threads that read it first all store the same */
    int v = __atomic_load_n(&ok, __ATOMIC_RELAXED);
    if (v < 0) {
        v = cpu_active(x86_cpu_AVX512F) && cpu_active(x86_cpu_AVX512DQ) &&
            cpu_active(x86_cpu_AVX512VL);
        __atomic_store_n(&ok, v, __ATOMIC_RELAXED);
    }
    return v;
}
#endif

/* Fisher-Yates over idx as it is: the swaps of randperm(n) applied to an
 * array leave idx[i] = old idx[randperm(n)[i]]. m: nn_shuffle_magic's
 * table for n, or NULL. */
static void shuffle_in_place(nn_rng *r, int64_t *idx, int64_t n, const uint64_t *m)
{
    int64_t i = n - 1;
#ifdef SHUFFLE_LANES
    if (n >= 64 && n < INT32_MAX && shuffle_lanes_ok()) i -= shuffle_lanes(r, idx, n);
#endif
    for (; i > 0; i--) {
        int64_t j = (int64_t)rng_below(r, (uint32_t)(i + 1), m ? m[i + 1] : 0);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void nn_order_shuffle_magic(nn_rng *r, int64_t *order, int64_t n, const uint64_t *m)
{
    shuffle_in_place(r, order, n, m);
}

void nn_rng_permutation(nn_rng *r, int64_t *idx, int64_t n)
{
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    shuffle_in_place(r, idx, n, NULL);
}

void nn_order_shuffle(nn_rng *r, int64_t *order, int64_t n)
{
    /* order[randperm(n)] without building randperm(n): the same swaps,
     * made on order itself. */
    shuffle_in_place(r, order, n, NULL);
}

/* ---- shapes ---- */

int64_t nn_shape_numel(const nn_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dim[i];
    return n;
}

void nn_shape_format(const nn_shape *s, int batch, char *buf, size_t len)
{
    nn_buf b = {0};
    nn_buf_addf(&b, "[");
    if (batch) nn_buf_addf(&b, "-1%s", s->ndim ? ", " : "");
    for (int i = 0; i < s->ndim; i++)
        nn_buf_addf(&b, "%lld%s", (long long)s->dim[i], i + 1 < s->ndim ? ", " : "");
    nn_buf_addf(&b, "]");
    char *str = nn_buf_take(&b);
    snprintf(buf, len, "%s", str);
    free(str);
}
