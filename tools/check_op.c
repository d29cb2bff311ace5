/* check_op.c - `nnrun check OPNAME`: an op and its kernels on every device.
 *
 * Every input gets shape (4, 5) and values drawn in its [lo, hi] (nn_op_arg;
 * [-2, 2] when lo == hi), but an NN_ARG_INDEX input gets shape (4) and whole
 * values 0 .. 4, an NN_ARG_PER_COL one shape (5); an op's check_shapes
 * replace these shapes. The attributes are the
 * op's defaults. Then:
 *
 *   reference   cpu, or the first usable device with a kernel when cpu has
 *               none: for an op with a gradient, the gradient of every
 *               differentiable input of L = sum_k sum(w_k * out_k) (fixed
 *               random w_k) against central differences, and that a second
 *               backward adds to the gradient (the "acc" rule); for an op
 *               without one, that two calls on the same inputs agree
 *   others      every other usable device with a kernel: outputs, written
 *               inputs and input gradients against the reference
 *
 * Ops with optional inputs run twice: with every input, then without the
 * optional ones. A kernel for a device that is not usable here is reported
 * ("skip"), not failed. */
#include "check.h"
#include "ops.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_ROWS 4
#define OP_COLS 5
#define OP_MAXN 1024 /* values of one input at most (an op's check_shapes) */
#define OP_EPS 1e-3
#define OP_ATOL 3e-3  /* the gradient check's scale, as check.c's */
#define OP_RTOL 3e-2
#define OP_TOL_FWD 1e-5  /* against the reference: |a - b| / (1 + |b|) */
#define OP_TOL_GRAD 1e-4
#define OP_MAX_DEVICES 16

/* The host side of one check: the op and its input values. */
typedef struct opcase {
    const char *name;
    const nn_op_def *d;
    float v[NN_OP_MAX_IN][OP_MAXN]; /* input values */
    nn_shape shape[NN_OP_MAX_IN]; /* input shapes: (4, 5), or the op's check_shapes */
    int64_t n[NN_OP_MAX_IN];       /* and their sizes */
    bool present[NN_OP_MAX_IN];
    float *w[NN_OP_MAX_OUT]; /* weights of the outputs in L */
    bool grad;               /* the op has a gradient and a differentiable input is given */
    const char *variant;     /* "" or " (optional inputs absent)" */
} opcase;

/* The op on one device. */
typedef struct oprun {
    const char *device;
    nn_ctx *ctx;
    nn_op *op;
    nn_tensor *in[NN_OP_MAX_IN];
} oprun;

/* Host copies of what one call gave. */
typedef struct result {
    float *out[NN_OP_MAX_OUT];
    int64_t nout[NN_OP_MAX_OUT];
    float *written[NN_OP_MAX_IN]; /* written inputs after the call */
    float *grad[NN_OP_MAX_IN];    /* gradients of the differentiable inputs */
} result;

static void result_free(result *r)
{
    for (int k = 0; k < NN_OP_MAX_OUT; k++) free(r->out[k]);
    for (int i = 0; i < NN_OP_MAX_IN; i++) {
        free(r->written[i]);
        free(r->grad[i]);
    }
    memset(r, 0, sizeof *r);
}

/* Input i's shape and element count: (rows, cols), or as its flags say. */
static int64_t arg_shape(const nn_op_def *d, int i, nn_shape *s)
{
    nn_shape own = {2, {OP_ROWS, OP_COLS}};
    if (d->in[i].flags & NN_ARG_INDEX) own = (nn_shape){1, {OP_ROWS}};
    else if (d->in[i].flags & NN_ARG_PER_COL) own = (nn_shape){1, {OP_COLS}};
    if (s) *s = own;
    return nn_shape_numel(&own);
}

static bool differentiable(const opcase *oc, int i)
{
    return oc->d->node_name && oc->present[i] && !(oc->d->in[i].flags & NN_ARG_NO_GRAD);
}

/* "FAIL what: why" and a failed check, whose reason the summary keeps. */
static void failed(checker *c, const char *what, const char *why)
{
    printf("FAIL %s: %s\n", what, why);
    report(c, what, NAN, 0); /* NaN is the worst: it becomes worst_what */
    if (snprintf(c->worst_what, sizeof c->worst_what, "%s: %s", what, why) < 0)
        c->worst_what[0] = 0; /* a long reason is cut; the line above has all of it */
}

static void oprun_close(oprun *r)
{
    for (int i = 0; i < NN_OP_MAX_IN; i++) nn_tensor_free(r->in[i]);
    nn_ctx_free(r->ctx);
    memset(r, 0, sizeof *r);
}

