/* adam.c - Adam with PyTorch 1.13's semantics (torch.optim.Adam):
 *   step += 1
 *   g = grad (negated when maximize) + weight_decay * p       (L2 penalty)
 *   exp_avg = beta1 * exp_avg + (1 - beta1) * g
 *   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
 *   max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)          (amsgrad)
 *   denom = sqrt(exp_avg_sq or max_exp_avg_sq) / sqrt(1 - beta2^step) + eps
 *   p -= lr / (1 - beta1^step) * exp_avg / denom
 *
 * The per-parameter state has PyTorch's names: step (one number, as
 * PyTorch's 0-d tensor), exp_avg, exp_avg_sq and, with amsgrad,
 * max_exp_avg_sq; a checkpoint holds them all, so a resumed run continues
 * exactly. One parameter's update is the op "adam_update", a no-grad op
 * that writes its parameter and moments in place, defined here with its
 * cpu kernel. Its float32 arithmetic follows PyTorch's order of operations;
 * the bias corrections are computed in double, as PyTorch does in Python. */
#include <nn/plugin.h>

#include <math.h>

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
    [A_WEIGHT_DECAY] = {"weight_decay", 0.01, "L2 penalty"},
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

static nn_status update_cpu(const nn_kernel_call *c)
{
    float *restrict p = c->in[IN_PARAM].data, *restrict m = c->in[IN_EXP_AVG].data;
    float *restrict v = c->in[IN_EXP_AVG_SQ].data, *restrict vmax = c->in[IN_MAX_EXP_AVG_SQ].data;
    const float *restrict g = c->in[IN_GRAD].data;
    int64_t n = c->in[IN_PARAM].numel;
    const double *a = c->attr;
    const double lr = a[A_LR], b1 = a[A_BETA1], b2 = a[A_BETA2], step = a[A_STEP];
    if (!(step >= 1))
        return nn_ctx_set_error(c->ctx, NN_INVALID, "adam_update: step %g is not >= 1", step);
    /* Python's floats, each rounded once to float32 where a tensor op takes it */
    const double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
    const float neg_step_size = (float)-(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float fb1 = (float)b1, fb2 = (float)b2, fc1 = (float)(1 - b1), fc2 = (float)(1 - b2);
    const float eps = (float)a[A_EPS], wd = (float)a[A_WEIGHT_DECAY];
    const int decay = a[A_WEIGHT_DECAY] != 0, maximize = a[A_MAXIMIZE] != 0;
    for (int64_t i = 0; i < n; i++) {
        float gi = maximize ? -g[i] : g[i];
        if (decay) gi = gi + wd * p[i];          /* grad.add(param, alpha=wd) */
        m[i] = m[i] * fb1 + fc1 * gi;            /* exp_avg.mul_(b1).add_(g, alpha=1-b1) */
        v[i] = v[i] * fb2 + fc2 * gi * gi;       /* exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2) */
        float s = v[i];
        if (vmax) {
            vmax[i] = vmax[i] >= s || isnan(vmax[i]) ? vmax[i] : s; /* torch.maximum */
            s = vmax[i];
        }
        float denom = sqrtf(s) / bc2_sqrt + eps;
        p[i] = p[i] + neg_step_size * m[i] / denom; /* addcdiv_(m, denom, -step_size) */
    }
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
    [P_WEIGHT_DECAY] = {"weight_decay", NN_PROP_FLOAT, "0", 0, 1e9, NULL, "L2 penalty"},
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
            return nn_fail(err, NN_INVALID, "adam: betas: beta%d = %g is not below 1", k + 1, b[k]);
    return NN_OK;
}

static nn_status adam_init(nn_optim *o, char **err)
{
    adam_priv *s = nn_optim_priv(o);
    return nn_op_find(nn_optim_ctx(o), "adam_update", &s->update, err);
}

/* step += 1 on parameter i's count (created at 0), in float32 as PyTorch's. */
static nn_status next_step(nn_optim *o, int i, double *step)
{
    nn_tensor *t = nn_optim_state(o, i, S_STEP);
    if (!t && !(t = nn_optim_state_new(o, i, S_STEP))) return NN_NO_MEMORY;
    float v = 0;
    nn_status st = nn_tensor_item(t, &v);
    v += 1.0f;
    if (!st) st = nn_tensor_from_host(t, &v, 1);
    *step = v;
    return st;
}

/* State slot j of parameter i, created (zeroed) on first use. */
static nn_tensor *slot(nn_optim *o, int i, int j)
{
    nn_tensor *t = nn_optim_state(o, i, j);
    return t ? t : nn_optim_state_new(o, i, j);
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
        nn_status st = next_step(o, i, &a[A_STEP]);
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
    .type_name = "Adam",
    .state_names = adam_state,
    .validate = adam_validate,
    .step = adam_step,
    .priv_size = sizeof(adam_priv),
    .init = adam_init,
    .scalar_states = 1u << S_STEP,
};

static const nn_component_def adam_components[] = {
    {NN_KIND_OPTIMIZER, "adam", "Adam, with AMSGrad as an option (PyTorch Adam)", &adam_vt,
     adam_props, NN_COUNT_OF(adam_props)},
    {NN_KIND_OP, "adam_update", "one Adam step of a parameter, in place", &update_op, NULL, 0},
    {NN_KIND_KERNEL, "adam_update", "cpu loops", &update_cpu_kernel, NULL, 0},
};

NN_PLUGIN_DEFINE("adam", "1.0", adam_components)
