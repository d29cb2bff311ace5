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

static inline float bin(nn_binary_op op, float a, float b)
{
    return op == NN_BINARY_ADD ? a + b : op == NN_BINARY_SUB ? a - b : a * b;
}

static void cpu_binary(void *dev, nn_binary_op op, int64_t n, const float *restrict a, int64_t bn,
                       const float *restrict b, float *restrict y)
{
    for (int64_t r = 0; r < n; r += bn) /* bn == n: one row */
        for (int64_t j = 0; j < bn; j++) y[r + j] = bin(op, a[r + j], b[j]);
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
};

static const nn_component_def cpu_components[] = {
    {NN_KIND_DEVICE, NN_CPU_DEVICE_NAME, "host CPU: OpenBLAS sgemm and vectorized loops", &cpu_vt,
     NULL, 0},
};

NN_PLUGIN_DEFINE(NN_CPU_DEVICE_NAME, "1.0", cpu_components)
