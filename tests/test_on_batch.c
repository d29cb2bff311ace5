/* test_on_batch.c - nn_fit's per-batch callback: called once per training
 * batch with the right epoch, index, count and samples, its losses adding
 * up to the epoch's, no effect on training, and a stop that stops at once,
 * leaving the weights of exactly the batches that ran. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN "linear out=5 ! sigmoid ! linear out=1 ! sigmoid"
#define MAX_CALLS 64

typedef struct {
    nn_ctx *ctx;
    nn_dataset *data;
    nn_module *net;
    nn_loss *loss;
    nn_optim *opt;
} net;

static void net_open(net *r, nn_ctx *ctx)
{
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    char *err = NULL;
    CHECK_OK(nn_dataset_open(ctx, "circle", "n=1200", &r->data, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->data);
    CHECK_OK(nn_module_from_chain(ctx, CHAIN, nn_dataset_input_shape(r->data), &r->net, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->net);
    CHECK_OK(nn_loss_create(ctx, "bce", "", &r->loss, &err), err);
    CHECK_OK(nn_optim_create(ctx, "sgd", "lr=0.5 momentum=0.8", r->net, &r->opt, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->opt);
    nn_free(err);
}

static void net_close(net *r)
{
    nn_optim_free(r->opt);
    nn_loss_free(r->loss);
    nn_module_free(r->net);
    nn_dataset_free(r->data);
}

/* Every call of both callbacks, in order. */
typedef struct {
    nn_batch_stats batch[MAX_CALLS];
    int nbatch;
    nn_epoch_stats epoch[MAX_CALLS];
    int nepoch;
    int stop_at; /* on_batch returns 1 at this call (1-based; 0: never) */
} calls;

static int on_batch(const nn_batch_stats *s, void *user)
{
    calls *c = user;
    if (c->nbatch < MAX_CALLS) c->batch[c->nbatch] = *s;
    c->nbatch++;
    return c->nbatch == c->stop_at;
}

static int on_epoch(const nn_epoch_stats *s, void *user)
{
    calls *c = user;
    if (c->nepoch < MAX_CALLS) c->epoch[c->nepoch] = *s;
    c->nepoch++;
    return 0;
}

static nn_status fit(net *r, calls *c, int64_t epochs, int64_t batch, int drop_last, char **err)
{
    nn_fit_opts o = {.epochs = epochs, .batch = batch, .shuffle = NN_SHUFFLE_EPOCH,
                     .on_epoch = on_epoch, .user = c, .drop_last = drop_last,
                     .on_batch = on_batch};
    return nn_fit(r->net, r->loss, r->opt, r->data, &o, err);
}

/* Each call's counts, and the epoch's loss rebuilt from its batches'
 * losses the way nn_fit weighs them (by samples), to the last bit. */
static void check_calls(const calls *c, int64_t epochs, int64_t batch, int64_t n, int drop_last)
{
    int64_t nb = n / batch + (!drop_last && n % batch), per = drop_last ? nb * batch : n;
    CU_ASSERT_EQUAL_FATAL(c->nbatch, epochs * nb);
    CU_ASSERT_EQUAL_FATAL(c->nepoch, epochs);
    for (int64_t e = 0; e < epochs; e++) {
        double wsum = 0, sum = 0;
        for (int64_t b = 0; b < nb; b++) {
            const nn_batch_stats *s = &c->batch[e * nb + b];
            CU_ASSERT_EQUAL(s->epoch, e);
            CU_ASSERT_EQUAL(s->batch, b);
            CU_ASSERT_EQUAL(s->batches, nb);
            int64_t done = (b + 1) * batch < per ? (b + 1) * batch : per;
            CU_ASSERT_EQUAL(s->samples, done);
            CU_ASSERT_TRUE(isfinite(s->loss) && s->loss > 0);
            wsum += s->loss * (double)(done - b * batch);
            sum += s->loss;
        }
        const nn_epoch_stats *es = &c->epoch[e];
        CU_ASSERT_EQUAL(es->epoch, e);
        CU_ASSERT_EQUAL(es->batches, nb);
        CU_ASSERT_EQUAL(es->loss, per % batch ? wsum / (double)per : sum / (double)nb);
    }
}

