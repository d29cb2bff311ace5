/* nll.c - PyTorch's NLLLoss on log-probabilities (N, C) (a log-softmax's
 * output) and class indices (a float tensor (N) or (N, 1) of 0 .. C-1):
 * -w[t] lp[i, t], with per-class weights and an ignored index; reduction
 * mean (over the weights of the samples not ignored, as PyTorch) or sum.
 * Accuracy: the row's argmax is its target.
 *
 * The math is the op "nll_loss", defined here with its cpu kernels (their
 * loops in class_loss.h). */
#include "class_loss.h"

/* ---- the op: log-probabilities (N, C), target (N), weight (C) -> a scalar ---- */

enum { IN_LP = CLS_IN_X, IN_T = CLS_IN_T, IN_W = CLS_IN_W };
enum { A_IGNORE, A_REDUCTION, A_COUNT };

static const nn_op_attr nll_attr[] = {
    [A_IGNORE] = {"ignore_index", -100, "the target value that contributes nothing"},
    [A_REDUCTION] = {"reduction", CLS_MEAN, "0: mean over the weights, 1: sum"},
};

static const nn_op_def nll_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "NllLossBackward0",
    .nin = 3,
    .nout = 1,
    .nattr = A_COUNT,
    .in = cls_in,
    .out = cls_out,
    .attr = nll_attr,
    .shape = cls_op_shape,
};

static const double *nll_row(const cls_rows *r, int64_t i, double *buf)
{
    for (int64_t c = 0; c < r->C; c++) buf[c] = r->v[i * r->C + c];
    return buf;
}

static nn_status nll_cpu_forward(const nn_kernel_call *c)
{
    return cls_cpu_forward(c, "nll", NULL, nll_row, c->attr[A_IGNORE], 0,
                           (int)c->attr[A_REDUCTION]);
}

/* d lp[i, t_i] (+)= -dy w[t_i] / D, zero elsewhere: gl itself. */
static void nll_back(const cls_rows *r, int64_t i, const double *gl, float *d, int acc)
{
    (void)i;
    for (int64_t k = 0; k < r->C; k++) d[k] = acc ? d[k] + (float)gl[k] : (float)gl[k];
}

static nn_status nll_cpu_backward(const nn_kernel_call *c)
{
    return cls_cpu_backward(c, "nll", NULL, nll_back, c->attr[A_IGNORE], 0,
                            (int)c->attr[A_REDUCTION]);
}

static const nn_kernel_def nll_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = nll_cpu_forward,
    .backward = nll_cpu_backward,
};

/* ---- the loss ---- */

enum { P_REDUCTION, P_WEIGHT, P_IGNORE };

static const nn_prop_def nll_props[] = {
    [P_REDUCTION] = {"reduction", NN_PROP_ENUM, "mean", 1, 0, "mean|sum",
                     "mean (over the weights of the samples not ignored) or sum"},
    [P_WEIGHT] = {"weight", NN_PROP_STRING, "", 1, 0, NULL,
                  "per-class weights, one per class: 1,2,0.5 (empty: all 1)"},
    [P_IGNORE] = {"ignore_index", NN_PROP_INT, "-100", 1, 0, NULL,
                  "samples with this target count for nothing"},
};

_Static_assert(A_COUNT <= CLS_MAX_ATTRS, "cls_loss_state holds the attributes");

static const cls_loss_def nll_def = {
    .who = "nll",
    .op = "nll_loss",
    .weight_key = "weight",
    .p_reduction = P_REDUCTION,
    .p_weight = P_WEIGHT,
    .p_ignore = P_IGNORE,
    .a_reduction = A_REDUCTION,
    .a_ignore = A_IGNORE,
};

static nn_status nll_init(nn_loss *l, const nn_props *p, char **err)
{
    return cls_loss_init(l, p, &nll_def, err);
}

static const nn_loss_vt nll_vt = {
    NN_VT_HEADER(nn_loss_vt),
    .type_name = "NLLLoss",
    .init = nll_init,
    .forward = cls_loss_forward,
    .correct = cls_loss_correct,
    .priv_size = sizeof(cls_loss_state),
    .destroy = cls_loss_destroy,
    .target = NN_TARGET_CLASS_INDEX,
};

static const nn_component_def nll_components[] = {
    {NN_KIND_LOSS, "nll", "negative log likelihood of log-probabilities and class indices "
     "(PyTorch NLLLoss)", &nll_vt, nll_props, NN_COUNT_OF(nll_props)},
    {NN_KIND_OP, "nll_loss", "negative log likelihood of class indices", &nll_op, NULL, 0},
    {NN_KIND_KERNEL, "nll_loss", "cpu loops", &nll_cpu, NULL, 0},
};

NN_PLUGIN_DEFINE("nll", "1.0", nll_components)
