/* test_batches.c - the loader's and the training loop's batches: the last
 * partial batch (kept, or dropped with drop_last), epoch figures weighted by
 * samples, batches drawn with replacement (NN_SHUFFLE_SAMPLE) from the
 * context's RNG, and class-index targets that pass through unchanged.
 *
 * The oracles: per-sample losses computed one sample at a time outside the
 * loop, the dataset's own samples (nn_dataset_get), and a copy of the RNG
 * advanced by hand with the same draws. */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void register_batches_tests(void);

#define CHAIN "linear out=5 ! sigmoid ! linear out=1 ! sigmoid"
#define N 143

typedef struct {
    nn_module *net;
    nn_loss *loss;
    nn_optim *opt;
    nn_dataset *data;
} run;

static void run_open(run *r, const char *chain, const char *loss)
{
    nn_ctx *ctx = fx_ctx();
    char *err = NULL;
    memset(r, 0, sizeof *r);
    CHECK_OK(nn_dataset_open(ctx, "circle", "n=143", &r->data, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->data);
    CHECK_OK(nn_module_from_chain(ctx, chain, nn_dataset_input_shape(r->data), &r->net, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->net);
    CHECK_OK(nn_loss_create(ctx, loss, "", &r->loss, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->loss);
    CHECK_OK(nn_optim_create(ctx, "sgd", "lr=0.5", r->net, &r->opt, &err), err);
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

/* The mean loss and the accuracy over every sample, one sample at a time
 * through forward and the loss, outside nn_fit_epoch (eval mode, no grad). */
static void per_sample(run *r, double *loss, double *acc)
{
    nn_ctx *ctx = fx_ctx();
    nn_shape xs = shp2(1, 2), ys = shp2(1, 1);
    nn_tensor *x = fx_track(nn_tensor_new(ctx, &xs, 0)), *y = fx_track(nn_tensor_new(ctx, &ys, 0));
    int prev = nn_grad_set_enabled(ctx, 0);
    nn_module_train(r->net, 0);
    double sum = 0;
    int64_t correct = 0, total = 0;
    for (int64_t i = 0; i < N; i++) {
        float hx[2], hy[1];
        CU_ASSERT_EQUAL_FATAL(nn_dataset_get(r->data, i, hx, hy), NN_OK);
        nn_tensor_from_host(x, hx, 2);
        nn_tensor_from_host(y, hy, 1);
        nn_tensor *out = nn_module_forward(r->net, x);
        nn_tensor *L = nn_loss_forward(r->loss, out, y);
        sum += item(L);
        int64_t c = 0, t = 0;
        CU_ASSERT_EQUAL(nn_loss_correct(r->loss, out, y, &c, &t), NN_OK);
        correct += c;
        total += t;
        nn_ctx_scratch_reset(ctx);
    }
    nn_grad_set_enabled(ctx, prev);
    CU_ASSERT_EQUAL(total, N);
    *loss = sum / N;
    *acc = (double)correct / (double)total;
}

/* Evaluation at any batch size scores all 143 samples, weighted by samples. */
static void test_eval_partial_batch(void)
{
    run r;
    run_open(&r, CHAIN, "bce");
    char *err = NULL;
    /* train a little so that the samples' losses differ */
    nn_fit_opts o = {.epochs = 30, .batch = 10, .shuffle = NN_SHUFFLE_EPOCH};
    CHECK_OK(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), err);
    double want_loss, want_acc;
    per_sample(&r, &want_loss, &want_acc);
    CU_ASSERT(want_acc > 0.5 && want_acc < 1.0); /* neither trivial nor perfect */
    static const int64_t batches[] = {100, 50, 7, 1, 143, 1000};
    static const int64_t counts[] = {2, 3, 21, 143, 1, 1};
    for (size_t k = 0; k < sizeof batches / sizeof *batches; k++) {
        nn_epoch_stats s = {0};
        CHECK_OK(nn_fit_epoch(r.net, r.loss, NULL, r.data, batches[k], NULL, &s, &err), err);
        CHECK_CLOSE(s.loss, want_loss, 1e-6, 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(s.accuracy, want_acc, 1e-12);
        CU_ASSERT_EQUAL(s.batches, counts[k]);
    }
    nn_free(err);
    run_close(&r);
}

/* Training keeps the last partial batch (2 steps an epoch at 143 / 100)
 * unless drop_last (1 step); a batch above the data is one batch. */
static void test_train_drop_last(void)
{
    static const struct {
        int64_t batch;
        int drop_last;
        int64_t steps_per_epoch;
    } cases[] = {{100, 0, 2}, {100, 1, 1}, {143, 1, 1}, {500, 0, 1}, {10, 0, 15}, {10, 1, 14}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        run r;
        run_open(&r, CHAIN, "bce");
        char *err = NULL;
        nn_fit_opts o = {.epochs = 3, .batch = cases[k].batch, .shuffle = NN_SHUFFLE_EPOCH,
                         .drop_last = cases[k].drop_last};
        CHECK_OK(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), err);
        CU_ASSERT_EQUAL(nn_optim_steps(r.opt), 3 * cases[k].steps_per_epoch);
        nn_free(err);
        run_close(&r);
    }
}

/* Sample mode draws n indices a pass with replacement from the context's
 * RNG and leaves the order as it was; same seed, same figures. */
static void test_fit_sample(void)
{
    nn_fit_opts o = {.epochs = 3, .batch = 100, .shuffle = NN_SHUFFLE_SAMPLE};
    nn_epoch_stats last[2];
    for (int rep = 0; rep < 2; rep++) {
        nn_ctx *ctx = fx_ctx();
        nn_rng_seed(nn_ctx_rng(ctx), 77, 5);
        run r;
        run_open(&r, CHAIN, "bce");
        nn_rng want = *nn_ctx_rng(ctx); /* after the model's initialisation */
        for (int i = 0; i < 3 * N; i++) nn_rng_below(&want, N);
        int64_t order[N];
        for (int64_t i = 0; i < N; i++) order[i] = i;
        o.order = order;
        char *err = NULL;
        CHECK_OK(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), err);
        nn_rng *got = nn_ctx_rng(ctx);
        CU_ASSERT(got->state == want.state && got->inc == want.inc);
        int same = 1;
        for (int64_t i = 0; i < N; i++) same &= order[i] == i;
        CU_ASSERT(same);
        CU_ASSERT_EQUAL(nn_optim_steps(r.opt), 6);
        nn_epoch_stats s = {0};
        CHECK_OK(nn_fit_epoch(r.net, r.loss, NULL, r.data, N, NULL, &s, &err), err);
        last[rep] = s;
        nn_free(err);
        run_close(&r);
    }
    CU_ASSERT_EQUAL(last[0].loss, last[1].loss);
    CU_ASSERT_EQUAL(last[0].accuracy, last[1].accuracy);
}

/* Reads the batches of one pass of a loader; checks each row against the
 * dataset's sample at the index `expect` gives. Returns the batch count. */
static int64_t loader_pass(nn_loader *l, run *r, const int64_t *expect, int64_t *sizes)
{
    nn_ctx *ctx = fx_ctx();
    int64_t nb = 0, pos = 0, bad = 0;
    nn_tensor *x, *y;
    int got;
    while ((got = nn_loader_next(l, &x, &y)) == 1) {
        int64_t bs = nn_tensor_shape(x)->dim[0];
        CU_ASSERT_EQUAL(nn_tensor_shape(y)->dim[0], bs);
        float hx[2 * N], hy[N];
        to_host(x, hx, 2 * bs);
        to_host(y, hy, bs);
        for (int64_t k = 0; k < bs && pos + k < N; k++) {
            float sx[2], sy[1];
            CU_ASSERT_EQUAL(nn_dataset_get(r->data, expect[pos + k], sx, sy), NN_OK);
            bad += memcmp(sx, hx + 2 * k, sizeof sx) != 0 || sy[0] != hy[k];
        }
        if (nb < 200) sizes[nb] = bs;
        pos += bs;
        nb++;
        nn_ctx_scratch_reset(ctx);
    }
    CU_ASSERT_EQUAL(got, 0);
    CU_ASSERT_EQUAL(bad, 0);
    return nb;
}

/* nn_loader: in order 100 + 43, 100 alone with drop_last; in sample mode
 * the drawn rows are the samples a copy of the RNG draws. Targets (class
 * indices 0 and 1 held as floats) come through bit for bit. */
static void test_loader_batches(void)
{
    run r;
    run_open(&r, CHAIN, "bce");
    nn_ctx *ctx = fx_ctx();
    char *err = NULL;
    int64_t ident[N], sizes[200];
    for (int64_t i = 0; i < N; i++) ident[i] = i;
    nn_loader *l = NULL;
    CHECK_OK(nn_loader_open(r.data, 100, NN_SHUFFLE_NONE, 0, &l, &err), err);
    CU_ASSERT_EQUAL(loader_pass(l, &r, ident, sizes), 2);
    CU_ASSERT(sizes[0] == 100 && sizes[1] == 43);
    nn_loader_free(l);
    CHECK_OK(nn_loader_open(r.data, 100, NN_SHUFFLE_NONE, 1, &l, &err), err);
    CU_ASSERT_EQUAL(loader_pass(l, &r, ident, sizes), 1);
    CU_ASSERT_EQUAL(sizes[0], 100);
    nn_loader_free(l);
    CHECK_OK(nn_loader_open(r.data, 1000, NN_SHUFFLE_NONE, 0, &l, &err), err);
    CU_ASSERT_EQUAL(loader_pass(l, &r, ident, sizes), 1);
    CU_ASSERT_EQUAL(sizes[0], N);
    nn_loader_free(l);

    CHECK_OK(nn_loader_open(r.data, 50, NN_SHUFFLE_SAMPLE, 0, &l, &err), err);
    for (int pass = 0; pass < 2; pass++) {
        nn_rng copy = *nn_ctx_rng(ctx);
        int64_t drawn[N];
        int repeats = 0, seen[N] = {0};
        for (int64_t i = 0; i < N; i++) {
            drawn[i] = nn_rng_below(&copy, N);
            repeats += seen[drawn[i]]++ > 0;
        }
        CU_ASSERT(repeats > 0); /* with replacement: 143 draws of 143 repeat */
        CU_ASSERT_EQUAL(loader_pass(l, &r, drawn, sizes), 3);
        CU_ASSERT(sizes[0] == 50 && sizes[1] == 50 && sizes[2] == 43);
        CU_ASSERT(nn_ctx_rng(ctx)->state == copy.state);
    }
    nn_loader_free(l);
    nn_free(err);
    run_close(&r);
}

/* cross_entropy over two scores takes circle's float target as a class
 * index, through nn_fit with a partial batch, and learns. */
static void test_class_index_targets(void)
{
    run r;
    run_open(&r, "linear out=8 ! relu ! linear out=2", "cross_entropy");
    char *err = NULL;
    nn_epoch_stats before = {0}, after = {0};
    CHECK_OK(nn_fit_epoch(r.net, r.loss, NULL, r.data, 100, NULL, &before, &err), err);
    nn_fit_opts o = {.epochs = 200, .batch = 100, .shuffle = NN_SHUFFLE_SAMPLE};
    CHECK_OK(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), err);
    CHECK_OK(nn_fit_epoch(r.net, r.loss, NULL, r.data, 100, NULL, &after, &err), err);
    CU_ASSERT(after.loss < before.loss);
    CU_ASSERT(after.accuracy >= 0.85);
    /* the accuracy counts all 143 samples */
    double c = after.accuracy * N;
    CU_ASSERT_DOUBLE_EQUAL(c, floor(c + 0.5), 1e-9);
    nn_free(err);
    run_close(&r);
}

/* A checkpoint keeps each shuffle mode, sample included; an exact resume in
 * sample mode: 2 epochs, save, load into a fresh run, 3 more equal 5 straight. */
static void test_checkpoint_sample(void)
{
    char dir[] = "/tmp/nn-batches-XXXXXX", path[64];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.pb", dir);
    nn_ctx *ctx = fx_ctx();
    char *err = NULL;
    static const nn_shuffle modes[] = {NN_SHUFFLE_NONE, NN_SHUFFLE_EPOCH, NN_SHUFFLE_SAMPLE};
    for (size_t k = 0; k < 3; k++) {
        run r;
        run_open(&r, CHAIN, "bce");
        nn_rng_seed(nn_ctx_rng(ctx), 9, 1);
        int64_t order[N];
        for (int64_t i = 0; i < N; i++) order[i] = i;
        nn_fit_opts o = {.epochs = 2, .batch = 100, .shuffle = modes[k], .order = order};
        CHECK_OK(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), err);
        nn_train_state ts = {.epoch = 2, .step = nn_optim_steps(r.opt), .batch = 100,
                             .shuffle = modes[k], .seed = 9, .rng = *nn_ctx_rng(ctx),
                             .data = "circle n=143", .loss = "bce", .device = "cpu",
                             .order = order, .norder = N};
        nn_save_opts so = {.model = r.net, .optim = r.opt, .train = &ts};
        CHECK_OK(nn_checkpoint_save(path, &so, &err), err);
        /* the straight run goes on to 5 epochs */
        nn_epoch_stats want = {0}, got = {0};
        o.epochs = 5;
        o.first_epoch = 2;
        CHECK_OK(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), err);
        CHECK_OK(nn_fit_epoch(r.net, r.loss, NULL, r.data, N, NULL, &want, &err), err);
        run_close(&r);

        nn_checkpoint *c = NULL;
        CHECK_OK(nn_checkpoint_load(path, &c, &err), err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        nn_train_state back;
        CHECK_OK(nn_checkpoint_train_state(c, &back), NULL);
        CU_ASSERT_EQUAL(back.shuffle, modes[k]);
        nn_module *net = NULL;
        nn_optim *opt = NULL;
        nn_loss *loss = NULL;
        nn_dataset *data = NULL;
        CHECK_OK(nn_checkpoint_build_model(c, ctx, &net, &err), err);
        CHECK_OK(nn_checkpoint_build_optim(c, net, &opt, &err), err);
        CHECK_OK(nn_loss_create(ctx, "bce", "", &loss, &err), err);
        CHECK_OK(nn_dataset_open(ctx, "circle", "n=143", &data, &err), err);
        CU_ASSERT_FATAL(net && opt && loss && data && back.norder == N);
        int64_t order2[N];
        memcpy(order2, back.order, sizeof order2);
        *nn_ctx_rng(ctx) = back.rng;
        nn_fit_opts o2 = {.epochs = 5, .batch = 100, .shuffle = back.shuffle, .order = order2,
                          .first_epoch = back.epoch};
        CHECK_OK(nn_fit(net, loss, opt, data, &o2, &err), err);
        CHECK_OK(nn_fit_epoch(net, loss, NULL, data, N, NULL, &got, &err), err);
        CU_ASSERT_EQUAL(got.loss, want.loss);
        CU_ASSERT_EQUAL(got.accuracy, want.accuracy);
        CU_ASSERT_EQUAL(nn_optim_steps(opt), 10);
        nn_dataset_free(data);
        nn_loss_free(loss);
        nn_optim_free(opt);
        nn_module_free(net);
        nn_checkpoint_free(c);
    }
    unlink(path);
    rmdir(dir);
    nn_free(err);
}

