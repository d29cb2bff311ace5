/* sgd.c - stochastic gradient descent with PyTorch's semantics:
 *   d = g + weight_decay * p
 *   buf = d on first use, else momentum * buf + (1 - dampening) * d
 *   d = nesterov ? d + momentum * buf : buf      (when momentum != 0)
 *   p -= lr * d
 *
 * One parameter's update is the op "sgd_update", a no-grad op that writes
 * its parameter and buffer in place, defined here with its cpu kernel. */
#include <nn/plugin.h>

#include "../devices/vecmath.h"
#include "optim_state.h"

/* ---- the op: param and momentum_buffer updated from grad ---- */

enum { IN_PARAM, IN_GRAD, IN_BUF };
enum { A_LR, A_MOMENTUM, A_DAMPENING, A_WEIGHT_DECAY, A_NESTEROV, A_FIRST, A_COUNT };

static const nn_op_arg update_in[] = {
    [IN_PARAM] = {"param", NN_ARG_WRITTEN, 0, 0},
    [IN_GRAD] = {"grad", NN_ARG_NO_GRAD, 0, 0},
    [IN_BUF] = {"momentum_buffer", NN_ARG_WRITTEN | NN_ARG_OPTIONAL, 0, 0},
};

static const nn_op_attr update_attr[] = {
    [A_LR] = {"lr", 0.01, "learning rate"},
    [A_MOMENTUM] = {"momentum", 0.9, "momentum factor"},
    [A_DAMPENING] = {"dampening", 0.25, "dampening for momentum"},
    [A_WEIGHT_DECAY] = {"weight_decay", 0.01, "L2 penalty"},
    [A_NESTEROV] = {"nesterov", 0, "1: Nesterov momentum"},
    [A_FIRST] = {"first", 0, "1: the buffer's first use, where it becomes the gradient"},
};

static const nn_op_def update_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = NULL, /* an update has no gradient */
    .nin = 3,
    .in = update_in,
    .nattr = A_COUNT,
    .attr = update_attr,
};

/* The update of VF_N elements at p, g, buf (buf NULL without momentum). */
VF_INLINE void update_vec(float *restrict p, const float *restrict g, float *restrict buf,
                          float lr, float mom, float damp, float wd, int nesterov, int first)
{
    vf pv = vf_load(p), d = vf_load(g) + wd * pv;
    if (buf) {
        vf b = first ? d : mom * vf_load(buf) + damp * d;
        vf_store(buf, b);
        d = nesterov ? d + mom * b : b;
    }
    vf_store(p, pv - lr * d);
}

/* One pass over the parameter; the flags are the same for every element, so
 * their branches cost nothing. */
