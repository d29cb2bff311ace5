/* relu.c - PyTorch's nn.ReLU: max(x, 0) element-wise, any shape (the core's
 * relu op, ReluBackward0). */
#include <nn/plugin.h>

static nn_status relu_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                           char **err)
{
    (void)m, (void)p, (void)err;
    *out = *in; /* element-wise */
    return NN_OK;
}

static nn_tensor *relu_forward(nn_module *m, nn_tensor *x)
{
    (void)m;
    return nn_relu(x);
}

static const nn_module_vt relu_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "ReLU",
    .init = relu_init,
    .forward = relu_forward,
};

static const nn_component_def relu_components[] = {
    {NN_KIND_MODULE, "relu", "rectified linear unit max(x, 0) (PyTorch ReLU)", &relu_vt, NULL, 0},
};

NN_PLUGIN_DEFINE("relu", "1.0", relu_components)
