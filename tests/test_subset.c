/* test_subset.c - views of a dataset by index (nn_dataset_subset) and the
 * class a loss assigns to a prediction (nn_loss_predict_class). */
#include "test.h"

#include <stdlib.h>
#include <string.h>

void register_subset_tests(void);

/* A subset's sample k is the parent's sample idx[k], through get, the
 * loader and a subset of the subset; bad indices are refused. */
static void test_subset_samples(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_dataset *d = NULL, *s = NULL, *ss = NULL;
    char *err = NULL;
    CHECK_OK(nn_dataset_open(ctx, "circle", "n=50 seed=3", &d, &err), err);
    const int64_t idx[] = {7, 0, 49, 7, 23};
    CHECK_OK(nn_dataset_subset(d, idx, 5, &s, &err), err);
    CU_ASSERT_EQUAL_FATAL(nn_dataset_len(s), 5);
    CU_ASSERT_EQUAL(nn_dataset_input_shape(s)->dim[0], 2);
    CU_ASSERT_EQUAL(nn_dataset_target_shape(s)->dim[0], 1);
    float x[2], y[1], px[2], py[1];
    for (int64_t k = 0; k < 5; k++) {
        CHECK_OK(nn_dataset_get(s, k, x, y), "subset get");
        CHECK_OK(nn_dataset_get(d, idx[k], px, py), "parent get");
        CU_ASSERT(x[0] == px[0] && x[1] == px[1] && y[0] == py[0]);
    }
    CU_ASSERT_EQUAL(nn_dataset_get(s, 5, x, y), NN_INVALID);
    CU_ASSERT_EQUAL(nn_dataset_get(s, -1, x, y), NN_INVALID);

    /* The loader reads the parent's cache through the map: the last batch
     * (one sample) too. */
    nn_loader *ld = NULL;
    CHECK_OK(nn_loader_open(s, 2, NN_SHUFFLE_NONE, 0, &ld, &err), err);
    nn_tensor *bx, *by;
    int64_t seen = 0;
    while (nn_loader_next(ld, &bx, &by) == 1) {
        int64_t n = nn_tensor_shape(bx)->dim[0];
        float hx[4], hy[2];
        to_host(bx, hx, 2 * n);
        to_host(by, hy, n);
        for (int64_t k = 0; k < n; k++) {
            CHECK_OK(nn_dataset_get(d, idx[seen + k], px, py), "parent get");
            CU_ASSERT(hx[2 * k] == px[0] && hx[2 * k + 1] == px[1] && hy[k] == py[0]);
        }
        seen += n;
    }
    CU_ASSERT_EQUAL(seen, 5);
    nn_loader_free(ld);
    nn_ctx_scratch_reset(ctx);

    /* A subset of a subset: sample k is the root's idx[sub[k]]. */
    const int64_t sub[] = {4, 2};
    CHECK_OK(nn_dataset_subset(s, sub, 2, &ss, &err), err);
    CHECK_OK(nn_dataset_get(ss, 0, x, y), "get");
    CHECK_OK(nn_dataset_get(d, 23, px, py), "get");
    CU_ASSERT(x[0] == px[0] && x[1] == px[1]);
    CHECK_OK(nn_dataset_get(ss, 1, x, y), "get");
    CHECK_OK(nn_dataset_get(d, 49, px, py), "get");
    CU_ASSERT(x[0] == px[0] && x[1] == px[1]);

    nn_dataset *bad = NULL;
    const int64_t out_of_range[] = {3, 50};
    CU_ASSERT_EQUAL(nn_dataset_subset(d, out_of_range, 2, &bad, &err), NN_INVALID);
    CU_ASSERT_PTR_NULL(bad);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "outside 0..49") ? err : NULL);
    nn_free(err);
    err = NULL;
    CU_ASSERT_EQUAL(nn_dataset_subset(d, idx, 0, &bad, &err), NN_INVALID);
    nn_free(err);
    nn_dataset_free(ss);
    nn_dataset_free(s);
    nn_dataset_free(d);
}

/* A dataset with get_batch (synthetic) is gathered by the plugin, a
 * subset's indices mapped a slice of 256 at a time: batches of 300 through
 * the loader equal the parent's samples read one by one. */
