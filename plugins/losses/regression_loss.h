/* regression_loss.h - what l1.c, mse.c and smooth_l1.c share: the
 * property reduction (their first), pred - target with the shapes
 * checked, and the mean or sum. Static, compiled into each plugin. */
#ifndef NN_PLUGINS_REGRESSION_LOSS_H
#define NN_PLUGINS_REGRESSION_LOSS_H

#include <nn/plugin.h>

#include <string.h>

enum { P_REDUCTION };

#define REG_REDUCTION_PROP \
    [P_REDUCTION] = {"reduction", NN_PROP_ENUM, "mean", 1, 0, "mean|sum", "mean or sum"}

/* A loss whose only property is reduction. */
typedef struct {
    int sum;
} reg_loss;

/* Whether the property reduction is sum. */
static inline int reg_is_sum(const nn_props *p)
{
    return !strcmp(nn_props_string(p, P_REDUCTION), "sum");
}

static inline nn_status reg_init(nn_loss *l, const nn_props *p, char **err)
{
    (void)err;
    reg_loss *s = nn_loss_priv(l);
    s->sum = reg_is_sum(p);
    return NN_OK;
}

/* pred - target, with the shapes checked: PyTorch only warns when they
 * differ and then broadcasts, which is rarely what was meant. */
static inline nn_tensor *reg_diff(const char *who, nn_tensor *pred, nn_tensor *target)
{
    const nn_shape *a = nn_tensor_shape(pred), *b = nn_tensor_shape(target);
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++) same = a->dim[i] == b->dim[i];
    if (!same) {
        char s1[64], s2[64];
        nn_shape_format(b, 0, s1, sizeof s1);
        nn_shape_format(a, 0, s2, sizeof s2);
        nn_ctx_set_error(nn_tensor_ctx(pred), NN_SHAPE,
                         "%s: target size %s differs from input size %s", who, s1, s2);
        return NULL;
    }
    return nn_sub(pred, target);
}

/* The sum or the mean of the per-element losses e. */
static inline nn_tensor *reg_reduce(int sum, nn_tensor *e)
{
    return sum ? nn_sum(e) : nn_mean(e);
}

#endif
