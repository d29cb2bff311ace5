/* check.c - `nnrun check NAME`: conformance checks for plugin authors.
 *
 *   module, loss  finite-difference gradients of inputs and parameters
 *   optimizer     steps on a quadratic; a parameter without gradient stays
 *   dataset       length, shapes, finite and repeatable samples
 *   device        every kernel against the cpu device on random data
 *   op            gradients against central differences, kernels of each
 *                 device against cpu (check_op.c)
 *
 * Each check prints one line; the worst failure decides the exit status. */
#include "check.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One measured check; why (may be NULL) says what went wrong when it fails. */
static void report_why(checker *c, const char *what, double err, double tol, const char *why)
{
    bool ok = err <= tol; /* NaN fails */
    c->run++;
    c->failed += !ok;
    printf("%-4s %-44s error %.3g (tolerance %.3g)\n", ok ? "ok" : "FAIL", what, err, tol);
    if (!ok && why) printf("     %s\n", why);
    double r = isnan(err) ? INFINITY : err / tol;
    if (!ok && r >= c->worst) {
        c->worst = r;
        snprintf(c->worst_what, sizeof c->worst_what, "%s: error %.3g, tolerance %.3g%s%s%s", what,
                 err, tol, why ? " (" : "", why ? why : "", why ? ")" : "");
    }
}

void report(checker *c, const char *what, double err, double tol)
{
    report_why(c, what, err, tol, NULL);
}

/* A check that could not run to a number: one FAIL line with the reason,
 * which is also what the summary quotes. */
static void report_error(checker *c, const char *what, const char *why)
{
    c->run++;
    c->failed++;
    printf("FAIL %s: %s\n", what, why);
    c->worst = INFINITY;
    snprintf(c->worst_what, sizeof c->worst_what, "%s: %s", what, why);
}

/* The context's error, cleared; or `otherwise` when there is none. */
static void ctx_failure(checker *c, const char *what, const char *otherwise)
{
    const char *msg;
    report_error(c, what, nn_ctx_error(c->ctx, &msg) ? msg : otherwise);
    nn_ctx_clear_error(c->ctx);
    nn_ctx_scratch_reset(c->ctx);
}

static void fill_uniform(checker *c, float *v, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * nn_rng_uniform(&c->rng);
}

/* ---- gradients against central differences ---- */

#define GC_EPS 1e-2
#define GC_ATOL 3e-3
#define GC_RTOL 3e-2

typedef nn_tensor *(*forward_fn)(void *user, nn_tensor *x);

/* The context's RNG as the checked forward found it: every forward of the
 * finite differences starts from it again, so that a module that draws
 * from it (dropout's mask) makes the same draws each time. */
static nn_rng fwd_rng;

/* L = sum(f(x) * w): host value in double, with the op output read back. */
static double loss_value(checker *c, forward_fn f, void *user, nn_tensor *x, const float *w,
                         int64_t nw, bool *ok)
{
    int prev = nn_grad_set_enabled(c->ctx, 0);
    *nn_ctx_rng(c->ctx) = fwd_rng;
    nn_tensor *y = f(user, x);
    nn_grad_set_enabled(c->ctx, prev);
    double s = NAN;
    float *h = y && nn_tensor_numel(y) == nw ? malloc((size_t)nw * sizeof *h) : NULL;
    if (h && !nn_tensor_to_host(y, h, nw)) {
        s = 0;
        for (int64_t i = 0; i < nw; i++) s += (double)h[i] * w[i];
    }
    free(h);
    *ok = !isnan(s);
    nn_ctx_scratch_reset(c->ctx);
    return s;
}

/* Largest |analytic - numeric| / (atol + rtol |numeric|) * atol over t. */
static double compare_grad(checker *c, forward_fn f, void *user, nn_tensor *x, nn_tensor *t,
                           const float *analytic, const float *w, int64_t nw)
{
    int64_t n = nn_tensor_numel(t);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v || nn_tensor_to_host(t, v, n)) {
        free(v);
        return NAN;
    }
    double worst = 0;
    for (int64_t j = 0; j < n; j++) {
        float keep = v[j];
        bool ok1, ok2;
        v[j] = keep + (float)GC_EPS;
        nn_tensor_from_host(t, v, n);
        double hi = loss_value(c, f, user, x, w, nw, &ok1);
        v[j] = keep - (float)GC_EPS;
        nn_tensor_from_host(t, v, n);
        double lo = loss_value(c, f, user, x, w, nw, &ok2);
        v[j] = keep;
        nn_tensor_from_host(t, v, n);
        if (!ok1 || !ok2) {
            worst = NAN;
            break;
        }
        double num = (hi - lo) / (2 * GC_EPS), e = fabs(analytic[j] - num);
        double scaled = e / (GC_ATOL + GC_RTOL * fabs(num)) * GC_ATOL;
        if (scaled > worst) worst = scaled;
    }
    free(v);
    return worst;
}

