/* identity.c - PyTorch's nn.Identity: returns its input, any shape. */
#include <nn/plugin.h>

static nn_status identity_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                               char **err)
{
    (void)m, (void)p, (void)err;
    *out = *in;
    return NN_OK;
}

static nn_tensor *identity_forward(nn_module *m, nn_tensor *x)
{
    (void)m;
    return x; /* the input itself, as PyTorch's Identity */
}

static const nn_module_vt identity_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "Identity",
    .init = identity_init,
    .forward = identity_forward,
};

static const nn_component_def identity_components[] = {
    {NN_KIND_MODULE, "identity", "passes its input through (PyTorch Identity)", &identity_vt,
     NULL, 0},
};

NN_PLUGIN_DEFINE("identity", "1.0", identity_components)
