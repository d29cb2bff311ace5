/* tanh.c - PyTorch's nn.Tanh: tanh(x) element-wise, any shape (the core's
 * tanh op, TanhBackward0). */
#include <nn/plugin.h>

static nn_status tanh_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                           char **err)
{
    (void)m, (void)p, (void)err;
    *out = *in; /* element-wise */
    return NN_OK;
}

static nn_tensor *tanh_forward(nn_module *m, nn_tensor *x)
{
    (void)m;
    return nn_tanh(x);
}

static const nn_module_vt tanh_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "Tanh",
    .init = tanh_init,
    .forward = tanh_forward,
};

static const nn_component_def tanh_components[] = {
    {NN_KIND_MODULE, "tanh", "hyperbolic tangent (PyTorch Tanh)", &tanh_vt, NULL, 0},
};

NN_PLUGIN_DEFINE("tanh", "1.0", tanh_components)
