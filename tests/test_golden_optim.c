/* test_golden_optim.c - the standard optimizers (adam, adamw, rmsprop,
 * adagrad) against PyTorch's values (tests/golden/optim.txt, from
 * gen_optim.py): 10 steps of each run of RUNS on a linear model, W (3, 4)
 * and b (3), with loss mean((X W^T + b - Y)^2). Each step compares the loss
 * and the gradients before the update, and the parameters and every state
 * slot after it; a slot PyTorch does not have must not exist either. A
 * resumed run (saved after step 5, loaded into a fresh model and optimizer)
 * must reach PyTorch's step 10 as the straight run does.
 *
 * So that each update is compared alone, the step runs on PyTorch's
 * gradients: nn's own are compared first, then replaced by PyTorch's.
 *
 * Tolerance: relative 1e-5 for the updates, with no absolute term: the
 * optimizers' arithmetic is PyTorch's, operation by operation, in float32.
 * The gradients and the loss get an absolute 1e-7 besides: an element of
 * dW is a sum of products of size ~1 that nearly cancel in a few elements
 * (down to ~1e-4), and float32 knows such a sum to ~1e-7 absolute whatever
 * the order of its terms, which differs from PyTorch's matrix product. */
#include "golden.h"

#include <nn/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEPS 10
#define RTOL 1e-5
#define GRAD_ATOL 1e-7

/* The table of gen_optim.py. */
typedef struct {
    const char *run, *optim, *words;
    int skip[2];               /* steps where b has no gradient (0: none) */
    const char *adjust[2][2];  /* key, value set before step 6 */
} optim_run;

static const optim_run RUNS[] = {
    {"adam", "adam", "lr=0.01", {0}, {{0}}},
    {"adam_default", "adam", "", {0}, {{0}}},
    {"adam_amsgrad", "adam", "lr=0.01 amsgrad=true weight_decay=0.1", {0}, {{0}}},
    {"adam_skip", "adam", "lr=0.02 betas=0.8,0.99 eps=1e-6", {3, 4}, {{0}}},
    {"adam_adjust", "adam", "lr=0.01", {0}, {{"lr", "0.005"}, {"betas", "0.3,0.999"}}},
    {"adam_maximize", "adam", "lr=0.01 maximize=true", {0}, {{0}}},
    {"adamw", "adamw", "lr=0.01", {0}, {{0}}},
    {"adamw_amsgrad", "adamw", "lr=0.01 weight_decay=0.5 amsgrad=true", {2}, {{0}}},
    {"rmsprop", "rmsprop", "", {0}, {{0}}},
    {"rmsprop_momentum", "rmsprop", "lr=0.005 momentum=0.9 weight_decay=0.1", {0}, {{0}}},
    {"rmsprop_centered", "rmsprop", "lr=0.005 alpha=0.9 centered=true momentum=0.5", {5}, {{0}}},
    {"adagrad", "adagrad", "", {0}, {{0}}},
    {"adagrad_decay", "adagrad",
     "lr=0.1 lr_decay=0.1 weight_decay=0.1 initial_accumulator_value=0.5", {4}, {{0}}},
    {"adamw_maximize", "adamw", "lr=0.01 maximize=true", {0}, {{0}}},
    {"rmsprop_maximize", "rmsprop", "maximize=true weight_decay=0.1", {0}, {{0}}},
    {"adagrad_maximize", "adagrad", "lr=0.05 maximize=true", {0}, {{0}}},
};

/* The model, its parameters (W, b) and the data. */
typedef struct {
    nn_module *net;
    nn_tensor *p[2];
    nn_tensor *X, *Y;
    nn_optim *o;
} fixture;

static const char *const PNAME[2] = {"W", "b"};

