/* cross_entropy.c - PyTorch's CrossEntropyLoss on logits (N, C) and class
 * indices (a float tensor (N) or (N, 1) of 0 .. C-1): log-softmax, then the
 * negative log likelihood, with per-class weights, an ignored index and
 * label smoothing; reduction mean (over the weights of the samples not
 * ignored, as PyTorch) or sum. Accuracy: the row's argmax is its target.
 *
 * The math is one fused op, "cross_entropy", defined here with its cpu
 * kernels (their loops in class_loss.h): log-softmax and NLL in one pass,
 * stable for any logits. PyTorch records two nodes (NllLossBackward0 after
 * LogSoftmaxBackward0); the fused op records one, NllLossBackward0. */
#include "class_loss.h"

/* ---- the op: logits x (N, C), target (N), weight (C) -> loss, a scalar ---- */

enum { IN_X = CLS_IN_X, IN_T = CLS_IN_T, IN_W = CLS_IN_W };
enum { A_IGNORE, A_SMOOTH, A_REDUCTION, A_COUNT };

static const nn_op_attr ce_attr[] = {
    [A_IGNORE] = {"ignore_index", -100, "the target value that contributes nothing"},
    [A_SMOOTH] = {"label_smoothing", 0, "share of the target spread over all classes"},
    [A_REDUCTION] = {"reduction", CLS_MEAN, "0: mean over the weights, 1: sum"},
};

static const nn_op_def ce_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "NllLossBackward0",
    .nin = 3,
    .nout = 1,
    .nattr = A_COUNT,
    .in = cls_in,
    .out = cls_out,
    .attr = ce_attr,
    .shape = cls_op_shape,
};

/* Row i of log_softmax(x), in double: x - max - log(sum(exp(x - max))). */
static const double *ce_row(const cls_rows *r, int64_t i, double *buf)
{
    const float *x = r->v + i * r->C;
    double m = x[0], s = 0;
    for (int64_t c = 1; c < r->C; c++) m = fmax(m, x[c]);
    for (int64_t c = 0; c < r->C; c++) s += exp((double)x[c] - m);
    double lse = m + log(s);
    for (int64_t c = 0; c < r->C; c++) buf[c] = (double)x[c] - lse;
    return buf;
}

static nn_status ce_cpu_forward(const nn_kernel_call *c)
{
    return cls_cpu_forward(c, "cross_entropy", ce_row, c->attr[A_IGNORE], c->attr[A_SMOOTH],
                           (int)c->attr[A_REDUCTION]);
}

/* dx = gl - softmax(x) * sum(gl) per row, gl the gradient of the loss with
 * respect to the row's log-probabilities. */
static void ce_back(const cls_rows *r, int64_t i, const double *gl, double *buf, float *d,
                    int acc)
{
    int64_t C = r->C;
    double sum = 0;
    for (int64_t k = 0; k < C; k++) sum += gl[k];
    const double *lp = ce_row(r, i, buf);
    for (int64_t k = 0; k < C; k++) {
        float v = (float)(gl[k] - exp(lp[k]) * sum);
        d[k] = acc ? d[k] + v : v;
    }
}

static nn_status ce_cpu_backward(const nn_kernel_call *c)
{
    return cls_cpu_backward(c, "cross_entropy", ce_back, 1, c->attr[A_IGNORE],
                            c->attr[A_SMOOTH], (int)c->attr[A_REDUCTION]);
}

static const nn_kernel_def ce_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = ce_cpu_forward,
    .backward = ce_cpu_backward,
};

/* ---- the loss ---- */

enum { P_REDUCTION, P_SMOOTH, P_WEIGHT, P_IGNORE };

static const nn_prop_def ce_props[] = {
    [P_REDUCTION] = {"reduction", NN_PROP_ENUM, "mean", 1, 0, "mean|sum",
                     "mean (over the weights of the samples not ignored) or sum"},
    [P_SMOOTH] = {"label_smoothing", NN_PROP_FLOAT, "0", 0, 1, NULL,
                  "share of the target spread uniformly over the classes"},
    [P_WEIGHT] = {"weight", NN_PROP_STRING, "", 1, 0, NULL,
                  "per-class weights, one per class: 1,2,0.5 (empty: all 1)"},
    [P_IGNORE] = {"ignore_index", NN_PROP_INT, "-100", 1, 0, NULL,
                  "samples with this target count for nothing"},
};

_Static_assert(A_COUNT <= CLS_MAX_ATTRS, "cls_loss_state holds the attributes");

static const cls_loss_def ce_def = {
    .who = "cross_entropy",
    .op = "cross_entropy",
    .weight_key = "weight",
    .p_reduction = P_REDUCTION,
    .p_weight = P_WEIGHT,
    .p_ignore = P_IGNORE,
    .a_reduction = A_REDUCTION,
    .a_ignore = A_IGNORE,
};

static nn_status ce_init(nn_loss *l, const nn_props *p, char **err)
{
    cls_loss_state *s = nn_loss_priv(l);
    s->attr[A_SMOOTH] = nn_props_float(p, P_SMOOTH);
    return cls_loss_init(l, p, &ce_def, err);
}

static const nn_loss_vt ce_vt = {
    NN_VT_HEADER(nn_loss_vt),
    .type_name = "CrossEntropyLoss",
    .init = ce_init,
    .forward = cls_loss_forward,
    .correct = cls_loss_correct,
    .priv_size = sizeof(cls_loss_state),
    .destroy = cls_loss_destroy,
    .target = NN_TARGET_CLASS_INDEX,
};

static const nn_component_def ce_components[] = {
    {NN_KIND_LOSS, "cross_entropy", "cross-entropy of logits and class indices (PyTorch "
     "CrossEntropyLoss)", &ce_vt, ce_props, NN_COUNT_OF(ce_props)},
    {NN_KIND_OP, "cross_entropy", "log-softmax and negative log likelihood of class indices",
     &ce_op, NULL, 0},
    {NN_KIND_KERNEL, "cross_entropy", "cpu loops, in double", &ce_cpu, NULL, 0},
};

NN_PLUGIN_DEFINE("cross_entropy", "1.0", ce_components)