NN_VEC_FN(void, update_loop, (int64_t n, float *restrict p, const float *restrict g, float *restrict buf, float lr, float mom, float damp, float wd, int nesterov, int first),
          (n, p, g, buf, lr, mom, damp, wd, nesterov, first))
{
    int64_t i = 0;
    for (; i + VF_N <= n; i += VF_N)
        update_vec(p + i, g + i, buf ? buf + i : NULL, lr, mom, damp, wd, nesterov, first);
    for (; i < n; i++) {
        float d = g[i] + wd * p[i];
        if (buf) {
            buf[i] = first ? d : mom * buf[i] + damp * d;
            d = nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

typedef struct {
    float *p, *buf;
    const float *g;
    float lr, mom, damp, wd;
    int nesterov, first;
} update_args;

/* inline: below UPDATE_SPLIT optim_run calls it, and it the loop, directly
 * (the tutorial's step makes four updates of a few floats) */
static inline void update_range(const void *arg, int64_t i0, int64_t i1)
{
    const update_args *u = arg;
    update_loop(i1 - i0, u->p + i0, u->g + i0, u->buf ? u->buf + i0 : NULL, u->lr, u->mom,
                u->damp, u->wd, u->nesterov, u->first);
}

/* From this many elements on, the update is split among the device's
 * threads: below it, handing the parts over costs more than it saves
 * (measured at batch 1: a 256 x 256 weight's update was slower split). */
#define UPDATE_SPLIT (128 * 1024)

static nn_status update_cpu(const nn_kernel_call *c)
{
    const double *a = c->attr;
    update_args u = {c->in[IN_PARAM].data, c->in[IN_BUF].data, c->in[IN_GRAD].data,
                     (float)a[A_LR], (float)a[A_MOMENTUM], 1.0f - (float)a[A_DAMPENING],
                     (float)a[A_WEIGHT_DECAY], a[A_NESTEROV] != 0, a[A_FIRST] != 0};
    optim_run(c, update_range, &u, c->in[IN_PARAM].numel, UPDATE_SPLIT);
    return NN_OK;
}

static const nn_kernel_def update_cpu_kernel = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = update_cpu,
};

/* ---- the optimizer ---- */

enum { P_LR, P_MOMENTUM, P_DAMPENING, P_WEIGHT_DECAY, P_NESTEROV };

static const nn_prop_def sgd_props[] = {
    [P_LR] = {"lr", NN_PROP_FLOAT, "0.01", 0, 1e9, NULL, "learning rate"},
    [P_MOMENTUM] = {"momentum", NN_PROP_FLOAT, "0", 0, 1e9, NULL, "momentum factor"},
    [P_DAMPENING] = {"dampening", NN_PROP_FLOAT, "0", 0, 1, NULL, "dampening for momentum"},
    [P_WEIGHT_DECAY] = {"weight_decay", NN_PROP_FLOAT, "0", 0, 1e9, NULL, "L2 penalty"},
    [P_NESTEROV] = {"nesterov", NN_PROP_BOOL, "false", 1, 0, NULL, "Nesterov momentum"},
};

enum { S_MOMENTUM_BUFFER };
static const char *const sgd_state[] = {"momentum_buffer", NULL};

typedef struct {
    nn_op *update;
} sgd_priv;

static nn_status sgd_validate(const nn_props *p, char **err)
{
    if (nn_props_bool(p, P_NESTEROV) &&
        (nn_props_float(p, P_MOMENTUM) <= 0 || nn_props_float(p, P_DAMPENING) != 0))
        return nn_fail(err, NN_INVALID, "sgd: nesterov needs momentum > 0 and dampening = 0");
    return NN_OK;
}

static nn_status sgd_init(nn_optim *o, char **err)
{
    sgd_priv *s = nn_optim_priv(o);
    return nn_op_find(nn_optim_ctx(o), "sgd_update", &s->update, err);
}

static nn_status sgd_step(nn_optim *o)
{
    sgd_priv *s = nn_optim_priv(o);
    const nn_props *p = nn_optim_hparams(o);
    double a[A_COUNT] = {
        [A_LR] = nn_props_float(p, P_LR),
        [A_MOMENTUM] = nn_props_float(p, P_MOMENTUM),
        [A_DAMPENING] = nn_props_float(p, P_DAMPENING),
        [A_WEIGHT_DECAY] = nn_props_float(p, P_WEIGHT_DECAY),
        [A_NESTEROV] = nn_props_bool(p, P_NESTEROV),
    };
    int n = nn_optim_param_count(o);
    for (int i = 0; i < n; i++) {
        nn_tensor *param = nn_optim_param(o, i);
        nn_tensor *in[] = {param, nn_tensor_grad(param), NULL};
        if (!in[IN_GRAD]) continue;
        a[A_FIRST] = 0;
        if (a[A_MOMENTUM] != 0) {
            in[IN_BUF] = nn_optim_state(o, i, S_MOMENTUM_BUFFER);
            if (!in[IN_BUF]) {
                if (!(in[IN_BUF] = nn_optim_state_new(o, i, S_MOMENTUM_BUFFER)))
                    return NN_NO_MEMORY;
                a[A_FIRST] = 1;
            }
        }
        nn_op_call(s->update, in, a, NULL);
    }
    return nn_ctx_error(nn_optim_ctx(o), NULL);
}

static const nn_optim_vt sgd_vt = {
    NN_VT_HEADER(nn_optim_vt),
    .type_name = "SGD",
    .state_names = sgd_state,
    .validate = sgd_validate,
    .step = sgd_step,
    .priv_size = sizeof(sgd_priv),
    .init = sgd_init,
};

static const nn_component_def sgd_components[] = {
    {NN_KIND_OPTIMIZER, "sgd", "stochastic gradient descent with momentum (PyTorch SGD)", &sgd_vt,
     sgd_props, NN_COUNT_OF(sgd_props)},
    {NN_KIND_OP, "sgd_update", "one SGD step of a parameter, in place", &update_op, NULL, 0},
    {NN_KIND_KERNEL, "sgd_update", "cpu loops", &update_cpu_kernel, NULL, 0},
};

NN_PLUGIN_DEFINE("sgd", "2.0", sgd_components)
