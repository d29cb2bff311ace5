/* class_loss.h - what cross_entropy.c and nll.c share: the negative log
 * likelihood of class-index targets over (N, C) log-probabilities, with
 * per-class weights, an ignored index, label smoothing and PyTorch's
 * reductions; the parsing of number lists ("weight=1,2,0.5"); the
 * accuracy; the loss object (its init, forward, accuracy and destroy).
 * Static functions, compiled into each of the two plugins, and into
 * bce_with_logits.c for the number lists and the loss object's init. */
#ifndef NN_PLUGINS_CLASS_LOSS_H
#define NN_PLUGINS_CLASS_LOSS_H

#include <nn/plugin.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reductions, as the op attribute "reduction" holds them. */
enum { CLS_MEAN = 0, CLS_SUM = 1 };

/* Parses "1,2,0.5" into a new array (*n values, at least one; the caller
 * frees it). The empty text gives no array and *n = 0. */
static inline nn_status cls_parse_list(const char *key, const char *text, float **out,
                                       int64_t *n, char **err)
{
    *out = NULL;
    *n = 0;
    if (!text || !*text) return NN_OK;
    int64_t cap = 1;
    for (const char *p = text; *p; p++) cap += *p == ',';
    float *v = malloc((size_t)cap * sizeof *v);
    if (!v) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    const char *p = text;
    for (int64_t i = 0; i < cap; i++) {
        char *end;
        errno = 0;
        double d = strtod(p, &end);
        while (*end == ' ') end++;
        if (end == p || errno || !isfinite(d) || (*end != ',' && *end != 0)) {
            free(v);
            return nn_fail(err, NN_INVALID,
                           "%s='%s' is not a comma-separated list of numbers (as 1,2,0.5)",
                           key, text);
        }
        v[i] = (float)d;
        p = end + 1;
    }
    *out = v;
    *n = cap;
    return NN_OK;
}

/* A persistent (n) tensor holding v, for an op input. */
static inline nn_status cls_tensor(nn_ctx *ctx, const float *v, int64_t n, nn_tensor **out,
                                   char **err)
{
    nn_shape s = {1, {n}};
    *out = nn_tensor_new(ctx, &s, 0);
    if (!*out || nn_tensor_from_host(*out, v, n)) {
        nn_tensor_free(*out);
        *out = NULL;
        const char *msg;
        if (!nn_ctx_error(ctx, &msg)) msg = "out of memory";
        nn_status st = nn_fail(err, NN_NO_MEMORY, "%s", msg);
        nn_ctx_clear_error(ctx);
        return st;
    }
    return NN_OK;
}

/* The op's shapes: input (N, C), target (N) or (N, 1), weight (C) or
 * absent; the output is a scalar. */
static inline nn_status cls_shape(const nn_shape *in, const nn_shape *t, const nn_shape *w,
                                  nn_shape *out, char **err)
{
    /* the shapes are written out only for a message: this runs every step */
    char a[64], b[64];
    if (in->ndim != 2) {
        nn_shape_format(in, 0, a, sizeof a);
        return nn_fail(err, NN_SHAPE, "input %s is not (N, C): a row of C class scores per sample",
                       a);
    }
    if (!((t->ndim == 1 && t->dim[0] == in->dim[0]) ||
          (t->ndim == 2 && t->dim[0] == in->dim[0] && t->dim[1] == 1))) {
        nn_shape_format(in, 0, a, sizeof a);
        nn_shape_format(t, 0, b, sizeof b);
        return nn_fail(err, NN_SHAPE,
                       "target %s for input %s: expected (N) or (N, 1) class indices, N = %lld",
                       b, a, (long long)in->dim[0]);
    }
    if (w && (w->ndim != 1 || w->dim[0] != in->dim[1])) {
        nn_shape_format(in, 0, a, sizeof a);
        nn_shape_format(w, 0, b, sizeof b);
        return nn_fail(err, NN_SHAPE,
                       "weight %s for input %s: one weight per class expected, C = %lld", b, a,
                       (long long)in->dim[1]);
    }
    out[0] = (nn_shape){0, {0}};
    return NN_OK;
}

/* The op's inputs and output, the same in cross_entropy and nll: the
 * scores (N, C), the targets (N) and the optional weights (C). */
