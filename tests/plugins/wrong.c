/* wrong.c - deliberately wrong kernels, so that the tests see `nnrun check`
 * fail where it must:
 *   twice (hostdev)  the last element of the output is x, not 2 x
 *   badgrad (cpu)    y = x^2 whose backward forgets the factor 2
 *   halve (hostdev)  an in-place no-grad op whose hostdev kernel skips the
 *                    last element (its cpu kernel is right) */
#include <nn/plugin.h>

/* ---- twice on hostdev (the op is twice.c's) ---- */

static nn_status twice_forward(const nn_kernel_call *c)
{
    const float *x = c->in[0].data;
    float *y = c->out[0].data;
    int64_t n = c->in[0].numel;
    for (int64_t i = 0; i < n; i++) y[i] = i == n - 1 ? x[i] : 2.0f * x[i];
    return NN_OK;
}

static nn_status twice_backward(const nn_kernel_call *c)
{
    const float *dy = c->gout[0].data;
    float *dx = c->gin[0].data;
    for (int64_t i = 0; i < c->in[0].numel; i++) dx[i] = 2.0f * dy[i] + (c->acc[0] ? dx[i] : 0.0f);
    return NN_OK;
}

static const nn_kernel_def twice_hostdev = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "hostdev",
    .forward = twice_forward,
    .backward = twice_backward,
};

/* ---- badgrad: y = x^2, dx = x dy (should be 2 x dy) ---- */

static const nn_op_arg one_in[] = {{"input", 0, 0, 0}};
static const nn_op_arg one_out[] = {{"output", 0, 0, 0}};

static const nn_op_def badgrad_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "BadgradBackward0",
    .nin = 1,
    .nout = 1,
    .in = one_in,
    .out = one_out,
};

static nn_status badgrad_forward(const nn_kernel_call *c)
{
    const float *x = c->in[0].data;
    for (int64_t i = 0; i < c->in[0].numel; i++) c->out[0].data[i] = x[i] * x[i];
    return NN_OK;
}

static nn_status badgrad_backward(const nn_kernel_call *c)
{
    const float *x = c->in[0].data, *dy = c->gout[0].data;
    float *dx = c->gin[0].data;
    for (int64_t i = 0; i < c->in[0].numel; i++) dx[i] = x[i] * dy[i] + (c->acc[0] ? dx[i] : 0.0f);
    return NN_OK;
}

static const nn_kernel_def badgrad_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = badgrad_forward,
    .backward = badgrad_backward,
};

/* ---- halve: x = x / 2 in place, no gradient ---- */

static const nn_op_arg halve_in[] = {{"x", NN_ARG_WRITTEN, 0, 0}};

static const nn_op_def halve_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = NULL,
    .nin = 1,
    .in = halve_in,
};

static nn_status halve_cpu_forward(const nn_kernel_call *c)
{
    for (int64_t i = 0; i < c->in[0].numel; i++) c->in[0].data[i] *= 0.5f;
    return NN_OK;
}

static nn_status halve_hostdev_forward(const nn_kernel_call *c)
{
    for (int64_t i = 0; i + 1 < c->in[0].numel; i++) c->in[0].data[i] *= 0.5f;
    return NN_OK;
}

static const nn_kernel_def halve_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = halve_cpu_forward,
};

static const nn_kernel_def halve_hostdev = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "hostdev",
    .forward = halve_hostdev_forward,
};

static const nn_component_def components[] = {
    {NN_KIND_KERNEL, "twice", "hostdev: wrong last element", &twice_hostdev, NULL, 0},
    {NN_KIND_OP, "badgrad", "y = x^2 with a wrong backward", &badgrad_op, NULL, 0},
    {NN_KIND_KERNEL, "badgrad", "cpu loops", &badgrad_cpu, NULL, 0},
    {NN_KIND_OP, "halve", "x = x / 2 in place", &halve_op, NULL, 0},
    {NN_KIND_KERNEL, "halve", "cpu loop", &halve_cpu, NULL, 0},
    {NN_KIND_KERNEL, "halve", "hostdev: skips the last element", &halve_hostdev, NULL, 0},
};

NN_PLUGIN_DEFINE("wrong", "1.0", components)
