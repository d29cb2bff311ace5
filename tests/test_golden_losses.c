/* test_golden_losses.c - the standard losses against PyTorch's values
 * (tests/golden/losses.txt, from gen_losses.py): for each case, the loss
 * and the gradient of the input, with reduction mean and sum. */
#include "golden.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;  /* the case in losses.txt: NAME.mean.loss, NAME.sum.dx */
    const char *loss;  /* the loss component */
    const char *words; /* its properties, as gen_losses.py sets them */
    const char *x, *t; /* the input and target tensors in losses.txt */
} loss_case;

#define CW "weight=1,2,0.5,1.5" /* cls.w */

static const loss_case cases[] = {
    {"mse", "mse", "", "reg.x", "reg.t"},
    {"l1", "l1", "", "reg.x", "reg.t"},
    {"smooth_l1", "smooth_l1", "", "reg.x", "reg.t"},
    {"smooth_l1.beta0.5", "smooth_l1", "beta=0.5", "reg.x", "reg.t"},
    {"smooth_l1.beta0", "smooth_l1", "beta=0", "reg.x", "reg.t"},
    {"ce", "cross_entropy", "", "cls.x", "cls.t"},
    {"ce.smooth", "cross_entropy", "label_smoothing=0.1", "cls.x", "cls.t"},
    {"ce.weight", "cross_entropy", CW, "cls.x", "cls.t"},
    {"ce.ignore", "cross_entropy", "ignore_index=2", "cls.x", "cls.t"},
    {"ce.ignore_default", "cross_entropy", "", "cls.x", "cls.t_ignored"},
    {"ce.all", "cross_entropy", CW " ignore_index=2 label_smoothing=0.1", "cls.x", "cls.t"},
    {"nll", "nll", "", "cls.logp", "cls.t"},
    {"nll.weight", "nll", CW, "cls.logp", "cls.t"},
    {"nll.ignore", "nll", "ignore_index=2", "cls.logp", "cls.t"},
    {"nll.all", "nll", CW " ignore_index=2", "cls.logp", "cls.t"},
    {"bcel", "bce_with_logits", "", "bcel.x", "bcel.t"},
    {"bcel.small", "bce_with_logits", "", "bcel.x2", "bcel.t"},
    {"bcel.pw", "bce_with_logits", "pos_weight=2.5", "bcel.x2", "bcel.t"},
    {"bcel.pw3", "bce_with_logits", "pos_weight=0.5,2,3", "bcel.x2", "bcel.t"},
    {"bcel.pw3large", "bce_with_logits", "pos_weight=0.5,2,3", "bcel.x", "bcel.t"},
};

/* Relative 1e-5 as asked of float32; the absolute 1e-30 only lets through a
 * gradient element that underflows to a subnormal (sigmoid(-88) / 12 is
 * 5e-40, where float32 has 6 significant digits left at most). */
#define RTOL 1e-5
#define ATOL 1e-30

static void run_case(golden *g, const loss_case *c, const char *red)
{
    nn_ctx *ctx = fx_ctx();
    char words[256], key[96];
    snprintf(words, sizeof words, "%s reduction=%s", c->words, red);
    nn_loss *l = NULL;
    char *err = NULL;
    CHECK_OK(nn_loss_create(ctx, c->loss, words, &l, &err), err);
    nn_free(err);
    if (!l) return;
    nn_tensor *x = golden_tensor(g, c->x, 1), *t = golden_tensor(g, c->t, 0);
    nn_tensor *L = nn_loss_forward(l, x, t);
    snprintf(key, sizeof key, "%s.%s.loss", c->name, red);
    CHECK_CLOSE(item(L), golden_scalar(g, key), 0, RTOL);
    CU_ASSERT_EQUAL(nn_backward(L), NN_OK);
    snprintf(key, sizeof key, "%s.%s.dx", c->name, red);
    GOLDEN_CHECK(g, nn_tensor_grad(x), key, ATOL, RTOL);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
    nn_loss_free(l);
}