enum { CLS_IN_X, CLS_IN_T, CLS_IN_W };

static const nn_op_arg cls_in[] = {
    [CLS_IN_X] = {"input", 0, 0, 0},
    [CLS_IN_T] = {"target", NN_ARG_NO_GRAD | NN_ARG_INDEX, 0, 0},
    [CLS_IN_W] = {"weight", NN_ARG_NO_GRAD | NN_ARG_OPTIONAL | NN_ARG_PER_COL, 0.5f, 2.0f},
};
static const nn_op_arg cls_out[] = {{"loss", 0, 0, 0}};

static inline nn_status cls_op_shape(const nn_shape *const *in, const double *attr,
                                     nn_shape *out, char **err)
{
    (void)attr;
    return cls_shape(in[CLS_IN_X], in[CLS_IN_T], in[CLS_IN_W], out, err);
}

/* A weight tensor of the loss against the classes of pred; else a
 * recorded error that names the loss and the property. */
static inline int cls_weight_fits(const char *who, const char *key, nn_tensor *w,
                                  nn_tensor *pred, int64_t want, const char *what)
{
    if (!w || nn_tensor_numel(w) == want) return 1;
    nn_ctx_set_error(nn_tensor_ctx(pred), NN_SHAPE,
                     "%s: %s= has %lld values, but the input has %lld %s", who, key,
                     (long long)nn_tensor_numel(w), (long long)want, what);
    return 0;
}

/* Every target a class 0 .. C-1 or the ignored index; else a recorded error. */
static inline nn_status cls_check_targets(nn_ctx *ctx, const char *who, const float *t,
                                          int64_t n, int64_t C, double ignore)
{
    for (int64_t i = 0; i < n; i++) {
        if ((double)t[i] == ignore) continue;
        if (!(t[i] >= 0 && t[i] < (float)C && t[i] == floorf(t[i])))
            return nn_ctx_set_error(ctx, NN_INVALID,
                                    "%s: target %g of sample %lld is not a class index 0 .. %lld "
                                    "(nor ignore_index %g)",
                                    who, (double)t[i], (long long)i, (long long)C - 1, ignore);
    }
    return NN_OK;
}

/* Rows of an (N, C) input for row() and back(): its data, C, and what the
 * kernel's prep() made of the whole input (N x C doubles), or NULL. */
typedef struct {
    const float *v;
    int64_t C;
    const double *pre;
} cls_rows;

/* Computes from the input x (N, C) the N x C doubles that row() or back()
 * then read (cross_entropy's log-softmax or softmax), all rows at once. */
typedef void (*cls_prep_fn)(const float *x, int64_t N, int64_t C, double *out);

/* pre for the input of call c made by prep (NULL: none, and *pre NULL). */
static inline nn_status cls_prep(const nn_kernel_call *c, const char *who, cls_prep_fn prep,
                                 cls_rows *r, int64_t N)
{
    r->pre = NULL;
    if (!prep) return NN_OK;
    double *pre = nn_kernel_scratch(c, (size_t)N * (size_t)r->C * sizeof(double));
    if (!pre) return nn_ctx_set_error(c->ctx, NN_NO_MEMORY, "%s: out of memory", who);
    prep(r->v, N, r->C, pre);
    r->pre = pre;
    return NN_OK;
}

/* The loss over log-probabilities lp (N, C), row by row through row():
 *
 *   sum_i [ (1 - eps) (-w[t_i] lp[i, t_i]) + eps / C (-sum_c w[c] lp[i, c]) ] / D
 *
 * over the samples whose target is not ignored, D = the sum of their w[t_i]
 * for the mean, 1 for the sum (PyTorch's nll_loss and the label smoothing
 * of its cross_entropy). *den gets D. row(r, i, buf) returns lp's row i,
 * from the input rows r. */
typedef const double *(*cls_row_fn)(const cls_rows *r, int64_t i, double *buf);

