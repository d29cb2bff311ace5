/* log_softmax.c - PyTorch's nn.LogSoftmax along one dimension (dim,
 * counting the batch as PyTorch does; default -1), any shape:
 *
 *   y_i = (x_i - max x) - log sum_j exp(x_j - max x)
 *
 * The op "log_softmax" (LogSoftmaxBackward0; attribute dim) with its cpu
 * kernel, and the module that calls it: softmax_impl.h, shared with
 * softmax.c, with the math below. Sums are taken in double. */
#include <math.h>

#define SM_NAME "log_softmax"
#define SM_TYPE "LogSoftmax"
#define SM_NODE "LogSoftmaxBackward0"
#define SM_DIM_DOC "the dimension normalised"

/* y_i from x_i, the slice's max and the log of its sum of exp(x_j - max) */
static double fwd_norm(double sum) { return log(sum); }

static float fwd_value(float x, float mx, double lse)
{
    return (float)(((double)x - mx) - lse);
}

/* dx (+)= dy - exp(y) * sum_j dy_j */
static double bwd_term(float y, float dy) { return dy; }

static float bwd_value(float y, float dy, double sum) { return (float)(dy - exp((double)y) * sum); }

#include "softmax_impl.h"

static const nn_component_def log_softmax_components[] = {
    {NN_KIND_OP, "log_softmax", "x - max - log sum exp(x - max) along dim", &sm_op, NULL, 0},
    {NN_KIND_KERNEL, "log_softmax", "cpu: loops, sums in double", &sm_cpu, NULL, 0},
    {NN_KIND_MODULE, "log_softmax", "log of softmax along dim (PyTorch LogSoftmax)", &sm_vt,
     sm_props, NN_COUNT_OF(sm_props)},
};

NN_PLUGIN_DEFINE("log_softmax", "1.0", log_softmax_components)