static void test_golden_losses(void)
{
    golden *g = golden_open("losses.txt");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(g, &cases[i], "mean");
        run_case(g, &cases[i], "sum");
    }
    golden_close(g);
}

/* A target column (N, 1), as a dataset of one target value per sample
 * gives, is the same as (N). */
static void test_class_target_column(void)
{
    golden *g = golden_open("losses.txt");
    nn_shape col;
    const float *tv = golden_get(g, "cls.t", &col);
    col = shp2(col.dim[0], 1);
    nn_tensor *t = tensor_from(&col, tv, 0);
    const char *losses[] = {"cross_entropy", "nll"}, *xs[] = {"cls.x", "cls.logp"};
    const char *keys[] = {"ce.mean", "nll.mean"};
    for (int i = 0; i < 2; i++) {
        nn_loss *l = NULL;
        char *err = NULL, key[64];
        CHECK_OK(nn_loss_create(fx_ctx(), losses[i], "", &l, &err), err);
        nn_free(err);
        if (!l) continue;
        nn_tensor *x = golden_tensor(g, xs[i], 1);
        nn_tensor *L = nn_loss_forward(l, x, t);
        snprintf(key, sizeof key, "%s.loss", keys[i]);
        CHECK_CLOSE(item(L), golden_scalar(g, key), 0, RTOL);
        CU_ASSERT_EQUAL(nn_backward(L), NN_OK);
        snprintf(key, sizeof key, "%s.dx", keys[i]);
        GOLDEN_CHECK(g, nn_tensor_grad(x), key, ATOL, RTOL);
        CHECK_CTX_OK(fx_ctx());
        nn_ctx_scratch_reset(fx_ctx());
        nn_loss_free(l);
    }
    golden_close(g);
}

/* The backward nodes carry PyTorch's names. */
static void test_loss_node_names(void)
{
    golden *g = golden_open("losses.txt");
    static const struct {
        const char *loss, *x, *t, *node;
    } want[] = {
        {"cross_entropy", "cls.x", "cls.t", "NllLossBackward0"},
        {"nll", "cls.logp", "cls.t", "NllLossBackward0"},
        {"bce_with_logits", "bcel.x", "bcel.t", "BinaryCrossEntropyWithLogitsBackward0"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        nn_loss *l = NULL;
        char *err = NULL;
        CHECK_OK(nn_loss_create(fx_ctx(), want[i].loss, "", &l, &err), err);
        nn_free(err);
        if (!l) continue;
        nn_tensor *L = nn_loss_forward(l, golden_tensor(g, want[i].x, 1),
                                       golden_tensor(g, want[i].t, 0));
        CU_ASSERT_PTR_NOT_NULL_FATAL(L);
        CU_ASSERT_STRING_EQUAL(nn_tensor_grad_fn_name(L), want[i].node);
        nn_ctx_scratch_reset(fx_ctx());
        nn_loss_free(l);
    }
    golden_close(g);
}

/* Bad properties are refused at creation; a weight list of the wrong
 * length, a target that is no class and mismatched shapes at forward. */
static void test_loss_refusals(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_loss *l = NULL;
    char *err = NULL;
    CHECK_STATUS(nn_loss_create(ctx, "cross_entropy", "weight=1,x", &l, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "weight='1,x' is not a comma-separated list of numbers");
    nn_free(err);
    err = NULL;
    CHECK_STATUS(nn_loss_create(ctx, "bce_with_logits", "pos_weight=2,,3", &l, &err), NN_INVALID,
                 err);
    CHECK_CONTAINS(err, "pos_weight='2,,3'");
    nn_free(err);
    err = NULL;
    CHECK_STATUS(nn_loss_create(ctx, "cross_entropy", "label_smoothing=1.5", &l, &err),
                 NN_INVALID, err);
    nn_free(err);
    err = NULL;

    float xv[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f}, tv[2] = {0, 2};
    nn_tensor *x = t2d(2, 3, xv, 1), *t = t1d(2, tv, 0);
    CHECK_OK(nn_loss_create(ctx, "cross_entropy", "weight=1,2", &l, &err), err);
    CU_ASSERT_PTR_NULL(nn_loss_forward(l, x, t));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "weight= has 2 values, but the input has 3 classes");
    nn_loss_free(l);
    CHECK_OK(nn_loss_create(ctx, "nll", "", &l, &err), err);
    float bad[2] = {0, 3};
    CU_ASSERT_PTR_NULL(nn_loss_forward(l, x, t1d(2, bad, 0)));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "target 3 of sample 1 is not a class index 0 .. 2");
    bad[1] = 0.5f;
    CU_ASSERT_PTR_NULL(nn_loss_forward(l, x, t1d(2, bad, 0)));
    CHECK_CTX_ERROR(ctx, NN_INVALID, "target 0.5 of sample 1");
    nn_loss_free(l);
    CHECK_OK(nn_loss_create(ctx, "mse", "", &l, &err), err);
    CU_ASSERT_PTR_NULL(nn_loss_forward(l, x, t));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "mse: target size [2] differs from input size [2, 3]");
    nn_loss_free(l);
    nn_ctx_scratch_reset(ctx);
}

