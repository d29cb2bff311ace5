/* two_layers_net.c - the tutorial's functional network as a composite module:
 * it owns two children and writes its own forward.
 *
 *   class TwoLayersNet(nn.Module):
 *       def __init__(self, nX, nH, nY):
 *           self.fc1 = nn.Linear(nX, nH); self.fc2 = nn.Linear(nH, nY)
 *       def forward(self, x):
 *           return sigmoid(fc2(sigmoid(fc1(x))))
 *
 * Parameters are named fc1.weight, fc1.bias, fc2.weight, fc2.bias. The input
 * width nX comes from the data (or from in=). */
#include <nn/plugin.h>

#include <stdio.h>

enum { P_IN, P_NH, P_NY };

static const nn_prop_def props[] = {
    [P_IN] = {"in", NN_PROP_INT, "0", 0, 1 << 30, NULL, "input features; 0: from the data"},
    [P_NH] = {"nh", NN_PROP_INT, "5", 1, 1 << 30, NULL, "hidden units"},
    [P_NY] = {"ny", NN_PROP_INT, "1", 1, 1 << 30, NULL, "outputs"},
};

typedef struct {
    nn_module *fc1, *fc2;
} net;

static nn_status net_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                          char **err)
{
    net *n = nn_module_priv(m);
    char words[64];
    snprintf(words, sizeof words, "in=%lld out=%lld", (long long)nn_props_int(p, P_IN),
             (long long)nn_props_int(p, P_NH));
    if (!(n->fc1 = nn_module_add_child(m, "fc1", "linear", words, in, err))) return NN_INVALID;
    *in = *nn_module_in_shape(n->fc1); /* resolved from in= when there was no data */
    snprintf(words, sizeof words, "out=%lld", (long long)nn_props_int(p, P_NY));
    if (!(n->fc2 = nn_module_add_child(m, "fc2", "linear", words, nn_module_out_shape(n->fc1),
                                       err)))
        return NN_INVALID;
    *out = *nn_module_out_shape(n->fc2);
    return NN_OK;
}

static nn_tensor *net_forward(nn_module *m, nn_tensor *x)
{
    net *n = nn_module_priv(m);
    x = nn_sigmoid(nn_module_forward(n->fc1, x));
    return nn_sigmoid(nn_module_forward(n->fc2, x));
}

static const nn_module_vt net_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "TwoLayersNet",
    .priv_size = sizeof(net),
    .init = net_init,
    .forward = net_forward,
};

static const nn_component_def components[] = {
    {NN_KIND_MODULE, "two_layers_net", "the tutorial's TwoLayersNet: sigmoid(fc2(sigmoid(fc1(x))))",
     &net_vt, props, NN_COUNT_OF(props)},
};

NN_PLUGIN_DEFINE("two_layers_net", "1.0", components)
