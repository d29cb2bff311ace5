/* l1.c - PyTorch's L1Loss: mean (or sum) of |pred - target|, pred and
 * target of the same shape. Composed of core ops (sub, abs, mean or sum),
 * so it runs on every device; no accuracy (a regression loss). */
#include "regression_loss.h"

static const nn_prop_def l1_props[] = {REG_REDUCTION_PROP};

static nn_tensor *l1_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    reg_loss *s = nn_loss_priv(l);
    nn_tensor *d = reg_diff("l1", pred, target);
    return reg_reduce(s->sum, nn_abs(d));
}

static const nn_loss_vt l1_vt = {
    NN_VT_HEADER(nn_loss_vt),
    .type_name = "L1Loss",
    .init = reg_init,
    .forward = l1_forward,
    .priv_size = sizeof(reg_loss),
};

static const nn_component_def l1_components[] = {
    {NN_KIND_LOSS, "l1", "mean absolute error (PyTorch L1Loss)", &l1_vt, l1_props,
     NN_COUNT_OF(l1_props)},
};

NN_PLUGIN_DEFINE("l1", "1.0", l1_components)
