/* smooth_l1.c - PyTorch's SmoothL1Loss: per element, with d = pred - target,
 *
 *   0.5 d^2 / beta  where |d| < beta,  |d| - 0.5 beta  elsewhere
 *
 * (|d| alone when beta = 0), then the mean or the sum. Composed of core ops
 * so it runs on every device: with z = |d| and m = min(z, beta), both
 * branches are m (z - 0.5 m) / beta, and so is the gradient (d / beta, then
 * sign(d)). No accuracy (a regression loss). */
#include <nn/plugin.h>

#include <math.h>
#include <string.h>

enum { P_REDUCTION, P_BETA };

static const nn_prop_def sl1_props[] = {
    [P_REDUCTION] = {"reduction", NN_PROP_ENUM, "mean", 1, 0, "mean|sum", "mean or sum"},
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
    s->sum = !strcmp(nn_props_string(p, P_REDUCTION), "sum");
    s->beta = (float)nn_props_float(p, P_BETA);
    return NN_OK;
}

static nn_tensor *sl1_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    sl1_loss *s = nn_loss_priv(l);
    const nn_shape *a = nn_tensor_shape(pred), *b = nn_tensor_shape(target);
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++) same = a->dim[i] == b->dim[i];
    if (!same) {
        char s1[64], s2[64];
        nn_shape_format(b, 0, s1, sizeof s1);
        nn_shape_format(a, 0, s2, sizeof s2);
        nn_ctx_set_error(nn_tensor_ctx(pred), NN_SHAPE,
                         "smooth_l1: target size %s differs from input size %s", s1, s2);
        return NULL;
    }
    nn_tensor *z = nn_abs(nn_sub(pred, target)), *e = z;
    if (s->beta > 0) {
        nn_tensor *m = nn_clamp(z, -INFINITY, s->beta);
        e = nn_mul_scalar(nn_mul(m, nn_sub(z, nn_mul_scalar(m, 0.5f))), 1.0f / s->beta);
    }
    return s->sum ? nn_sum(e) : nn_mean(e);
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
