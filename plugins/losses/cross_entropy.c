/* cross_entropy.c - PyTorch's CrossEntropyLoss on logits (N, C) and class
 * indices (a float tensor (N) or (N, 1) of 0 .. C-1): log-softmax, then the
 * negative log likelihood, with per-class weights, an ignored index and
 * label smoothing; reduction mean (over the weights of the samples not
 * ignored, as PyTorch) or sum. Accuracy: the row's argmax is its target.
 *
 * The math is one fused op, "cross_entropy", defined here with its cpu
 * kernels (their loops in class_loss.h): log-softmax and NLL in one pass,
 * stable for any logits, in double, the exponentials 8 at a time. PyTorch
 * records two nodes (NllLossBackward0 after LogSoftmaxBackward0); the
 * fused op records one, NllLossBackward0. */
#include "class_loss.h"
#include "../devices/vecmath.h"

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

/* The largest of the row's C logits, NaN only when all are (fmax's rule). */
static double ce_max(const float *x, int64_t C)
{
    double m = x[0];
    for (int64_t c = 1; c < C; c++)
        if (m != m || x[c] > m) m = x[c];
    return m;
}

/* e = exp(x - the row's max) for every row of x (N, C), 8 at a time in
 * double (vecmath.h's vd_exp, within 2 ulp of libm's exp). */
NN_VEC_FN(void, ce_exp_rows, (const float *x, int64_t N, int64_t C, double *e), (x, N, C, e))
{
    for (int64_t i = 0; i < N; i++) {
        double m = ce_max(x + i * C, C);
        for (int64_t c = 0; c < C; c++) e[i * C + c] = (double)x[i * C + c] - m;
    }
    int64_t j = 0, n = N * C;
    for (; j + VF_N <= n; j += VF_N) {
        vd d;
        memcpy(&d, e + j, sizeof d);
        d = vd_exp(d);
        memcpy(e + j, &d, sizeof d);
    }
    if (j < n) {
        vd d = vd_set(0.0);
        for (int64_t k = 0; j + k < n; k++) d[k] = e[j + k];
        d = vd_exp(d);
        for (int64_t k = 0; j + k < n; k++) e[j + k] = d[k];
    }
}

static double ce_sum(const double *e, int64_t C)
{
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += e[c];
    return s;
}

/* log_softmax(x) of every row into lp: x - max - log(sum(exp(x - max))). */
static void ce_log_softmax(const float *x, int64_t N, int64_t C, double *lp)
{
    ce_exp_rows(x, N, C, lp);
    for (int64_t i = 0; i < N; i++) {
        const float *xi = x + i * C;
        double *li = lp + i * C, lse = ce_max(xi, C) + log(ce_sum(li, C));
        for (int64_t c = 0; c < C; c++) li[c] = (double)xi[c] - lse;
    }
}

/* softmax(x) of every row into p: exp(x - max) / sum(exp(x - max)). */
static void ce_softmax(const float *x, int64_t N, int64_t C, double *p)
{
    ce_exp_rows(x, N, C, p);
    for (int64_t i = 0; i < N; i++) {
        double *pi = p + i * C, s = ce_sum(pi, C);
        for (int64_t c = 0; c < C; c++) pi[c] /= s;
    }
}

/* Row i of log_softmax(x), made by ce_log_softmax. */
static const double *ce_row(const cls_rows *r, int64_t i, double *buf)
{
    (void)buf;
    return r->pre + i * r->C;
}

static nn_status ce_cpu_forward(const nn_kernel_call *c)
{
    return cls_cpu_forward(c, "cross_entropy", ce_log_softmax, ce_row, c->attr[A_IGNORE],
                           c->attr[A_SMOOTH], (int)c->attr[A_REDUCTION]);
}

/* dx = gl - softmax(x) * sum(gl) per row, gl the gradient of the loss with
 * respect to the row's log-probabilities; softmax(x) made by ce_softmax. */
static void ce_back(const cls_rows *r, int64_t i, const double *gl, float *d, int acc)
{
    int64_t C = r->C;
    const double *p = r->pre + i * C;
    double sum = 0;
    for (int64_t k = 0; k < C; k++) sum += gl[k];
    for (int64_t k = 0; k < C; k++) {
        float v = (float)(gl[k] - p[k] * sum);
        d[k] = acc ? d[k] + v : v;
    }
}

static nn_status ce_cpu_backward(const nn_kernel_call *c)
{
    return cls_cpu_backward(c, "cross_entropy", ce_softmax, ce_back, c->attr[A_IGNORE],
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
