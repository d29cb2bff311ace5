/* train.c - the training loop of the tutorial's fit(): batches in order,
 * shuffled or drawn with replacement, train or eval mode, loss and accuracy
 * per epoch weighted by samples. */
#include "nn-impl.h"

#include <math.h>

static nn_status ctx_status(nn_ctx *ctx, char **err)
{
    const char *msg;
    nn_status st = nn_ctx_error(ctx, &msg);
    if (st) {
        nn_fail(err, st, "%s", msg);
        nn_ctx_clear_error(ctx);
        nn_ctx_scratch_reset(ctx);
    }
    return st;
}

static nn_shape batched(const nn_shape *s, int64_t n)
{
    nn_shape b = {s->ndim + 1, {n}};
    memcpy(b.dim + 1, s->dim, (size_t)s->ndim * sizeof s->dim[0]);
    return b;
}

/* One batch: forward, loss, and in training the step. */
static nn_status run_batch(nn_module *m, nn_loss *l, nn_optim *o, double clip, nn_comm *comm,
                           float weight, nn_tensor *xb, nn_tensor *yb, float *loss, double *acc,
                           int64_t *correct, int64_t *total, char **err)
{
    nn_ctx *ctx = m->ctx;
    nn_tensor *y = nn_module_forward(m, xb);
    nn_tensor *L = nn_loss_forward(l, y, yb);
    if (!L) {
        /* nn_module_forward and nn_loss_forward record why; never go on without a loss. */
        nn_status st = ctx_status(ctx, err);
        return st ? st : nn_fail(err, NN_INTERNAL, "the forward pass gave no loss");
    }
    if (o) {
        nn_optim_zero_grad(o);
        nn_backward(L);
        /* Data-parallel: the whole global batch's gradient, before clipping sees it. */
        nn_status st = comm && !ctx->err ? nn_comm_allreduce_grads(comm, m, weight, err) : NN_OK;
        if (st) return st;
        st = ctx->err || !(clip > 0) ? NN_OK : nn_clip_grad_norm(m, clip, NULL);
        if (st && !ctx->err) return nn_fail(err, st, "clip_grad_norm: %s", nn_strerror(st));
        st = ctx->err ? ctx->err : nn_optim_step(o);
        if (ctx->err) return ctx_status(ctx, err);
        if (st) return nn_fail(err, st, "optimizer step: %s", nn_strerror(st));
    }
    nn_status st = nn_tensor_item(L, loss);
    *correct = *total = 0;
    if (!st) {
        st = nn_loss_correct(l, y, yb, correct, total);
        if (st == NN_UNSUPPORTED) st = NN_OK;
    }
    *acc = *total > 0 ? (double)*correct / (double)*total : NAN;
    if (st) return nn_fail(err, st, "reading the loss: %s", nn_strerror(st));
    return ctx_status(ctx, err);
}

/* Every module's train/eval flag, depth first, so that a pass can set one
 * mode and put back what was there (children may differ from the root). */
typedef struct modes {
    bool *flag;
    int n, cap;
} modes;

static int save_mode(nn_module *m, const char *path, int depth, void *user)
{
    (void)path, (void)depth;
    modes *s = user;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        bool *f = realloc(s->flag, (size_t)cap * sizeof *f);
        if (!f) return 1;
        s->flag = f;
        s->cap = cap;
    }
    s->flag[s->n++] = m->training;
    return 0;
}

/* In save_mode's order (the module, then its children), allocating nothing,
 * so that the modes come back even when memory has run out. */
static void restore_modes(nn_module *m, modes *s)
{
    if (s->n < s->cap) m->training = s->flag[s->n++];
    for (int i = 0; i < m->nchildren; i++) restore_modes(m->children[i], s);
}

/* One pass: batches of `batch` samples in `order` (NULL: 0..n-1), the last
 * one smaller unless drop_last. Each batch is gathered into host memory and
 * copied to the model's device on its own; on a device whose memory is host
 * memory, gathered straight into the batch tensors, and the next batch, into
 * a second pair of them, in the background while this one trains
 * (nn_dataset_gather_post: the device's threads take its parts while they
 * wait for work; 2 epochs of Fashion-MNIST's MLP went from 0.598 to 0.575 s,
 * one of the small CNN from 0.648 to 0.621). */