static void test_on_batch_counts(void)
{
    nn_ctx *ctx = fx_ctx();
    net r;
    calls *c = calloc(1, sizeof *c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char *err = NULL;
    net_open(&r, ctx);
    CHECK_OK(fit(&r, c, 4, 500, 0, &err), err); /* 500, 500 and 200 samples */
    check_calls(c, 4, 500, 1200, 0);
    memset(c, 0, sizeof *c);
    CHECK_OK(fit(&r, c, 3, 500, 1, &err), err); /* drop_last: 500 and 500 */
    check_calls(c, 3, 500, 1200, 1);
    memset(c, 0, sizeof *c);
    CHECK_OK(fit(&r, c, 2, 100, 0, &err), err); /* 12 equal batches */
    check_calls(c, 2, 100, 1200, 0);
    CU_ASSERT_EQUAL(nn_optim_steps(r.opt), 4 * 3 + 3 * 2 + 2 * 12);
    net_close(&r);
    free(c);
    nn_free(err);
}

/* Every parameter of a and b, bit for bit. */
static int same_params(nn_module *a, nn_module *b)
{
    int n = nn_module_param_count(a), same = n == nn_module_param_count(b);
    for (int i = 0; i < n && same; i++) {
        nn_tensor *pa = nn_module_param(a, i, NULL), *pb = nn_module_param(b, i, NULL);
        int64_t k = nn_tensor_numel(pa);
        float va[64], vb[64];
        if (k > 64 || k != nn_tensor_numel(pb)) return 0;
        to_host(pa, va, k);
        to_host(pb, vb, k);
        same = !memcmp(va, vb, (size_t)k * sizeof *va);
    }
    return same;
}

/* The callback only watches: the same seed trains to the same weights with
 * and without it. */
static void test_on_batch_changes_nothing(void)
{
    nn_ctx *ctx2 = NULL;
    char *err = NULL;
    CHECK_OK(nn_ctx_open(g_reg, "cpu", FX_SEED, &ctx2, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx2);
    net a, b;
    net_open(&a, fx_ctx());
    net_open(&b, ctx2);
    calls *c = calloc(1, sizeof *c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CHECK_OK(fit(&a, c, 5, 100, 0, &err), err);
    nn_fit_opts o = {.epochs = 5, .batch = 100, .shuffle = NN_SHUFFLE_EPOCH};
    CHECK_OK(nn_fit(b.net, b.loss, b.opt, b.data, &o, &err), err);
    CU_ASSERT_TRUE(same_params(a.net, b.net));
    net_close(&a);
    net_close(&b);
    nn_ctx_free(ctx2);
    free(c);
    nn_free(err);
}

/* A stop in the middle of epoch 1 (shuffle none, batches of 500: its
 * second batch) ends nn_fit with NN_OK after that batch: epoch 1 is not
 * reported, and the weights are those of one epoch on all the data and one
 * on the first 1000 samples, trained here by nn_fit_epoch on a subset. */
static void test_on_batch_stops(void)
{
    nn_ctx *ctx2 = NULL;
    char *err = NULL;
    CHECK_OK(nn_ctx_open(g_reg, "cpu", FX_SEED, &ctx2, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx2);
    net a, b;
    net_open(&a, fx_ctx());
    net_open(&b, ctx2);
    calls *c = calloc(1, sizeof *c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    c->stop_at = 5;
    nn_fit_opts o = {.epochs = 50, .batch = 500, .shuffle = NN_SHUFFLE_NONE, .on_epoch = on_epoch,
                     .user = c, .on_batch = on_batch};
    CHECK_OK(nn_fit(a.net, a.loss, a.opt, a.data, &o, &err), err);
    CU_ASSERT_EQUAL(c->nbatch, 5);
    CU_ASSERT_EQUAL(c->nepoch, 1);
    CU_ASSERT_EQUAL(c->batch[4].epoch, 1);
    CU_ASSERT_EQUAL(c->batch[4].batch, 1);
    CU_ASSERT_EQUAL(nn_optim_steps(a.opt), 5);

    int64_t idx[1000];
    for (int64_t i = 0; i < 1000; i++) idx[i] = i;
    nn_dataset *first = NULL;
    nn_epoch_stats s;
    CHECK_OK(nn_fit_epoch(b.net, b.loss, b.opt, b.data, 500, NULL, &s, &err), err);
    CHECK_OK(nn_dataset_subset(b.data, idx, 1000, &first, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    CHECK_OK(nn_fit_epoch(b.net, b.loss, b.opt, first, 500, NULL, &s, &err), err);
    CU_ASSERT_EQUAL(nn_optim_steps(b.opt), 5);
    CU_ASSERT_TRUE(same_params(a.net, b.net));
    nn_dataset_free(first);

    /* a stop at an epoch's last batch completes that epoch: on_epoch sees it */
    memset(c, 0, sizeof *c);
    c->stop_at = 6;
    CHECK_OK(nn_fit(a.net, a.loss, a.opt, a.data, &o, &err), err);
    CU_ASSERT_EQUAL(c->nbatch, 6);
    CU_ASSERT_EQUAL(c->nepoch, 2);
    CU_ASSERT_EQUAL(c->epoch[1].epoch, 1);
    net_close(&a);
    net_close(&b);
    nn_ctx_free(ctx2);
    free(c);
    nn_free(err);
}

void register_on_batch_tests(void)
{
    CU_pSuite s = fx_add_suite("on_batch");
    if (!s) return;
    FX_ADD(s, test_on_batch_counts);
    FX_ADD(s, test_on_batch_changes_nothing);
    FX_ADD(s, test_on_batch_stops);
}