/* Checks d sum(f(x) w) / d t for x and every tensor in ts; suffix ends
 * each line's label (" in eval mode"). */
static void gradcheck(checker *c, forward_fn f, void *user, nn_tensor *x, int n,
                      nn_tensor *const *ts, const char *const *names, const char *suffix)
{
    nn_tensor_zero_grad(x);
    for (int i = 0; i < n; i++) nn_tensor_zero_grad(ts[i]);
    fwd_rng = *nn_ctx_rng(c->ctx);
    nn_tensor *y = f(user, x);
    int64_t nw = y ? nn_tensor_numel(y) : 0;
    float *w = y ? malloc((size_t)(nw ? nw : 1) * sizeof *w) : NULL;
    if (!y || !w) {
        /* The core records why a forward gave nothing, naming the component. */
        ctx_failure(c, "forward", y ? "out of memory" : "no tensor and no error recorded");
        free(w);
        return;
    }
    fill_uniform(c, w, nw, -1, 1);
    nn_tensor *W = nn_tensor_scratch(c->ctx, nn_tensor_shape(y));
    if (W) nn_tensor_from_host(W, w, nw);
    nn_status bst = nn_backward(nn_sum(nn_mul(y, W)));
    if (bst || nn_ctx_error(c->ctx, NULL)) {
        ctx_failure(c, "backward", nn_strerror(bst));
        free(w);
        return;
    }
    nn_ctx_scratch_reset(c->ctx);
    for (int i = -1; i < n; i++) {
        nn_tensor *t = i < 0 ? x : ts[i];
        char what[128];
        snprintf(what, sizeof what, "gradient of %s%s", i < 0 ? "the input" : names[i], suffix);
        if (!nn_tensor_requires_grad(t)) continue;
        nn_tensor *g = nn_tensor_grad(t);
        int64_t nt = nn_tensor_numel(t);
        float *a = malloc((size_t)(nt ? nt : 1) * sizeof *a);
        double e = NAN;
        if (g && a && !nn_tensor_to_host(g, a, nt)) e = compare_grad(c, f, user, x, t, a, w, nw);
        report(c, what, e, GC_ATOL);
        free(a);
    }
    free(w);
}

static nn_tensor *module_fwd(void *user, nn_tensor *x) { return nn_module_forward(user, x); }

/* n distinct values in random order, d = max(2 / n, 2.5 GC_EPS) apart and
 * symmetric about 0, which none is: within [-1, 1] while n <= 80. A step
 * of GC_EPS moves no value past another or past 0, so the kinks of a
 * max (pooling), a sort or a relu stay out of the central differences. */
static int fill_spaced(checker *c, float *v, int64_t n)
{
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
    if (!idx) return 1;
    double d = fmax(2.0 / (double)(n ? n : 1), 2.5 * GC_EPS);
    nn_rng_permutation(&c->rng, idx, n);
    for (int64_t i = 0; i < n; i++) v[i] = (float)(((double)idx[i] + 0.5 - n / 2.0) * d);
    free(idx);
    return 0;
}

/* A batch of n samples of shape in: (n, in...). */
static nn_shape batch_of(const nn_shape *in, int64_t n)
{
    nn_shape s = {in->ndim + 1, {n}};
    for (int i = 0; i < in->ndim; i++) s.dim[i + 1] = in->dim[i];
    return s;
}

