/* bce_with_logits.c - PyTorch's BCEWithLogitsLoss: binary cross-entropy of
 * logits x and targets t in [0, 1] (same shape), computed stably as
 *
 *   max(x, 0) - x t + log(1 + exp(-|x|))
 *
 * and with pos_weight p (one number, or one per output: the predictions'
 * last dimension) as (1 - t) x + (1 + (p - 1) t) (log(1 + exp(-|x|)) +
 * max(-x, 0)). Reduction mean or sum. Accuracy: the share of outputs whose
 * logit is > 0 exactly where the target is 1.
 *
 * The math is the op "binary_cross_entropy_with_logits", defined here with
 * its cpu kernels. */
#include <nn/plugin.h>

#include <math.h>
#include <stdlib.h>

#include "class_loss.h" /* CLS_MEAN, CLS_SUM, the loss object */

/* ---- the op: logits x, target t (x's shape), pos_weight (x's last dim) ---- */

enum { IN_X, IN_T, IN_PW };
enum { A_REDUCTION, A_COUNT };

static const nn_op_arg bcel_in[] = {
    [IN_X] = {"input", 0, 0, 0},
    [IN_T] = {"target", NN_ARG_NO_GRAD, 0.0f, 1.0f},
    [IN_PW] = {"pos_weight", NN_ARG_NO_GRAD | NN_ARG_OPTIONAL | NN_ARG_PER_COL, 0.5f, 3.0f},
};
static const nn_op_arg bcel_out[] = {{"loss", 0, 0, 0}};
static const nn_op_attr bcel_attr[] = {
    [A_REDUCTION] = {"reduction", CLS_MEAN, "0: mean, 1: sum"},
};

static nn_status bcel_shape(const nn_shape *const *in, const double *attr, nn_shape *out,
                            char **err)
{
    (void)attr;
    const nn_shape *x = in[IN_X], *t = in[IN_T], *pw = in[IN_PW];
    char s1[64], s2[64]; /* for a message only: this runs every step */
    int same = x->ndim == t->ndim;
    for (int i = 0; same && i < x->ndim; i++) same = x->dim[i] == t->dim[i];
    if (!same) {
        nn_shape_format(t, 0, s1, sizeof s1);
        nn_shape_format(x, 0, s2, sizeof s2);
        return nn_fail(err, NN_SHAPE, "target size %s differs from input size %s", s1, s2);
    }
    int64_t last = x->ndim ? x->dim[x->ndim - 1] : 1, n = pw ? nn_shape_numel(pw) : 1;
    if (pw && n != 1 && !(pw->ndim == 1 && n == last)) {
        nn_shape_format(pw, 0, s1, sizeof s1);
        nn_shape_format(x, 0, s2, sizeof s2);
        return nn_fail(err, NN_SHAPE,
                       "pos_weight %s for input %s: one number, or one per output (%lld)", s1,
                       s2, (long long)last);
    }
    out[0] = (nn_shape){0, {0}};
    return NN_OK;
}

static const nn_op_def bcel_op = {
    NN_VT_HEADER(nn_op_def),
    .node_name = "BinaryCrossEntropyWithLogitsBackward0",
    .nin = 3,
    .nout = 1,
    .nattr = A_COUNT,
    .in = bcel_in,
    .out = bcel_out,
    .attr = bcel_attr,
    .shape = bcel_shape,
};

/* pos_weight of element j: none (1), one number, or one per output. */
static inline double pos_weight(const nn_kernel_call *c, int64_t j, int64_t last)
{
    const float *pw = c->in[IN_PW].data;
    if (!pw) return 1.0;
    return c->in[IN_PW].numel == 1 ? pw[0] : pw[j % last];
}

static int64_t last_dim(const nn_kernel_call *c)
{
    const nn_shape *s = c->in[IN_X].shape;
    return s->ndim ? s->dim[s->ndim - 1] : 1;
}

static nn_status bcel_cpu_forward(const nn_kernel_call *c)
{
    const float *x = c->in[IN_X].data, *t = c->in[IN_T].data;
    int64_t n = c->in[IN_X].numel, last = last_dim(c);
    double s = 0;
    for (int64_t j = 0; j < n; j++) {
        double xj = x[j], tj = t[j], sp = log1p(exp(-fabs(xj))) + fmax(-xj, 0.0);
        s += (1 - tj) * xj + (1 + (pos_weight(c, j, last) - 1) * tj) * sp;
    }
    c->out[0].data[0] = (float)(c->attr[A_REDUCTION] == CLS_SUM ? s : s / (double)n);
    return NN_OK;
}