/* Training stops at a non-finite loss or parameter, so that no save ever
 * holds the weights of a diverged run. The loss is read on the host each
 * step anyway; the parameters are read when a step fails (a NaN weight is
 * the likelier cause than what the failing op says) and at the end of each
 * epoch, before anything can save them. epoch < 0: not known. */
static nn_status nonfinite(nn_module *m, nn_status st, float loss, int64_t epoch, int64_t step,
                           char **err)
{
    char where[64];
    if (epoch >= 0)
        snprintf(where, sizeof where, "at epoch %lld step %lld", (long long)epoch, (long long)step);
    else
        snprintf(where, sizeof where, "at step %lld", (long long)step);
    const char *name;
    nn_status pst = nn_module_check_finite(m, &name, NULL);
    if (pst == NN_INVALID && name)
        return nn_fail(err, NN_INVALID, "non-finite parameter %s %s", name, where);
    if (st) return st;
    if (!isfinite(loss)) return nn_fail(err, NN_INVALID, "non-finite loss %s", where);
    return pst ? nn_fail(err, pst, "reading the parameters: %s", nn_strerror(pst)) : NN_OK;
}

/* nn_fit's on_batch and what it said: stop after the epoch's last batch
 * (the epoch complete) or before it. */
typedef struct batch_cb {
    nn_batch_fn fn; /* NULL: none */
    void *user;
    enum { RUN_ON, STOP_AT_END, STOP_PARTIAL } stop;
} batch_cb;

/* Does the loss add over the batch (reduction=sum) instead of averaging? */
static bool loss_sums(const nn_loss *l)
{
    int np, i = nn_props_index(l->props, "reduction");
    const nn_prop_def *defs = nn_component_props(l->comp, &np);
    return i >= 0 && i < np && (defs[i].type == NN_PROP_ENUM || defs[i].type == NN_PROP_STRING) &&
           !strcmp(nn_props_string(l->props, i), "sum");
}

/* The tensors batch b is gathered into: a full batch's alternate between
 * the two pairs when there is a second (the next batch is gathered into
 * one while the other trains), the last partial batch has its own. */
static void batch_slot(int64_t b, int64_t nb, nn_tensor *xb, nn_tensor *yb, nn_tensor *xb2,
                       nn_tensor *yb2, nn_tensor *xl, nn_tensor *yl, nn_tensor **x, nn_tensor **y)
{
    bool second = xb2 && (b & 1);
    *x = b < nb ? (second ? xb2 : xb) : xl;
    *y = b < nb ? (second ? yb2 : yb) : yl;
}

/* Batch b's slice of samples: order's, or (order NULL) at .. at + cnt - 1
 * written into idx. */
static const int64_t *slice_ids(const int64_t *order, int64_t *idx, int64_t b, int64_t batch,
                                int64_t nb, int64_t lo, int64_t lo_r, int64_t cnt)
{
    int64_t at = b * batch + (b < nb ? lo : lo_r);
    if (order) return order + at;
    for (int64_t k = 0; k < cnt; k++) idx[k] = at + k;
    return idx;
}

