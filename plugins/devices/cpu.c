/* cpu.c - the reference device: OpenBLAS for matrix products, plain loops
 * that the compiler vectorizes for the rest. Memory is ordinary host memory,
 * so "device" copies are memcpy.
 *
 * NN_CPU_DEVICE_NAME names the device and the plugin ("cpu"); the tests build
 * this file again as a second device under another name. */
#include <nn/plugin.h>

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef NN_CPU_DEVICE_NAME
#define NN_CPU_DEVICE_NAME "cpu"
#endif

static nn_status cpu_open(const nn_props *p, void **dev, char **err)
{
    (void)p;
    (void)err;
    *dev = NULL; /* no state: every kernel runs on the calling thread */
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

static void cpu_fill(void *dev, int64_t n, float v, float *restrict y)
{
    for (int64_t i = 0; i < n; i++) y[i] = v;
}

static void cpu_gemm(void *dev, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, const float *b, float beta, float *c)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)(ta ? m : k), b,
                (blasint)(tb ? k : n), beta, c, (blasint)n);
}

static void cpu_unary(void *dev, nn_unary_op op, int64_t n, const float *restrict x,
                      float *restrict y)
{
    switch (op) {
    case NN_UNARY_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case NN_UNARY_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case NN_UNARY_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    case NN_UNARY_EXP:
        for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
        break;
    case NN_UNARY_LOG:
        for (int64_t i = 0; i < n; i++) y[i] = logf(x[i]);
        break;
    case NN_UNARY_SQRT:
        for (int64_t i = 0; i < n; i++) y[i] = sqrtf(x[i]);
        break;
    case NN_UNARY_ABS:
        for (int64_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
        break;
    default: break;
    }
}

/* Local derivative of each map, from its input x and output y. */
static inline float dmap(nn_unary_op op, float x, float y)
{
    switch (op) {
    case NN_UNARY_SIGMOID: return y * (1.0f - y);
    case NN_UNARY_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case NN_UNARY_TANH: return 1.0f - y * y;
    case NN_UNARY_EXP: return y;
    case NN_UNARY_LOG: return 1.0f / x;
    case NN_UNARY_SQRT: return 0.5f / y;
    case NN_UNARY_ABS: return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f; /* abs'(0) = 0 */
    default: return 0.0f;
    }
}

static void cpu_unary_backward(void *dev, nn_unary_op op, int64_t n, const float *restrict x,
                               const float *restrict y, const float *restrict dy,
                               float *restrict dx, int acc)
{
    if (acc)
        for (int64_t i = 0; i < n; i++) dx[i] += dmap(op, x[i], y[i]) * dy[i];
    else
        for (int64_t i = 0; i < n; i++) dx[i] = dmap(op, x[i], y[i]) * dy[i];
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

static void cpu_repeat_rows(void *dev, int64_t rows, int64_t cols, const float *restrict b,
                            float *restrict y)
{
    for (int64_t r = 0; r < rows; r++) memcpy(y + r * cols, b, (size_t)cols * sizeof(float));
}

static void cpu_sum_rows(void *dev, int64_t rows, int64_t cols, const float *restrict x,
                         float *restrict y, int acc)
{
    if (!acc) cpu_fill(dev, cols, 0.0f, y);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) y[j] += x[r * cols + j];
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
};

static const nn_component_def cpu_components[] = {
    {NN_KIND_DEVICE, NN_CPU_DEVICE_NAME, "host CPU: OpenBLAS sgemm and vectorized loops", &cpu_vt,
     NULL, 0},
};

NN_PLUGIN_DEFINE(NN_CPU_DEVICE_NAME, "2.0", cpu_components)