static void test_subset_get_batch(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_dataset *d = NULL, *s = NULL;
    char *err = NULL;
    CHECK_OK(nn_dataset_open(ctx, "synthetic", "n=600 shape=3 classes=4", &d, &err), err);
    int64_t idx[600]; /* 7 and 600 are coprime: a permutation */
    for (int k = 0; k < 600; k++) idx[k] = (k * 7 + 5) % 600;
    CHECK_OK(nn_dataset_subset(d, idx, 600, &s, &err), err);
    for (int pass = 0; pass < 2; pass++) {
        nn_loader *ld = NULL;
        CHECK_OK(nn_loader_open(pass ? s : d, 300, NN_SHUFFLE_NONE, 0, &ld, &err), err);
        nn_tensor *bx, *by;
        int64_t seen = 0;
        int same = 1;
        static float hx[300 * 3], hy[300];
        while (nn_loader_next(ld, &bx, &by) == 1) {
            int64_t n = nn_tensor_shape(bx)->dim[0];
            to_host(bx, hx, 3 * n);
            to_host(by, hy, n);
            for (int64_t k = 0; k < n; k++) {
                float px[3], py[1];
                CHECK_OK(nn_dataset_get(d, pass ? idx[seen + k] : seen + k, px, py), "get");
                same = same && !memcmp(hx + 3 * k, px, sizeof px) && hy[k] == py[0];
            }
            seen += n;
        }
        CU_ASSERT(same);
        CU_ASSERT_EQUAL(seen, 600);
        nn_loader_free(ld);
        nn_ctx_scratch_reset(ctx);
    }
    nn_dataset_free(s);
    nn_dataset_free(d);
}

/* An evaluation over a subset (here a permutation of every sample) equals
 * one over the parent in that order, bit for bit: the same samples in the
 * same batches. */
static void test_subset_fit_epoch(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_dataset *d = NULL, *s = NULL;
    nn_module *m = NULL;
    nn_loss *l = NULL;
    char *err = NULL;
    CHECK_OK(nn_dataset_open(ctx, "circle", "n=200 seed=5", &d, &err), err);
    int64_t idx[200]; /* 37 and 200 are coprime: a permutation */
    for (int k = 0; k < 200; k++) idx[k] = (k * 37 + 11) % 200;
    CHECK_OK(nn_dataset_subset(d, idx, 200, &s, &err), err);
    CHECK_OK(nn_module_from_chain(ctx, "linear out=5 ! sigmoid ! linear out=1 ! sigmoid",
                                  nn_dataset_input_shape(d), &m, &err), err);
    CHECK_OK(nn_loss_create(ctx, "bce", "", &l, &err), err);
    nn_epoch_stats a, b;
    CHECK_OK(nn_fit_epoch(m, l, NULL, s, 20, NULL, &a, &err), err);
    CHECK_OK(nn_fit_epoch(m, l, NULL, d, 20, idx, &b, &err), err);
    CU_ASSERT_EQUAL(a.batches, 10);
    CU_ASSERT(a.loss == b.loss);
    CU_ASSERT(a.accuracy == b.accuracy);
    /* and differs from the parent in its own order (the batches differ) */
    nn_epoch_stats c;
    CHECK_OK(nn_fit_epoch(m, l, NULL, d, 30, NULL, &c, &err), err);
    CHECK_OK(nn_fit_epoch(m, l, NULL, s, 30, NULL, &a, &err), err);
    CU_ASSERT(a.loss != c.loss);
    nn_loss_free(l);
    nn_module_free(m);
    nn_dataset_free(s);
    nn_dataset_free(d);
}

static void classes_of(const char *loss, int64_t rows, int64_t cols, const float *vals,
                       nn_status want, const int64_t *expect)
{
    nn_ctx *ctx = fx_ctx();
    nn_loss *l = NULL;
    char *err = NULL;
    CHECK_OK(nn_loss_create(ctx, loss, "", &l, &err), err);
    nn_tensor *p = t2d(rows, cols, vals, 0);
    int64_t cls[8] = {0};
    nn_status st = nn_loss_predict_class(l, p, cls, &err);
    CHECK_STATUS(st, want, err);
    if (want) CU_ASSERT_PTR_NOT_NULL(err);
    nn_free(err);
    for (int64_t i = 0; !want && i < rows; i++) CU_ASSERT_EQUAL(cls[i], expect[i]);
    nn_loss_free(l);
}

/* Each loss's own rule, against values worked out by hand. */
static void test_predict_class(void)
{
    const float p[] = {0.2f, 0.5f, 0.51f, 0.9f, 0.0f, 1.0f};
    classes_of("bce", 6, 1, p, NN_OK, (const int64_t[]){0, 0, 1, 1, 0, 1});
    const float z[] = {-1.0f, 0.0f, 0.1f, 3.0f};
    classes_of("bce_with_logits", 4, 1, z, NN_OK, (const int64_t[]){0, 0, 1, 1});
    const float s[] = {0.1f, 0.7f, 0.2f, /**/ 3.0f, -1.0f, 2.0f, /**/ -5.0f, -4.0f, -3.0f};
    classes_of("cross_entropy", 3, 3, s, NN_OK, (const int64_t[]){1, 0, 2});
    const float lp[] = {-0.1f, -2.5f, /**/ -3.0f, -0.05f};
    classes_of("nll", 2, 2, lp, NN_OK, (const int64_t[]){0, 1});
    classes_of("mse", 6, 1, p, NN_UNSUPPORTED, NULL);
}

void register_subset_tests(void)
{
    CU_pSuite s = fx_add_suite("subset");
    FX_ADD(s, test_subset_samples);
    FX_ADD(s, test_subset_fit_epoch);
    FX_ADD(s, test_subset_get_batch);
    FX_ADD(s, test_predict_class);
}