static nn_status oprun_open(nn_registry *reg, const char *device, const opcase *oc, oprun *r,
                            char **err)
{
    memset(r, 0, sizeof *r);
    r->device = device;
    nn_status st = nn_ctx_open(reg, device, 7, &r->ctx, err);
    if (!st) st = nn_op_find(r->ctx, oc->name, &r->op, err);
    for (int i = 0; !st && i < oc->d->nin; i++) {
        if (!oc->present[i]) continue;
        if (!(r->in[i] = nn_tensor_new(r->ctx, &oc->shape[i], differentiable(oc, i))))
            st = nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    if (st) {
        const char *dev = device;
        oprun_close(r);
        r->device = dev;
    }
    return st;
}

/* Copies t to a new host array of n values. */
static float *host_copy(const nn_tensor *t, int64_t n)
{
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (h && nn_tensor_to_host(t, h, n)) {
        free(h);
        h = NULL;
    }
    return h;
}

/* One call on fresh copies of the inputs (values from x, which differ from
 * oc's during central differences), with the backward of L when backward is
 * set; keep_grad leaves the gradients of the last call in place, so that
 * the backward adds to them. On failure *why says why: the context's error
 * when there is one, as it is the first reason. */
static nn_status run_call(const opcase *oc, oprun *r, float (*x)[OP_MAXN], bool backward,
                          bool keep_grad, result *res, char **why)
{
    const nn_op_def *d = oc->d;
    nn_ctx *ctx = r->ctx;
    result_free(res);
    for (int i = 0; i < d->nin; i++) {
        if (!r->in[i]) continue;
        if (nn_tensor_from_host(r->in[i], x[i], oc->n[i]))
            return nn_fail(why, NN_DEVICE, "cannot copy input '%s' to the device", d->in[i].name);
        if (!keep_grad) nn_tensor_zero_grad(r->in[i]);
    }
    int was = nn_grad_set_enabled(ctx, backward);
    nn_tensor *out[NN_OP_MAX_OUT] = {0};
    nn_op_call(r->op, r->in, NULL, out);
    nn_status st = nn_ctx_error(ctx, NULL);
    for (int k = 0; !st && k < d->nout; k++) {
        res->nout[k] = out[k] ? nn_tensor_numel(out[k]) : 0;
        if (!out[k] || !(res->out[k] = host_copy(out[k], res->nout[k]))) {
            st = nn_fail(why, NN_DEVICE, "cannot read output '%s'", d->out[k].name);
            break;
        }
        for (int64_t j = 0; !st && j < res->nout[k]; j++)
            if (!isfinite(res->out[k][j]))
                st = nn_fail(why, NN_INVALID, "output '%s' is %g at element %lld",
                             d->out[k].name, res->out[k][j], (long long)j);
    }
    for (int i = 0; !st && i < d->nin; i++)
        if (r->in[i] && (d->in[i].flags & NN_ARG_WRITTEN) &&
            !(res->written[i] = host_copy(r->in[i], oc->n[i])))
            st = nn_fail(why, NN_DEVICE, "cannot read input '%s'", d->in[i].name);
    if (!st && backward) {
        nn_tensor *L = NULL;
        for (int k = 0; k < d->nout; k++) {
            nn_tensor *W = nn_tensor_scratch(ctx, nn_tensor_shape(out[k]));
            if (W) nn_tensor_from_host(W, oc->w[k], res->nout[k]);
            nn_tensor *term = nn_sum(nn_mul(out[k], W));
            L = L ? nn_add(L, term) : term;
        }
        st = L ? nn_backward(L) : NN_NO_MEMORY;
        if (!st) st = nn_ctx_error(ctx, NULL);
        if (st && !nn_ctx_error(ctx, NULL))
            nn_fail(why, st, "backward failed: %s", nn_strerror(st));
        for (int i = 0; !st && i < d->nin; i++) {
            if (!differentiable(oc, i)) continue;
            nn_tensor *g = nn_tensor_grad(r->in[i]);
            if (!g)
                st = nn_fail(why, NN_INVALID, "no gradient reached input '%s'", d->in[i].name);
            else if (!(res->grad[i] = host_copy(g, oc->n[i])))
                st = nn_fail(why, NN_DEVICE, "cannot read the gradient of '%s'", d->in[i].name);
        }
    }
    const char *msg;
    nn_status e = nn_ctx_error(ctx, &msg);
    if (e) {
        nn_fail(why, e, "%s", msg);
        nn_ctx_clear_error(ctx);
        st = e;
    }
    nn_grad_set_enabled(ctx, was);
    nn_ctx_scratch_reset(ctx);
    return st;
}

/* L on the host, in double. */
static double loss_of(const opcase *oc, const result *res)
{
    double s = 0;
    for (int k = 0; k < oc->d->nout; k++)
        for (int64_t j = 0; j < res->nout[k]; j++) s += (double)oc->w[k][j] * res->out[k][j];
    return s;
}

/* Largest |a - b| / (1 + |b|) over n values (NaN sticks); *at: where. */
static double differ(const float *a, const float *b, int64_t n, int64_t *at)
{
    double worst = 0;
    *at = 0;
    for (int64_t j = 0; j < n; j++) {
        double e = fabs((double)a[j] - b[j]) / (1.0 + fabs((double)b[j]));
        if (!(e <= worst)) {
            worst = e;
            *at = j;
            if (isnan(e)) break;
        }
    }
    return worst;
}

/* One comparison line; on failure, the element where it is worst. */
static void compare(checker *c, const char *what, const float *got, const char *dev,
                    const float *want, const char *ref, int64_t n, double tol)
{
    int64_t at;
    double e = differ(got, want, n, &at);
    report(c, what, e, tol);
    if (!(e <= tol))
        printf("     worst at element %lld: %s %.9g, %s %.9g\n", (long long)at, dev,
               (double)got[at], ref, (double)want[at]);
}

/* ---- the reference device ---- */

/* The gradient of each differentiable input against central differences. */
static void gradcheck(checker *c, const opcase *oc, oprun *r, const result *base)
{
    const nn_op_def *d = oc->d;
    float(*x)[OP_MAXN] = malloc(sizeof(float[NN_OP_MAX_IN][OP_MAXN]));
    if (!x) {
        failed(c, "gradient check", "out of memory");
        return;
    }
    memcpy(x, oc->v, sizeof(float[NN_OP_MAX_IN][OP_MAXN]));
    char what[160], *why = NULL;
    result res = {0};
    for (int i = 0; i < d->nin; i++) {
        if (!differentiable(oc, i)) continue;
        snprintf(what, sizeof what, "%s: gradient of '%s'%s", r->device, d->in[i].name,
                 oc->variant);
        double worst = 0;
        int64_t at = 0;
        double num_at = 0;
        nn_status st = NN_OK;
        for (int64_t j = 0; j < oc->n[i] && !st; j++) {
            float keep = x[i][j], up = (float)(keep + OP_EPS), down = (float)(keep - OP_EPS);
            x[i][j] = up;
            st = run_call(oc, r, x, false, false, &res, &why);
            double hi = st ? NAN : loss_of(oc, &res);
            x[i][j] = down;
            if (!st) st = run_call(oc, r, x, false, false, &res, &why);
            double lo = st ? NAN : loss_of(oc, &res);
            x[i][j] = keep;
            double num = (hi - lo) / ((double)up - (double)down);
            double e = fabs(base->grad[i][j] - num);
            double scaled = e / (OP_ATOL + OP_RTOL * fabs(num)) * OP_ATOL;
            if (!(scaled <= worst)) {
                worst = scaled;
                at = j;
                num_at = num;
            }
        }
        if (st) {
            failed(c, what, why ? why : "a call failed");
        } else {
            report(c, what, worst, OP_ATOL);
            if (!(worst <= OP_ATOL))
                printf("     worst at element %lld: backward %.9g, central differences %.9g\n",
                       (long long)at, (double)base->grad[i][at], num_at);
        }
        free(why);
        why = NULL;
    }
    result_free(&res);
    free(x);
}

/* A second backward without clearing the gradients must add to them. */
static void acccheck(checker *c, const opcase *oc, oprun *r, const result *base)
{
    const nn_op_def *d = oc->d;
    char what[160], *why = NULL;
    snprintf(what, sizeof what, "%s: a second backward adds to the gradient%s", r->device,
             oc->variant);
    result once = {0}, twice = {0};
    nn_status st = run_call(oc, r, (float(*)[OP_MAXN])oc->v, true, false, &once, &why);
    if (!st) st = run_call(oc, r, (float(*)[OP_MAXN])oc->v, true, true, &twice, &why);
    if (st) {
        failed(c, what, why ? why : "a call failed");
    } else {
        double worst = 0;
        int64_t at = 0;
        int worst_in = -1;
        for (int i = 0; i < d->nin; i++) {
            if (!differentiable(oc, i)) continue;
            float doubled[OP_MAXN];
            for (int64_t j = 0; j < oc->n[i]; j++) doubled[j] = 2.0f * base->grad[i][j];
            int64_t a;
            double e = differ(twice.grad[i], doubled, oc->n[i], &a);
            if (!(e <= worst)) {
                worst = e;
                at = a;
                worst_in = i;
            }
        }
        report(c, what, worst, OP_TOL_FWD);
        if (!(worst <= OP_TOL_FWD) && worst_in >= 0)
            printf("     worst at '%s' element %lld: %.9g after two, %.9g after one\n",
                   d->in[worst_in].name, (long long)at, (double)twice.grad[worst_in][at],
                   (double)base->grad[worst_in][at]);
    }
    free(why);
    result_free(&once);
    result_free(&twice);
}

/* Without a gradient: two calls on the same inputs must agree. */
static void repeatcheck(checker *c, const opcase *oc, oprun *r, const result *base)
{
    const nn_op_def *d = oc->d;
    char what[160], *why = NULL;
    snprintf(what, sizeof what, "%s: two calls on the same inputs agree%s", r->device,
             oc->variant);
    result again = {0};
    nn_status st = run_call(oc, r, (float(*)[OP_MAXN])oc->v, false, false, &again, &why);
    if (st) {
        failed(c, what, why ? why : "the call failed");
    } else {
        double worst = 0;
        int64_t at;
        for (int k = 0; k < d->nout; k++) {
            double e = again.nout[k] == base->nout[k]
                           ? differ(again.out[k], base->out[k], base->nout[k], &at)
                           : NAN;
            if (!(e <= worst)) worst = e;
        }
        for (int i = 0; i < d->nin; i++) {
            if (!base->written[i]) continue;
            double e = differ(again.written[i], base->written[i], oc->n[i], &at);
            if (!(e <= worst)) worst = e;
        }
        report(c, what, worst, 0);
    }
    free(why);
    result_free(&again);
}

/* ---- another device against the reference ---- */

static void against(checker *c, const opcase *oc, oprun *r, const char *ref, const result *want)
{
    const nn_op_def *d = oc->d;
    char what[160], *why = NULL;
    result got = {0};
    nn_status st = run_call(oc, r, (float(*)[OP_MAXN])oc->v, oc->grad, false, &got, &why);
    if (st) {
        snprintf(what, sizeof what, "%s: the call%s", r->device, oc->variant);
        failed(c, what, why ? why : "it failed");
        free(why);
        return;
    }
    for (int k = 0; k < d->nout; k++) {
        snprintf(what, sizeof what, "%s: output '%s' against %s%s", r->device, d->out[k].name,
                 ref, oc->variant);
        if (got.nout[k] != want->nout[k]) {
            char why2[128];
            snprintf(why2, sizeof why2, "%lld elements, %lld on %s", (long long)got.nout[k],
                     (long long)want->nout[k], ref);
            failed(c, what, why2);
        } else {
            compare(c, what, got.out[k], r->device, want->out[k], ref, want->nout[k], OP_TOL_FWD);
        }
    }
    for (int i = 0; i < d->nin; i++) {
        if (!want->written[i]) continue;
        snprintf(what, sizeof what, "%s: written input '%s' against %s%s", r->device,
                 d->in[i].name, ref, oc->variant);
        compare(c, what, got.written[i], r->device, want->written[i], ref, oc->n[i], OP_TOL_FWD);
    }
    for (int i = 0; oc->grad && i < d->nin; i++) {
        if (!differentiable(oc, i)) continue;
        snprintf(what, sizeof what, "%s: gradient of '%s' against %s%s", r->device,
                 d->in[i].name, ref, oc->variant);
        compare(c, what, got.grad[i], r->device, want->grad[i], ref, oc->n[i], OP_TOL_GRAD);
    }
    result_free(&got);
}

/* ---- one op ---- */

/* One variant (which inputs are given) on the reference and the others. */
static void check_variant(checker *c, nn_registry *reg, opcase *oc, const char *const *devs,
                          int ndev)
{
    const nn_op_def *d = oc->d;
    char what[160], *why = NULL;
    oc->grad = false;
    for (int i = 0; i < d->nin; i++) oc->grad |= differentiable(oc, i);
    oprun ref;
    if (oprun_open(reg, devs[0], oc, &ref, &why)) {
        snprintf(what, sizeof what, "%s: resolving the op", devs[0]);
        failed(c, what, why ? why : "failed");
        free(why);
        return;
    }
    /* A first call gives the output sizes, then the weights of L. */
    result base = {0};
    nn_status st = run_call(oc, &ref, oc->v, false, false, &base, &why);
    for (int k = 0; !st && k < d->nout; k++) {
        free(oc->w[k]);
        if (!(oc->w[k] = malloc((size_t)(base.nout[k] ? base.nout[k] : 1) * sizeof(float)))) {
            st = nn_fail(&why, NN_NO_MEMORY, "out of memory");
            break;
        }
        for (int64_t j = 0; j < base.nout[k]; j++)
            oc->w[k][j] = -1.0f + 2.0f * nn_rng_uniform(&c->rng);
    }
    if (!st && oc->grad) st = run_call(oc, &ref, oc->v, true, false, &base, &why);
    if (st) {
        snprintf(what, sizeof what, "%s: the call%s", devs[0], oc->variant);
        failed(c, what, why ? why : "it failed");
        free(why);
        result_free(&base);
        oprun_close(&ref);
        return;
    }
    if (oc->grad) {
        gradcheck(c, oc, &ref, &base);
        acccheck(c, oc, &ref, &base);
    } else {
        repeatcheck(c, oc, &ref, &base);
    }
    for (int k = 1; k < ndev; k++) {
        oprun r;
        if (oprun_open(reg, devs[k], oc, &r, &why)) {
            snprintf(what, sizeof what, "%s: resolving the op", devs[k]);
            failed(c, what, why ? why : "failed");
            free(why);
            why = NULL;
            continue;
        }
        against(c, oc, &r, devs[0], &base);
        oprun_close(&r);
    }
    result_free(&base);
    oprun_close(&ref);
}

static bool has_backward(const nn_op_def *d, const nn_kernel_def *k)
{
    return k->backward ||
           (d->struct_size >= offsetof(nn_op_def, backward) + sizeof d->backward && d->backward);
}

static nn_status check_one_op(checker *c, nn_registry *reg, const nn_component *opc)
{
    const nn_op_def *d = nn_component_vt(opc);
    const char *name = nn_component_name(opc);
    const nn_component *kernels[OP_MAX_DEVICES];
    int nk = ops_kernels(reg, name, kernels, OP_MAX_DEVICES);
    if (nk > OP_MAX_DEVICES) nk = OP_MAX_DEVICES;

    const nn_shape *given =
        d->struct_size >= offsetof(nn_op_def, check_shapes) + sizeof d->check_shapes
            ? d->check_shapes : NULL; /* NULL: (4, 5) each */
    if (given) {
        printf("op %s: inputs", name);
        for (int i = 0; i < d->nin; i++) {
            char sh[96];
            nn_shape_format(&given[i], 0, sh, sizeof sh);
            printf("%s %s", i ? "," : "", sh);
        }
        printf(", default attributes; kernels for");
    } else {
        printf("op %s: every input (%d, %d), default attributes; kernels for", name, OP_ROWS,
               OP_COLS);
    }
    for (int k = 0; k < nk; k++) printf("%s %s", k ? "," : "", ops_kernel_device(kernels[k]));
    printf("%s\n", nk ? "" : " no device");

    /* The usable devices, the reference first: cpu when it has a kernel. */
    const char *devs[OP_MAX_DEVICES];
    int ndev = 0;
    for (int k = 0; k < nk; k++) {
        const char *dev = ops_kernel_device(kernels[k]);
        char what[160];
        if (d->node_name && !has_backward(d, nn_component_vt(kernels[k]))) {
            snprintf(what, sizeof what, "%s: a backward", dev);
            failed(c, what, "the op has a gradient, but this kernel has no backward and the op "
                            "composes none");
            continue;
        }
        const nn_component *devc;
        char *why = NULL;
        if (nn_registry_find(reg, NN_KIND_DEVICE, dev, &devc, NULL)) {
            printf("skip %s: no plugin here provides the device\n", dev);
            continue;
        }
        if (!nn_device_available(reg, dev, &why)) {
            printf("skip %s: not usable here: %s\n", dev, why ? why : "no reason given");
            nn_free(why);
            continue;
        }
        nn_free(why);
        if (!strcmp(dev, "cpu") && ndev) {
            devs[ndev++] = devs[0];
            devs[0] = dev;
        } else {
            devs[ndev++] = dev;
        }
    }
    if (!ndev) {
        printf("skip %s: no device usable here has a kernel for it; not checked\n", name);
        return NN_OK;
    }

    opcase *oc = calloc(1, sizeof *oc);
    if (!oc) return NN_NO_MEMORY;
    oc->name = name;
    oc->d = d;
    bool optional = false;
    for (int i = 0; i < d->nin; i++) {
        float lo = d->in[i].lo, hi = d->in[i].hi;
        if (lo == hi) {
            lo = -2.0f;
            hi = 2.0f;
        }
        if (given)
            oc->shape[i] = given[i];
        else
            arg_shape(d, i, &oc->shape[i]);
        oc->n[i] = nn_shape_numel(&oc->shape[i]);
        if (oc->n[i] > OP_MAXN) {
            char why[96];
            snprintf(why, sizeof why, "check_shapes[%d] has %lld values, more than %d", i,
                     (long long)oc->n[i], OP_MAXN);
            failed(c, "the op's check_shapes", why);
            free(oc);
            return NN_OK;
        }
        for (int64_t j = 0; j < oc->n[i]; j++)
            oc->v[i][j] = lo + (hi - lo) * nn_rng_uniform(&c->rng);
        if (d->in[i].flags & NN_ARG_INDEX) { /* class indices into input 0's columns */
            int64_t cols = oc->shape[0].ndim == 2 ? oc->shape[0].dim[1] : OP_COLS;
            for (int64_t j = 0; j < oc->n[i]; j++)
                oc->v[i][j] = fminf(floorf((float)cols * nn_rng_uniform(&c->rng)), (float)(cols - 1));
        }
        oc->present[i] = true;
        optional |= (d->in[i].flags & NN_ARG_OPTIONAL) != 0;
    }
    oc->variant = "";
    check_variant(c, reg, oc, devs, ndev);
    if (optional) {
        for (int i = 0; i < d->nin; i++) oc->present[i] = !(d->in[i].flags & NN_ARG_OPTIONAL);
        oc->variant = " (optional inputs absent)";
        check_variant(c, reg, oc, devs, ndev);
    }
    for (int k = 0; k < NN_OP_MAX_OUT; k++) free(oc->w[k]);
    free(oc);
    return NN_OK;
}

nn_status check_op(checker *c, nn_registry *reg, const nn_component *comp, char **err)
{
    if (nn_component_kind(comp) == NN_KIND_OP) {
        nn_status st = check_one_op(c, reg, comp);
        return st ? nn_fail(err, st, "checking op '%s': %s", nn_component_name(comp),
                            nn_strerror(st))
                  : NN_OK;
    }
    /* A kernel is checked with its op, which bears its name too. */
    if (nn_component_kind(comp) == NN_KIND_KERNEL && !ops_find_op(reg, nn_component_name(comp))) {
        char what[160], why[512];
        snprintf(what, sizeof what, "%s: kernel '%s'", ops_kernel_device(comp),
                 nn_component_name(comp));
        snprintf(why, sizeof why, "no plugin here defines the op '%s' (the kernel is from %s)",
                 nn_component_name(comp), nn_component_file(comp));
        failed(c, what, why);
    }
    return NN_OK;
}

nn_status check_plugin_ops(checker *c, nn_registry *reg, const nn_component *const *found,
                           int nfound, char **err)
{
    for (int i = 0, n = nn_registry_count(reg); i < n; i++) {
        const nn_component *op = nn_registry_at(reg, i);
        if (nn_component_kind(op) != NN_KIND_OP) continue;
        bool related = false, checked = false;
        for (int k = 0; k < nfound; k++) {
            const nn_component *f = found[k];
            nn_kind kind = nn_component_kind(f);
            if (!strcmp(nn_component_name(f), nn_component_name(op))) checked = true;
            if (kind == NN_KIND_OP || kind == NN_KIND_KERNEL) continue;
            if (!strcmp(nn_component_file(f), nn_component_file(op)) &&
                !strcmp(nn_component_plugin(f), nn_component_plugin(op)))
                related = true;
            if (kind == NN_KIND_DEVICE) {
                const nn_component *ks[OP_MAX_DEVICES];
                int nk = ops_kernels(reg, nn_component_name(op), ks, OP_MAX_DEVICES);
                for (int j = 0; j < nk && j < OP_MAX_DEVICES; j++)
                    if (!strcmp(ops_kernel_device(ks[j]), nn_component_name(f))) related = true;
            }
        }
        if (!related || checked) continue;
        nn_status st = check_op(c, reg, op, err);
        if (st) return st;
    }
    return NN_OK;
}
