/* sgd.c - stochastic gradient descent with PyTorch's semantics:
 *   d = g + weight_decay * p
 *   buf = d on first use, else momentum * buf + (1 - dampening) * d
 *   d = nesterov ? d + momentum * buf : buf      (when momentum != 0)
 *   p -= lr * d */
#include <nn/plugin.h>

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

static nn_status sgd_validate(const nn_props *p, char **err)
{
    if (nn_props_bool(p, P_NESTEROV) &&
        (nn_props_float(p, P_MOMENTUM) <= 0 || nn_props_float(p, P_DAMPENING) != 0))
        return nn_fail(err, NN_INVALID, "sgd: nesterov needs momentum > 0 and dampening = 0");
    return NN_OK;
}

static nn_status sgd_step(nn_optim *o)
{
    const nn_props *p = nn_optim_hparams(o);
    nn_sgd_args a = {
        .lr = (float)nn_props_float(p, P_LR),
        .momentum = (float)nn_props_float(p, P_MOMENTUM),
        .dampening = (float)nn_props_float(p, P_DAMPENING),
        .weight_decay = (float)nn_props_float(p, P_WEIGHT_DECAY),
        .nesterov = nn_props_bool(p, P_NESTEROV),
    };
    int n = nn_optim_param_count(o);
    for (int i = 0; i < n; i++) {
        nn_tensor *param = nn_optim_param(o, i);
        if (!nn_tensor_grad(param)) continue;
        nn_tensor *buf = NULL;
        a.first = 0;
        if (a.momentum != 0.0f) {
            buf = nn_optim_state(o, i, S_MOMENTUM_BUFFER);
            if (!buf) {
                if (!(buf = nn_optim_state_new(o, i, S_MOMENTUM_BUFFER))) return NN_NO_MEMORY;
                a.first = 1;
            }
        }
        nn_status st = nn_sgd_update_(param, buf, &a);
        if (st) return st;
    }
    return NN_OK;
}

static const nn_optim_vt sgd_vt = {
    NN_VT_HEADER(nn_optim_vt),
    .type_name = "SGD",
    .state_names = sgd_state,
    .validate = sgd_validate,
    .step = sgd_step,
};

static const nn_component_def sgd_components[] = {
    {NN_KIND_OPTIMIZER, "sgd", "stochastic gradient descent with momentum (PyTorch SGD)", &sgd_vt,
     sgd_props, NN_COUNT_OF(sgd_props)},
};

NN_PLUGIN_DEFINE("sgd", "1.0", sgd_components)
