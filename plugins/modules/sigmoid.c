/* sigmoid.c - y = 1 / (1 + exp(-x)), element-wise; any shape. */
#include <nn/plugin.h>

static nn_status sigmoid_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                              char **err)
{
    *out = *in;
    return NN_OK;
}

static nn_tensor *sigmoid_forward(nn_module *m, nn_tensor *x) { return nn_sigmoid(x); }

static const nn_module_vt sigmoid_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "Sigmoid",
    .init = sigmoid_init,
    .forward = sigmoid_forward,
};

static const nn_component_def sigmoid_components[] = {
    {NN_KIND_MODULE, "sigmoid", "logistic activation 1 / (1 + exp(-x))", &sigmoid_vt, NULL, 0},
};

NN_PLUGIN_DEFINE("sigmoid", "1.0", sigmoid_components)