/* Epoch mode shuffles the order in place, Fisher-Yates with draws from the
 * context's RNG: the bounds i + 1 from n down to 2, each draw below its
 * bound by nn_rng_below (the training loop takes the remainders without
 * dividing; the order and the generator must come out the same). */
static void test_fit_epoch_order(void)
{
    nn_fit_opts o = {.epochs = 7, .batch = 50, .shuffle = NN_SHUFFLE_EPOCH};
    nn_ctx *ctx = fx_ctx();
    nn_rng_seed(nn_ctx_rng(ctx), 2024, 3);
    run r;
    run_open(&r, CHAIN, "bce");
    nn_rng want = *nn_ctx_rng(ctx); /* after the model's initialisation */
    int64_t order[N], ref[N];
    for (int64_t i = 0; i < N; i++) order[i] = ref[i] = (i * 37) % N; /* not the identity */
    for (int e = 0; e < 7; e++)
        for (int64_t i = N - 1; i > 0; i--) {
            int64_t j = nn_rng_below(&want, (uint32_t)(i + 1)), t = ref[i];
            ref[i] = ref[j];
            ref[j] = t;
        }
    o.order = order;
    char *err = NULL;
    CHECK_OK(nn_fit(r.net, r.loss, r.opt, r.data, &o, &err), err);
    nn_rng *got = nn_ctx_rng(ctx);
    CU_ASSERT(got->state == want.state && got->inc == want.inc);
    CU_ASSERT(!memcmp(order, ref, sizeof order));
    nn_free(err);
    run_close(&r);
}

