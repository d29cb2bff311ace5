/* rmsprop.c - RMSprop with PyTorch 1.13's semantics (torch.optim.RMSprop):
 *   g = grad (negated when maximize) + weight_decay * p       (L2 penalty)
 *   square_avg = alpha * square_avg + (1 - alpha) * g * g
 *   grad_avg = alpha * grad_avg + (1 - alpha) * g              (centered)
 *   avg = sqrt(square_avg - grad_avg^2 (centered) or square_avg) + eps
 *   momentum_buffer = momentum * momentum_buffer + g / avg     (momentum > 0)
 *   p -= lr * momentum_buffer, or p -= lr * g / avg
 *
 * The per-parameter state has PyTorch's names: step (one number, counted
 * as PyTorch does though the update does not use it), square_avg,
 * momentum_buffer (with momentum) and grad_avg (centered). One parameter's
 * update is the op "rmsprop_update", a no-grad op that writes its parameter
 * and state in place, defined here with its cpu kernel; its float32
 * arithmetic follows PyTorch's order of operations. */
#include <nn/plugin.h>

#include <math.h>

#include "optim_state.h"

/* ---- the op ---- */

enum { IN_PARAM, IN_GRAD, IN_SQUARE_AVG, IN_MOMENTUM_BUFFER, IN_GRAD_AVG, IN_COUNT };
enum { A_LR, A_ALPHA, A_EPS, A_WEIGHT_DECAY, A_MOMENTUM, A_MAXIMIZE, A_COUNT };

static const nn_op_arg update_in[] = {
    [IN_PARAM] = {"param", NN_ARG_WRITTEN, 0, 0},
    [IN_GRAD] = {"grad", NN_ARG_NO_GRAD, 0, 0},
    /* above grad_avg^2, so that the centered variance stays positive */
    [IN_SQUARE_AVG] = {"square_avg", NN_ARG_WRITTEN, 4, 5},
    [IN_MOMENTUM_BUFFER] = {"momentum_buffer", NN_ARG_WRITTEN | NN_ARG_OPTIONAL, 0, 0},
    [IN_GRAD_AVG] = {"grad_avg", NN_ARG_WRITTEN | NN_ARG_OPTIONAL, -1, 1},
};

static const nn_op_attr update_attr[] = {
    [A_LR] = {"lr", 0.01, "learning rate"},
    [A_ALPHA] = {"alpha", 0.99, "smoothing constant"},
    [A_EPS] = {"eps", 1e-8, "added to the denominator"},
    [A_WEIGHT_DECAY] = {"weight_decay", 0.01, "L2 penalty"},
    [A_MOMENTUM] = {"momentum", 0.9, "momentum factor (used with momentum_buffer)"},
    [A_MAXIMIZE] = {"maximize", 0, "1: ascend the gradient"},
};

static const nn_op_def update_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = NULL, /* an update has no gradient */
    .nin = IN_COUNT,
    .in = update_in,
    .nattr = A_COUNT,
    .attr = update_attr,
};

typedef struct {
    float *p, *sq, *buf, *ga;
    const float *g;
    float neg_lr, alpha, c1, eps, wd, mom;
    int decay, maximize;
} rmsprop_args;

static void rmsprop_range(const void *arg, int64_t i0, int64_t i1)
{
    const rmsprop_args *u = arg;
    float *restrict p = u->p, *restrict sq = u->sq, *restrict buf = u->buf, *restrict ga = u->ga;
    const float *restrict g = u->g;
    const float neg_lr = u->neg_lr, alpha = u->alpha, c1 = u->c1, eps = u->eps, wd = u->wd;
    for (int64_t i = i0; i < i1; i++) {
        float gi = u->maximize ? -g[i] : g[i];
        if (u->decay) gi = gi + wd * p[i];      /* grad.add(param, alpha=wd) */
        sq[i] = sq[i] * alpha + c1 * gi * gi;   /* square_avg.mul_(a).addcmul_(g, g, 1-a) */
        float avg;
        if (ga) {
            ga[i] = ga[i] * alpha + c1 * gi;    /* grad_avg.mul_(a).add_(g, alpha=1-a) */
            avg = sqrtf(sq[i] + -1.0f * ga[i] * ga[i]); /* addcmul(ga, ga, -1).sqrt_() */
        } else {
            avg = sqrtf(sq[i]);
        }
        avg = avg + eps;
        if (buf) {
            buf[i] = buf[i] * u->mom + 1.0f * gi / avg; /* buf.mul_(m).addcdiv_(g, avg) */
            p[i] = p[i] + neg_lr * buf[i];              /* param.add_(buf, alpha=-lr) */
        } else {
            p[i] = p[i] + neg_lr * gi / avg;            /* param.addcdiv_(g, avg, -lr) */
        }
    }
}

