/* test_sgd.c - the sgd optimizer against PyTorch's update rule, computed
 * here in double, with literal values derived by hand for the first step.
 *
 * The model is "linear out=1" on two features, w = [0.5, -0.3], b = 0.1,
 * two samples X = [[0.5, 1], [0.25, -0.5]], targets [1, 0] and the loss
 * L = mean((x w^T + b - t)^2). At the start:
 *   residuals r = [0.05 - 1, 0.375 - 0] = [-0.95, 0.375]
 *   dL/dw = (2/2) sum r x = [-0.38125, -1.1375],  dL/db = sum r = -0.575 */
#include "test.h"

#include <nn/plugin.h> /* nn_optim_state: the momentum buffers */

#include <math.h>
#include <string.h>

static const float X[4] = {0.5f, 1.0f, 0.25f, -0.5f};
static const float T[2] = {1.0f, 0.0f};
static const float W0[2] = {0.5f, -0.3f}, B0 = 0.1f;
static const double G0[3] = {-0.38125, -1.1375, -0.575}; /* dw0, dw1, db at the start */

#define PTOL 1e-6, 1e-5 /* float32 parameters against the double reference */

/* ---- the reference, in double ---------------------------------------------------- */

typedef struct {
    double p[3];   /* w0, w1, b */
    double buf[3]; /* momentum buffers */
    int started;
} ref_sgd;

typedef struct {
    double lr, momentum, dampening, weight_decay;
    int nesterov;
} ref_hp;

static void ref_init(ref_sgd *r)
{
    memset(r, 0, sizeof *r);
    r->p[0] = W0[0];
    r->p[1] = W0[1];
    r->p[2] = B0;
}

static void ref_grad(const ref_sgd *r, double g[3])
{
    g[0] = g[1] = g[2] = 0;
    for (int s = 0; s < 2; s++) {
        double x0 = X[2 * s], x1 = X[2 * s + 1];
        double res = r->p[0] * x0 + r->p[1] * x1 + r->p[2] - T[s];
        g[0] += res * x0; /* 2 res / n, n = 2 */
        g[1] += res * x1;
        g[2] += res;
    }
}

/* torch.optim.SGD.step */
static void ref_step(ref_sgd *r, const ref_hp *h)
{
    double g[3];
    ref_grad(r, g);
    for (int i = 0; i < 3; i++) {
        double d = g[i] + h->weight_decay * r->p[i];
        if (h->momentum != 0) {
            r->buf[i] = r->started ? h->momentum * r->buf[i] + (1 - h->dampening) * d : d;
            d = h->nesterov ? d + h->momentum * r->buf[i] : r->buf[i];
        }
        r->p[i] -= h->lr * d;
    }
    r->started = 1;
}

/* ---- the model under test ---------------------------------------------------------- */

typedef struct {
    nn_ctx *ctx;
    nn_module *net;
    nn_tensor *w, *b, *x, *t;
} model;

