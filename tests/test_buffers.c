/* test_buffers.c - buffers (nn_module_add_buffer): naming, the state_dict
 * order, no gradient, unseen by optimizers, saved and loaded by checkpoints
 * with load_state_dict's strictness, listed and counted by params and
 * summary; and train/eval mode: nn_fit_epoch trains in train mode,
 * evaluates in eval mode and puts every module's mode back. The module
 * "modal" (registered here with nn_registry_add) doubles its input in eval
 * mode and counts its train-mode calls in a buffer. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#include <nn/plugin.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the test module -------------------------------------------------------- */

typedef struct {
    nn_tensor *scale, *calls, *one;
    int train_calls, eval_calls;
} modal;

static nn_status modal_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                            char **err)
{
    (void)p;
    modal *s = nn_module_priv(m);
    nn_shape one = {1, {1}};
    if (!(s->scale = nn_module_add_param(m, "scale", &one, err))) return NN_NO_MEMORY;
    if (!(s->calls = nn_module_add_buffer(m, "calls", &one, err))) return NN_NO_MEMORY;
    if (!(s->one = nn_tensor_new(nn_module_ctx(m), &one, 0))) return NN_NO_MEMORY;
    nn_tensor_fill_(s->one, 1.0f);
    nn_tensor_fill_(s->scale, 1.0f);
    *out = *in;
    return NN_OK;
}

static nn_tensor *modal_forward(nn_module *m, nn_tensor *x)
{
    modal *s = nn_module_priv(m);
    if (nn_module_is_training(m)) {
        s->train_calls++;
        nn_tensor_add_(s->calls, s->one, 1.0f);
        return nn_mul(x, s->scale);
    }
    s->eval_calls++;
    return nn_mul_scalar(nn_mul(x, s->scale), 2.0f);
}

static void modal_destroy(nn_module *m)
{
    modal *s = nn_module_priv(m);
    nn_tensor_free(s->one);
}

static const nn_module_vt modal_vt = {
    NN_VT_HEADER(nn_module_vt), .type_name = "Modal", .priv_size = sizeof(modal),
    .init = modal_init, .forward = modal_forward, .destroy = modal_destroy,
};

static nn_status twice_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                            char **err)
{
    (void)p, (void)in, (void)out;
    nn_shape s = {1, {2}};
    if (!nn_module_add_param(m, "w", &s, err)) return NN_NO_MEMORY;
    if (nn_module_add_buffer(m, "w", &s, err)) return NN_INVALID; /* must be refused */
    return NN_INVALID;
}

static nn_tensor *twice_forward(nn_module *m, nn_tensor *x)
{
    (void)m;
    return x;
}

static const nn_module_vt twice_vt = {
    NN_VT_HEADER(nn_module_vt), .type_name = "Twice", .init = twice_init,
    .forward = twice_forward,
};

static const nn_component_def components[] = {
    {NN_KIND_MODULE, "modal", "x in train mode, 2x in eval mode; counts train calls", &modal_vt,
     NULL, 0},
    {NN_KIND_MODULE, "bufclash", "registers a buffer under a parameter's name", &twice_vt, NULL,
     0},
};

static const nn_plugin_desc plugin = {
    NN_ABI_MAJOR, NN_ABI_MINOR, sizeof(nn_plugin_desc), "buffers", "1.0", components,
    NN_COUNT_OF(components),
};

static void add_components(void)
{
    static int added;
    char *err = NULL;
    if (!added) CHECK_OK(nn_registry_add(g_reg, &plugin, &err), err);
    added = 1;
    nn_free(err);
}