static const nn_optim_vt *optim_vt(const char *name)
{
    const nn_component *c = NULL;
    char *err = NULL;
    CHECK_OK(nn_registry_find(g_reg, NN_KIND_OPTIMIZER, name, &c, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    return nn_component_vt(c);
}

/* "linear in=4 out=3" holding PyTorch's W0 and b0, or the net of a checkpoint. */
static void fixture_net(fixture *f, golden *g, nn_module *net)
{
    if (!net) {
        nn_shape in = shp1(4);
        char *err = NULL;
        CHECK_OK(nn_module_from_chain(fx_ctx(), "linear in=4 out=3", &in, &net, &err), err);
        nn_free(err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    }
    f->net = net;
    CU_ASSERT_EQUAL_FATAL(nn_module_param_count(net), 2);
    for (int i = 0; i < 2; i++) f->p[i] = nn_module_param(net, i, NULL);
    nn_shape s;
    if (net && !f->X) {
        CHECK_OK(nn_tensor_from_host(f->p[0], golden_get(g, "W0", &s), 12), NULL);
        CHECK_OK(nn_tensor_from_host(f->p[1], golden_get(g, "b0", &s), 3), NULL);
        f->X = golden_tensor(g, "X", 0);
        f->Y = golden_tensor(g, "Y", 0);
    }
}

/* Parameter i's state after step k equals PyTorch's, slot by slot. */
static void check_state(golden *g, const optim_run *r, fixture *f, int k)
{
    const nn_optim_vt *vt = optim_vt(r->optim);
    char key[128];
    for (int i = 0; i < 2; i++)
        for (int j = 0; vt->state_names[j]; j++) {
            snprintf(key, sizeof key, "%s.%d.%s.%s", r->run, k, PNAME[i], vt->state_names[j]);
            nn_tensor *t = nn_optim_state(f->o, i, j);
            if (golden_has(g, key)) {
                GOLDEN_CHECK(g, t, key, 0, RTOL);
            } else if (t) {
                fprintf(stderr, "\n%s: state slot that PyTorch lacks\n", key);
                CU_FAIL("a state slot that PyTorch lacks");
            }
        }
}

/* Step k of run r: the loss and gradients, the update, the results. */
static void one_step(golden *g, const optim_run *r, fixture *f, int k)
{
    nn_ctx *ctx = fx_ctx();
    char key[128];
    char *err = NULL;
    if (k == 6)
        for (int a = 0; a < 2 && r->adjust[a][0]; a++) {
            CHECK_OK(nn_optim_set(f->o, r->adjust[a][0], r->adjust[a][1], &err), err);
            nn_free(err);
            err = NULL;
        }
    int skip = k == r->skip[0] || k == r->skip[1];
    nn_optim_zero_grad(f->o);
    /* the linear module's forward, with b detached at a skipped step */
    nn_tensor *b = skip ? nn_detach(f->p[1]) : f->p[1];
    nn_tensor *d = nn_sub(nn_addmm(b, f->X, nn_t(f->p[0])), f->Y);
    nn_tensor *loss = nn_mean(nn_mul(d, d));
    snprintf(key, sizeof key, "%s.%d.loss", r->run, k);
    CHECK_CLOSE(item(loss), golden_scalar(g, key), GRAD_ATOL, RTOL);
    CHECK_OK(nn_backward(loss), NULL);
    for (int i = 0; i < 2; i++) {
        snprintf(key, sizeof key, "%s.%d.d%s", r->run, k, PNAME[i]);
        nn_tensor *grad = nn_tensor_grad(f->p[i]);
        if (i == 1 && skip) {
            CU_ASSERT_FALSE(golden_has(g, key));
            CU_ASSERT_PTR_NULL(grad);
            continue;
        }
        GOLDEN_CHECK(g, grad, key, GRAD_ATOL, RTOL);
        nn_shape s;
        const float *want = golden_get(g, key, &s);
        CU_ASSERT_FATAL(grad && want);
        CHECK_OK(nn_tensor_from_host(grad, want, nn_shape_numel(&s)), NULL);
    }
    CHECK_OK(nn_optim_step(f->o), NULL);
    for (int i = 0; i < 2; i++) {
        snprintf(key, sizeof key, "%s.%d.%s", r->run, k, PNAME[i]);
        GOLDEN_CHECK(g, f->p[i], key, 0, RTOL);
    }
    check_state(g, r, f, k);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static void run_one(golden *g, const optim_run *r)
{
    fixture f = {0};
    fixture_net(&f, g, NULL);
    char *err = NULL;
    CHECK_OK(nn_optim_create(fx_ctx(), r->optim, r->words, f.net, &f.o, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f.o);
    check_state(g, r, &f, 0);
    for (int k = 1; k <= STEPS; k++) one_step(g, r, &f, k);
    CU_ASSERT_EQUAL(nn_optim_steps(f.o), STEPS);
    nn_optim_free(f.o);
    nn_module_free(f.net);
}

static void run_all(const char *optim)
{
    golden *g = golden_open("optim.txt");
    int n = 0;
    for (size_t i = 0; i < sizeof RUNS / sizeof RUNS[0]; i++)
        if (!strcmp(RUNS[i].optim, optim)) {
            run_one(g, &RUNS[i]);
            n++;
        }
    CU_ASSERT(n >= 2);
    golden_close(g);
}

static void test_golden_adam(void) { run_all("adam"); }
static void test_golden_adamw(void) { run_all("adamw"); }
static void test_golden_rmsprop(void) { run_all("rmsprop"); }
static void test_golden_adagrad(void) { run_all("adagrad"); }

/* Runs r for 5 steps, saves, resumes into a fresh model and optimizer built
 * from the file, and checks steps 6..10 against PyTorch's straight run. */
static void resume_one(golden *g, const optim_run *r)
{
    char dir[512], path[600];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/nn-optim.XXXXXX", base && *base ? base : "/tmp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/half.pb", dir);

    fixture f = {0};
    fixture_net(&f, g, NULL);
    char *err = NULL;
    CHECK_OK(nn_optim_create(fx_ctx(), r->optim, r->words, f.net, &f.o, &err), err);
    nn_free(err);
    err = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(f.o);
    for (int k = 1; k <= 5; k++) one_step(g, r, &f, k);
    nn_save_opts so = {.model = f.net, .optim = f.o};
    CHECK_OK(nn_checkpoint_save(path, &so, &err), err);
    nn_free(err);
    err = NULL;
    nn_optim_free(f.o);
    nn_module_free(f.net);

    nn_checkpoint *c = NULL;
    CHECK_OK(nn_checkpoint_load(path, &c, &err), err);
    nn_free(err);
    err = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    nn_module *net = NULL;
    CHECK_OK(nn_checkpoint_build_model(c, fx_ctx(), &net, &err), err);
    nn_free(err);
    err = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    fixture_net(&f, g, net);
    f.o = NULL;
    CHECK_OK(nn_checkpoint_build_optim(c, net, &f.o, &err), err);
    nn_free(err);
    nn_checkpoint_free(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f.o);
    CU_ASSERT_EQUAL(nn_optim_steps(f.o), 5);
    check_state(g, r, &f, 5);
    for (int k = 6; k <= STEPS; k++) one_step(g, r, &f, k);
    nn_optim_free(f.o);
    nn_module_free(f.net);
    unlink(path);
    rmdir(dir);
}

/* b skipped at steps 3 and 4: its step count (3 at the save) differs from
 * W's (5), and both must come back. */
static void test_golden_resume_adam(void)
{
    golden *g = golden_open("optim.txt");
    resume_one(g, &RUNS[3]);
    CU_ASSERT_STRING_EQUAL(RUNS[3].run, "adam_skip");
    resume_one(g, &RUNS[4]); /* adam_adjust: changes lr and betas after the resume */
    CU_ASSERT_STRING_EQUAL(RUNS[4].run, "adam_adjust");
    golden_close(g);
}

static void test_golden_resume_others(void)
{
    golden *g = golden_open("optim.txt");
    for (size_t i = 0; i < sizeof RUNS / sizeof RUNS[0]; i++)
        if (!strcmp(RUNS[i].run, "adamw_amsgrad") || !strcmp(RUNS[i].run, "rmsprop_centered") ||
            !strcmp(RUNS[i].run, "adagrad_decay"))
            resume_one(g, &RUNS[i]);
    golden_close(g);
}

void register_golden_optim_tests(void)
{
    CU_pSuite s = fx_add_suite("golden_optim");
    if (!s) return;
    FX_ADD(s, test_golden_adam);
    FX_ADD(s, test_golden_adamw);
    FX_ADD(s, test_golden_rmsprop);
    FX_ADD(s, test_golden_adagrad);
    FX_ADD(s, test_golden_resume_adam);
    FX_ADD(s, test_golden_resume_others);
}