static inline double cls_loss(cls_row_fn row, const cls_rows *r, double *buf,
                              const float *t, const float *w, int64_t N, int64_t C,
                              double ignore, double eps, int reduction, double *den)
{
    double num = 0, d = 0;
    for (int64_t i = 0; i < N; i++) {
        if ((double)t[i] == ignore) continue;
        int64_t k = (int64_t)t[i];
        const double *lp = row(r, i, buf);
        double wk = w ? w[k] : 1.0;
        num -= (1 - eps) * wk * lp[k];
        if (eps != 0) {
            double s = 0;
            for (int64_t c = 0; c < C; c++) s += (w ? w[c] : 1.0) * lp[c];
            num -= eps / (double)C * s;
        }
        d += wk;
    }
    *den = reduction == CLS_SUM ? 1.0 : d;
    return num / *den;
}

/* A forward kernel: the targets checked (messages name who), then
 * cls_loss of the rows that row() makes of the op's input and of what
 * prep (or NULL) made of it. */
static inline nn_status cls_cpu_forward(const nn_kernel_call *c, const char *who,
                                        cls_prep_fn prep, cls_row_fn row, double ignore,
                                        double eps, int reduction)
{
    const nn_shape *s = c->in[CLS_IN_X].shape;
    int64_t N = s->dim[0], C = s->dim[1];
    const float *t = c->in[CLS_IN_T].data, *w = c->in[CLS_IN_W].data;
    nn_status st = cls_check_targets(c->ctx, who, t, N, C, ignore);
    if (st) return st;
    double *buf = nn_kernel_scratch(c, (size_t)C * sizeof(double)), den;
    if (!buf) return nn_ctx_set_error(c->ctx, NN_NO_MEMORY, "%s: out of memory", who);
    cls_rows r = {c->in[CLS_IN_X].data, C, NULL};
    st = cls_prep(c, who, prep, &r, N);
    if (st) return st;
    c->out[0].data[0] = (float)cls_loss(row, &r, buf, t, w, N, C, ignore, eps, reduction, &den);
    return NN_OK;
}

/* D of cls_loss alone, for a backward. */
static inline double cls_den(const float *t, const float *w, int64_t N, double ignore,
                             int reduction)
{
    if (reduction == CLS_SUM) return 1.0;
    double d = 0;
    for (int64_t i = 0; i < N; i++)
        if ((double)t[i] != ignore) d += w ? w[(int64_t)t[i]] : 1.0;
    return d;
}

/* The gradient of that loss (times g) with respect to row i of lp, into gl. */
static inline void cls_grad_row(const float *t, const float *w, int64_t i, int64_t C,
                                double ignore, double eps, double g_over_den, double *gl)
{
    if ((double)t[i] == ignore) {
        for (int64_t c = 0; c < C; c++) gl[c] = 0;
        return;
    }
    int64_t k = (int64_t)t[i];
    for (int64_t c = 0; c < C; c++) gl[c] = -g_over_den * eps / (double)C * (w ? w[c] : 1.0);
    gl[k] -= g_over_den * (1 - eps) * (w ? w[k] : 1.0);
}

/* Row i of the input's gradient from gl, the loss's gradient with respect
 * to the row's log-probabilities, written to d or added (acc). */
typedef void (*cls_back_fn)(const cls_rows *r, int64_t i, const double *gl, float *d, int acc);

/* A backward kernel: gl row by row, turned into the input's gradient by
 * back() with what prep (or NULL) made of the input. */
static inline nn_status cls_cpu_backward(const nn_kernel_call *c, const char *who,
                                         cls_prep_fn prep, cls_back_fn back, double ignore,
                                         double eps, int reduction)
{
    float *dx = c->gin[CLS_IN_X].data;
    if (!dx) return NN_OK;
    const nn_shape *s = c->in[CLS_IN_X].shape;
    int64_t N = s->dim[0], C = s->dim[1];
    const float *t = c->in[CLS_IN_T].data, *w = c->in[CLS_IN_W].data;
    double g = c->gout[0].data[0] / cls_den(t, w, N, ignore, reduction);
    double *gl = nn_kernel_scratch(c, (size_t)C * sizeof(double));
    if (!gl) return nn_ctx_set_error(c->ctx, NN_NO_MEMORY, "%s: out of memory", who);
    cls_rows r = {c->in[CLS_IN_X].data, C, NULL};
    nn_status st = cls_prep(c, who, prep, &r, N);
    if (st) return st;
    int acc = c->acc[CLS_IN_X];
    for (int64_t i = 0; i < N; i++) {
        cls_grad_row(t, w, i, C, ignore, eps, g, gl);
        back(&r, i, gl, dx + i * C, acc);
    }
    return NN_OK;
}

