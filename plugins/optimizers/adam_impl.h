/* adam_impl.h - what adam.c and adamw.c share: the update op with its cpu
 * kernel, the properties, the state and the optimizer. Static, compiled
 * into each of the two plugins. The including file defines first:
 *
 *   ADAM_NAME        the optimizer's name ("adam"); the op is ADAM_NAME "_update"
 *   ADAM_TYPE        its type name ("Adam")
 *   ADAM_DECOUPLED   0: weight decay as an L2 penalty added to the gradient;
 *                    1: decoupled, p *= 1 - lr * weight_decay before the step
 *   ADAM_WD_DEFAULT  the default of the property weight_decay ("0")
 *   ADAM_WD_DOC      its doc, and ADAM_WD_ATTR_DOC the op attribute's */
#ifndef NN_PLUGINS_ADAM_IMPL_H
#define NN_PLUGINS_ADAM_IMPL_H

#include <nn/plugin.h>

#include <math.h>

#include "optim_state.h"

/* ---- the op ---- */

enum { IN_PARAM, IN_GRAD, IN_EXP_AVG, IN_EXP_AVG_SQ, IN_MAX_EXP_AVG_SQ, IN_COUNT };
enum { A_LR, A_BETA1, A_BETA2, A_EPS, A_WEIGHT_DECAY, A_MAXIMIZE, A_STEP, A_COUNT };

static const nn_op_arg update_in[] = {
    [IN_PARAM] = {"param", NN_ARG_WRITTEN, 0, 0},
    [IN_GRAD] = {"grad", NN_ARG_NO_GRAD, 0, 0},
    [IN_EXP_AVG] = {"exp_avg", NN_ARG_WRITTEN, -1, 1},
    [IN_EXP_AVG_SQ] = {"exp_avg_sq", NN_ARG_WRITTEN, 0, 1},
    [IN_MAX_EXP_AVG_SQ] = {"max_exp_avg_sq", NN_ARG_WRITTEN | NN_ARG_OPTIONAL, 0, 1},
};

static const nn_op_attr update_attr[] = {
    [A_LR] = {"lr", 0.001, "learning rate"},
    [A_BETA1] = {"beta1", 0.9, "decay of the first moment"},
    [A_BETA2] = {"beta2", 0.999, "decay of the second moment"},
    [A_EPS] = {"eps", 1e-8, "added to the denominator"},
    [A_WEIGHT_DECAY] = {"weight_decay", 0.01, ADAM_WD_ATTR_DOC},
    [A_MAXIMIZE] = {"maximize", 0, "1: ascend the gradient"},
    [A_STEP] = {"step", 3, "the parameter's step count, this step included (>= 1)"},
};

static const nn_op_def update_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = NULL, /* an update has no gradient */
    .nin = IN_COUNT,
    .in = update_in,
    .nattr = A_COUNT,
    .attr = update_attr,
};

/* The update's operands and its constants, for a range of the parameter. */
typedef struct {
    float *p, *m, *v, *vmax;
    const float *g;
    float neg_step_size, bc2_sqrt, fb1, fb2, fc1, fc2, eps;
#if ADAM_DECOUPLED
    float keep;
#else
    float wd;
    int decay;
#endif
    int maximize;
} adam_args;

static void adam_range(const void *arg, int64_t i0, int64_t i1)
{
    const adam_args *u = arg;
    float *restrict p = u->p, *restrict m = u->m, *restrict v = u->v, *restrict vmax = u->vmax;
    const float *restrict g = u->g;
    for (int64_t i = i0; i < i1; i++) {
        float gi = u->maximize ? -g[i] : g[i];
#if ADAM_DECOUPLED
        p[i] = p[i] * u->keep;                   /* param.mul_(1 - lr * wd) */
#else
        if (u->decay) gi = gi + u->wd * p[i];    /* grad.add(param, alpha=wd) */
#endif
        m[i] = m[i] * u->fb1 + u->fc1 * gi;      /* exp_avg.mul_(b1).add_(g, alpha=1-b1) */
        v[i] = v[i] * u->fb2 + u->fc2 * gi * gi; /* exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2) */
        float s = v[i];
        if (vmax) {
            vmax[i] = vmax[i] >= s || isnan(vmax[i]) ? vmax[i] : s; /* torch.maximum */
            s = vmax[i];
        }
        float denom = sqrtf(s) / u->bc2_sqrt + u->eps;
        p[i] = p[i] + u->neg_step_size * m[i] / denom; /* addcdiv_(m, denom, -step_size) */
    }
}

