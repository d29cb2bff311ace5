/* mse.c - PyTorch's MSELoss: mean (or sum) of (pred - target)^2, pred and
 * target of the same shape. Composed of core ops (sub, mul, mean or sum),
 * so it runs on every device; no accuracy (a regression loss). */
#include "regression_loss.h"

static const nn_prop_def mse_props[] = {REG_REDUCTION_PROP};

static nn_tensor *mse_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    reg_loss *s = nn_loss_priv(l);
    nn_tensor *d = reg_diff("mse", pred, target);
    return reg_reduce(s->sum, nn_mul(d, d));
}

static const nn_loss_vt mse_vt = {
    NN_VT_HEADER(nn_loss_vt),
    .type_name = "MSELoss",
    .init = reg_init,
    .forward = mse_forward,
    .priv_size = sizeof(reg_loss),
};

static const nn_component_def mse_components[] = {
    {NN_KIND_LOSS, "mse", "mean squared error (PyTorch MSELoss)", &mse_vt, mse_props,
     NN_COUNT_OF(mse_props)},
};

NN_PLUGIN_DEFINE("mse", "1.0", mse_components)