static nn_module *chain(const char *text, int64_t width)
{
    nn_module *m = NULL;
    char *err = NULL;
    nn_shape in = {1, {width}};
    add_components();
    CHECK_OK(nn_module_from_chain(fx_ctx(), text, &in, &m, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    return m;
}

/* ---- buffers ------------------------------------------------------------------ */

static void test_buffer_names_and_order(void)
{
    nn_module *m = chain("linear out=3 ! batchnorm1d ! modal", 2);
    CU_ASSERT_EQUAL(nn_module_param_count(m), 5); /* 0.weight 0.bias 1.weight 1.bias 2.scale */
    CU_ASSERT_EQUAL(nn_module_buffer_count(m), 4);
    static const char *const buffers[] = {"1.running_mean", "1.running_var",
                                          "1.num_batches_tracked", "2.calls"};
    for (int i = 0; i < 4; i++) {
        const char *name = NULL;
        nn_tensor *t = nn_module_buffer(m, i, &name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_STRING_EQUAL(name, buffers[i]);
        CU_ASSERT_FALSE(nn_tensor_requires_grad(t));
    }
    CU_ASSERT_PTR_NULL(nn_module_buffer(m, 4, NULL));
    /* PyTorch's state_dict order: each module's parameters, then its buffers */
    static const char *const state[] = {"0.weight",       "0.bias",         "1.weight",
                                        "1.bias",         "1.running_mean", "1.running_var",
                                        "1.num_batches_tracked", "2.scale", "2.calls"};
    CU_ASSERT_EQUAL_FATAL(nn_module_state_count(m), 9);
    for (int i = 0; i < 9; i++) {
        const char *name = NULL;
        int buf = -1;
        CU_ASSERT_PTR_NOT_NULL(nn_module_state(m, i, &name, &buf));
        CU_ASSERT_STRING_EQUAL(name, state[i]);
        CU_ASSERT_EQUAL(buf, strstr(state[i], "running") || strstr(state[i], "batches") ||
                                 strstr(state[i], "calls"));
    }
    /* the initial values, as PyTorch's reset_running_stats */
    float v[3];
    to_host(nn_module_buffer(m, 1, NULL), v, 3);
    CU_ASSERT(v[0] == 1 && v[1] == 1 && v[2] == 1);
    to_host(nn_module_buffer(m, 0, NULL), v, 3);
    CU_ASSERT(v[0] == 0 && v[1] == 0 && v[2] == 0);
    CU_ASSERT_EQUAL(nn_tensor_shape(nn_module_buffer(m, 2, NULL))->ndim, 0);
    nn_module_free(m);
}

static void test_buffer_name_clash(void)
{
    nn_module *m = NULL;
    char *err = NULL;
    nn_shape in = {1, {2}};
    add_components();
    CHECK_STATUS(nn_module_create(fx_ctx(), "bufclash", "", &in, &m, &err), NN_INVALID, err);
    CU_ASSERT_PTR_NULL(m);
    CHECK_CONTAINS(err, "buffer 'w' registered twice");
    nn_free(err);
}

static void test_buffers_unseen_by_optimizer(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_module *m = chain("linear out=3 ! batchnorm1d", 2);
    nn_optim *o = NULL;
    char *err = NULL;
    CHECK_OK(nn_optim_create(ctx, "sgd", "lr=0.1", m, &o, &err), err);
    nn_free(err);
    CU_ASSERT_EQUAL(nn_optim_param_count(o), 4);
    for (int i = 0; i < nn_optim_param_count(o); i++)
        for (int j = 0; j < nn_module_buffer_count(m); j++)
            CU_ASSERT_PTR_NOT_EQUAL(nn_optim_param(o, i), nn_module_buffer(m, j, NULL));
    /* a train step moves the running mean, not through the optimizer */
    nn_tensor *x = t2d_random(4, 2, -1, 1, 5, 0);
    nn_tensor *y = nn_module_forward(m, x);
    CU_ASSERT_EQUAL(nn_backward(nn_sum(nn_mul(y, y))), NN_OK);
    CU_ASSERT_EQUAL(nn_optim_step(o), NN_OK);
    for (int j = 0; j < nn_module_buffer_count(m); j++)
        CU_ASSERT_PTR_NULL(nn_tensor_grad(nn_module_buffer(m, j, NULL)));
    float nbt;
    CU_ASSERT_EQUAL(nn_tensor_item(nn_module_buffer(m, 2, NULL), &nbt), NN_OK);
    CU_ASSERT_EQUAL(nbt, 1.0f);
    CHECK_CTX_OK(ctx);
    nn_optim_free(o);
    nn_module_free(m);
}

static void test_buffers_listed_and_counted(void)
{
    nn_module *m = chain("linear out=3 ! batchnorm1d ! sigmoid", 2);
    char *p = nn_module_params_text(m, 0);
    CHECK_CONTAINS(p, "1.running_mean       :      3  shape: (3,)\n");
    CHECK_CONTAINS(p, "1.running_var        :      3  shape: (3,)\n");
    CHECK_CONTAINS(p, "1.num_batches_tracked :      1  shape: ()\n");
    CHECK_CONTAINS(p, "total                :     22\n"); /* 9 + 6 parameters, 7 buffer values */
    /* the state_dict's order: 1.bias before 1.running_mean */
    CU_ASSERT(p && strstr(p, "1.bias") < strstr(p, "1.running_mean"));
    nn_free(p);
    char *s = nn_module_summary(m, NULL);
    CHECK_CONTAINS(s, "BatchNorm1d-2");
    CHECK_CONTAINS(s, "Total params: 22\nTrainable params: 15\nNon-trainable params: 7\n");
    nn_free(s);
    char *r = nn_module_repr(m);
    CHECK_CONTAINS(r, "(1): BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, "
                      "track_running_stats=True)\n");
    nn_free(r);
    nn_module_free(m);
}

/* ---- checkpoints ---------------------------------------------------------------- */

typedef struct {
    char dir[256], path[300];
} tdir;

static void tdir_open(tdir *d)
{
    const char *base = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/nn-buf.XXXXXX", base && *base ? base : "/tmp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(d->dir));
    snprintf(d->path, sizeof d->path, "%s/bn.pb", d->dir);
}

static void tdir_close(tdir *d)
{
    unlink(d->path);
    rmdir(d->dir);
}

static void save(nn_module *m, const char *path)
{
    char *err = NULL;
    nn_save_opts so = {.info = "bn", .date = "2026-01-01T00:00:00Z", .model = m};
    CHECK_OK(nn_checkpoint_save(path, &so, &err), err);
    nn_free(err);
}

static void test_checkpoint_keeps_buffers(void)
{
    nn_ctx *ctx = fx_ctx();
    tdir d;
    tdir_open(&d);
    nn_module *m = chain("linear out=3 ! batchnorm1d", 2);
    for (int i = 0; i < 3; i++) { /* running statistics that differ from the initial ones */
        nn_module_forward(m, t2d_random(5, 2, -2, 3, (uint64_t)i + 10, 0));
        nn_ctx_scratch_reset(ctx);
    }
    CHECK_CTX_OK(ctx);
    save(m, d.path);
    nn_checkpoint *c = NULL;
    char *err = NULL;
    CHECK_OK(nn_checkpoint_load(d.path, &c, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(nn_checkpoint_tensor_count(c), 7);
    nn_shape s;
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_tensor(c, 4, &s), "1.running_mean");
    CU_ASSERT_STRING_EQUAL(nn_checkpoint_tensor(c, 6, &s), "1.num_batches_tracked");
    CU_ASSERT_EQUAL(s.ndim, 0);
    nn_module *back = NULL;
    CHECK_OK(nn_checkpoint_build_model(c, ctx, &back, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL_FATAL(nn_module_state_count(back), 7);
    for (int i = 0; i < 7; i++) {
        const char *n1, *n2;
        nn_tensor *a = nn_module_state(m, i, &n1, NULL), *b = nn_module_state(back, i, &n2, NULL);
        CU_ASSERT_STRING_EQUAL(n1, n2);
        float va[8], vb[8];
        int64_t n = nn_tensor_numel(a);
        to_host(a, va, n);
        to_host(b, vb, n);
        CU_ASSERT_EQUAL(memcmp(va, vb, (size_t)n * sizeof *va), 0);
    }
    float nbt;
    CU_ASSERT_EQUAL(nn_tensor_item(nn_module_buffer(back, 2, NULL), &nbt), NN_OK);
    CU_ASSERT_EQUAL(nbt, 3.0f);
    /* eval mode of both gives the same output: the running statistics came back */
    nn_module_train(m, 0);
    nn_module_train(back, 0);
    nn_tensor *x = t2d_random(4, 2, -1, 1, 99, 0);
    float y1[4 * 3], y2[4 * 3];
    to_host(nn_module_forward(m, x), y1, 12);
    to_host(nn_module_forward(back, x), y2, 12);
    CU_ASSERT_EQUAL(memcmp(y1, y2, sizeof y1), 0);
    CHECK_CTX_OK(ctx);

    /* load_state_dict's strictness: a buffer the model lacks, or one it needs */
    nn_module *untracked = chain("linear out=3 ! batchnorm1d track_running_stats=false", 2);
    CHECK_STATUS(nn_checkpoint_load_model(c, untracked, &err), NN_SHAPE, err);
    CHECK_CONTAINS(err, "'1.running_mean' has no place in the model");
    tdir d2;
    tdir_open(&d2);
    save(untracked, d2.path);
    nn_checkpoint *c2 = NULL;
    CHECK_OK(nn_checkpoint_load(d2.path, &c2, &err), err);
    CU_ASSERT_EQUAL(nn_checkpoint_tensor_count(c2), 4);
    CHECK_STATUS(nn_checkpoint_load_model(c2, back, &err), NN_SHAPE, err);
    CHECK_CONTAINS(err, "no tensor '1.running_mean' that the model needs");
    /* refused: back is unchanged */
    CU_ASSERT_EQUAL(nn_tensor_item(nn_module_buffer(back, 2, NULL), &nbt), NN_OK);
    CU_ASSERT_EQUAL(nbt, 3.0f);
    nn_free(err);
    nn_checkpoint_free(c2);
    nn_checkpoint_free(c);
    nn_module_free(untracked);
    nn_module_free(back);
    nn_module_free(m);
    tdir_close(&d2);
    tdir_close(&d);
}

/* ---- train and eval mode -------------------------------------------------------- */

static nn_dataset *circle(void)
{
    nn_dataset *d = NULL;
    char *err = NULL;
    CHECK_OK(nn_dataset_open(fx_ctx(), "circle", "n=200", &d, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return d;
}

static void test_fit_epoch_modes(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_module *m = chain("linear out=1 ! modal ! sigmoid", 2);
    nn_module *mod = nn_module_child(m, 1);
    modal *s = nn_module_priv(mod);
    nn_dataset *d = circle();
    nn_loss *l = NULL;
    nn_optim *o = NULL;
    char *err = NULL;
    CHECK_OK(nn_loss_create(ctx, "bce", "", &l, &err), err);
    CHECK_OK(nn_optim_create(ctx, "sgd", "lr=0.1", m, &o, &err), err);
    nn_epoch_stats e1, e2, t;
    /* evaluation: eval mode in every batch, twice the same loss, no buffer change */
    CHECK_OK(nn_fit_epoch(m, l, NULL, d, 50, NULL, &e1, &err), err);
    CU_ASSERT_EQUAL(s->eval_calls, 4);
    CU_ASSERT_EQUAL(s->train_calls, 0);
    CU_ASSERT_TRUE(nn_module_is_training(m)); /* put back */
    CU_ASSERT_TRUE(nn_module_is_training(mod));
    CHECK_OK(nn_fit_epoch(m, l, NULL, d, 50, NULL, &e2, &err), err);
    CU_ASSERT_EQUAL(e1.loss, e2.loss);
    float calls;
    CU_ASSERT_EQUAL(nn_tensor_item(nn_module_buffer(m, 0, NULL), &calls), NN_OK);
    CU_ASSERT_EQUAL(calls, 0.0f);
    /* training: train mode in every batch, even when the model was left in eval mode */
    nn_module_train(m, 0);
    CHECK_OK(nn_fit_epoch(m, l, o, d, 50, NULL, &t, &err), err);
    CU_ASSERT_EQUAL(s->train_calls, 4);
    CU_ASSERT_EQUAL(s->eval_calls, 8);
    CU_ASSERT_EQUAL(nn_tensor_item(nn_module_buffer(m, 0, NULL), &calls), NN_OK);
    CU_ASSERT_EQUAL(calls, 4.0f);
    CU_ASSERT_FALSE(nn_module_is_training(m)); /* put back: eval, as it was */
    CU_ASSERT_FALSE(nn_module_is_training(mod));
    /* modes that differ within the tree come back as they were */
    nn_module_train(m, 1);
    nn_module_train(mod, 0);
    CHECK_OK(nn_fit_epoch(m, l, NULL, d, 50, NULL, &e1, &err), err);
    CU_ASSERT_TRUE(nn_module_is_training(m));
    CU_ASSERT_TRUE(nn_module_is_training(nn_module_child(m, 0)));
    CU_ASSERT_FALSE(nn_module_is_training(mod));
    /* the eval loss is the loss of the doubled logits: differs from train mode's */
    nn_module_train(m, 1);
    CHECK_OK(nn_fit_epoch(m, l, NULL, d, 50, NULL, &e1, &err), err);
    nn_fit_opts fo = {.epochs = 1, .batch = 50};
    CHECK_OK(nn_fit(m, l, o, d, &fo, &err), err);
    CU_ASSERT_TRUE(nn_module_is_training(m));
    CU_ASSERT_EQUAL(s->train_calls, 8);
    nn_free(err);
    CHECK_CTX_OK(ctx);
    nn_optim_free(o);
    nn_loss_free(l);
    nn_dataset_free(d);
    nn_module_free(m);
}

/* batchnorm1d in eval mode leaves its running statistics alone and gives
 * one answer; in train mode each batch moves them. */
static void test_batchnorm_eval_is_repeatable(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_module *m = chain("linear out=4 ! batchnorm1d ! sigmoid ! linear out=1 ! sigmoid", 2);
    nn_dataset *d = circle();
    nn_loss *l = NULL;
    nn_optim *o = NULL;
    char *err = NULL;
    CHECK_OK(nn_loss_create(ctx, "bce", "", &l, &err), err);
    CHECK_OK(nn_optim_create(ctx, "sgd", "lr=0.5 momentum=0.8", m, &o, &err), err);
    nn_fit_opts fo = {.epochs = 5, .batch = 20};
    CHECK_OK(nn_fit(m, l, o, d, &fo, &err), err);
    float nbt;
    CU_ASSERT_EQUAL(nn_tensor_item(nn_module_buffer(m, 2, NULL), &nbt), NN_OK);
    CU_ASSERT_EQUAL(nbt, 50.0f); /* 5 epochs of 10 batches */
    nn_epoch_stats a, b;
    CHECK_OK(nn_fit_epoch(m, l, NULL, d, 20, NULL, &a, &err), err);
    CHECK_OK(nn_fit_epoch(m, l, NULL, d, 20, NULL, &b, &err), err);
    CU_ASSERT_EQUAL(a.loss, b.loss);
    CU_ASSERT_TRUE(isfinite(a.loss));
    CU_ASSERT_EQUAL(nn_tensor_item(nn_module_buffer(m, 2, NULL), &nbt), NN_OK);
    CU_ASSERT_EQUAL(nbt, 50.0f);
    /* with batch statistics (train mode, no step) the loss of one pass differs:
     * the evaluation really used the running ones */
    nn_tensor *x = t2d_random(20, 2, -1, 1, 3, 0);
    nn_module_train(m, 0);
    float ye[20], yt[20];
    to_host(nn_module_forward(m, x), ye, 20);
    nn_module_train(m, 1);
    to_host(nn_module_forward(m, x), yt, 20);
    CU_ASSERT_NOT_EQUAL(memcmp(ye, yt, sizeof ye), 0);
    /* a single sample cannot be normalised in train mode, as PyTorch says */
    nn_tensor *one = t2d_random(1, 2, -1, 1, 4, 0);
    CU_ASSERT_PTR_NULL(nn_module_forward(m, one));
    CHECK_CTX_ERROR(ctx, NN_SHAPE, "expected more than 1 value per channel when training");
    nn_module_train(m, 0);
    CU_ASSERT_PTR_NOT_NULL(nn_module_forward(m, one));
    CHECK_CTX_OK(ctx);
    nn_free(err);
    nn_optim_free(o);
    nn_loss_free(l);
    nn_dataset_free(d);
    nn_module_free(m);
}

void register_buffer_tests(void)
{
    CU_pSuite s = fx_add_suite("buffers");
    if (!s) return;
    FX_ADD(s, test_buffer_names_and_order);
    FX_ADD(s, test_buffer_name_clash);
    FX_ADD(s, test_buffers_unseen_by_optimizer);
    FX_ADD(s, test_buffers_listed_and_counted);
    FX_ADD(s, test_checkpoint_keeps_buffers);
    FX_ADD(s, test_fit_epoch_modes);
    FX_ADD(s, test_batchnorm_eval_is_repeatable);
}