/* Accuracy: argmax against class targets, ignored ones not counted; logit
 * > 0 against 0/1 targets; none for the regression losses. */
static void test_loss_correct(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_loss *l = NULL;
    char *err = NULL;
    float xv[12] = {3, 1, 0, /* 0 */ 0, 0, 5, /* 2 */ 1, 2, 2, /* 1: the first maximum */
                    9, 0, 0 /* 0 */};
    float tv[4] = {0, 1, 1, 2}, tign[4] = {0, 1, -100, -100};
    nn_tensor *x = t2d(4, 3, xv, 0);
    int64_t good = -1, total = -1;
    CHECK_OK(nn_loss_create(ctx, "cross_entropy", "", &l, &err), err);
    CHECK_OK(nn_loss_correct(l, x, t1d(4, tv, 0), &good, &total), NULL);
    CU_ASSERT_EQUAL(good, 2);
    CU_ASSERT_EQUAL(total, 4);
    CHECK_OK(nn_loss_correct(l, x, t1d(4, tign, 0), &good, &total), NULL);
    CU_ASSERT_EQUAL(good, 1);
    CU_ASSERT_EQUAL(total, 2);
    nn_loss_free(l);
    CHECK_OK(nn_loss_create(ctx, "nll", "ignore_index=1", &l, &err), err);
    CHECK_OK(nn_loss_correct(l, x, t1d(4, tv, 0), &good, &total), NULL);
    CU_ASSERT_EQUAL(good, 1); /* rows 1 and 2 ignored; row 0 right, row 3 wrong */
    CU_ASSERT_EQUAL(total, 2);
    nn_loss_free(l);
    float lv[4] = {-1, 0.5f, 2, 0}, lt[4] = {0, 1, 0, 0};
    CHECK_OK(nn_loss_create(ctx, "bce_with_logits", "", &l, &err), err);
    CHECK_OK(nn_loss_correct(l, t1d(4, lv, 0), t1d(4, lt, 0), &good, &total), NULL);
    CU_ASSERT_EQUAL(good, 3);
    CU_ASSERT_EQUAL(total, 4);
    nn_loss_free(l);
    const char *regression[] = {"mse", "l1", "smooth_l1"};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(nn_loss_create(ctx, regression[i], "", &l, &err), err);
        CU_ASSERT_EQUAL(nn_loss_correct(l, x, x, &good, &total), NN_UNSUPPORTED);
        nn_loss_free(l);
    }
}

void register_golden_losses_tests(void)
{
    CU_pSuite s = fx_add_suite("golden_losses");
    if (!s) return;
    FX_ADD(s, test_golden_losses);
    FX_ADD(s, test_class_target_column);
    FX_ADD(s, test_loss_node_names);
    FX_ADD(s, test_loss_refusals);
    FX_ADD(s, test_loss_correct);
}
