/* linear.c - y = x @ W^T + b, PyTorch's nn.Linear.
 * x: (N, in)  W: (out, in)  b: (out)  y: (N, out) */
#include <nn/plugin.h>

#include <math.h>
#include <stdio.h>

enum { P_IN, P_OUT, P_BIAS };

static const nn_prop_def linear_props[] = {
    [P_IN] = {"in", NN_PROP_INT, "0", 0, 1 << 30, NULL,
              "input features; 0 infers them from the previous element"},
    [P_OUT] = {"out", NN_PROP_INT, NULL, 1, 1 << 30, NULL, "output features (required)"},
    [P_BIAS] = {"bias", NN_PROP_BOOL, "true", 1, 0, NULL, "learn an additive bias"},
};

typedef struct {
    nn_tensor *weight, *bias;
    int64_t in, out;
} linear;

static nn_status linear_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                             char **err)
{
    linear *l = nn_module_priv(m);
    if (in->ndim != 1)
        return nn_fail(err, NN_SHAPE, "linear takes samples of shape [features], got %d-d", in->ndim);
    l->out = nn_props_int(p, P_OUT);
    int64_t want = nn_props_int(p, P_IN);
    if (in->dim[0] < 0) { /* no data yet: the width comes from in= */
        if (!want)
            return nn_fail(err, NN_SHAPE, "the input width is unknown; give in=N or the data");
        in->dim[0] = want;
    }
    l->in = in->dim[0];
    if (want && want != l->in)
        return nn_fail(err, NN_SHAPE, "in=%lld but the input has %lld features", (long long)want,
                       (long long)l->in);
    nn_shape ws = {2, {l->out, l->in}}, bs = {1, {l->out}};
    if (!(l->weight = nn_module_add_param(m, "weight", &ws, err))) return NN_NO_MEMORY;
    if (nn_props_bool(p, P_BIAS) && !(l->bias = nn_module_add_param(m, "bias", &bs, err)))
        return NN_NO_MEMORY;
    *out = bs;
    return NN_OK;
}

/* PyTorch's default: kaiming_uniform(a=sqrt(5)) for W, i.e. U(-1/sqrt(in), 1/sqrt(in)),
 * and the same bound for b. */
static nn_status linear_reset(nn_module *m, nn_rng *rng)
{
    linear *l = nn_module_priv(m);
    float bound = l->in > 0 ? 1.0f / sqrtf((float)l->in) : 0.0f;
    nn_status st = nn_tensor_uniform_(l->weight, rng, -bound, bound);
    if (!st && l->bias) st = nn_tensor_uniform_(l->bias, rng, -bound, bound);
    return st;
}

static nn_tensor *linear_forward(nn_module *m, nn_tensor *x)
{
    linear *l = nn_module_priv(m);
    nn_tensor *wt = nn_t(l->weight); /* a view: gemm reads W transposed */
    return l->bias ? nn_addmm(l->bias, x, wt) : nn_mm(x, wt);
}

static void linear_repr(nn_module *m, char *buf, size_t len)
{
    linear *l = nn_module_priv(m);
    snprintf(buf, len, "in_features=%lld, out_features=%lld, bias=%s", (long long)l->in,
             (long long)l->out, l->bias ? "True" : "False");
}

static const nn_module_vt linear_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "Linear",
    .priv_size = sizeof(linear),
    .init = linear_init,
    .forward = linear_forward,
    .reset_parameters = linear_reset,
    .extra_repr = linear_repr,
};

static const nn_component_def linear_components[] = {
    {NN_KIND_MODULE, "linear", "fully connected layer: y = x W^T + b", &linear_vt, linear_props,
     NN_COUNT_OF(linear_props)},
};

NN_PLUGIN_DEFINE("linear", "1.0", linear_components)
