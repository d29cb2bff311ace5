/* adagrad.c - Adagrad with PyTorch 1.13's semantics (torch.optim.Adagrad):
 *   step += 1
 *   g = grad (negated when maximize) + weight_decay * p       (L2 penalty)
 *   clr = lr / (1 + (step - 1) * lr_decay)
 *   sum += g * g
 *   p -= clr * g / (sqrt(sum) + eps)
 *
 * The per-parameter state has PyTorch's names, step (one number, as
 * PyTorch's 0-d tensor) and sum; as in PyTorch, both exist from the
 * optimizer's creation, sum filled with initial_accumulator_value (a later
 * change of that property does not touch them). One parameter's update is
 * the op "adagrad_update", a no-grad op that writes its parameter and sum in
 * place, defined here with its cpu kernel; its float32 arithmetic follows
 * PyTorch's order of operations, clr is computed in double as in Python. */
#include <nn/plugin.h>

#include <math.h>

#include "optim_state.h"

/* ---- the op ---- */

enum { IN_PARAM, IN_GRAD, IN_SUM, IN_COUNT };
enum { A_LR, A_LR_DECAY, A_WEIGHT_DECAY, A_EPS, A_MAXIMIZE, A_STEP, A_COUNT };

static const nn_op_arg update_in[] = {
    [IN_PARAM] = {"param", NN_ARG_WRITTEN, 0, 0},
    [IN_GRAD] = {"grad", NN_ARG_NO_GRAD, 0, 0},
    [IN_SUM] = {"sum", NN_ARG_WRITTEN, 0, 2},
};

static const nn_op_attr update_attr[] = {
    [A_LR] = {"lr", 0.01, "learning rate"},
    [A_LR_DECAY] = {"lr_decay", 0.1, "learning rate decay"},
    [A_WEIGHT_DECAY] = {"weight_decay", 0.01, "L2 penalty"},
    [A_EPS] = {"eps", 1e-10, "added to the denominator"},
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

typedef struct {
    float *p, *sum;
    const float *g;
    float neg_clr, eps, wd;
    int decay, maximize;
} adagrad_args;

static void adagrad_range(const void *arg, int64_t i0, int64_t i1)
{
    const adagrad_args *u = arg;
    float *restrict p = u->p, *restrict sum = u->sum;
    const float *restrict g = u->g;
    for (int64_t i = i0; i < i1; i++) {
        float gi = u->maximize ? -g[i] : g[i];
        if (u->decay) gi = gi + u->wd * p[i];   /* grad.add(param, alpha=wd) */
        sum[i] = sum[i] + 1.0f * gi * gi;       /* state_sum.addcmul_(g, g, value=1) */
        float std = sqrtf(sum[i]) + u->eps;     /* state_sum.sqrt().add_(eps) */
        p[i] = p[i] + u->neg_clr * gi / std;    /* param.addcdiv_(g, std, value=-clr) */
    }
}

static nn_status update_cpu(const nn_kernel_call *c)
{
    const double *a = c->attr;
    if (!(a[A_STEP] >= 1))
        return nn_ctx_set_error(c->ctx, NN_INVALID, "adagrad_update: step %g is not >= 1",
                                a[A_STEP]);
    /* Python's floats, each rounded once to float32 where a tensor op takes it */
    adagrad_args u = {
        .p = c->in[IN_PARAM].data,
        .sum = c->in[IN_SUM].data,
        .g = c->in[IN_GRAD].data,
        .neg_clr = (float)-(a[A_LR] / (1 + (a[A_STEP] - 1) * a[A_LR_DECAY])),
        .eps = (float)a[A_EPS],
        .wd = (float)a[A_WEIGHT_DECAY],
        .decay = a[A_WEIGHT_DECAY] != 0,
        .maximize = a[A_MAXIMIZE] != 0,
    };
    optim_run(c, adagrad_range, &u, c->in[IN_PARAM].numel, OPTIM_SPLIT);
    return NN_OK;
}

static const nn_kernel_def update_cpu_kernel = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = update_cpu,
};

/* ---- the optimizer ---- */

enum { P_LR, P_LR_DECAY, P_WEIGHT_DECAY, P_INITIAL_ACCUMULATOR_VALUE, P_EPS, P_MAXIMIZE };