static nn_status fit_pass(nn_module *m, nn_loss *l, nn_optim *o, nn_dataset *d, int64_t batch,
                          const int64_t *order, bool drop_last, int64_t epoch, double clip,
                          nn_comm *comm, batch_cb *cb, nn_epoch_stats *out, char **err)
{
    nn_ctx *ctx = m->ctx;
    if (batch <= 0) return nn_fail(err, NN_INVALID, "batch size must be positive");
    if (batch > NN_MAX_NUMEL)
        return nn_fail(err, NN_INVALID, "batch size %lld is more than nn allows (2^31 - 1)",
                       (long long)batch);
    int64_t n = d->len;
    if (drop_last && batch > n)
        return nn_fail(err, NN_INVALID, "batch size %lld with drop_last leaves no batch of the %lld samples",
                       (long long)batch, (long long)n);
    if (batch > n) batch = n; /* one batch of everything, as PyTorch's DataLoader */
    int64_t nb = n / batch, rest = drop_last ? 0 : n % batch;
    if (nb == 0)
        return nn_fail(err, NN_INVALID, "batch size %lld is larger than the dataset (%lld samples)",
                       (long long)batch, (long long)d->len);
    /* A loss over classes takes one class index per sample ([1] or []) for
     * an output of one score per class; any other a target of the output's
     * shape. */
    bool classes = NN_VT_IN(l->vt, nn_loss_vt, target) && l->vt->target == NN_TARGET_CLASS_INDEX;
    if (classes ? !(m->out.ndim == 1 && d->target.ndim <= 1 && nn_shape_numel(&d->target) == 1)
                : !nn_shape_equal(&m->out, &d->target)) {
        char a[64], b[64];
        nn_shape_format(&m->out, 0, a, sizeof a);
        nn_shape_format(&d->target, 0, b, sizeof b);
        return nn_fail(err, NN_SHAPE, "the model's output %s does not match the target %s%s", a, b,
                       classes ? " (the loss takes one score per class and one class index)" : "");
    }
    /* Data-parallel: this rank's contiguous slice of each global batch. */
    int64_t lo, mine, lo_r, mine_r;
    nn_comm_slice(comm, batch, &lo, &mine);
    nn_comm_slice(comm, rest, &lo_r, &mine_r);
    int64_t ranks = nn_comm_size(comm); /* the same test on every rank, so all stop */
    if (batch < ranks || (rest && rest < ranks))
        return nn_fail(err, NN_INVALID, "a batch of %lld samples leaves some of the %lld ranks "
                       "none%s", (long long)(batch < ranks ? batch : rest), (long long)ranks,
                       batch < ranks ? "" : " (the last, partial batch; drop it with --drop-last)");
    bool sum = comm && loss_sums(l);
    nn_shape xs = batched(&d->input, mine), ys = batched(&d->target, mine);
    nn_shape xr = batched(&d->input, mine_r), yr = batched(&d->target, mine_r);
    nn_tensor *xb = nn_tensor_new(ctx, &xs, 0), *yb = nn_tensor_new(ctx, &ys, 0);
    /* the next batch gathered ahead where it can be, into a second pair
     * when two full batches follow each other */
    bool ahead = nb + (rest > 0) > 1 && nn_dataset_gather_ahead(d, mine), two = ahead && nb > 1;
    nn_tensor *xb2 = two ? nn_tensor_new(ctx, &xs, 0) : NULL;
    nn_tensor *yb2 = two ? nn_tensor_new(ctx, &ys, 0) : NULL;
    nn_tensor *xl = rest ? nn_tensor_new(ctx, &xr, 0) : NULL;
    nn_tensor *yl = rest ? nn_tensor_new(ctx, &yr, 0) : NULL;
    int64_t *idx = malloc((size_t)mine * sizeof *idx);
    bool direct = ctx->dev.host_memory;
    float *hx = direct ? NULL : malloc((size_t)nn_shape_numel(&xs) * sizeof(float));
    float *hy = direct ? NULL : malloc((size_t)nn_shape_numel(&ys) * sizeof(float));
    nn_status st = NN_OK;
    if (!xb || !yb || !idx || (!direct && (!hx || !hy)) || (rest && (!xl || !yl)) ||
        (two && (!xb2 || !yb2)))
        st = nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_gather_job *next = NULL; /* batch b + 1, gathering */

    modes prev_modes = {0};
    if (!st && nn_module_visit(m, save_mode, &prev_modes))
        st = nn_fail(err, NN_NO_MEMORY, "out of memory");
    int prev_grad = nn_grad_set_enabled(ctx, o != NULL);
    nn_module_train(m, o != NULL); /* model.train(train), as the tutorial's fit() */
    double sum_loss = 0, sum_acc = 0, wsum_loss = 0;
    int64_t sum_correct = 0, sum_total = 0;
    bool has_acc = true;
    nn_batch_fn on_batch = cb ? cb->fn : NULL;
    for (int64_t b = 0; b < nb + (rest > 0) && !st; b++) {
        int64_t bs = b < nb ? batch : rest;
        int64_t cnt = b < nb ? mine : mine_r;
        /* This slice's share of the batch's figures: 1 alone; the mean's
         * weight with a mean loss, so that the sum over ranks is the mean
         * over the whole batch. */
        double share = (double)cnt / (double)bs, w = sum ? 1.0 : share;
        nn_tensor *x, *y;
        batch_slot(b, nb, xb, yb, xb2, yb2, xl, yl, &x, &y);
        if (next) {
            nn_gather_job *g = next;
            next = NULL;
            if ((st = nn_dataset_gather_finish(g, err))) break;
        } else {
            const int64_t *ids = slice_ids(order, idx, b, batch, nb, lo, lo_r, cnt);
            if ((st = nn_dataset_gather_batch(d, ids, cnt, x, y, hx, hy, err))) break;
        }
        if (ahead && b + 1 < nb + (rest > 0)) { /* the next batch, while this one trains */
            int64_t c1 = b + 1 < nb ? mine : mine_r;
            nn_tensor *x1, *y1;
            batch_slot(b + 1, nb, xb, yb, xb2, yb2, xl, yl, &x1, &y1);
            next = nn_dataset_gather_post(d, slice_ids(order, idx, b + 1, batch, nb, lo, lo_r, c1),
                                          c1, x1, y1);
        }
        float loss;
        double acc = NAN;
        int64_t correct = 0, total = 0;
        st = run_batch(m, l, o, clip, comm, (float)w, x, y, &loss, &acc, &correct, &total, err);
        nn_ctx_scratch_reset(ctx);
        if (o && (st || !isfinite(loss) || b == nb + (rest > 0) - 1))
            st = nonfinite(m, st, st ? 0.0f : loss, epoch, b, err);
        if (st) break;
        sum_loss += loss * w;
        wsum_loss += (double)loss * w * (double)bs;
        if (isnan(acc)) has_acc = false;
        sum_acc += acc * share;
        sum_correct += correct;
        sum_total += total;
        if (on_batch) { /* NULL (the common case) costs this one branch */
            nn_batch_stats bst = {epoch, b, nb + (rest > 0), b * batch + bs, loss};
            if (on_batch(&bst, cb->user)) {
                bool last = b == nb + (rest > 0) - 1; /* its parameters checked above */
                cb->stop = last ? STOP_AT_END : STOP_PARTIAL;
                if (!last && o) st = nonfinite(m, NN_OK, loss, epoch, b, err);
                break;
            }
        }
    }
    if (next) { /* stopped before the batch gathering: its figures are not wanted */
        char *why = NULL;
        nn_dataset_gather_finish(next, &why);
        free(why);
    }
    nn_grad_set_enabled(ctx, prev_grad);
    prev_modes.cap = prev_modes.n; /* put every module's mode back */
    prev_modes.n = 0;
    if (prev_modes.flag) restore_modes(m, &prev_modes);
    free(prev_modes.flag);
    if (!st && comm && nn_comm_size(comm) > 1) {
        /* The pass's figures over every rank's slices: one allreduce. */
        float f[5] = {(float)sum_loss, (float)wsum_loss, (float)sum_acc, (float)sum_correct,
                      (float)sum_total};
        st = nn_comm_allreduce_sum(comm, f, 5, err);
        sum_loss = f[0], wsum_loss = f[1], sum_acc = f[2];
        sum_correct = (int64_t)f[3], sum_total = (int64_t)f[4];
    }
    if (!st && out && !(cb && cb->stop == STOP_PARTIAL)) {
        /* Weighted by samples; with equal batches the plain mean, summed as
         * it always was so that the figures stay the same to the last digit. */
        if (!rest) {
            out->loss = sum_loss / (double)nb;
            out->accuracy = has_acc ? sum_acc / (double)nb : NAN;
        } else {
            out->loss = wsum_loss / (double)(nb * batch + rest);
            out->accuracy = has_acc && sum_total > 0 ? (double)sum_correct / (double)sum_total
                                                     : NAN;
        }
        out->batches = nb + (rest > 0);
    }
    if (ctx->err) nn_ctx_clear_error(ctx);
    nn_tensor_free(xb);
    nn_tensor_free(yb);
    nn_tensor_free(xb2);
    nn_tensor_free(yb2);
    nn_tensor_free(xl);
    nn_tensor_free(yl);
    free(idx);
    free(hx);
    free(hy);
    return st;
}