static nn_status update_cpu(const nn_kernel_call *c)
{
    const double *a = c->attr;
    /* Python's floats, each rounded once to float32 where a tensor op takes it */
    rmsprop_args u = {
        .p = c->in[IN_PARAM].data,
        .sq = c->in[IN_SQUARE_AVG].data,
        .buf = c->in[IN_MOMENTUM_BUFFER].data,
        .ga = c->in[IN_GRAD_AVG].data,
        .g = c->in[IN_GRAD].data,
        .neg_lr = (float)-a[A_LR],
        .alpha = (float)a[A_ALPHA],
        .c1 = (float)(1 - a[A_ALPHA]),
        .eps = (float)a[A_EPS],
        .wd = (float)a[A_WEIGHT_DECAY],
        .mom = (float)a[A_MOMENTUM],
        .decay = a[A_WEIGHT_DECAY] != 0,
        .maximize = a[A_MAXIMIZE] != 0,
    };
    optim_run(c, rmsprop_range, &u, c->in[IN_PARAM].numel, OPTIM_SPLIT);
    return NN_OK;
}

static const nn_kernel_def update_cpu_kernel = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = update_cpu,
};

/* ---- the optimizer ---- */

enum { P_LR, P_ALPHA, P_EPS, P_WEIGHT_DECAY, P_MOMENTUM, P_CENTERED, P_MAXIMIZE };

static const nn_prop_def rmsprop_props[] = {
    [P_LR] = {"lr", NN_PROP_FLOAT, "0.01", 0, 1e9, NULL, "learning rate"},
    [P_ALPHA] = {"alpha", NN_PROP_FLOAT, "0.99", 0, 1e9, NULL, "smoothing constant"},
    [P_EPS] = {"eps", NN_PROP_FLOAT, "1e-8", 0, 1e9, NULL, "added to the denominator"},
    [P_WEIGHT_DECAY] = {"weight_decay", NN_PROP_FLOAT, "0", 0, 1e9, NULL, "L2 penalty"},
    [P_MOMENTUM] = {"momentum", NN_PROP_FLOAT, "0", 0, 1e9, NULL, "momentum factor"},
    [P_CENTERED] = {"centered", NN_PROP_BOOL, "false", 1, 0, NULL,
                    "normalize by the estimated variance of the gradient"},
    [P_MAXIMIZE] = {"maximize", NN_PROP_BOOL, "false", 1, 0, NULL,
                    "maximize the objective instead of minimizing it"},
};

enum { S_STEP, S_SQUARE_AVG, S_MOMENTUM_BUFFER, S_GRAD_AVG };
static const char *const rmsprop_state[] = {"step", "square_avg", "momentum_buffer", "grad_avg",
                                            NULL};

typedef struct {
    nn_op *update;
} rmsprop_priv;

static nn_status rmsprop_init(nn_optim *o, char **err)
{
    rmsprop_priv *s = nn_optim_priv(o);
    return nn_op_find(nn_optim_ctx(o), "rmsprop_update", &s->update, err);
}

static nn_status rmsprop_step(nn_optim *o)
{
    rmsprop_priv *s = nn_optim_priv(o);
    const nn_props *p = nn_optim_hparams(o);
    double a[A_COUNT] = {
        [A_LR] = nn_props_float(p, P_LR),
        [A_ALPHA] = nn_props_float(p, P_ALPHA),
        [A_EPS] = nn_props_float(p, P_EPS),
        [A_WEIGHT_DECAY] = nn_props_float(p, P_WEIGHT_DECAY),
        [A_MOMENTUM] = nn_props_float(p, P_MOMENTUM),
        [A_MAXIMIZE] = nn_props_bool(p, P_MAXIMIZE),
    };
    const int centered = nn_props_bool(p, P_CENTERED);
    for (int i = 0, n = nn_optim_param_count(o); i < n; i++) {
        nn_tensor *param = nn_optim_param(o, i);
        nn_tensor *in[IN_COUNT] = {param, nn_tensor_grad(param), NULL, NULL, NULL};
        if (!in[IN_GRAD]) continue;
        nn_status st = next_step(o, i, S_STEP, NULL);
        if (st) return st;
        if (!(in[IN_SQUARE_AVG] = slot(o, i, S_SQUARE_AVG)) ||
            (a[A_MOMENTUM] > 0 && !(in[IN_MOMENTUM_BUFFER] = slot(o, i, S_MOMENTUM_BUFFER))) ||
            (centered && !(in[IN_GRAD_AVG] = slot(o, i, S_GRAD_AVG))))
            return NN_NO_MEMORY;
        nn_op_call(s->update, in, a, NULL);
    }
    return nn_ctx_error(nn_optim_ctx(o), NULL);
}

static const nn_optim_vt rmsprop_vt = {
    NN_VT_HEADER(nn_optim_vt),
    .type_name = "RMSprop",
    .state_names = rmsprop_state,
    .step = rmsprop_step,
    .priv_size = sizeof(rmsprop_priv),
    .init = rmsprop_init,
    .scalar_states = 1u << S_STEP,
};

static const nn_component_def rmsprop_components[] = {
    {NN_KIND_OPTIMIZER, "rmsprop", "RMSprop, centered or with momentum (PyTorch RMSprop)",
     &rmsprop_vt, rmsprop_props, NN_COUNT_OF(rmsprop_props)},
    {NN_KIND_OP, "rmsprop_update", "one RMSprop step of a parameter, in place", &update_op, NULL,
     0},
    {NN_KIND_KERNEL, "rmsprop_update", "cpu loops", &update_cpu_kernel, NULL, 0},
};

NN_PLUGIN_DEFINE("rmsprop", "1.0", rmsprop_components)