static const nn_prop_def adagrad_props[] = {
    [P_LR] = {"lr", NN_PROP_FLOAT, "0.01", 0, 1e9, NULL, "learning rate"},
    [P_LR_DECAY] = {"lr_decay", NN_PROP_FLOAT, "0", 0, 1e9, NULL, "learning rate decay"},
    [P_WEIGHT_DECAY] = {"weight_decay", NN_PROP_FLOAT, "0", 0, 1e9, NULL, "L2 penalty"},
    [P_INITIAL_ACCUMULATOR_VALUE] = {"initial_accumulator_value", NN_PROP_FLOAT, "0", 0, 1e9,
                                     NULL, "the starting value of sum"},
    [P_EPS] = {"eps", NN_PROP_FLOAT, "1e-10", 0, 1e9, NULL, "added to the denominator"},
    [P_MAXIMIZE] = {"maximize", NN_PROP_BOOL, "false", 1, 0, NULL,
                    "maximize the objective instead of minimizing it"},
};

enum { S_STEP, S_SUM };
static const char *const adagrad_state[] = {"step", "sum", NULL};

typedef struct {
    nn_op *update;
} adagrad_priv;

/* Parameter i's state as PyTorch creates it: step 0, sum filled. */
static nn_status create_state(nn_optim *o, int i)
{
    if (!nn_optim_state(o, i, S_STEP) && !nn_optim_state_new(o, i, S_STEP)) return NN_NO_MEMORY;
    if (nn_optim_state(o, i, S_SUM)) return NN_OK;
    nn_tensor *sum = nn_optim_state_new(o, i, S_SUM);
    if (!sum) return NN_NO_MEMORY;
    return nn_tensor_fill_(sum, (float)nn_props_float(nn_optim_hparams(o),
                                                      P_INITIAL_ACCUMULATOR_VALUE));
}

static nn_status adagrad_init(nn_optim *o, char **err)
{
    adagrad_priv *s = nn_optim_priv(o);
    nn_status st = nn_op_find(nn_optim_ctx(o), "adagrad_update", &s->update, err);
    for (int i = 0, n = nn_optim_param_count(o); !st && i < n; i++)
        if ((st = create_state(o, i))) nn_fail(err, st, "adagrad: cannot create the state");
    return st;
}

static nn_status adagrad_step(nn_optim *o)
{
    adagrad_priv *s = nn_optim_priv(o);
    const nn_props *p = nn_optim_hparams(o);
    double a[A_COUNT] = {
        [A_LR] = nn_props_float(p, P_LR),
        [A_LR_DECAY] = nn_props_float(p, P_LR_DECAY),
        [A_WEIGHT_DECAY] = nn_props_float(p, P_WEIGHT_DECAY),
        [A_EPS] = nn_props_float(p, P_EPS),
        [A_MAXIMIZE] = nn_props_bool(p, P_MAXIMIZE),
    };
    for (int i = 0, n = nn_optim_param_count(o); i < n; i++) {
        nn_tensor *param = nn_optim_param(o, i);
        nn_tensor *in[IN_COUNT] = {param, nn_tensor_grad(param), NULL};
        if (!in[IN_GRAD]) continue;
        /* a loaded checkpoint may lack the state: create it as at the start */
        nn_status st = create_state(o, i);
        if (!st) st = next_step(o, i, S_STEP, &a[A_STEP]);
        if (st) return st;
        in[IN_SUM] = nn_optim_state(o, i, S_SUM);
        nn_op_call(s->update, in, a, NULL);
    }
    return nn_ctx_error(nn_optim_ctx(o), NULL);
}

static const nn_optim_vt adagrad_vt = {
    NN_VT_HEADER(nn_optim_vt),
    .type_name = "Adagrad",
    .state_names = adagrad_state,
    .step = adagrad_step,
    .priv_size = sizeof(adagrad_priv),
    .init = adagrad_init,
    .scalar_states = 1u << S_STEP,
};

static const nn_component_def adagrad_components[] = {
    {NN_KIND_OPTIMIZER, "adagrad", "Adagrad (PyTorch Adagrad)", &adagrad_vt, adagrad_props,
     NN_COUNT_OF(adagrad_props)},
    {NN_KIND_OP, "adagrad_update", "one Adagrad step of a parameter, in place", &update_op, NULL,
     0},
    {NN_KIND_KERNEL, "adagrad_update", "cpu loops", &update_cpu_kernel, NULL, 0},
};

NN_PLUGIN_DEFINE("adagrad", "1.0", adagrad_components)