/* randperm(n) by Fisher-Yates with nn_rng_below's draws, bounds n down
 * to 2: the reference for nn_rng_permutation. */
static void fisher_yates(nn_rng *r, int64_t *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++) p[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = nn_rng_below(r, (uint32_t)(i + 1)), x = p[i];
        p[i] = p[j];
        p[j] = x;
    }
}

/* nn_rng_permutation against fisher_yates: the permutation and the
 * generator after it, for sizes from 1 to past the tutorial's 1200 (from
 * 64, drawn 8 at a time where the CPU has AVX-512). */
static void test_permutation_draws(void)
{
    static const int64_t ns[] = {1, 2, 3, 5, 63, 64, 65, 66, 127, 129, 1200, 5001};
    static int64_t got[5001], ref[5001];
    int same = 1, cases = 0;
    for (size_t t = 0; t < sizeof ns / sizeof *ns; t++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            int64_t n = ns[t];
            nn_rng a, b;
            nn_rng_seed(&a, seed, 7 + seed);
            b = a;
            nn_rng_permutation(&a, got, n);
            fisher_yates(&b, ref, n);
            same &= !memcmp(got, ref, (size_t)n * sizeof *got) && a.state == b.state &&
                    nn_rng_u32(&a) == nn_rng_u32(&b);
            cases++;
        }
    CU_ASSERT(same);
    CU_ASSERT_EQUAL(cases, 36);
}