static nn_status update_cpu(const nn_kernel_call *c)
{
    const double *a = c->attr;
    const double lr = a[A_LR], b1 = a[A_BETA1], b2 = a[A_BETA2], step = a[A_STEP];
    if (!(step >= 1))
        return nn_ctx_set_error(c->ctx, NN_INVALID, ADAM_NAME "_update: step %g is not >= 1",
                                step);
    /* Python's floats, each rounded once to float32 where a tensor op takes it */
    const double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
    adam_args u = {
        .p = c->in[IN_PARAM].data,
        .m = c->in[IN_EXP_AVG].data,
        .v = c->in[IN_EXP_AVG_SQ].data,
        .vmax = c->in[IN_MAX_EXP_AVG_SQ].data,
        .g = c->in[IN_GRAD].data,
        .neg_step_size = (float)-(lr / bc1),
        .bc2_sqrt = (float)sqrt(bc2),
        .fb1 = (float)b1,
        .fb2 = (float)b2,
        .fc1 = (float)(1 - b1),
        .fc2 = (float)(1 - b2),
        .eps = (float)a[A_EPS],
#if ADAM_DECOUPLED
        .keep = (float)(1 - lr * a[A_WEIGHT_DECAY]),
#else
        .wd = (float)a[A_WEIGHT_DECAY],
        .decay = a[A_WEIGHT_DECAY] != 0,
#endif
        .maximize = a[A_MAXIMIZE] != 0,
    };
    optim_run(c, adam_range, &u, c->in[IN_PARAM].numel, OPTIM_SPLIT);
    return NN_OK;
}

static const nn_kernel_def update_cpu_kernel = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = update_cpu,
};

/* ---- the optimizer ---- */

enum { P_LR, P_BETAS, P_EPS, P_WEIGHT_DECAY, P_AMSGRAD, P_MAXIMIZE };

static const nn_prop_def adam_props[] = {
    [P_LR] = {"lr", NN_PROP_FLOAT, "0.001", 0, 1e9, NULL, "learning rate"},
    [P_BETAS] = {"betas", NN_PROP_FLOATS, "0.9,0.999", 0, 1, NULL,
                 "decays of the moving averages of the gradient and its square, each < 1"},
    [P_EPS] = {"eps", NN_PROP_FLOAT, "1e-8", 0, 1e9, NULL, "added to the denominator"},
    [P_WEIGHT_DECAY] = {"weight_decay", NN_PROP_FLOAT, ADAM_WD_DEFAULT, 0, 1e9, NULL,
                        ADAM_WD_DOC},
    [P_AMSGRAD] = {"amsgrad", NN_PROP_BOOL, "false", 1, 0, NULL,
                   "use the maximum of the second moments (AMSGrad)"},
    [P_MAXIMIZE] = {"maximize", NN_PROP_BOOL, "false", 1, 0, NULL,
                    "maximize the objective instead of minimizing it"},
};

enum { S_STEP, S_EXP_AVG, S_EXP_AVG_SQ, S_MAX_EXP_AVG_SQ };
static const char *const adam_state[] = {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", NULL};

typedef struct {
    nn_op *update;
} adam_priv;

static nn_status adam_validate(const nn_props *p, char **err)
{
    const double *b = nn_props_floats(p, P_BETAS, NULL);
    for (int k = 0; k < 2; k++)
        if (b[k] >= 1)
            return nn_fail(err, NN_INVALID, ADAM_NAME ": betas: beta%d = %g is not below 1",
                           k + 1, b[k]);
    return NN_OK;
}

static nn_status adam_init(nn_optim *o, char **err)
{
    adam_priv *s = nn_optim_priv(o);
    return nn_op_find(nn_optim_ctx(o), ADAM_NAME "_update", &s->update, err);
}

static nn_status adam_step(nn_optim *o)
{
    adam_priv *s = nn_optim_priv(o);
    const nn_props *p = nn_optim_hparams(o);
    const double *betas = nn_props_floats(p, P_BETAS, NULL);
    double a[A_COUNT] = {
        [A_LR] = nn_props_float(p, P_LR),
        [A_BETA1] = betas[0],
        [A_BETA2] = betas[1],
        [A_EPS] = nn_props_float(p, P_EPS),
        [A_WEIGHT_DECAY] = nn_props_float(p, P_WEIGHT_DECAY),
        [A_MAXIMIZE] = nn_props_bool(p, P_MAXIMIZE),
    };
    const int amsgrad = nn_props_bool(p, P_AMSGRAD);
    for (int i = 0, n = nn_optim_param_count(o); i < n; i++) {
        nn_tensor *param = nn_optim_param(o, i);
        nn_tensor *in[IN_COUNT] = {param, nn_tensor_grad(param), NULL, NULL, NULL};
        if (!in[IN_GRAD]) continue;
        nn_status st = next_step(o, i, S_STEP, &a[A_STEP]);
        if (st) return st;
        if (!(in[IN_EXP_AVG] = slot(o, i, S_EXP_AVG)) ||
            !(in[IN_EXP_AVG_SQ] = slot(o, i, S_EXP_AVG_SQ)) ||
            (amsgrad && !(in[IN_MAX_EXP_AVG_SQ] = slot(o, i, S_MAX_EXP_AVG_SQ))))
            return NN_NO_MEMORY;
        nn_op_call(s->update, in, a, NULL);
    }
    return nn_ctx_error(nn_optim_ctx(o), NULL);
}

static const nn_optim_vt adam_vt = {
    NN_VT_HEADER(nn_optim_vt),
    .type_name = ADAM_TYPE,
    .state_names = adam_state,
    .validate = adam_validate,
    .step = adam_step,
    .priv_size = sizeof(adam_priv),
    .init = adam_init,
    .scalar_states = 1u << S_STEP,
};

#endif