nn_status nn_fit_epoch(nn_module *m, nn_loss *l, nn_optim *o, nn_dataset *d, int64_t batch,
                       const int64_t *order, nn_epoch_stats *out, char **err)
{
    return fit_pass(m, l, o, d, batch, order, false, -1, 0.0, NULL, NULL, out, err);
}

nn_status nn_fit_epoch_comm(nn_module *m, nn_loss *l, nn_optim *o, nn_dataset *d, int64_t batch,
                            const int64_t *order, nn_comm *comm, nn_epoch_stats *out, char **err)
{
    return fit_pass(m, l, o, d, batch, order, false, -1, 0.0, comm, NULL, out, err);
}

nn_status nn_fit(nn_module *m, nn_loss *l, nn_optim *o, nn_dataset *d, const nn_fit_opts *opts,
                 char **err)
{
    int64_t n = d->len;
    if (opts->shuffle == NN_SHUFFLE_SAMPLE && n > (int64_t)UINT32_MAX)
        return nn_fail(err, NN_INVALID, "shuffle sample takes at most %lu samples",
                       (unsigned long)UINT32_MAX);
    int64_t *order = opts->order, *own = NULL, *tmp = NULL;
    if (!order && !(order = own = malloc((size_t)n * sizeof *order)))
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        if (own)
            own[i] = i;
        else if (order[i] < 0 || order[i] >= n)
            return nn_fail(err, NN_INVALID, "data order entry %lld is %lld, outside 0..%lld",
                           (long long)i, (long long)order[i], (long long)(n - 1));
    }
    if (opts->shuffle == NN_SHUFFLE_SAMPLE && !(tmp = malloc((size_t)n * sizeof *tmp))) {
        free(own);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    /* the shuffle's divisors' inverses, for up to 8 MB of them; else it divides */
    uint64_t *magic = NULL;
    if (opts->shuffle == NN_SHUFFLE_EPOCH && n < (1 << 20)) {
        if (!(magic = malloc((size_t)(n + 1) * sizeof *magic))) {
            free(own);
            return nn_fail(err, NN_NO_MEMORY, "out of memory");
        }
        nn_shuffle_magic(magic, n);
    }
    nn_status st = NN_OK;
    for (int64_t e = opts->first_epoch; e < opts->epochs && !st; e++) {
        if (o && opts->schedule && (st = nn_schedule_apply(opts->schedule, o, e, err))) break;
        const int64_t *ord = order;
        /* Every rank draws the same order: rank 0's generator, in case a
         * rank's draws (dropout on its slice) took it elsewhere. */
        if (opts->comm && (st = nn_comm_broadcast(opts->comm, &m->ctx->rng, sizeof m->ctx->rng, 0,
                                                  err)))
            break;
        if (opts->shuffle == NN_SHUFFLE_EPOCH) {
            if (magic)
                nn_order_shuffle_magic(&m->ctx->rng, order, n, magic);
            else
                nn_order_shuffle(&m->ctx->rng, order, n);
        } else if (opts->shuffle == NN_SHUFFLE_SAMPLE) {
            /* idx = np.random.randint(0, n, batch) per batch; order stays */
            for (int64_t i = 0; i < n; i++) tmp[i] = nn_rng_below(&m->ctx->rng, (uint32_t)n);
            ord = tmp;
        }
        nn_epoch_stats s = {.epoch = e};
        batch_cb cb = {opts->on_batch, opts->user, RUN_ON};
        st = fit_pass(m, l, o, d, opts->batch, ord, opts->drop_last, e, opts->clip_grad_norm,
                      opts->comm, &cb, &s, err);
        if (st || cb.stop == STOP_PARTIAL) break; /* on_epoch sees complete epochs only */
        if (opts->on_epoch && opts->on_epoch(&s, opts->user)) break;
        if (cb.stop) break;
    }
    free(own);
    free(tmp);
    free(magic);
    return st;
}
