/* mse.c - PyTorch's MSELoss: mean (or sum) of (pred - target)^2, pred and
 * target of the same shape. Composed of core ops (sub, mul, mean or sum),
 * so it runs on every device; no accuracy (a regression loss). */
#include <nn/plugin.h>

#include <string.h>

enum { P_REDUCTION };

static const nn_prop_def mse_props[] = {
    [P_REDUCTION] = {"reduction", NN_PROP_ENUM, "mean", 1, 0, "mean|sum", "mean or sum"},
};

typedef struct {
    int sum;
} mse_loss;

static nn_status mse_init(nn_loss *l, const nn_props *p, char **err)
{
    (void)err;
    mse_loss *s = nn_loss_priv(l);
    s->sum = !strcmp(nn_props_string(p, P_REDUCTION), "sum");
    return NN_OK;
}

/* pred - target, with the shapes checked: PyTorch only warns when they
 * differ and then broadcasts, which is rarely what was meant. */
static nn_tensor *mse_diff(const char *who, nn_tensor *pred, nn_tensor *target)
{
    const nn_shape *a = nn_tensor_shape(pred), *b = nn_tensor_shape(target);
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++) same = a->dim[i] == b->dim[i];
    if (!same) {
        char s1[64], s2[64];
        nn_shape_format(b, 0, s1, sizeof s1);
        nn_shape_format(a, 0, s2, sizeof s2);
        nn_ctx_set_error(nn_tensor_ctx(pred), NN_SHAPE, "%s: target size %s differs from input size %s",
                         who, s1, s2);
        return NULL;
    }
    return nn_sub(pred, target);
}

static nn_tensor *mse_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    mse_loss *s = nn_loss_priv(l);
    nn_tensor *d = mse_diff("mse", pred, target);
    nn_tensor *sq = nn_mul(d, d);
    return s->sum ? nn_sum(sq) : nn_mean(sq);
}

static const nn_loss_vt mse_vt = {
    NN_VT_HEADER(nn_loss_vt),
    .type_name = "MSELoss",
    .init = mse_init,
    .forward = mse_forward,
    .priv_size = sizeof(mse_loss),
};

static const nn_component_def mse_components[] = {
    {NN_KIND_LOSS, "mse", "mean squared error (PyTorch MSELoss)", &mse_vt, mse_props,
     NN_COUNT_OF(mse_props)},
};

NN_PLUGIN_DEFINE("mse", "1.0", mse_components)
