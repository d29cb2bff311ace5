/* test_optim.c - the standard optimizers' interface: PyTorch's defaults, the
 * list property betas (NN_PROP_FLOATS) through nn_optim_set / nn_optim_get
 * and nn_props_format, and the state slots (a 0-d step, Adagrad's state
 * from creation). Their numbers are checked against PyTorch in
 * test_golden_optim.c. */
#include "test.h"

#include <nn/plugin.h>

#include <math.h>
#include <string.h>

static nn_optim *make(const char *name, const char *words, nn_tensor *p)
{
    nn_optim *o = NULL;
    char *err = NULL;
    const char *names[] = {"p"};
    CHECK_OK(nn_optim_create_over(fx_ctx(), name, words, 1, &p, names, &o, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    return o;
}

static void check_get(nn_optim *o, const char *key, double want)
{
    double v = NAN;
    CHECK_OK(nn_optim_get(o, key, &v), key);
    CHECK_CLOSE(v, want, 0, 0);
}

/* The betas of o, which must be (b1, b2). */
static void check_betas(nn_optim *o, double b1, double b2)
{
    nn_props *p = nn_optim_props(o);
    int n = 0;
    const double *b = nn_props_floats(p, nn_props_index(p, "betas"), &n);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CHECK_CLOSE(b[0], b1, 0, 0);
    CHECK_CLOSE(b[1], b2, 0, 0);
}

static void test_defaults_are_pytorch(void)
{
    nn_tensor *p = t1d(3, NULL, 1);
    nn_optim *o = make("adam", "", p);
    check_get(o, "lr", 1e-3);
    check_get(o, "eps", 1e-8);
    check_get(o, "weight_decay", 0);
    check_get(o, "amsgrad", 0);
    check_get(o, "maximize", 0);
    check_betas(o, 0.9, 0.999);
    nn_optim_free(o);
    o = make("adamw", "", p);
    check_get(o, "lr", 1e-3);
    check_get(o, "weight_decay", 1e-2);
    check_betas(o, 0.9, 0.999);
    nn_optim_free(o);
    o = make("rmsprop", "", p);
    check_get(o, "lr", 1e-2);
    check_get(o, "alpha", 0.99);
    check_get(o, "eps", 1e-8);
    check_get(o, "weight_decay", 0);
    check_get(o, "momentum", 0);
    check_get(o, "centered", 0);
    nn_optim_free(o);
    o = make("adagrad", "", p);
    check_get(o, "lr", 1e-2);
    check_get(o, "lr_decay", 0);
    check_get(o, "weight_decay", 0);
    check_get(o, "initial_accumulator_value", 0);
    check_get(o, "eps", 1e-10);
    nn_optim_free(o);
}

static void test_betas_set_and_get(void)
{
    nn_tensor *p = t1d(3, NULL, 1);
    nn_optim *o = make("adam", "betas=0.5,0.75", p);
    check_betas(o, 0.5, 0.75);
    char *err = NULL;
    CHECK_OK(nn_optim_set(o, "betas", "0.3,0.999", &err), err);
    check_betas(o, 0.3, 0.999);

    /* refusals leave the pair as it was, with a reason */
    static const char *const bad[][2] = {
        {"0.3", "needs 2 comma-separated numbers"},
        {"0.1,0.2,0.3", "needs 2 comma-separated numbers"},
        {"0.3,", "is not a list of 2 finite numbers"},
        {",0.3", "is not a list of 2 finite numbers"},
        {"0.3,nan", "is not a list of 2 finite numbers"},
        {"0.3, 0.9", "is not a list of 2 finite numbers"},
        {"0.3;0.9", "needs 2 comma-separated numbers"},
        {"-0.1,0.9", "-0.1 is out of range [0, 1]"},
        {"0.9,1.01", "1.01 is out of range [0, 1]"},
        {"0.9,1", "beta2 = 1 is not below 1"},
        {"1,0.9", "beta1 = 1 is not below 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nn_free(err);
        err = NULL;
        CHECK_STATUS(nn_optim_set(o, "betas", bad[i][0], &err), NN_INVALID, err);
        CHECK_CONTAINS(err, bad[i][1]);
        check_betas(o, 0.3, 0.999);
    }
    nn_free(err);
    err = NULL;

    CU_ASSERT_STRING_EQUAL(nn_prop_type_name(NN_PROP_FLOATS), "floats");

    /* a list is not a scalar: nn_optim_get refuses it cleanly */
    double v = 42;
    CU_ASSERT_EQUAL(nn_optim_get(o, "betas", &v), NN_INVALID);
    CU_ASSERT_EQUAL(v, 42);
    CU_ASSERT_EQUAL(nn_optim_get(o, "beta1", &v), NN_NOT_FOUND);

    /* formatted back as written, so checkpoints and inspect round-trip */
    char *all = nn_props_format(nn_optim_props(o), 0);
    CHECK_CONTAINS(all, "lr=0.001 betas=0.3,0.999 eps=1e-08 ");
    nn_free(all);
    char *changed = nn_props_format(nn_optim_props(o), 1);
    CU_ASSERT_STRING_EQUAL(changed, "betas=0.3,0.999");
    nn_free(changed);
    CHECK_OK(nn_optim_set(o, "betas", "0.9,0.999", &err), err);
    changed = nn_props_format(nn_optim_props(o), 1);
    CU_ASSERT_STRING_EQUAL(changed, ""); /* the default again */
    nn_free(changed);
    CHECK_OK(nn_optim_set(o, "betas", "0.1,1e-3", &err), err);
    changed = nn_props_format(nn_optim_props(o), 1);
    CU_ASSERT_STRING_EQUAL(changed, "betas=0.1,0.001");
    nn_free(changed);
    nn_optim_free(o);
}

/* A step on 0.5 |p|^2: p's gradient is p. */
static void quadratic_step(nn_optim *o, nn_tensor *p)
{
    nn_ctx *ctx = fx_ctx();
    nn_optim_zero_grad(o);
    CHECK_OK(nn_backward(nn_mul_scalar(nn_sum(nn_mul(p, p)), 0.5f)), NULL);
    CHECK_OK(nn_optim_step(o), NULL);
    CHECK_CTX_OK(ctx);
    nn_ctx_scratch_reset(ctx);
}

static int slot_of(const char *optim, const char *name)
{
    const nn_component *c = NULL;
    CHECK_OK(nn_registry_find(g_reg, NN_KIND_OPTIMIZER, optim, &c, NULL), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    const nn_optim_vt *vt = nn_component_vt(c);
    for (int j = 0; vt->state_names[j]; j++)
        if (!strcmp(vt->state_names[j], name)) return j;
    CU_FAIL_FATAL("no such slot");
    return -1;
}

static void test_step_is_one_number(void)
{
    nn_tensor *p = t1d(3, (const float[]){1, -2, 3}, 1);
    nn_tensor *q = t1d(2, (const float[]){1, 1}, 1); /* never gets a gradient */
    nn_tensor *ps[] = {p, q};
    const char *names[] = {"p", "q"};
    nn_optim *o = NULL;
    char *err = NULL;
    CHECK_OK(nn_optim_create_over(fx_ctx(), "adam", "amsgrad=true", 2, ps, names, &o, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    int s_step = slot_of("adam", "step"), s_m = slot_of("adam", "exp_avg");
    int s_max = slot_of("adam", "max_exp_avg_sq");
    CU_ASSERT_PTR_NULL(nn_optim_state(o, 0, s_step)); /* PyTorch's state starts empty */
    quadratic_step(o, p);
    quadratic_step(o, p);
    nn_tensor *step = nn_optim_state(o, 0, s_step);
    CU_ASSERT_PTR_NOT_NULL_FATAL(step);
    CU_ASSERT_EQUAL(nn_tensor_shape(step)->ndim, 0);
    CHECK_CLOSE(item(step), 2, 0, 0);
    CU_ASSERT_EQUAL(nn_tensor_shape(nn_optim_state(o, 0, s_m))->dim[0], 3);
    CU_ASSERT_PTR_NOT_NULL(nn_optim_state(o, 0, s_max));
    for (int j = 0; j < 4; j++) CU_ASSERT_PTR_NULL(nn_optim_state(o, 1, j)); /* q: none */
    nn_optim_free(o);
}

static void test_adagrad_state_from_creation(void)
{
    nn_tensor *p = t1d(3, (const float[]){1, -2, 3}, 1);
    nn_optim *o = make("adagrad", "initial_accumulator_value=0.25", p);
    int s_step = slot_of("adagrad", "step"), s_sum = slot_of("adagrad", "sum");
    nn_tensor *step = nn_optim_state(o, 0, s_step), *sum = nn_optim_state(o, 0, s_sum);
    CU_ASSERT_PTR_NOT_NULL_FATAL(step);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sum);
    CU_ASSERT_EQUAL(nn_tensor_shape(step)->ndim, 0);
    CHECK_CLOSE(item(step), 0, 0, 0);
    float v[3];
    to_host(sum, v, 3);
    CHECK_ARRAY(v, ((const double[]){0.25, 0.25, 0.25}), 3, 0, 0);
    /* one step: sum = 0.25 + g^2, p -= 0.01 * g / (sqrt(sum) + 1e-10) */
    quadratic_step(o, p);
    to_host(sum, v, 3);
    CHECK_ARRAY(v, ((const double[]){1.25, 4.25, 9.25}), 3, 0, 1e-7);
    to_host(p, v, 3);
    const double want[] = {1 - 0.01 / sqrt(1.25), -2 + 0.02 / sqrt(4.25), 3 - 0.03 / sqrt(9.25)};
    CHECK_ARRAY(v, want, 3, 0, 1e-7);
    CHECK_CLOSE(item(step), 1, 0, 0);
    nn_optim_free(o);
}

/* RMSprop creates momentum_buffer only with momentum, grad_avg only centered. */
static void test_rmsprop_slots(void)
{
    nn_tensor *p = t1d(3, (const float[]){1, -2, 3}, 1);
    int s_buf = slot_of("rmsprop", "momentum_buffer"), s_avg = slot_of("rmsprop", "grad_avg");
    int s_sq = slot_of("rmsprop", "square_avg");
    nn_optim *o = make("rmsprop", "", p);
    quadratic_step(o, p);
    CU_ASSERT_PTR_NOT_NULL(nn_optim_state(o, 0, s_sq));
    CU_ASSERT_PTR_NULL(nn_optim_state(o, 0, s_buf));
    CU_ASSERT_PTR_NULL(nn_optim_state(o, 0, s_avg));
    nn_optim_free(o);
    o = make("rmsprop", "momentum=0.5 centered=true", p);
    quadratic_step(o, p);
    CU_ASSERT_PTR_NOT_NULL(nn_optim_state(o, 0, s_buf));
    CU_ASSERT_PTR_NOT_NULL(nn_optim_state(o, 0, s_avg));
    nn_optim_free(o);
}

void register_optim_tests(void)
{
    CU_pSuite s = fx_add_suite("optim");
    if (!s) return;
    FX_ADD(s, test_defaults_are_pytorch);
    FX_ADD(s, test_betas_set_and_get);
    FX_ADD(s, test_step_is_one_number);
    FX_ADD(s, test_adagrad_state_from_creation);
    FX_ADD(s, test_rmsprop_slots);
}