/* Accuracy: the first largest score of each row against its target; rows
 * whose target is ignored do not count. */
static inline nn_status cls_correct(nn_tensor *pred, nn_tensor *target, double ignore,
                                    int64_t *correct, int64_t *total)
{
    const nn_shape *s = nn_tensor_shape(pred);
    if (s->ndim != 2 || nn_tensor_numel(target) != s->dim[0]) return NN_SHAPE;
    int64_t N = s->dim[0], C = s->dim[1];
    float *h = malloc((size_t)(N * (C + 1) + 1) * sizeof *h);
    if (!h) return NN_NO_MEMORY;
    nn_status st = nn_tensor_to_host(pred, h, N * C);
    if (!st) st = nn_tensor_to_host(target, h + N * C, N);
    int64_t good = 0, n = 0;
    for (int64_t i = 0; !st && i < N; i++) {
        float ti = h[N * C + i];
        if ((double)ti == ignore) continue;
        const float *r = h + i * C;
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (r[c] > r[best] || (isnan(r[c]) && !isnan(r[best]))) best = c;
        good += (float)best == ti;
        n++;
    }
    free(h);
    *correct = good;
    *total = n;
    return st;
}

/* ---- the loss object of cross_entropy, nll and bce_with_logits ---- */

/* What differs between those losses: the name in messages, the op, and
 * where the shared properties and the op's shared attributes are. */
typedef struct {
    const char *who;        /* "nll" */
    const char *op;         /* "nll_loss" */
    const char *weight_key; /* the weight list's property: "weight" */
    int p_reduction, p_weight;
    int p_ignore;           /* -1: no ignore_index */
    int a_reduction, a_ignore;
} cls_loss_def;

/* The loss's private data (priv_size = sizeof(cls_loss_state)). */
#define CLS_MAX_ATTRS 4
typedef struct {
    const cls_loss_def *def;
    nn_op *op;
    nn_tensor *weight; /* NULL: none */
    double attr[CLS_MAX_ATTRS]; /* the op's attributes, by the plugin's A_ values */
} cls_loss_state;

/* Sets ignore_index and reduction in attr, the weight tensor from its
 * list, and finds the op; the plugin sets its other attributes. */
static inline nn_status cls_loss_init(nn_loss *l, const nn_props *p, const cls_loss_def *d,
                                      char **err)
{
    cls_loss_state *s = nn_loss_priv(l);
    s->def = d;
    if (d->p_ignore >= 0) s->attr[d->a_ignore] = (double)nn_props_int(p, d->p_ignore);
    s->attr[d->a_reduction] =
        strcmp(nn_props_string(p, d->p_reduction), "sum") ? CLS_MEAN : CLS_SUM;
    float *w;
    int64_t n;
    nn_status st = cls_parse_list(d->weight_key, nn_props_string(p, d->p_weight), &w, &n, err);
    if (!st && w) st = cls_tensor(nn_loss_ctx(l), w, n, &s->weight, err);
    free(w);
    if (!st) st = nn_op_find(nn_loss_ctx(l), d->op, &s->op, err);
    return st;
}

static inline void cls_loss_destroy(nn_loss *l)
{
    cls_loss_state *s = nn_loss_priv(l);
    nn_tensor_free(s->weight);
}

/* The op on pred (N, C), target and the per-class weights, checked
 * against C first. */
static inline nn_tensor *cls_loss_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    cls_loss_state *s = nn_loss_priv(l);
    const nn_shape *ps = nn_tensor_shape(pred);
    if (ps->ndim == 2 &&
        !cls_weight_fits(s->def->who, s->def->weight_key, s->weight, pred, ps->dim[1], "classes"))
        return NULL;
    nn_tensor *in[] = {pred, target, s->weight};
    return nn_op_call(s->op, in, s->attr, NULL);
}

static inline nn_status cls_loss_correct(nn_loss *l, nn_tensor *pred, nn_tensor *target,
                                         int64_t *correct, int64_t *total)
{
    cls_loss_state *s = nn_loss_priv(l);
    return cls_correct(pred, target, s->attr[s->def->a_ignore], correct, total);
}

#endif