/* dx (+)= dy ((1 + (p - 1) t) sigmoid(x) - p t) / D: sigmoid(x) - t without p. */
static nn_status bcel_cpu_backward(const nn_kernel_call *c)
{
    float *dx = c->gin[IN_X].data;
    if (!dx) return NN_OK;
    const float *x = c->in[IN_X].data, *t = c->in[IN_T].data;
    int64_t n = c->in[IN_X].numel, last = last_dim(c);
    double g = c->gout[0].data[0];
    if (c->attr[A_REDUCTION] != CLS_SUM) g /= (double)n;
    int acc = c->acc[IN_X];
    for (int64_t j = 0; j < n; j++) {
        double xj = x[j], tj = t[j], p = pos_weight(c, j, last);
        double e = exp(-fabs(xj)), sig = xj >= 0 ? 1 / (1 + e) : e / (1 + e);
        float v = (float)(g * ((1 + (p - 1) * tj) * sig - p * tj));
        dx[j] = acc ? dx[j] + v : v;
    }
    return NN_OK;
}

static const nn_kernel_def bcel_cpu = {
    NN_VT_HEADER(nn_kernel_def),
    .device = "cpu",
    .forward = bcel_cpu_forward,
    .backward = bcel_cpu_backward,
};

/* ---- the loss ---- */

enum { P_REDUCTION, P_POS_WEIGHT };

static const nn_prop_def bcel_props[] = {
    [P_REDUCTION] = {"reduction", NN_PROP_ENUM, "mean", 1, 0, "mean|sum", "mean or sum"},
    [P_POS_WEIGHT] = {"pos_weight", NN_PROP_STRING, "", 1, 0, NULL,
                      "weight of the positive targets: a number, or one per output: 1,2"},
};

_Static_assert(A_COUNT <= CLS_MAX_ATTRS, "cls_loss_state holds the attributes");

static const cls_loss_def bcel_def = {
    .who = "bce_with_logits",
    .op = "binary_cross_entropy_with_logits",
    .weight_key = "pos_weight",
    .p_reduction = P_REDUCTION,
    .p_weight = P_POS_WEIGHT,
    .p_ignore = -1,
    .a_reduction = A_REDUCTION,
};

static nn_status bcel_init(nn_loss *l, const nn_props *p, char **err)
{
    return cls_loss_init(l, p, &bcel_def, err);
}

static nn_tensor *bcel_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    cls_loss_state *s = nn_loss_priv(l); /* weight: pos_weight */
    const nn_shape *ps = nn_tensor_shape(pred);
    int64_t last = ps->ndim ? ps->dim[ps->ndim - 1] : 1;
    if (s->weight && nn_tensor_numel(s->weight) != 1 &&
        !cls_weight_fits("bce_with_logits", "pos_weight", s->weight, pred, last,
                         "outputs per sample"))
        return NULL;
    nn_tensor *in[] = {pred, target, s->weight};
    return nn_op_call(s->op, in, s->attr, NULL);
}

static nn_status bcel_correct(nn_loss *l, nn_tensor *pred, nn_tensor *target, int64_t *correct,
                              int64_t *total)
{
    (void)l;
    int64_t n = nn_tensor_numel(pred);
    if (n != nn_tensor_numel(target)) return NN_SHAPE;
    float *h = malloc((size_t)(2 * n + 1) * sizeof *h);
    if (!h) return NN_NO_MEMORY;
    nn_status st = nn_tensor_to_host(pred, h, n);
    if (!st) st = nn_tensor_to_host(target, h + n, n);
    int64_t good = 0;
    for (int64_t i = 0; i < n; i++) good += (h[i] > 0 ? 1.0f : 0.0f) == h[n + i];
    free(h);
    *correct = good;
    *total = n;
    return st;
}

static const nn_loss_vt bcel_vt = {
    NN_VT_HEADER(nn_loss_vt),
    .type_name = "BCEWithLogitsLoss",
    .init = bcel_init,
    .forward = bcel_forward,
    .correct = bcel_correct,
    .priv_size = sizeof(cls_loss_state),
    .destroy = cls_loss_destroy,
};

static const nn_component_def bcel_components[] = {
    {NN_KIND_LOSS, "bce_with_logits", "binary cross-entropy of logits, stable (PyTorch "
     "BCEWithLogitsLoss)", &bcel_vt, bcel_props, NN_COUNT_OF(bcel_props)},
    {NN_KIND_OP, "binary_cross_entropy_with_logits", "binary cross-entropy of logits",
     &bcel_op, NULL, 0},
    {NN_KIND_KERNEL, "binary_cross_entropy_with_logits", "cpu loops, in double", &bcel_cpu,
     NULL, 0},
};

NN_PLUGIN_DEFINE("bce_with_logits", "1.0", bcel_components)