/* Draws below their bound, which may be redrawn, are rare (about n / 2^32
 * each): these two seeds have one in a permutation of 5001, the second
 * one redrawn. The vector draws hand over to the one-by-one loop there;
 * the permutation and the generator must still be Fisher-Yates's. */
static void test_permutation_low_draws(void)
{
    static const uint64_t seeds[] = {433, 548};
    static int64_t got[5001], ref[5001];
    const int64_t n = 5001;
    for (size_t s = 0; s < sizeof seeds / sizeof *seeds; s++) {
        nn_rng a, b, c;
        nn_rng_seed(&a, seeds[s], 7);
        b = c = a;
        int lows = 0, redrawn = 0; /* the draws of pcg32_boundedrand, counted */
        for (int64_t i = n - 1; i > 0; i--) {
            uint32_t d = (uint32_t)(i + 1), x;
            while ((x = nn_rng_u32(&c)) < d) {
                lows++;
                if (x >= (uint32_t)(-d) % d) break;
                redrawn++;
            }
        }
        CU_ASSERT(lows == 1 && redrawn == (int)s);
        nn_rng_permutation(&a, got, n);
        fisher_yates(&b, ref, n);
        CU_ASSERT(!memcmp(got, ref, (size_t)n * sizeof *got));
        CU_ASSERT(a.state == b.state && a.state == c.state);
    }
}

void register_batches_tests(void)
{
    CU_pSuite s = fx_add_suite("batches");
    if (!s) return;
    FX_ADD(s, test_eval_partial_batch);
    FX_ADD(s, test_train_drop_last);
    FX_ADD(s, test_fit_sample);
    FX_ADD(s, test_fit_epoch_order);
    FX_ADD(s, test_permutation_draws);
    FX_ADD(s, test_permutation_low_draws);
    FX_ADD(s, test_loader_batches);
    FX_ADD(s, test_class_index_targets);
    FX_ADD(s, test_checkpoint_sample);
}