static void model_open(model *m)
{
    m->ctx = fx_ctx();
    nn_shape in = shp1(2);
    char *err = NULL;
    m->net = NULL;
    CHECK_OK(nn_module_from_chain(m->ctx, "linear out=1", &in, &m->net, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m->net);
    CU_ASSERT_EQUAL_FATAL(nn_module_param_count(m->net), 2);
    const char *n0, *n1;
    m->w = nn_module_param(m->net, 0, &n0);
    m->b = nn_module_param(m->net, 1, &n1);
    CU_ASSERT_STRING_EQUAL(n0, "weight"); /* a one-element chain is the module itself */
    CU_ASSERT_STRING_EQUAL(n1, "bias");
    CU_ASSERT_EQUAL_FATAL(nn_tensor_from_host(m->w, W0, 2), NN_OK);
    CU_ASSERT_EQUAL_FATAL(nn_tensor_from_host(m->b, &B0, 1), NN_OK);
    m->x = t2d(2, 2, X, 0);
    m->t = t2d(2, 1, T, 0);
}

static void model_close(model *m) { nn_module_free(m->net); }

/* Forward, loss and backward into the parameters' .grad; returns the loss. */
static float model_backward(model *m)
{
    nn_tensor *d = nn_sub(nn_module_forward(m->net, m->x), m->t);
    nn_tensor *L = nn_mean(nn_mul(d, d));
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    float v = item(L);
    CU_ASSERT_EQUAL(nn_backward(L), NN_OK);
    CHECK_CTX_OK(m->ctx);
    nn_ctx_scratch_reset(m->ctx);
    return v;
}

static void model_params(model *m, float p[3])
{
    to_host(m->w, p, 2);
    to_host(m->b, p + 2, 1);
}

static void check_params(model *m, const double want[3], const char *what)
{
    float p[3];
    model_params(m, p);
    check_array_(p, want, 3, PTOL, what, __LINE__, __FILE__, __func__);
}

static nn_optim *optim_open(model *m, const char *words)
{
    nn_optim *o = NULL;
    char *err = NULL;
    CHECK_OK(nn_optim_create(m->ctx, "sgd", words, m->net, &o, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    return o;
}

/* One training step as fit() does it: zero_grad, backward, step. */
static void train_step(model *m, nn_optim *o)
{
    nn_optim_zero_grad(o);
    model_backward(m);
    CU_ASSERT_EQUAL(nn_optim_step(o), NN_OK);
}

/* n steps of the optimizer and of the reference, compared after each. */
static void run_and_compare(model *m, nn_optim *o, ref_sgd *r, const ref_hp *h, int n)
{
    for (int k = 0; k < n; k++) {
        train_step(m, o);
        ref_step(r, h);
        char what[64];
        snprintf(what, sizeof what, "parameters after %d more steps", k + 1);
        check_params(m, r->p, what);
    }
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_sgd_gradient(void)
{
    /* the premise of the literal values below */
    model m;
    model_open(&m);
    float L = model_backward(&m);
    CHECK_CLOSE(L, (0.9025 + 0.140625) / 2, 1e-6, 1e-6);
    float g[3];
    to_host(nn_tensor_grad(m.w), g, 2);
    to_host(nn_tensor_grad(m.b), g + 2, 1);
    CHECK_ARRAY(g, G0, 3, 1e-6, 1e-5);
    model_close(&m);
}

static void test_sgd_plain(void)
{
    model m;
    model_open(&m);
    nn_optim *o = optim_open(&m, "lr=0.1");
    CU_ASSERT_STRING_EQUAL(nn_optim_name(o), "sgd");
    train_step(&m, o);
    /* p - 0.1 g */
    check_params(&m, (const double[]){0.538125, -0.18625, 0.1575}, "step 1");
    CU_ASSERT_PTR_NULL(nn_optim_state(o, 0, 0)); /* no momentum: no buffer */
    CU_ASSERT_PTR_NULL(nn_optim_state(o, 1, 0));
    ref_sgd r;
    ref_init(&r);
    ref_hp h = {.lr = 0.1};
    ref_step(&r, &h);
    run_and_compare(&m, o, &r, &h, 5);
    nn_optim_free(o);
    model_close(&m);
}

static void test_sgd_momentum(void)
{
    model m;
    model_open(&m);
    nn_optim *o = optim_open(&m, "lr=0.1 momentum=0.9");
    train_step(&m, o);
    /* the first step's buffer is the gradient itself: the plain step */
    check_params(&m, (const double[]){0.538125, -0.18625, 0.1575}, "step 1");
    nn_tensor *bw = nn_optim_state(o, 0, 0), *bb = nn_optim_state(o, 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bw);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bb);
    float buf[3];
    to_host(bw, buf, 2);
    to_host(bb, buf + 2, 1);
    CHECK_ARRAY(buf, G0, 3, 1e-6, 1e-5);

    ref_sgd r;
    ref_init(&r);
    ref_hp h = {.lr = 0.1, .momentum = 0.9};
    ref_step(&r, &h);
    run_and_compare(&m, o, &r, &h, 5);
    /* the buffers follow buf = 0.9 buf + g */
    to_host(bw, buf, 2);
    to_host(bb, buf + 2, 1);
    CHECK_ARRAY(buf, r.buf, 3, 1e-6, 1e-5);
    nn_optim_free(o);
    model_close(&m);
}

static void test_sgd_dampening(void)
{
    model m;
    model_open(&m);
    nn_optim *o = optim_open(&m, "lr=0.1 momentum=0.9 dampening=0.5");
    train_step(&m, o);
    /* no dampening on the first step (the buffer starts as the gradient) */
    check_params(&m, (const double[]){0.538125, -0.18625, 0.1575}, "step 1");
    ref_sgd r, undamped;
    ref_init(&r);
    ref_hp h = {.lr = 0.1, .momentum = 0.9, .dampening = 0.5}, hu = {.lr = 0.1, .momentum = 0.9};
    ref_step(&r, &h);
    run_and_compare(&m, o, &r, &h, 5);
    /* and the dampening matters: the undamped run is elsewhere by then */
    ref_init(&undamped);
    for (int k = 0; k < 6; k++) ref_step(&undamped, &hu);
    CU_ASSERT_TRUE(fabs(undamped.p[1] - r.p[1]) > 1e-2);
    nn_optim_free(o);
    model_close(&m);
}

static void test_sgd_weight_decay(void)
{
    model m;
    model_open(&m);
    nn_optim *o = optim_open(&m, "lr=0.1 weight_decay=0.1");
    train_step(&m, o);
    /* d = g + 0.1 p = [-0.33125, -1.1675, -0.565] */
    check_params(&m, (const double[]){0.533125, -0.18325, 0.1565}, "step 1");
    ref_sgd r;
    ref_init(&r);
    ref_hp h = {.lr = 0.1, .weight_decay = 0.1};
    ref_step(&r, &h);
    run_and_compare(&m, o, &r, &h, 5);
    nn_optim_free(o);
    model_close(&m);
}

static void test_sgd_nesterov(void)
{
    model m;
    model_open(&m);
    nn_optim *o = optim_open(&m, "lr=0.1 momentum=0.9 nesterov=true");
    train_step(&m, o);
    /* buf = g, d = g + 0.9 buf = 1.9 g */
    check_params(&m, (const double[]){0.5724375, -0.083875, 0.20925}, "step 1");
    ref_sgd r;
    ref_init(&r);
    ref_hp h = {.lr = 0.1, .momentum = 0.9, .nesterov = 1};
    ref_step(&r, &h);
    run_and_compare(&m, o, &r, &h, 5);
    nn_optim_free(o);
    model_close(&m);
}

static void test_sgd_all_together(void)
{
    model m;
    model_open(&m);
    nn_optim *o = optim_open(&m, "lr=0.05 momentum=0.5 weight_decay=0.01 nesterov=yes");
    ref_sgd r;
    ref_init(&r);
    ref_hp h = {.lr = 0.05, .momentum = 0.5, .weight_decay = 0.01, .nesterov = 1};
    run_and_compare(&m, o, &r, &h, 6);
    nn_optim_free(o);
    model_close(&m);
}

static void test_sgd_nesterov_validation(void)
{
    model m;
    model_open(&m);
    nn_optim *o = (nn_optim *)1;
    char *err = NULL;
    CHECK_STATUS(nn_optim_create(m.ctx, "sgd", "lr=0.1 nesterov=true", m.net, &o, &err),
                 NN_INVALID, err);
    CU_ASSERT_PTR_NULL(o);
    CHECK_CONTAINS(err, "nesterov needs momentum > 0 and dampening = 0");
    CHECK_STATUS(nn_optim_create(m.ctx, "sgd", "momentum=0.9 dampening=0.5 nesterov=true", m.net,
                                 &o, &err),
                 NN_INVALID, err);
    CHECK_CONTAINS(err, "nesterov");

    /* the same check when a hyper-parameter changes later */
    o = optim_open(&m, "lr=0.1");
    double v = -1;
    CHECK_STATUS(nn_optim_set(o, "nesterov", "true", &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "nesterov");
    CU_ASSERT_EQUAL(nn_optim_get(o, "nesterov", &v), NN_OK);
    CU_ASSERT_EQUAL(v, 0.0);
    CHECK_OK(nn_optim_set(o, "momentum", "0.9", &err), err);
    CHECK_OK(nn_optim_set(o, "nesterov", "true", &err), err);
    CU_ASSERT_EQUAL(nn_optim_get(o, "nesterov", &v), NN_OK);
    CU_ASSERT_EQUAL(v, 1.0);
    CHECK_STATUS(nn_optim_set(o, "momentum", "0", &err), NN_INVALID, err);
    CU_ASSERT_EQUAL(nn_optim_get(o, "momentum", &v), NN_OK);
    CU_ASSERT_EQUAL(v, 0.9);
    nn_optim_free(o);
    nn_free(err);
    model_close(&m);
}

static void test_sgd_set_lr(void)
{
    model m;
    model_open(&m);
    nn_optim *o = optim_open(&m, "lr=0.02 momentum=0.5");
    ref_sgd r;
    ref_init(&r);
    ref_hp h = {.lr = 0.02, .momentum = 0.5};
    double v = 0;
    CU_ASSERT_EQUAL(nn_optim_get(o, "lr", &v), NN_OK);
    CHECK_CLOSE(v, 0.02, 0, 0);
    run_and_compare(&m, o, &r, &h, 2);

    char *err = NULL;
    CHECK_OK(nn_optim_set(o, "lr", "0.1", &err), err);
    CU_ASSERT_EQUAL(nn_optim_get(o, "lr", &v), NN_OK);
    CHECK_CLOSE(v, 0.1, 0, 0);
    h.lr = 0.1; /* from the next step on; the momentum buffers are kept */
    run_and_compare(&m, o, &r, &h, 3);

    /* had lr stayed 0.02, the parameters would be elsewhere */
    ref_sgd slow;
    ref_init(&slow);
    ref_hp hs = {.lr = 0.02, .momentum = 0.5};
    for (int k = 0; k < 5; k++) ref_step(&slow, &hs);
    CU_ASSERT_TRUE(fabs(slow.p[1] - r.p[1]) > 1e-2);
    char *txt = nn_props_format(nn_optim_props(o), 1);
    CU_ASSERT_STRING_EQUAL(txt, "lr=0.1 momentum=0.5");
    nn_free(txt);
    nn_optim_free(o);
    nn_free(err);
    model_close(&m);
}

static void test_sgd_set_refused(void)
{
    model m;
    model_open(&m);
    nn_optim *o = optim_open(&m, "lr=0.1");
    char *err = NULL;
    double v = 0;
    CHECK_STATUS(nn_optim_set(o, "lr", "-1", &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "out of range");
    CHECK_STATUS(nn_optim_set(o, "lr", "fast", &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "lr=fast is not a finite number");
    CHECK_STATUS(nn_optim_set(o, "lr", "", &err), NN_INVALID, err);
    CHECK_STATUS(nn_optim_set(o, "dampening", "1.5", &err), NN_INVALID, err);
    CHECK_STATUS(nn_optim_set(o, "speed", "1", &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "unknown property 'speed'; valid: lr, momentum, dampening, weight_decay, nesterov");
    CU_ASSERT_EQUAL(nn_optim_get(o, "speed", &v), NN_NOT_FOUND);
    CU_ASSERT_EQUAL(nn_optim_get(o, "lr", &v), NN_OK);
    CHECK_CLOSE(v, 0.1, 0, 0);
    CU_ASSERT_EQUAL(nn_optim_get(o, "dampening", &v), NN_OK);
    CHECK_CLOSE(v, 0.0, 0, 0);
    /* the next step still uses lr = 0.1 */
    train_step(&m, o);
    check_params(&m, (const double[]){0.538125, -0.18625, 0.1575}, "step 1");
    nn_optim_free(o);
    nn_free(err);
    model_close(&m);
}

static void test_sgd_skips_params_without_grad(void)
{
    model m;
    model_open(&m);
    nn_optim *o = optim_open(&m, "lr=0.1 momentum=0.9");
    nn_optim_zero_grad(o);
    model_backward(&m);
    nn_tensor_zero_grad(m.b); /* bias: None */
    CU_ASSERT_EQUAL(nn_optim_step(o), NN_OK);
    check_params(&m, (const double[]){0.538125, -0.18625, B0}, "step 1, bias untouched");
    CU_ASSERT_PTR_NULL(nn_optim_state(o, 1, 0)); /* and got no buffer */
    nn_optim_free(o);
    model_close(&m);
}

/* The sgd plugin's update op: param, grad, momentum_buffer; attributes lr,
 * momentum, dampening, weight_decay, nesterov, first. */
static nn_status sgd_update(nn_tensor *p, nn_tensor *buf, double lr, double momentum,
                            double dampening, int first)
{
    nn_tensor *in[] = {p, nn_tensor_grad(p), buf};
    double a[] = {lr, momentum, dampening, 0, 0, first};
    CU_ASSERT_PTR_NULL(nn_op_call(fx_op("sgd_update"), in, a, NULL)); /* no outputs */
    return nn_ctx_error(fx_ctx(), NULL);
}

static void test_sgd_update_fused(void)
{
    /* the update op on its own: p = [1, 2], g = [3, 3] */
    nn_tensor *p = t1d(2, (const float[]){1, 2}, 1);
    nn_tensor *buf = t1d(2, NULL, 0);
    float h[2];
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul_scalar(p, 3.0f))), NN_OK);
    nn_ctx_scratch_reset(fx_ctx());
    CU_ASSERT_EQUAL(sgd_update(p, NULL, 0.5, 0, 0, 0), NN_OK);
    to_host(p, h, 2);
    CHECK_ARRAY(h, ((const double[]){-0.5, 0.5}), 2, 1e-7, 0);
    /* with a buffer: first use copies g, then buf = 0.5 buf + (1 - 0.25) g */
    CU_ASSERT_EQUAL(sgd_update(p, buf, 0.5, 0.5, 0.25, 1), NN_OK);
    to_host(buf, h, 2);
    CHECK_ARRAY(h, ((const double[]){3, 3}), 2, 1e-7, 0);
    CU_ASSERT_EQUAL(sgd_update(p, buf, 0.5, 0.5, 0.25, 0), NN_OK);
    to_host(buf, h, 2);
    CHECK_ARRAY(h, ((const double[]){3.75, 3.75}), 2, 1e-6, 0);
    to_host(p, h, 2);
    CHECK_ARRAY(h, ((const double[]){-0.5 - 1.5 - 1.875, 0.5 - 1.5 - 1.875}), 2, 1e-6, 0);
    /* a buffer of another shape is refused, naming both inputs, and nothing changes */
    nn_tensor *wrong = t1d(3, NULL, 0);
    CU_ASSERT_EQUAL(sgd_update(p, wrong, 0.5, 0.5, 0.25, 0), NN_SHAPE);
    CHECK_CTX_ERROR(fx_ctx(), NN_SHAPE,
                    "sgd_update: input 'momentum_buffer' has shape [3], input 'param' has [2]");
    to_host(p, h, 2);
    CHECK_ARRAY(h, ((const double[]){-0.5 - 1.5 - 1.875, 0.5 - 1.5 - 1.875}), 2, 1e-6, 0);
}

static void test_tutorial_manual_update(void)
{
    /* with torch.no_grad(): p -= p.grad * lr; p.grad.zero_()   (lr = 0.7) */
    model m;
    model_open(&m);
    ref_sgd r;
    ref_init(&r);
    ref_hp h = {.lr = 0.7};
    nn_tensor *ps[2] = {m.w, m.b};
    for (int k = 0; k < 4; k++) {
        model_backward(&m);
        CU_ASSERT_EQUAL(nn_grad_set_enabled(m.ctx, 0), 1);
        for (int i = 0; i < 2; i++) {
            nn_tensor *g = nn_tensor_grad(ps[i]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(g);
            CU_ASSERT_EQUAL(nn_tensor_add_(ps[i], g, -0.7f), NN_OK);
            CU_ASSERT_EQUAL(nn_tensor_zero_(g), NN_OK);
        }
        nn_grad_set_enabled(m.ctx, 1);
        ref_step(&r, &h);
        if (k == 0) /* p - 0.7 g */
            check_params(&m, (const double[]){0.766875, 0.49625, 0.5025}, "step 1");
        check_params(&m, r.p, "manual step");
        /* the zeroed gradient reads back as zeros */
        float g[2];
        to_host(nn_tensor_grad(m.w), g, 2);
        CHECK_ARRAY(g, ((const double[]){0, 0}), 2, 0, 0);
        /* and the parameters are still leaves */
        CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(m.w));
    }
    model_close(&m);
}

void register_sgd_tests(void)
{
    CU_pSuite s = fx_add_suite("sgd");
    if (!s) return;
    FX_ADD(s, test_sgd_gradient);
    FX_ADD(s, test_sgd_plain);
    FX_ADD(s, test_sgd_momentum);
    FX_ADD(s, test_sgd_dampening);
    FX_ADD(s, test_sgd_weight_decay);
    FX_ADD(s, test_sgd_nesterov);
    FX_ADD(s, test_sgd_all_together);
    FX_ADD(s, test_sgd_nesterov_validation);
    FX_ADD(s, test_sgd_set_lr);
    FX_ADD(s, test_sgd_set_refused);
    FX_ADD(s, test_sgd_skips_params_without_grad);
    FX_ADD(s, test_sgd_update_fused);
    FX_ADD(s, test_tutorial_manual_update);
}
