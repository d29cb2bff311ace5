/* twice.c - a test op with a kernel for cpu only: y = 2 x, and the module
 * "twice" that calls it. On a device without a kernel for the op, creating
 * the module must fail, naming the op, the device and the devices that have
 * a kernel. Also the op "faraway_only", whose one kernel is for a device that
 * no plugin provides: `nnrun check` reports it and does not fail. */
#include <nn/plugin.h>

static const nn_op_arg twice_in[] = {{"input", 0, 0, 0}};
static const nn_op_arg twice_out[] = {{"output", 0, 0, 0}};

static const nn_op_def twice_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "TwiceBackward0",
    .nin = 1,
    .nout = 1,
    .in = twice_in,
    .out = twice_out,
};

static nn_status twice_cpu_forward(const nn_kernel_call *c)
{
    const float *x = c->in[0].data;
    float *y = c->out[0].data;
    for (int64_t i = 0; i < c->in[0].numel; i++) y[i] = 2.0f * x[i];
    return NN_OK;
}

static nn_status twice_cpu_backward(const nn_kernel_call *c)
{
    const float *dy = c->gout[0].data;
    float *dx = c->gin[0].data;
    for (int64_t i = 0; i < c->in[0].numel; i++) dx[i] = 2.0f * dy[i] + (c->acc[0] ? dx[i] : 0.0f);
    return NN_OK;
}

static const nn_kernel_def twice_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = twice_cpu_forward,
    .backward = twice_cpu_backward,
};

/* ---- faraway_only: y = x, a kernel for the device "faraway" only ---- */

static const nn_op_def faraway_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "FarawayOnlyBackward0",
    .nin = 1,
    .nout = 1,
    .in = twice_in,
    .out = twice_out,
};

static nn_status copy_forward(const nn_kernel_call *c)
{
    for (int64_t i = 0; i < c->in[0].numel; i++) c->out[0].data[i] = c->in[0].data[i];
    return NN_OK;
}

static nn_status copy_backward(const nn_kernel_call *c)
{
    for (int64_t i = 0; i < c->in[0].numel; i++)
        c->gin[0].data[i] = c->gout[0].data[i] + (c->acc[0] ? c->gin[0].data[i] : 0.0f);
    return NN_OK;
}

static const nn_kernel_def faraway_kernel = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "faraway",
    .forward = copy_forward,
    .backward = copy_backward,
};

/* ---- the module ---- */

typedef struct {
    nn_op *twice;
} twice_priv;

static nn_status twice_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                            char **err)
{
    (void)p;
    twice_priv *s = nn_module_priv(m);
    *out = *in;
    return nn_op_find(nn_module_ctx(m), "twice", &s->twice, err);
}

static nn_tensor *twice_forward(nn_module *m, nn_tensor *x)
{
    twice_priv *s = nn_module_priv(m);
    return nn_op_call(s->twice, &x, NULL, NULL);
}

static const nn_module_vt twice_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "Twice",
    .priv_size = sizeof(twice_priv),
    .init = twice_init,
    .forward = twice_forward,
};

static const nn_component_def components[] = {
    {NN_KIND_MODULE, "twice", "y = 2 x through the op twice", &twice_vt, NULL, 0},
    {NN_KIND_OP, "twice", "y = 2 x", &twice_op, NULL, 0},
    {NN_KIND_KERNEL, "twice", "cpu loop", &twice_cpu, NULL, 0},
    {NN_KIND_OP, "faraway_only", "y = x, with a kernel for no device here", &faraway_op, NULL, 0},
    {NN_KIND_KERNEL, "faraway_only", "faraway: a copy", &faraway_kernel, NULL, 0},
};

NN_PLUGIN_DEFINE("twice", "1.0", components)
