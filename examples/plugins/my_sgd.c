/* my_sgd.c - the tutorial's hand-written optimizer, as a plugin:
 *
 *   @torch.no_grad()
 *   def step(self):
 *       for p in group['params']:
 *           grad = p.grad
 *           if momentum != 0:
 *               if 'momentum_buf' not in state: buf = state['momentum_buf'] = clone(grad)
 *               else: buf.mul_(momentum).add_(grad)
 *               grad = buf
 *           p.add_(grad, alpha=-lr)
 *
 * The state slot "momentum_buf" is saved in checkpoints by parameter name,
 * like the built-in optimizers' state. In-place tensor updates are never
 * recorded by autograd, so no no-grad switch is needed here. */
#include <nn/plugin.h>

enum { P_LR, P_MOMENTUM };

static const nn_prop_def props[] = {
    [P_LR] = {"lr", NN_PROP_FLOAT, "0.1", 0, 1e9, NULL, "learning rate"},
    [P_MOMENTUM] = {"momentum", NN_PROP_FLOAT, "0", 0, 1e9, NULL, "momentum factor"},
};

enum { S_MOMENTUM_BUF };
static const char *const state_names[] = {"momentum_buf", NULL};

static nn_status my_sgd_step(nn_optim *o)
{
    const nn_props *hp = nn_optim_hparams(o);
    float lr = (float)nn_props_float(hp, P_LR), momentum = (float)nn_props_float(hp, P_MOMENTUM);
    for (int i = 0; i < nn_optim_param_count(o); i++) {
        nn_tensor *p = nn_optim_param(o, i), *grad = nn_tensor_grad(p);
        if (!grad) continue;
        nn_status st = NN_OK;
        if (momentum != 0.0f) {
            nn_tensor *buf = nn_optim_state(o, i, S_MOMENTUM_BUF);
            if (!buf) {
                if (!(buf = nn_optim_state_new(o, i, S_MOMENTUM_BUF))) return NN_NO_MEMORY;
                st = nn_tensor_copy_(buf, grad);
            } else {
                st = nn_tensor_scale_(buf, momentum);
                if (!st) st = nn_tensor_add_(buf, grad, 1.0f);
            }
            grad = buf;
        }
        if (!st) st = nn_tensor_add_(p, grad, -lr);
        if (st) return st;
    }
    return NN_OK;
}

static const nn_optim_vt my_sgd_vt = {
    NN_VT_HEADER(nn_optim_vt),
    .type_name = "SGD",
    .state_names = state_names,
    .step = my_sgd_step,
};

static const nn_component_def components[] = {
    {NN_KIND_OPTIMIZER, "my_sgd", "the tutorial's hand-written SGD with momentum", &my_sgd_vt,
     props, NN_COUNT_OF(props)},
};

NN_PLUGIN_DEFINE("my_sgd", "1.0", components)
