/* my_linear.c - the tutorial's custom layer, as a plugin built against the
 * installed SDK:
 *
 *   class My_Linear(nn.Module):
 *       def __init__(self, in_F, out_F):
 *           self.weight = Parameter(torch.Tensor(out_F, in_F))
 *           self.bias   = Parameter(torch.Tensor(out_F))
 *       def reset_parameters(self):
 *           for p in self.parameters():
 *               stdv = 1.0 / math.sqrt(p.shape[0]); p.data.uniform_(-stdv, stdv)
 *       def forward(self, x):
 *           return x @ self.weight.t() + self.bias
 *
 * Build: cc -shared -fPIC my_linear.c $(pkg-config --cflags --libs nn) -o my_linear.so
 * Forward composes core ops, so autograd needs no code here. */
#include <nn/plugin.h>

#include <math.h>
#include <stdio.h>

enum { P_OUT };

static const nn_prop_def props[] = {
    [P_OUT] = {"out", NN_PROP_INT, NULL, 1, 1 << 30, NULL, "output features (required)"},
};

typedef struct {
    nn_tensor *weight, *bias;
} my_linear;

/* x: (N, in)  weight: (out, in)  bias: (out)  y: (N, out) */
static nn_status my_linear_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                                char **err)
{
    my_linear *l = nn_module_priv(m);
    if (in->ndim != 1 || in->dim[0] < 1)
        return nn_fail(err, NN_SHAPE, "my_linear needs samples of a known width [features]");
    nn_shape ws = {2, {nn_props_int(p, P_OUT), in->dim[0]}}, bs = {1, {nn_props_int(p, P_OUT)}};
    if (!(l->weight = nn_module_add_param(m, "weight", &ws, err))) return NN_NO_MEMORY;
    if (!(l->bias = nn_module_add_param(m, "bias", &bs, err))) return NN_NO_MEMORY;
    *out = bs;
    return NN_OK;
}

static nn_status my_linear_reset(nn_module *m, nn_rng *rng)
{
    my_linear *l = nn_module_priv(m);
    nn_tensor *ps[] = {l->weight, l->bias};
    for (int i = 0; i < 2; i++) {
        float stdv = 1.0f / sqrtf((float)nn_tensor_dim(ps[i], 0));
        nn_status st = nn_tensor_uniform_(ps[i], rng, -stdv, stdv);
        if (st) return st;
    }
    return NN_OK;
}

static nn_tensor *my_linear_forward(nn_module *m, nn_tensor *x)
{
    my_linear *l = nn_module_priv(m);
    return nn_add(nn_mm(x, nn_t(l->weight)), l->bias);
}

static void my_linear_repr(nn_module *m, char *buf, size_t len)
{
    my_linear *l = nn_module_priv(m);
    snprintf(buf, len, "in_F=%lld, out_F=%lld", (long long)nn_tensor_dim(l->weight, 1),
             (long long)nn_tensor_dim(l->weight, 0));
}

static const nn_module_vt my_linear_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "My_Linear",
    .priv_size = sizeof(my_linear),
    .init = my_linear_init,
    .forward = my_linear_forward,
    .reset_parameters = my_linear_reset,
    .extra_repr = my_linear_repr,
};

static const nn_component_def components[] = {
    {NN_KIND_MODULE, "my_linear", "the tutorial's My_Linear: x @ W^T + b", &my_linear_vt, props,
     NN_COUNT_OF(props)},
};

NN_PLUGIN_DEFINE("my_linear", "1.0", components)