static nn_status check_module(checker *c, const char *name, const char *words,
                              const nn_shape *sample, char **err)
{
    nn_shape in = *sample;
    nn_module *m;
    nn_status st = nn_module_create(c->ctx, name, words, &in, &m, err);
    if (st) return st;
    nn_shape xs = batch_of(nn_module_in_shape(m), 3);
    nn_tensor *x = nn_tensor_new(c->ctx, &xs, 1);
    int64_t nx = x ? nn_tensor_numel(x) : 0;
    float *v = malloc((size_t)(nx ? nx : 1) * sizeof *v);
    if (!x || !v) {
        free(v);
        nn_tensor_free(x);
        nn_module_free(m);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    if (fill_spaced(c, v, nx)) {
        free(v);
        nn_tensor_free(x);
        nn_module_free(m);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    nn_tensor_from_host(x, v, nx);
    int np = nn_module_param_count(m);
    nn_tensor **ts = calloc((size_t)(np ? np : 1), sizeof *ts);
    const char **names = calloc((size_t)(np ? np : 1), sizeof *names);
    if (ts && names) {
        for (int i = 0; i < np; i++) ts[i] = nn_module_param(m, i, &names[i]);
        char sh[96];
        nn_shape_format(&xs, 0, sh, sizeof sh);
        int nb = nn_module_buffer_count(m);
        printf("module %s: input %s, %d parameter tensors, %d buffers\n", name, sh, np, nb);
        nn_module_train(m, 1); /* gradients of what training runs */
        gradcheck(c, module_fwd, m, x, np, ts, names, "");
        if (nb) {
            /* Buffers (running statistics) take no gradient, and make eval mode
             * a function of its own: check it too. */
            double bad = 0;
            for (int i = 0; i < nb; i++) {
                nn_tensor *b = nn_module_buffer(m, i, NULL);
                bad += nn_tensor_requires_grad(b) || nn_tensor_grad(b);
            }
            report(c, "buffers without gradient", bad, 0);
            nn_module_train(m, 0);
            gradcheck(c, module_fwd, m, x, np, ts, names, " in eval mode");
        }
    } else {
        st = nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    free(ts);
    free(names);
    free(v);
    nn_tensor_free(x);
    nn_module_free(m);
    return st;
}

typedef struct {
    nn_loss *l;
    nn_tensor *target;
} loss_user;

static nn_tensor *loss_fwd(void *user, nn_tensor *x)
{
    loss_user *u = user;
    return nn_loss_forward(u->l, x, u->target);
}

static nn_status check_loss(checker *c, const char *name, const char *words,
                            const nn_shape *sample, char **err)
{
    loss_user u = {0};
    nn_status st = nn_loss_create(c->ctx, name, words, &u.l, err);
    if (st) return st;
    const nn_component *comp;
    nn_registry_find(nn_ctx_registry(c->ctx), NN_KIND_LOSS, name, &comp, NULL);
    const nn_loss_vt *vt = nn_component_vt(comp);
    bool classes = vt->struct_size >= offsetof(nn_loss_vt, target) + sizeof vt->target &&
                   vt->target == NN_TARGET_CLASS_INDEX;
    nn_shape s = batch_of(sample, 4), ts = classes ? (nn_shape){1, {4}} : s;
    int64_t width = s.ndim >= 2 ? s.dim[1] : 1; /* classes along dimension 1 */
    nn_tensor *x = nn_tensor_new(c->ctx, &s, 1);
    u.target = nn_tensor_new(c->ctx, &ts, 0);
    int64_t n = nn_shape_numel(&s), nt = nn_shape_numel(&ts);
    char sh[96];
    nn_shape_format(&s, 0, sh, sizeof sh);
    float *v = malloc((size_t)n * sizeof *v);
    if (x && u.target && v) {
        /* Predictions inside (0, 1) and targets 0 or 1 suit probability losses
         * and regression losses alike; class indices 0 .. width-1 suit losses
         * over classes. */
        for (int64_t i = 0; i < nt; i++)
            v[i] = classes ? fminf(floorf((float)width * nn_rng_uniform(&c->rng)), (float)width - 1)
                           : nn_rng_uniform(&c->rng) < 0.5f ? 0.0f : 1.0f;
        nn_tensor_from_host(u.target, v, nt);
        fill_uniform(c, v, n, 0.1f, 0.9f);
        nn_tensor_from_host(x, v, n);
        if (classes)
            printf("loss %s: predictions %s, class indices (4)\n", name, sh);
        else
            printf("loss %s: predictions and targets %s\n", name, sh);
        gradcheck(c, loss_fwd, &u, x, 0, NULL, NULL, "");
    } else {
        st = nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    free(v);
    nn_tensor_free(x);
    nn_tensor_free(u.target);
    nn_loss_free(u.l);
    return st;
}

/* ---- optimizers: descent on 0.5 |p - c|^2 ---- */

static double quadratic(checker *c, nn_tensor *p, nn_tensor *target, bool backward)
{
    nn_tensor *d = nn_sub(p, target);
    nn_tensor *L = nn_mul_scalar(nn_sum(nn_mul(d, d)), 0.5f);
    float v = NAN;
    if (L && backward) nn_backward(L);
    if (L && !nn_ctx_error(c->ctx, NULL)) nn_tensor_item(L, &v);
    nn_ctx_clear_error(c->ctx);
    nn_ctx_scratch_reset(c->ctx);
    return v;
}

static nn_status check_optimizer(checker *c, const char *name, const char *words, char **err)
{
    nn_shape s = {1, {8}};
    nn_tensor *p = nn_tensor_new(c->ctx, &s, 1), *q = nn_tensor_new(c->ctx, &s, 1);
    nn_tensor *target = nn_tensor_new(c->ctx, &s, 0);
    float v[8], before[8], after[8];
    nn_optim *o = NULL;
    nn_status st = p && q && target ? NN_OK : nn_fail(err, NN_NO_MEMORY, "out of memory");
    if (!st) {
        nn_tensor *ps[] = {p, q};
        const char *names[] = {"p", "q"};
        st = nn_optim_create_over(c->ctx, name, words, 2, ps, names, &o, err);
    }
    if (st) goto out;
    fill_uniform(c, v, 8, -1, 1);
    nn_tensor_from_host(p, v, 8);
    nn_tensor_from_host(q, v, 8);
    fill_uniform(c, v, 8, -1, 1);
    nn_tensor_from_host(target, v, 8);
    printf("optimizer %s: 200 steps on 0.5 |p - c|^2, 8 parameters\n", name);
    double first = quadratic(c, p, target, false), last = first;
    nn_tensor_to_host(q, before, 8);
    for (int i = 0; i < 200 && !st; i++) {
        nn_optim_zero_grad(o);
        last = quadratic(c, p, target, true); /* q gets no gradient */
        st = nn_optim_step(o);
    }
    if (st) {
        const char *msg;
        if (!nn_ctx_error(c->ctx, &msg)) msg = nn_strerror(st);
        st = nn_fail(err, st, "step failed: %s", msg);
        nn_ctx_clear_error(c->ctx);
        goto out;
    }
    last = quadratic(c, p, target, false);
    report(c, "loss after 200 steps / loss before", last / first, 0.9);
    nn_tensor_to_host(q, after, 8);
    double moved = 0;
    for (int i = 0; i < 8; i++) moved = fmax(moved, fabs((double)after[i] - before[i]));
    report(c, "change of a parameter without gradient", moved, 0);
out:
    nn_optim_free(o);
    nn_tensor_free(p);
    nn_tensor_free(q);
    nn_tensor_free(target);
    return st;
}

/* ---- datasets ---- */

static nn_status check_dataset(checker *c, const char *name, const char *words, char **err)
{
    nn_dataset *d;
    nn_status st = nn_dataset_open(c->ctx, name, words, &d, err);
    if (st) return st;
    int64_t len = nn_dataset_len(d), nx = nn_shape_numel(nn_dataset_input_shape(d));
    int64_t ny = nn_shape_numel(nn_dataset_target_shape(d)), n = len < 1000 ? len : 1000;
    char a[64], b[64];
    nn_shape_format(nn_dataset_input_shape(d), 0, a, sizeof a);
    nn_shape_format(nn_dataset_target_shape(d), 0, b, sizeof b);
    printf("dataset %s: %lld samples, input %s, target %s\n", name, (long long)len, a, b);
    float *x1 = malloc((size_t)(nx + ny) * 2 * sizeof(float));
    if (!x1) {
        nn_dataset_free(d);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    float *y1 = x1 + nx, *x2 = y1 + ny, *y2 = x2 + nx;
    double bad = 0, differ = 0;
    char first[160] = ""; /* the first failure, as the plugin explained it */
    for (int64_t i = 0; i < n; i++) {
        if (nn_dataset_get(d, i, x1, y1) || nn_dataset_get(d, i, x2, y2)) {
            const char *msg;
            if (!bad++ && nn_ctx_error(c->ctx, &msg)) snprintf(first, sizeof first, "%s", msg);
            nn_ctx_clear_error(c->ctx);
            continue;
        }
        for (int64_t k = 0; k < nx + ny; k++) {
            float u = k < nx ? x1[k] : y1[k - nx], w = k < nx ? x2[k] : y2[k - nx];
            bad += !isfinite(u);
            differ += memcmp(&u, &w, sizeof u) != 0;
        }
    }
    report_why(c, "samples that fail or are not finite", bad, 0, first[0] ? first : NULL);
    report(c, "values that differ between two reads", differ, 0);
    report(c, "samples past the end that are accepted", !nn_dataset_get(d, len, x1, y1), 0);
    free(x1);
    nn_dataset_free(d);
    return NN_OK;
}

/* ---- devices: every kernel against the cpu device ---- */

typedef struct dev {
    const nn_device_vt *vt;
    void *h;
} dev;

static nn_status dev_open(nn_registry *reg, const char *name, const char *words, dev *d, char **err)
{
    const nn_component *comp;
    nn_status st = nn_registry_find(reg, NN_KIND_DEVICE, name, &comp, err);
    if (st) return st;
    d->vt = nn_component_vt(comp);
    if (d->vt->probe && (st = d->vt->probe(err))) return st;
    nn_props *p;
    if ((st = nn_props_parse(comp, words, &p, err))) return st;
    st = d->vt->open(p, &d->h, err);
    nn_props_free(p);
    return st;
}

static void dev_close(dev *d)
{
    if (d->vt && d->vt->close) d->vt->close(d->h);
}

/* Device copies of host arrays, for one kernel call on each device. */
typedef struct buf {
    float *ref, *dut; /* device pointers on the cpu and on the device under test */
    int64_t n;
} buf;

typedef struct pair {
    dev ref, dut;
    buf b[6];
    int nb;
} pair;

static buf *pair_buf(pair *p, const float *host, int64_t n)
{
    buf *b = &p->b[p->nb++];
    size_t bytes = (size_t)(n ? n : 1) * sizeof(float);
    b->n = n;
    b->ref = p->ref.vt->alloc(p->ref.h, bytes);
    b->dut = p->dut.vt->alloc(p->dut.h, bytes);
    if (b->ref) p->ref.vt->to_device(p->ref.h, b->ref, host, (size_t)n * sizeof(float));
    if (b->dut) p->dut.vt->to_device(p->dut.h, b->dut, host, (size_t)n * sizeof(float));
    return b;
}

/* Compares every buffer after a kernel ran on both, then frees them. */
static void pair_done(checker *c, pair *p, const char *what, double tol)
{
    double worst = 0;
    bool ok = true;
    for (int i = 0; i < p->nb; i++) {
        buf *b = &p->b[i];
        if (!b->ref || !b->dut) {
            ok = false;
            continue;
        }
        float *r = malloc((size_t)(b->n ? b->n : 1) * 2 * sizeof(float)), *u = r + b->n;
        if (!r) {
            ok = false;
            continue;
        }
        p->dut.vt->sync(p->dut.h);
        p->ref.vt->to_host(p->ref.h, r, b->ref, (size_t)b->n * sizeof(float));
        p->dut.vt->to_host(p->dut.h, u, b->dut, (size_t)b->n * sizeof(float));
        for (int64_t k = 0; k < b->n; k++) {
            double e = fabs((double)r[k] - u[k]) / (1.0 + fabs((double)r[k]));
            if (!(e <= worst)) worst = e; /* NaN sticks */
        }
        free(r);
        p->ref.vt->free(p->ref.h, b->ref);
        p->dut.vt->free(p->dut.h, b->dut);
    }
    p->nb = 0;
    report(c, what, ok ? worst : NAN, tol);
}

/* Runs KERNEL(args) on both devices; R(b) names buffer b on the current one. */
#define RUN(p, expr)                                                                         \
    do {                                                                                     \
        int dut_ = 0;                                                                        \
        for (; dut_ < 2; dut_++) {                                                           \
            const nn_device_vt *vt_ = dut_ ? (p)->dut.vt : (p)->ref.vt;                      \
            void *h_ = dut_ ? (p)->dut.h : (p)->ref.h;                                       \
            expr;                                                                            \
        }                                                                                    \
    } while (0)
#define R(b) (dut_ ? (b)->dut : (b)->ref)

/* A device's gemm_bias, or the core's way without it. */
static void gemm_bias_or_not(const nn_device_vt *vt, void *h, int ta, int tb, int64_t m,
                             int64_t n, int64_t k, float alpha, const float *a, const float *b,
                             const float *bias, float *c)
{
    if (vt->struct_size >= offsetof(nn_device_vt, gemm_bias) + sizeof vt->gemm_bias &&
        vt->gemm_bias) {
        vt->gemm_bias(h, ta, tb, m, n, k, alpha, a, b, bias, c);
        return;
    }
    vt->repeat_rows(h, m, n, bias, c);
    vt->gemm(h, ta, tb, m, n, k, alpha, a, b, 1.0f, c);
}

static const char *const bnames[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum"};

static void device_kernels(checker *c, pair *p)
{
    enum { M = 7, K = 5, N = 6, L = M * N };
    float a[64], b[64], d[64];
    char what[96];
    fill_uniform(c, a, 64, -1, 1);
    fill_uniform(c, b, 64, -1, 1);
    fill_uniform(c, d, 64, 0.05f, 0.95f);

    buf *x = pair_buf(p, a, L);
    RUN(p, vt_->fill(h_, L, 0.25f, R(x)));
    pair_done(c, p, "fill", 0);
    for (int t = 0; t < 4; t++) {
        buf *A = pair_buf(p, a, M * K), *B = pair_buf(p, b, K * N), *C = pair_buf(p, d, M * N);
        RUN(p, vt_->gemm(h_, t & 1, t >> 1, M, N, K, 0.5f, R(A), R(B), 0.75f, R(C)));
        snprintf(what, sizeof what, "gemm ta=%d tb=%d", t & 1, t >> 1);
        pair_done(c, p, what, 1e-5);
    }
    /* gemm_bias (optional, ABI 2.3) against what the core does without it,
     * on each device: the bias repeated into c, then gemm with beta 1 */
    for (int t = 0; t < 4; t++) {
        buf *A = pair_buf(p, a, M * K), *B = pair_buf(p, b, K * N), *BI = pair_buf(p, d, N);
        buf *C = pair_buf(p, d, M * N);
        RUN(p, gemm_bias_or_not(vt_, h_, t & 1, t >> 1, M, N, K, 0.5f, R(A), R(B), R(BI), R(C)));
        snprintf(what, sizeof what, "gemm_bias ta=%d tb=%d", t & 1, t >> 1);
        pair_done(c, p, what, 1e-5);
    }
    static const char *const unames[] = {"sigmoid", "relu", "tanh", "exp", "log", "sqrt", "abs"};
    for (int op = 0; op < NN_UNARY_COUNT_; op++) {
        const float *in = op == NN_UNARY_LOG || op == NN_UNARY_SQRT ? d : a;
        buf *X = pair_buf(p, in, L), *Y = pair_buf(p, b, L);
        RUN(p, vt_->unary(h_, (nn_unary_op)op, L, R(X), R(Y)));
        snprintf(what, sizeof what, "unary %s", unames[op]);
        pair_done(c, p, what, 1e-6);
        for (int acc = 0; acc < 2; acc++) {
            float y[64];
            for (int i = 0; i < L; i++) /* y = f(x) from the definition, for the derivative */
                y[i] = op == 0 ? 1 / (1 + expf(-in[i])) : op == 1 ? fmaxf(in[i], 0)
                     : op == 2 ? tanhf(in[i]) : op == 3 ? expf(in[i]) : op == 4 ? logf(in[i])
                     : op == 5 ? sqrtf(in[i]) : fabsf(in[i]);
            buf *X2 = pair_buf(p, in, L), *Y2 = pair_buf(p, y, L), *DY = pair_buf(p, b, L);
            buf *DX = pair_buf(p, d, L);
            RUN(p, vt_->unary_backward(h_, (nn_unary_op)op, L, R(X2), R(Y2), R(DY), R(DX), acc));
            snprintf(what, sizeof what, "unary_backward %s acc=%d", unames[op], acc);
            pair_done(c, p, what, 1e-6);
        }
    }
    for (int op = 0; op < NN_BINARY_COUNT_; op++)
        for (int bc = 0; bc < 2; bc++) {
            int64_t bn = bc ? N : L;
            const float *in = op == NN_BINARY_POW ? d : a; /* positive bases */
            buf *A = pair_buf(p, in, L), *B = pair_buf(p, b, bn), *Y = pair_buf(p, d, L);
            RUN(p, vt_->binary(h_, (nn_binary_op)op, L, R(A), bn, R(B), R(Y)));
            snprintf(what, sizeof what, "binary %s%s", bnames[op], bc ? " broadcast" : "");
            pair_done(c, p, what, 1e-6);
        }
    for (int acc = 0; acc < 2; acc++) {
        buf *X = pair_buf(p, a, L), *Y = pair_buf(p, b, L);
        RUN(p, vt_->axpby(h_, L, 1.5f, R(X), acc ? -0.5f : 0.0f, R(Y)));
        snprintf(what, sizeof what, "axpby beta=%s", acc ? "-0.5" : "0");
        pair_done(c, p, what, 1e-6);
        buf *X2 = pair_buf(p, a, L), *W = pair_buf(p, b, L), *Y2 = pair_buf(p, d, L);
        RUN(p, vt_->mul_acc(h_, L, 0.5f, R(X2), R(W), R(Y2), acc));
        snprintf(what, sizeof what, "mul_acc acc=%d", acc);
        pair_done(c, p, what, 1e-6);
        buf *X3 = pair_buf(p, a, L), *Y3 = pair_buf(p, d, N);
        RUN(p, vt_->sum_rows(h_, M, N, R(X3), R(Y3), acc));
        snprintf(what, sizeof what, "sum_rows acc=%d", acc);
        pair_done(c, p, what, 1e-5);
        buf *S = pair_buf(p, a, 1), *Y4 = pair_buf(p, d, L);
        RUN(p, vt_->broadcast(h_, L, 0.5f, R(S), R(Y4), acc));
        snprintf(what, sizeof what, "broadcast acc=%d", acc);
        pair_done(c, p, what, 1e-6);
    }
    buf *B = pair_buf(p, a, N), *Y = pair_buf(p, d, L);
    RUN(p, vt_->repeat_rows(h_, M, N, R(B), R(Y)));
    pair_done(c, p, "repeat_rows", 0);
    buf *X = pair_buf(p, a, L), *S = pair_buf(p, d, 1);
    RUN(p, vt_->sum(h_, L, 0.25f, R(X), R(S)));
    pair_done(c, p, "sum", 1e-5);
    buf *X2 = pair_buf(p, a, L), *Y2 = pair_buf(p, d, L);
    RUN(p, vt_->transpose(h_, M, N, R(X2), R(Y2)));
    pair_done(c, p, "transpose", 0);
}

/* The kernels of the math ops: binary_backward, scalar, where, the reductions
 * along a dimension and addc. */
static void device_math_kernels(checker *c, pair *p)
{
    enum { M = 7, N = 6, L = M * N, OUTER = 3, LEN = 7, INNER = 2 };
    float a[64], b[64], d[64], e[64], g[64], y[64];
    char what[96];
    fill_uniform(c, a, 64, -1, 1);
    fill_uniform(c, b, 64, -1, 1);
    fill_uniform(c, d, 64, 0.05f, 0.95f);
    fill_uniform(c, g, 64, -1, 1);
    for (int i = 0; i < 64; i++) e[i] = nn_rng_uniform(&c->rng) < 0.5f ? 0.0f : 1.0f;
    for (int i = 0; i < L; i += 5) b[i] = a[i]; /* ties for maximum and minimum */

    for (int op = 0; op < NN_BINARY_COUNT_; op++)
        for (int bc = 0; bc < 3; bc++) {
            int64_t bn = bc == 0 ? L : bc == 1 ? N : 1;
            const float *in = op == NN_BINARY_POW ? d : a; /* positive bases */
            for (int i = 0; i < L; i++) /* y = a op b, which pow's gradient reads */
                y[i] = op == NN_BINARY_POW ? powf(in[i], b[i % bn]) : 0.0f;
            for (int k = 0; k < 4; k++) {
                int wrt = k >> 1, acc = k & 1;
                buf *A = pair_buf(p, in, L), *B = pair_buf(p, b, bn), *Y = pair_buf(p, y, L);
                buf *DY = pair_buf(p, g, L), *D = pair_buf(p, d, L);
                RUN(p, vt_->binary_backward(h_, (nn_binary_op)op, wrt, L, R(A), bn, R(B), R(Y),
                                            R(DY), R(D), acc));
                snprintf(what, sizeof what, "binary_backward %s d/d%c bn=%lld acc=%d",
                         bnames[op], wrt ? 'b' : 'a', (long long)bn, acc);
                pair_done(c, p, what, 1e-5);
            }
        }
    for (int bc = 0; bc < 3; bc++) { /* b (or the condition, or a) whole or repeated */
        int64_t bn = bc == 0 ? L : bc == 1 ? N : 1;
        for (int op = NN_BINARY_MUL; op <= NN_BINARY_DIV; op++) {
            buf *T = pair_buf(p, a, L), *A = pair_buf(p, b, L), *B = pair_buf(p, d, bn);
            RUN(p, vt_->addc(h_, (nn_binary_op)op, L, -0.5f, R(A), bn, R(B), R(T)));
            snprintf(what, sizeof what, "addc %s bn=%lld", bnames[op], (long long)bn);
            pair_done(c, p, what, 1e-6);
        }
        int64_t cn = bc == 1 ? N : L, an = bc == 2 ? 1 : L;
        buf *C = pair_buf(p, e, cn), *A = pair_buf(p, a, an), *B = pair_buf(p, b, bn);
        buf *Y = pair_buf(p, d, L);
        RUN(p, vt_->where(h_, L, cn, R(C), an, R(A), bn, R(B), R(Y)));
        snprintf(what, sizeof what, "where cn=%lld an=%lld bn=%lld", (long long)cn, (long long)an,
                 (long long)bn);
        pair_done(c, p, what, 0);
    }

    static const char *const snames[] = {"add", "pow", "clamp"};
    static const float sv[][2] = {{0.5f, 0}, {1.5f, 0}, {-0.3f, 0.4f}};
    for (int op = 0; op < NN_SCALAR_COUNT_; op++) {
        const float *in = op == NN_SCALAR_POW ? d : a;
        buf *X = pair_buf(p, in, L), *Y = pair_buf(p, b, L);
        RUN(p, vt_->scalar(h_, (nn_scalar_op)op, L, sv[op][0], sv[op][1], R(X), R(Y)));
        snprintf(what, sizeof what, "scalar %s", snames[op]);
        pair_done(c, p, what, 1e-6);
        for (int acc = 0; acc < 2; acc++) {
            for (int i = 0; i < L; i++)
                y[i] = op == 0 ? in[i] + 0.5f : op == 1 ? powf(in[i], 1.5f)
                                              : fminf(fmaxf(in[i], -0.3f), 0.4f);
            buf *X2 = pair_buf(p, in, L), *Y2 = pair_buf(p, y, L), *DY = pair_buf(p, b, L);
            buf *DX = pair_buf(p, d, L);
            RUN(p, vt_->scalar_backward(h_, (nn_scalar_op)op, L, sv[op][0], sv[op][1], R(X2),
                                        R(Y2), R(DY), R(DX), acc));
            snprintf(what, sizeof what, "scalar_backward %s acc=%d", snames[op], acc);
            pair_done(c, p, what, 1e-6);
        }
    }

    static const char *const rnames[] = {"sum", "max"};
    for (int op = 0; op < NN_REDUCE_COUNT_; op++)
        for (int shape = 0; shape < 2; shape++) { /* (3, 7, 2) and (6, 7, 1) */
            int64_t outer = shape ? N : OUTER, len = LEN, inner = shape ? 1 : INNER;
            buf *X = pair_buf(p, a, L), *Y = pair_buf(p, d, outer * inner);
            buf *I = op == NN_REDUCE_MAX ? pair_buf(p, d, outer * inner) : NULL;
            RUN(p, vt_->reduce_dim(h_, (nn_reduce_op)op, outer, len, inner, 0.5f, R(X), R(Y),
                                   I ? R(I) : NULL));
            snprintf(what, sizeof what, "reduce_dim %s (%lld, %lld, %lld)", rnames[op],
                     (long long)outer, (long long)len, (long long)inner);
            pair_done(c, p, what, 1e-5);
            for (int i = 0; i < outer * inner; i++) /* indices: some valid position */
                y[i] = (float)((i * 3) % len);
            for (int acc = 0; acc < 2; acc++) {
                buf *IX = pair_buf(p, y, outer * inner), *DY = pair_buf(p, b, outer * inner);
                buf *DX = pair_buf(p, d, L);
                RUN(p, vt_->reduce_dim_backward(h_, (nn_reduce_op)op, outer, len, inner, 0.5f,
                                                op == NN_REDUCE_MAX ? R(IX) : NULL, R(DY), R(DX),
                                                acc));
                snprintf(what, sizeof what, "reduce_dim_backward %s (%lld, %lld, %lld) acc=%d",
                         rnames[op], (long long)outer, (long long)len, (long long)inner, acc);
                pair_done(c, p, what, 1e-6);
            }
        }
}

static nn_status check_device(checker *c, nn_registry *reg, const char *name, const char *words,
                              char **err)
{
    pair p = {0};
    nn_status st = dev_open(reg, "cpu", "", &p.ref, err);
    if (!st) st = dev_open(reg, name, words, &p.dut, err);
    if (!st) {
        printf("device %s against cpu: every kernel on random data\n", name);
        device_kernels(c, &p);
        device_math_kernels(c, &p);
    }
    dev_close(&p.dut);
    dev_close(&p.ref);
    return st;
}

/* ---- entry ---- */

static void required_ints(const nn_component *comp, char *words, size_t len)
{
    /* Required integer properties get a small value, so `check NAME` runs as is. */
    int np;
    const nn_prop_def *p = nn_component_props(comp, &np);
    size_t used = strlen(words);
    for (int i = 0; i < np; i++)
        if (!p[i].def && p[i].type == NN_PROP_INT && !strstr(words, p[i].name))
            used += (size_t)snprintf(words + used, used < len ? len - used : 0, " %s=%d",
                                     p[i].name, 3);
}

int nn_check_run(nn_registry *reg, const char *device, const char *name, const char *words,
                 const nn_shape *sample, char **err)
{
    nn_shape four = {1, {4}};
    if (!sample) sample = &four;
    const nn_component *found[64] = {0}; /* an op and its kernels share a name */
    int nfound = 0;
    for (int i = 0; i < nn_registry_count(reg); i++) {
        const nn_component *comp = nn_registry_at(reg, i);
        if (!strcmp(nn_component_name(comp), name) && nfound < 64) found[nfound++] = comp;
    }
    if (!nfound) {
        nn_fail(err, NN_NOT_FOUND, "no component named '%s' (see nnrun plugins)", name);
        return 1;
    }
    checker c = {0};
    nn_rng_seed(&c.rng, 7, 1);
    nn_status st = nn_ctx_open(reg, device, 7, &c.ctx, err);
    for (int k = 0; !st && k < nfound; k++) {
        char w[512];
        snprintf(w, sizeof w, "%s", words ? words : "");
        required_ints(found[k], w, sizeof w);
        switch (nn_component_kind(found[k])) {
        case NN_KIND_MODULE: st = check_module(&c, name, w, sample, err); break;
        case NN_KIND_LOSS: st = check_loss(&c, name, w, sample, err); break;
        case NN_KIND_OPTIMIZER: st = check_optimizer(&c, name, w, err); break;
        case NN_KIND_DATASET: st = check_dataset(&c, name, w, err); break;
        case NN_KIND_DEVICE: st = check_device(&c, reg, name, w, err); break;
        case NN_KIND_OP: case NN_KIND_KERNEL: st = check_op(&c, reg, found[k], err); break;
        case NN_KIND_COMM: st = check_comm(&c, reg, name, w, err); break;
        default: break;
        }
    }
    if (!st) st = check_plugin_ops(&c, reg, found, nfound, err);
    nn_ctx_free(c.ctx);
    if (st) return 1;
    if (c.failed) {
        nn_fail(err, NN_INVALID, "check %s: %d of %d checks failed; worst: %s", name, c.failed,
                c.run, c.worst_what);
        return 1;
    }
    printf("check %s: all %d checks passed\n", name, c.run);
    return 0;
}
