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
 * that writes its parameter and moments in place, defined with its cpu
 * kernel in adam_impl.h, which adam.c and adamw.c share. Its float32
 * arithmetic follows PyTorch's order of operations; the bias corrections
 * are computed in double, as PyTorch does in Python. */
#define ADAM_NAME "adam"
#define ADAM_TYPE "Adam"
#define ADAM_DECOUPLED 0
#define ADAM_WD_DEFAULT "0"
#define ADAM_WD_DOC "L2 penalty"
#define ADAM_WD_ATTR_DOC "L2 penalty"
#include "adam_impl.h"

static const nn_component_def adam_components[] = {
    {NN_KIND_OPTIMIZER, "adam", "Adam, with AMSGrad as an option (PyTorch Adam)", &adam_vt,
     adam_props, NN_COUNT_OF(adam_props)},
    {NN_KIND_OP, "adam_update", "one Adam step of a parameter, in place", &update_op, NULL, 0},
    {NN_KIND_KERNEL, "adam_update", "cpu loops", &update_cpu_kernel, NULL, 0},
};

NN_PLUGIN_DEFINE("adam", "1.0", adam_components)
