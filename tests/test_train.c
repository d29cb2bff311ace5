/* test_train.c - the tutorial end to end: the circle data set, the chain
 * "linear out=5 ! sigmoid ! linear out=1 ! sigmoid", bce and sgd through
 * nn_fit, plus the checks around it (names, shapes, determinism, refusals,
 * a scratch arena that stops growing). */
#include "test.h"

#include <math.h>
#include <string.h>

#define CHAIN "linear out=5 ! sigmoid ! linear out=1 ! sigmoid"

typedef struct {
    nn_ctx *ctx;
    nn_module *net;
    nn_loss *loss;
    nn_optim *opt;
    nn_dataset *data;
} run;

/* Everything the tutorial sets up, on ctx. */
static void run_open(run *r, nn_ctx *ctx, const char *chain, const char *optim)
{
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    char *err = NULL;
    CHECK_OK(nn_dataset_open(ctx, "circle", "n=1200", &r->data, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->data);
    CHECK_OK(nn_module_from_chain(ctx, chain, nn_dataset_input_shape(r->data), &r->net, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->net);
    CHECK_OK(nn_loss_create(ctx, "bce", "", &r->loss, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->loss);
    CHECK_OK(nn_optim_create(ctx, "sgd", optim, r->net, &r->opt, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->opt);
    nn_free(err);
}

static void run_close(run *r)
{
    nn_optim_free(r->opt);
    nn_loss_free(r->loss);
    nn_module_free(r->net);
    nn_dataset_free(r->data);
}

/* What the on_epoch callback records. */
typedef struct {
    nn_ctx *ctx;
    nn_epoch_stats last;
    int64_t calls;
    size_t reserved_after_first; /* scratch bytes after epoch 0 */
    int64_t scratch_changes;     /* epochs after the first where they differed */
    int64_t stop_after;          /* stop when calls reaches it (0: never) */
} recorder;

static int on_epoch(const nn_epoch_stats *s, void *user)
{
    recorder *rec = user;
    rec->last = *s;
    size_t now = nn_ctx_scratch_reserved(rec->ctx);
    if (rec->calls == 0)
        rec->reserved_after_first = now;
    else if (now != rec->reserved_after_first)
        rec->scratch_changes++;
    rec->calls++;
    return rec->stop_after && rec->calls >= rec->stop_after;
}

static nn_status fit(run *r, recorder *rec, int64_t epochs, int64_t batch, char **err)
{
    memset(rec, 0, sizeof *rec);
    rec->ctx = r->ctx;
    nn_fit_opts o = {.epochs = epochs, .batch = batch, .shuffle = NN_SHUFFLE_EPOCH,
                     .on_epoch = on_epoch, .user = rec};
    return nn_fit(r->net, r->loss, r->opt, r->data, &o, err);
}

static void test_train_circle(void)
{
    nn_ctx *ctx = fx_ctx();
    run r;
    run_open(&r, ctx, CHAIN, "lr=0.5 momentum=0.8");
    recorder rec;
    char *err = NULL;

    /* before training: about chance level */
    nn_epoch_stats before;
    CHECK_OK(nn_fit_epoch(r.net, r.loss, NULL, r.data, 100, NULL, &before, &err), err);
    CU_ASSERT_EQUAL(before.batches, 12);
    CU_ASSERT_TRUE(before.accuracy < 0.9);

    CHECK_OK(fit(&r, &rec, 1000, 100, &err), err);
    CU_ASSERT_EQUAL(rec.calls, 1000);
    CU_ASSERT_EQUAL(rec.last.epoch, 999);
    CU_ASSERT_EQUAL(rec.last.batches, 12); /* 1200 / 100 */
    CHECK_CLOSE(rec.last.accuracy, 1.0, 0.03, 0); /* >= 0.97 */
    CU_ASSERT_TRUE(rec.last.accuracy >= 0.97);
    CU_ASSERT_TRUE(rec.last.loss < before.loss);
    CU_ASSERT_TRUE(rec.last.loss < 0.15);
    /* the scratch arena reached its size in the first epoch and kept it */
    CU_ASSERT_TRUE(rec.reserved_after_first > 0);
    CU_ASSERT_EQUAL(rec.scratch_changes, 0);
    CU_ASSERT_EQUAL(nn_ctx_scratch_reserved(ctx), rec.reserved_after_first);

    /* evaluation (no optimizer) agrees, and changes nothing */
    nn_epoch_stats ev, ev2;
    CHECK_OK(nn_fit_epoch(r.net, r.loss, NULL, r.data, 100, NULL, &ev, &err), err);
    CU_ASSERT_TRUE(ev.accuracy >= 0.97);
    CHECK_OK(nn_fit_epoch(r.net, r.loss, NULL, r.data, 100, NULL, &ev2, &err), err);
    CU_ASSERT_EQUAL(memcmp(&ev.loss, &ev2.loss, sizeof ev.loss), 0);
    CU_ASSERT_TRUE(nn_grad_enabled(ctx)); /* restored after the no-grad pass */
    CHECK_CTX_OK(ctx);

    /* the last step left gradients; zero_grad forgets them all */
    for (int i = 0; i < 4; i++) CU_ASSERT_PTR_NOT_NULL(nn_tensor_grad(nn_module_param(r.net, i, NULL)));
    nn_module_zero_grad(r.net);
    for (int i = 0; i < 4; i++) CU_ASSERT_PTR_NULL(nn_tensor_grad(nn_module_param(r.net, i, NULL)));
    run_close(&r);
    nn_free(err);
}

/* Final loss of a short training run with seed `seed`. */
static double short_run(uint64_t seed)
{
    nn_ctx *ctx = NULL;
    char *err = NULL;
    CHECK_OK(nn_ctx_open(g_reg, "cpu", seed, &ctx, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    run r;
    run_open(&r, ctx, CHAIN, "lr=0.5 momentum=0.8");
    recorder rec;
    CHECK_OK(fit(&r, &rec, 30, 100, &err), err);
    CU_ASSERT_EQUAL(rec.calls, 30);
    double loss = rec.last.loss;
    run_close(&r);
    nn_ctx_free(ctx);
    nn_free(err);
    return loss;
}

static void test_train_deterministic(void)
{
    double a = short_run(7), b = short_run(7), c = short_run(8);
    CU_ASSERT_TRUE(isfinite(a));
    CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0); /* bit for bit */
    CU_ASSERT_NOT_EQUAL(memcmp(&a, &c, sizeof a), 0);
}

static void test_train_param_names(void)
{
    nn_ctx *ctx = fx_ctx();
    run r;
    run_open(&r, ctx, CHAIN, "");
    static const char *const names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    static const nn_shape shapes[] = {{2, {5, 2}}, {1, {5}}, {2, {1, 5}}, {1, {1}}};
    CU_ASSERT_EQUAL_FATAL(nn_module_param_count(r.net), 4);
    for (int i = 0; i < 4; i++) {
        const char *name = NULL;
        nn_tensor *p = nn_module_param(r.net, i, &name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_STRING_EQUAL(name, names[i]);
        const nn_shape *s = nn_tensor_shape(p);
        CU_ASSERT_EQUAL(s->ndim, shapes[i].ndim);
        for (int d = 0; d < s->ndim; d++) CU_ASSERT_EQUAL(s->dim[d], shapes[i].dim[d]);
        CU_ASSERT_TRUE(nn_tensor_requires_grad(p));
    }
    CU_ASSERT_PTR_NULL(nn_module_param(r.net, 4, NULL));
    /* the tree: a Sequential of four children named 0..3 */
    CU_ASSERT_STRING_EQUAL(nn_module_type(r.net), "Sequential");
    CU_ASSERT_EQUAL(nn_module_child_count(r.net), 4);
    static const char *const types[] = {"Linear", "Sigmoid", "Linear", "Sigmoid"};
    for (int i = 0; i < 4; i++) {
        nn_module *c = nn_module_child(r.net, i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_STRING_EQUAL(nn_module_type(c), types[i]);
        char idx[4];
        snprintf(idx, sizeof idx, "%d", i);
        CU_ASSERT_STRING_EQUAL(nn_module_name(c), idx);
    }
    CU_ASSERT_EQUAL(nn_module_out_shape(r.net)->ndim, 1);
    CU_ASSERT_EQUAL(nn_module_out_shape(r.net)->dim[0], 1);
    /* initialised as PyTorch's Linear: U(-1/sqrt(in), 1/sqrt(in)), in = 2 then 5 */
    const double bound[4] = {1 / sqrt(2.0), 1 / sqrt(2.0), 1 / sqrt(5.0), 1 / sqrt(5.0)};
    for (int i = 0; i < 4; i++) {
        nn_tensor *p = nn_module_param(r.net, i, NULL);
        float h[10];
        int64_t n = nn_tensor_numel(p);
        to_host(p, h, n);
        int inside = 1, nonzero = 0;
        for (int64_t k = 0; k < n; k++) {
            inside &= fabs(h[k]) <= bound[i];
            nonzero |= h[k] != 0.0f;
        }
        CU_ASSERT_TRUE(inside);
        CU_ASSERT_TRUE(nonzero);
    }
    run_close(&r);
}

static void test_train_shape_inference(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape in = shp1(2);
    nn_module *m = NULL;
    char *err = NULL;
    CHECK_OK(nn_module_from_chain(ctx, "linear in=2 out=5 ! sigmoid ! linear in=5 out=1", &in, &m,
                                  &err),
             err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(nn_module_out_shape(m)->dim[0], 1);
    CU_ASSERT_EQUAL(nn_module_in_shape(m)->dim[0], 2);
    CU_ASSERT_EQUAL(nn_module_in_shape(nn_module_child(m, 2))->dim[0], 5);
    /* and it runs: a batch of 3 gives (3, 1) */
    nn_tensor *y = nn_module_forward(m, t2d(3, 2, NULL, 0));
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_EQUAL(nn_tensor_dim(y, 0), 3);
    CU_ASSERT_EQUAL(nn_tensor_dim(y, 1), 1);
    nn_ctx_scratch_reset(ctx);
    nn_module_free(m);

    m = (nn_module *)1;
    CHECK_STATUS(nn_module_from_chain(ctx, "linear in=3 out=5 ! sigmoid", &in, &m, &err), NN_SHAPE,
                 err);
    CU_ASSERT_PTR_NULL(m);
    CHECK_CONTAINS(err, "model element 0 (linear)");
    CHECK_CONTAINS(err, "in=3 but the input has 2 features");
    m = (nn_module *)1;
    CHECK_STATUS(nn_module_from_chain(ctx, "linear out=5 ! sigmoid ! linear in=4 out=1", &in, &m,
                                      &err),
                 NN_SHAPE, err);
    CU_ASSERT_PTR_NULL(m);
    CHECK_CONTAINS(err, "model element 2 (linear): in=4 but the input has 5 features");
    CHECK_STATUS(nn_module_from_chain(ctx, "linear out=5 ! ! sigmoid", &in, &m, &err), NN_INVALID,
                 err);
    CHECK_CONTAINS(err, "empty element");
    CHECK_STATUS(nn_module_from_chain(ctx, "linear out=5 ! nosuch", &in, &m, &err), NN_NOT_FOUND,
                 err);
    CHECK_CONTAINS(err, "no module named 'nosuch'");
    nn_free(err);
}

static void test_train_refusals(void)
{
    nn_ctx *ctx = fx_ctx();
    run r;
    run_open(&r, ctx, CHAIN, "lr=0.5");
    recorder rec;
    char *err = NULL;
    /* a batch larger than the data is one batch of all, unless drop_last */
    nn_fit_opts o = {.epochs = 5, .batch = 2000, .on_epoch = on_epoch, .user = &rec,
                     .drop_last = 1};
    memset(&rec, 0, sizeof rec);
    rec.ctx = ctx;
    CHECK_STATUS(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "batch size 2000 with drop_last leaves no batch of the 1200 samples");
    CU_ASSERT_EQUAL(rec.calls, 0);
    CHECK_OK(fit(&r, &rec, 5, 2000, &err), err);
    CU_ASSERT_EQUAL(rec.calls, 5);
    CU_ASSERT_EQUAL(rec.last.batches, 1);
    CHECK_STATUS(fit(&r, &rec, 5, 0, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "batch size must be positive");
    /* the largest batch that fits is the whole set */
    CHECK_OK(fit(&r, &rec, 2, 1200, &err), err);
    CU_ASSERT_EQUAL(rec.last.batches, 1);
    run_close(&r);

    /* a model whose output does not match the target */
    run_open(&r, ctx, "linear out=2", "");
    CHECK_STATUS(fit(&r, &rec, 1, 100, &err), NN_SHAPE, err);
    CHECK_CONTAINS(err, "the model's output [2] does not match the target [1]");
    run_close(&r);
    CHECK_CTX_OK(ctx);
    nn_free(err);
}

static void test_train_stops_early(void)
{
    nn_ctx *ctx = fx_ctx();
    run r;
    run_open(&r, ctx, CHAIN, "lr=0.5");
    recorder rec;
    memset(&rec, 0, sizeof rec);
    rec.ctx = ctx;
    rec.stop_after = 3;
    char *err = NULL;
    nn_fit_opts o = {.epochs = 50, .batch = 100, .shuffle = NN_SHUFFLE_NONE, .on_epoch = on_epoch,
                     .user = &rec};
    CHECK_OK(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), err);
    CU_ASSERT_EQUAL(rec.calls, 3);
    CU_ASSERT_EQUAL(rec.last.epoch, 2);
    run_close(&r);
    nn_free(err);
}

static void test_dataset_circle(void)
{
    /* the tutorial's labels: 1 inside (x-0.5)^2 + (y-0.5)^2 < 0.1 */
    nn_ctx *ctx = fx_ctx();
    nn_dataset *d = NULL;
    char *err = NULL;
    CHECK_OK(nn_dataset_open(ctx, "circle", "n=500 seed=3", &d, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(nn_dataset_len(d), 500);
    CU_ASSERT_EQUAL(nn_dataset_input_shape(d)->dim[0], 2);
    CU_ASSERT_EQUAL(nn_dataset_target_shape(d)->dim[0], 1);
    int64_t inside = 0, labels_ok = 1, range_ok = 1;
    for (int64_t i = 0; i < 500; i++) {
        float x[2], y[1];
        CU_ASSERT_EQUAL_FATAL(nn_dataset_get(d, i, x, y), NN_OK);
        float r2 = (x[0] - 0.5f) * (x[0] - 0.5f) + (x[1] - 0.5f) * (x[1] - 0.5f);
        labels_ok &= y[0] == (r2 < 0.1f ? 1.0f : 0.0f);
        range_ok &= x[0] >= 0 && x[0] < 1 && x[1] >= 0 && x[1] < 1;
        inside += y[0] == 1.0f;
    }
    CU_ASSERT_TRUE(labels_ok);
    CU_ASSERT_TRUE(range_ok);
    CU_ASSERT_TRUE(inside > 100 && inside < 215); /* pi * 0.1 = 31 % of 500 = 157 */
    float x[2], y[1];
    CU_ASSERT_EQUAL(nn_dataset_get(d, 500, x, y), NN_INVALID);
    nn_dataset_free(d);
    nn_free(err);
}

static void test_bce_accuracy(void)
{
    /* a prediction is correct when it rounds (half to even) to its target */
    nn_ctx *ctx = fx_ctx();
    nn_loss *l = NULL;
    char *err = NULL;
    CHECK_OK(nn_loss_create(ctx, "bce", "", &l, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    nn_tensor *p = t2d(5, 1, (const float[]){0.2f, 0.7f, 0.5f, 0.9f, 0.49f}, 0);
    nn_tensor *t = t2d(5, 1, (const float[]){0, 1, 1, 0, 0}, 0);
    int64_t correct = -1, total = -1;
    CU_ASSERT_EQUAL(nn_loss_correct(l, p, t, &correct, &total), NN_OK);
    CU_ASSERT_EQUAL(total, 5);
    CU_ASSERT_EQUAL(correct, 3); /* 0.2->0 ok, 0.7->1 ok, 0.5->0 no, 0.9->1 no, 0.49->0 ok */
    nn_loss_free(l);
    nn_free(err);
}

void register_train_tests(void)
{
    CU_pSuite s = fx_add_suite("train");
    if (!s) return;
    FX_ADD(s, test_dataset_circle);
    FX_ADD(s, test_bce_accuracy);
    FX_ADD(s, test_train_param_names);
    FX_ADD(s, test_train_shape_inference);
    FX_ADD(s, test_train_refusals);
    FX_ADD(s, test_train_stops_early);
    FX_ADD(s, test_train_deterministic);
    FX_ADD(s, test_train_circle);
}
