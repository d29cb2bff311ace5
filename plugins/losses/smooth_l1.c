/* smooth_l1.c - PyTorch's SmoothL1Loss: per element, with d = pred - target,
 *
 *   0.5 d^2 / beta  where |d| < beta,  |d| - 0.5 beta  elsewhere
 *
 * (|d| alone when beta = 0), then the mean or the sum. Composed of core ops
 * so it runs on every device: with z = |d| and m = min(z, beta), both
 * branches are m (z - 0.5 m) / beta, and so is the gradient (d / beta, then
 * sign(d)). No accuracy (a regression loss). */
#include "regression_loss.h"

#include <math.h>

enum { P_BETA = P_REDUCTION + 1 };

static const nn_prop_def sl1_props[] = {
    REG_REDUCTION_PROP,
    [P_BETA] = {"beta", NN_PROP_FLOAT, "1", 0, INFINITY, NULL,
                "where the square turns into the absolute value"},
};

typedef struct {
    int sum;
    float beta;
} sl1_loss;

static nn_status sl1_init(nn_loss *l, const nn_props *p, char **err)
{
    (void)err;
    sl1_loss *s = nn_loss_priv(l);
    s->sum = reg_is_sum(p);
    s->beta = (float)nn_props_float(p, P_BETA);
    return NN_OK;
}

static nn_tensor *sl1_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    sl1_loss *s = nn_loss_priv(l);
    nn_tensor *d = reg_diff("smooth_l1", pred, target);
    if (!d) return NULL;
    nn_tensor *z = nn_abs(d), *e = z;
    if (s->beta > 0) {
        nn_tensor *m = nn_clamp(z, -INFINITY, s->beta);
        e = nn_mul_scalar(nn_mul(m, nn_sub(z, nn_mul_scalar(m, 0.5f))), 1.0f / s->beta);
    }
    return reg_reduce(s->sum, e);
}

static const nn_loss_vt sl1_vt = {
    NN_VT_HEADER(nn_loss_vt),
    .type_name = "SmoothL1Loss",
    .init = sl1_init,
    .forward = sl1_forward,
    .priv_size = sizeof(sl1_loss),
};

static const nn_component_def sl1_components[] = {
    {NN_KIND_LOSS, "smooth_l1", "squared error near 0, absolute error beyond beta (PyTorch "
     "SmoothL1Loss)", &sl1_vt, sl1_props, NN_COUNT_OF(sl1_props)},
};

NN_PLUGIN_DEFINE("smooth_l1", "1.0", sl1_components)
