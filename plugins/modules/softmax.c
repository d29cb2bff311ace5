/* softmax.c - PyTorch's nn.Softmax along one dimension (dim, counting the
 * batch as PyTorch does; default -1), any shape:
 *
 *   y_i = exp(x_i - max x) / sum_j exp(x_j - max x)
 *
 * The op "softmax" (SoftmaxBackward0; attribute dim) with its cpu kernel,
 * and the module that calls it: softmax_impl.h, shared with log_softmax.c,
 * with the math below. Sums are taken in double. */
#include <math.h>

#define SM_NAME "softmax"
#define SM_TYPE "Softmax"
#define SM_NODE "SoftmaxBackward0"
#define SM_DIM_DOC "the dimension that sums to 1"

/* y_i from x_i, the slice's max and its sum of exp(x_j - max) */
static double fwd_norm(double sum) { return sum; }

static float fwd_value(float x, float mx, double sum)
{
    return (float)(exp((double)x - mx) / sum);
}

/* dx (+)= y * (dy - sum_j dy_j y_j) */
static double bwd_term(float y, float dy) { return (double)dy * y; }

static float bwd_value(float y, float dy, double dot) { return (float)(y * (dy - dot)); }

#include "softmax_impl.h"

static const nn_component_def softmax_components[] = {
    {NN_KIND_OP, "softmax", "exp(x - max) / sum exp(x - max) along dim", &sm_op, NULL, 0},
    {NN_KIND_KERNEL, "softmax", "cpu: loops, sums in double", &sm_cpu, NULL, 0},
    {NN_KIND_MODULE, "softmax", "normalised exponentials along dim (PyTorch Softmax)", &sm_vt,
     sm_props, NN_COUNT_OF(sm_props)},
};

NN_PLUGIN_DEFINE("softmax", "1.0", softmax_components)
