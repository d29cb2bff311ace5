/* hostdev_kernels.c - kernels for the test device "hostdev" (cpu.c built
 * again under that name) for the ops of the bce and sgd plugins. A kernel
 * plugin: it defines no op, only kernels named as the ops it serves.
 *
 * They are a second implementation, written apart from the cpu kernels:
 * every sum and product is done in double and rounded once at the end, so
 * that `nnrun check` compares two different computations of the same math. */
#include <nn/plugin.h>

#include <math.h>

/* ---- binary_cross_entropy(input, target) -> mean loss ---- */

static double clamped_log(double v) { return v > 0.0 ? fmax(log(v), -100.0) : -100.0; }

static nn_status bce_forward(const nn_kernel_call *c)
{
    const nn_kernel_tensor *p = &c->in[0], *t = &c->in[1];
    double total = 0.0;
    for (int64_t i = 0; i < p->numel; i++) {
        double pi = p->data[i], ti = t->data[i];
        total += ti * clamped_log(pi) + (1.0 - ti) * clamped_log(1.0 - pi);
    }
    c->out[0].data[0] = p->numel ? (float)(-total / (double)p->numel) : 0.0f;
    return NN_OK;
}

static nn_status bce_backward(const nn_kernel_call *c)
{
    const nn_kernel_tensor *p = &c->in[0], *t = &c->in[1];
    float *dp = c->gin[0].data;
    if (!dp) return NN_OK;
    double scale = (double)c->gout[0].data[0] / (double)(p->numel ? p->numel : 1);
    for (int64_t i = 0; i < p->numel; i++) {
        double pi = p->data[i], ti = t->data[i];
        double denom = pi * (1.0 - pi);
        if (denom < 1e-12) denom = 1e-12;
        double g = scale * (pi - ti) / denom;
        dp[i] = (float)(c->acc[0] ? dp[i] + g : g);
    }
    return NN_OK;
}

static const nn_kernel_def bce_kernel = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "hostdev",
    .forward = bce_forward,
    .backward = bce_backward,
};

/* ---- sgd_update(param, grad, momentum_buffer?), in place ---- */

/* The attributes in the op's order: lr, momentum, dampening, weight_decay,
 * nesterov, first. */
static nn_status sgd_forward(const nn_kernel_call *c)
{
    float *param = c->in[0].data, *buf = c->in[2].data;
    const float *grad = c->in[1].data;
    const double lr = c->attr[0], momentum = c->attr[1], dampening = c->attr[2];
    const double decay = c->attr[3];
    const int nesterov = c->attr[4] != 0.0, first = c->attr[5] != 0.0;
    for (int64_t i = 0; i < c->in[0].numel; i++) {
        double step = (double)grad[i] + decay * (double)param[i];
        if (buf) {
            double b = first ? step : momentum * (double)buf[i] + (1.0 - dampening) * step;
            buf[i] = (float)b;
            step = nesterov ? step + momentum * b : b;
        }
        param[i] = (float)((double)param[i] - lr * step);
    }
    return NN_OK;
}

static const nn_kernel_def sgd_kernel = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "hostdev",
    .forward = sgd_forward,
};

static const nn_component_def components[] = {
    {NN_KIND_KERNEL, "binary_cross_entropy", "hostdev: double accumulation", &bce_kernel, NULL, 0},
    {NN_KIND_KERNEL, "sgd_update", "hostdev: double arithmetic", &sgd_kernel, NULL, 0},
};

NN_PLUGIN_DEFINE("hostdev_kernels", "1.0", components)
