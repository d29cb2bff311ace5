/* test_schedule.c - hyper-parameter schedules: the lr sequences of the named
 * schedules against PyTorch's (tests/golden/lr_schedules.txt, written by
 * gen_lr.py), rules computed here by hand, the text that a checkpoint keeps,
 * and the refusal of malformed rules before anything runs. */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REL 1e-6 /* the named schedules against PyTorch */

/* An sgd optimizer over one parameter, with the given properties. */
static nn_optim *sgd(const char *words)
{
    nn_tensor *p = t1d(1, NULL, 1);
    const char *name = "p";
    nn_optim *o = NULL;
    char *err = NULL;
    CHECK_OK(nn_optim_create_over(fx_ctx(), "sgd", words, 1, &p, &name, &o, &err), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    return o;
}

static double get(const nn_optim *o, const char *key)
{
    double v = NAN;
    CHECK_OK(nn_optim_get(o, key, &v), key);
    return v;
}

typedef struct {
    char name[32], spec[128], optim[128];
    double lr[64];
    int n;
} lr_case;

/* The cases of lr_schedules.txt; returns how many. */
static int read_cases(lr_case *c, int max)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/lr_schedules.txt", top ? top : ".");
    FILE *f = fopen(path, "r");
    if (!f) fprintf(stderr, "\ncannot open %s\n", path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[8192];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *save = NULL, *name = strtok_r(line, "|", &save), *spec = strtok_r(NULL, "|", &save);
        char *optim = strtok_r(NULL, "|", &save), *vals = strtok_r(NULL, "|", &save);
        CU_ASSERT_FATAL(name && spec && optim && vals);
        lr_case *k = &c[n++];
        snprintf(k->name, sizeof k->name, "%s", name);
        snprintf(k->spec, sizeof k->spec, "%s", spec);
        snprintf(k->optim, sizeof k->optim, "%s", optim);
        k->n = 0;
        for (char *v = strtok_r(vals, " \n", &save); v && k->n < 64; v = strtok_r(NULL, " \n", &save))
            k->lr[k->n++] = strtod(v, NULL);
    }
    fclose(f);
    CU_ASSERT_FATAL(n > 0);
    return n;
}

/* Runs the schedule of c over epochs [from, to) on o, checking each lr. */
static void run_case(const lr_case *c, nn_schedule *s, nn_optim *o, int from, int to)
{
    char *err = NULL;
    for (int e = from; e < to; e++) {
        CHECK_OK(nn_schedule_apply(s, o, e, &err), err);
        double lr = get(o, "lr");
        if (fabs(lr - c->lr[e]) > REL * fabs(c->lr[e]) + 1e-15)
            fprintf(stderr, "\n%s epoch %d: lr %.17g, PyTorch %.17g\n", c->name, e, lr, c->lr[e]);
        CHECK_CLOSE(lr, c->lr[e], 1e-15, REL);
    }
}

/* Each named schedule, epoch by epoch, equals PyTorch's. */
static void test_schedule_lr_torch(void)
{
    lr_case cases[16];
    int n = read_cases(cases, 16);
    CU_ASSERT(n >= 7);
    for (int i = 0; i < n; i++) {
        const lr_case *c = &cases[i];
        nn_optim *o = sgd(strchr(c->optim, ' ') + 1);
        nn_schedule *s = nn_schedule_new();
        char *err = NULL;
        CHECK_OK(nn_schedule_add_lr(s, c->spec, &err), err);
        CHECK_OK(nn_schedule_check(s, o, 0, c->n, &err), err);
        CU_ASSERT_EQUAL(get(o, "lr"), c->lr[0]); /* the check changed nothing */
        run_case(c, s, o, 0, c->n);
        nn_schedule_free(s);
        nn_optim_free(o);
    }
}

/* Stopped half-way, kept as text with the lr, and continued: the same
 * sequence (base_lr, which cosine needs past T_max, is in the text). */
static void test_schedule_lr_resume(void)
{
    lr_case cases[16];
    int n = read_cases(cases, 16);
    for (int i = 0; i < n; i++) {
        const lr_case *c = &cases[i];
        int half = c->n / 2 + 1;
        nn_optim *o = sgd(strchr(c->optim, ' ') + 1);
        nn_schedule *s = nn_schedule_new();
        char *err = NULL;
        CHECK_OK(nn_schedule_add_lr(s, c->spec, &err), err);
        run_case(c, s, o, 0, half);
        char *text = nn_schedule_text(s);
        CU_ASSERT_PTR_NOT_NULL_FATAL(text);
        CU_ASSERT(strncmp(text, "lr-schedule ", 12) == 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, " base_lr="));
        char words[64];
        snprintf(words, sizeof words, "lr=%.17g", get(o, "lr"));
        nn_optim *o2 = sgd(words);
        nn_schedule *s2 = nn_schedule_new();
        CHECK_OK(nn_schedule_parse_text(s2, text, &err), err);
        run_case(c, s2, o2, half, c->n);
        char *text2 = nn_schedule_text(s2);
        CU_ASSERT_STRING_EQUAL(text, text2);
        nn_free(text);
        nn_free(text2);
        nn_schedule_free(s);
        nn_schedule_free(s2);
        nn_optim_free(o);
        nn_optim_free(o2);
    }
}

/* "E:" once, "E+:" every epoch from E, in the order given; multiplication
 * in double, as x *= f. */
static void test_schedule_rules(void)
{
    nn_optim *o = sgd("lr=0.5 momentum=0.8");
    nn_schedule *s = nn_schedule_new();
    char *err = NULL;
    CHECK_OK(nn_schedule_add(s, " 2: momentum=0.3  dampening=0.5 ", &err), err);
    CHECK_OK(nn_schedule_add(s, "3+: lr*=0.5 weight_decay=0.01", &err), err);
    CHECK_OK(nn_schedule_add(s, "4+: lr*=3", &err), err);
    CU_ASSERT_EQUAL(nn_schedule_count(s), 3);
    CHECK_OK(nn_schedule_check(s, o, 0, 6, &err), err);
    /* epoch:       0    1    2    3     4             5 */
    double lr[] = {0.5, 0.5, 0.5, 0.25, 0.25 * 0.5 * 3, 0.25 * 0.5 * 3 * 0.5 * 3};
    double mom[] = {0.8, 0.8, 0.3, 0.3, 0.3, 0.3};
    double wd[] = {0, 0, 0, 0.01, 0.01, 0.01};
    for (int e = 0; e < 6; e++) {
        CHECK_OK(nn_schedule_apply(s, o, e, &err), err);
        CU_ASSERT_EQUAL(get(o, "lr"), lr[e]);
        CU_ASSERT_EQUAL(get(o, "momentum"), mom[e]);
        CU_ASSERT_EQUAL(get(o, "dampening"), e >= 2 ? 0.5 : 0);
        CU_ASSERT_EQUAL(get(o, "weight_decay"), wd[e]);
    }
    char *text = nn_schedule_text(s);
    CU_ASSERT_STRING_EQUAL(text, "schedule 2: momentum=0.3  dampening=0.5\n"
                                 "schedule 3+: lr*=0.5 weight_decay=0.01\n"
                                 "schedule 4+: lr*=3\n");
    nn_free(text);
    nn_schedule_free(s);

    /* 0.5 * 0.9999^100 as 100 multiplications, exactly. */
    nn_optim_free(o);
    o = sgd("lr=0.5 momentum=0.8");
    s = nn_schedule_new();
    CHECK_OK(nn_schedule_add(s, "1000: momentum=0.3", &err), err);
    CHECK_OK(nn_schedule_add(s, "1000+: lr*=0.9999", &err), err);
    for (int e = 0; e < 1100; e++) CHECK_OK(nn_schedule_apply(s, o, e, &err), err);
    double want = 0.5;
    for (int i = 0; i < 100; i++) want *= 0.9999;
    CU_ASSERT_EQUAL(get(o, "lr"), want);
    CU_ASSERT_EQUAL(get(o, "lr"), 0.49502466934568606); /* Python's, the same way */
    CU_ASSERT_EQUAL(get(o, "momentum"), 0.3);
    nn_schedule_free(s);
    nn_optim_free(o);
}

/* A malformed rule is refused when added, naming the rule and its bad part. */
static void test_schedule_syntax(void)
{
    static const struct {
        const char *rule, *part;
    } bad[] = {
        {"x: lr=1", "'x' is not an epoch"},
        {"-1: lr=1", "'-1' is not an epoch"},
        {"5 lr=1", "expected 'E: key=value"},
        {"5:", "no key=value"},
        {"5+:   ", "no key=value"},
        {"5: lr*=", "'lr*=' has no factor"},
        {"5: lr*=x", "'lr*=x' has a factor that is not a finite number"},
        {"5: lr*=inf", "not a finite number"},
        {"5: lr", "got 'lr'"},
        {"5: =1", "got '=1'"},
        {"5: lr=1 lr*=2", "'lr' changed twice"},
        {"5: lr=1\n6: lr=2", "a rule is one line"},
    };
    nn_schedule *s = nn_schedule_new();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *err = NULL;
        CHECK_STATUS(nn_schedule_add(s, bad[i].rule, &err), NN_INVALID, err);
        CHECK_CONTAINS(err, bad[i].part);
        char quoted[64]; /* the rule, trimmed, in quotes */
        size_t len = strlen(bad[i].rule);
        while (len && bad[i].rule[len - 1] == ' ') len--;
        snprintf(quoted, sizeof quoted, "schedule '%.*s'", (int)len, bad[i].rule);
        CHECK_CONTAINS(err, quoted);
        nn_free(err);
    }
    static const struct {
        const char *spec, *part;
    } badlr[] = {
        {"linear x=1", "unknown schedule 'linear'"},
        {"step gamma=0.5", "step_size is required"},
        {"step step_size=0", "step_size=0 is not a whole number >= 1"},
        {"step step_size=2 eta_min=1", "step has no property 'eta_min'"},
        {"exponential", "gamma is required"},
        {"exponential gamma=-1", "gamma=-1 is not a finite number > 0"},
        {"cosine eta_min=0", "T_max is required"},
        {"cosine T_max=3 eta_min=nan", "eta_min=nan"},
        {"cosine T_max", "expected key=value, got 'T_max'"},
        {"cosine T_max=3\nstep", "a schedule is one line"},
    };
    for (size_t i = 0; i < sizeof badlr / sizeof *badlr; i++) {
        char *err = NULL;
        CHECK_STATUS(nn_schedule_add_lr(s, badlr[i].spec, &err), NN_INVALID, err);
        CHECK_CONTAINS(err, badlr[i].part);
        CHECK_CONTAINS(err, badlr[i].spec);
        nn_free(err);
    }
    CU_ASSERT_EQUAL(nn_schedule_count(s), 0);
    char *err = NULL;
    CHECK_STATUS(nn_schedule_parse_text(s, "schedule 1: lr=1\nnonsense\n", &err), NN_FORMAT, err);
    CHECK_CONTAINS(err, "'nonsense'");
    nn_free(err);
    nn_schedule_free(s);
}

/* Rules that fit the syntax but not the optimizer are refused by the check,
 * before any epoch, and leave the optimizer as it was. */
static void test_schedule_check(void)
{
    static const struct {
        const char *rule, *part;
    } bad[] = {
        {"5: nosuch=1", "unknown property 'nosuch'"},
        {"5+: momentum*=-1", "momentum*=-1 would take momentum out of its range"},
        {"5: lr=abc", "lr=abc is not a finite number"},
        {"50: dampening=2", "dampening=2 is out of range"},
        {"5: nesterov*=2", "multiplies float properties only"},
        {"1+: lr*=100", "at epoch 5: sgd: lr=5000000000 is out of range"},
        {"3: nesterov=true momentum=0", "at epoch 3: sgd: nesterov needs momentum > 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        nn_optim *o = sgd("lr=0.5 momentum=0.8");
        nn_schedule *s = nn_schedule_new();
        char *err = NULL;
        CHECK_OK(nn_schedule_add(s, bad[i].rule, &err), err);
        CHECK_STATUS(nn_schedule_check(s, o, 0, 10, &err), NN_INVALID, err);
        CHECK_CONTAINS(err, bad[i].part);
        CHECK_CONTAINS(err, bad[i].rule);
        nn_free(err);
        CU_ASSERT_EQUAL(get(o, "lr"), 0.5);
        CU_ASSERT_EQUAL(get(o, "momentum"), 0.8);
        nn_schedule_free(s);
        nn_optim_free(o);
    }
    /* The dry run covers the epochs given only: lr*=100 up to epoch 4 fits;
     * from epoch 3 on, resumed, it does not. */
    nn_optim *o = sgd("lr=0.5 momentum=0.8");
    nn_schedule *s = nn_schedule_new();
    char *err = NULL;
    CHECK_OK(nn_schedule_add(s, "1+: lr*=100", &err), err);
    CHECK_OK(nn_schedule_check(s, o, 0, 5, &err), err);
    CHECK_STATUS(nn_schedule_check(s, o, 3, 8, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "at epoch 7: sgd: lr=5000000000 is out of range");
    nn_free(err);
    err = NULL;
    nn_schedule_free(s);
    s = nn_schedule_new();
    CHECK_OK(nn_schedule_add_lr(s, "step step_size=1 gamma=1000", &err), err);
    CHECK_OK(nn_schedule_check(s, o, 0, 4, &err), err);
    CHECK_STATUS(nn_schedule_check(s, o, 0, 5, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "lr-schedule 'step step_size=1 gamma=1000' at epoch 4");
    nn_free(err);
    CU_ASSERT_EQUAL(get(o, "lr"), 0.5);
    nn_schedule_free(s);
    nn_optim_free(o);
}

/* What nn_fit's on_epoch sees: the lr each epoch trained with. */
typedef struct {
    nn_optim *o;
    double lr[64];
    int64_t first, calls;
} lr_log;

static int log_lr(const nn_epoch_stats *st, void *user)
{
    lr_log *log = user;
    if (st->epoch >= 0 && st->epoch < 64) log->lr[st->epoch] = get(log->o, "lr");
    log->calls++;
    return 0;
}

/* nn_fit applies opts->schedule before each epoch, a resumed run's first
 * included, and stops at a rule that fails with the rule's message. */
static void test_schedule_fit(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_dataset *d = NULL;
    nn_module *m = NULL;
    nn_loss *l = NULL;
    nn_optim *o = NULL;
    char *err = NULL;
    CHECK_OK(nn_dataset_open(ctx, "circle", "n=200", &d, &err), err);
    CHECK_OK(nn_module_from_chain(ctx, "linear out=3 ! sigmoid ! linear out=1 ! sigmoid",
                                  nn_dataset_input_shape(d), &m, &err), err);
    CHECK_OK(nn_loss_create(ctx, "bce", "", &l, &err), err);
    CHECK_OK(nn_optim_create(ctx, "sgd", "lr=0.5", m, &o, &err), err);
    CU_ASSERT_FATAL(d && m && l && o);
    lr_case cases[16];
    int n = read_cases(cases, 16), k = 0;
    while (k < n && strcmp(cases[k].name, "cos10")) k++;
    CU_ASSERT_FATAL(k < n);
    const lr_case *c = &cases[k];

    nn_schedule *s = nn_schedule_new();
    CHECK_OK(nn_schedule_add_lr(s, c->spec, &err), err);
    lr_log log = {.o = o};
    nn_fit_opts fo = {.epochs = 13, .batch = 50, .on_epoch = log_lr, .user = &log, .schedule = s};
    CHECK_OK(nn_fit(m, l, o, d, &fo, &err), err);
    CU_ASSERT_EQUAL(log.calls, 13);
    for (int e = 0; e < 13; e++) CHECK_CLOSE(log.lr[e], c->lr[e], 1e-15, REL);

    /* Resumed at 13 from the text, up to 30. */
    char *text = nn_schedule_text(s);
    nn_schedule *s2 = nn_schedule_new();
    CHECK_OK(nn_schedule_parse_text(s2, text, &err), err);
    nn_free(text);
    fo.first_epoch = 13;
    fo.epochs = 30;
    fo.schedule = s2;
    CHECK_OK(nn_fit(m, l, o, d, &fo, &err), err);
    CU_ASSERT_EQUAL(log.calls, 30);
    for (int e = 13; e < 30; e++) CHECK_CLOSE(log.lr[e], c->lr[e], 1e-15, REL);

    /* An unchecked rule that fails at epoch 32 ends nn_fit there. */
    CHECK_OK(nn_schedule_add(s2, "32: nesterov=true momentum=0", &err), err);
    fo.first_epoch = 30;
    fo.epochs = 40;
    log.calls = 0;
    CHECK_STATUS(nn_fit(m, l, o, d, &fo, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "schedule '32: nesterov=true momentum=0' at epoch 32");
    nn_free(err);
    CU_ASSERT_EQUAL(log.calls, 2);
    nn_schedule_free(s);
    nn_schedule_free(s2);
    nn_optim_free(o);
    nn_loss_free(l);
    nn_module_free(m);
    nn_dataset_free(d);
}

void register_schedule_tests(void)
{
    CU_pSuite s = fx_add_suite("schedule");
    if (!s) return;
    FX_ADD(s, test_schedule_lr_torch);
    FX_ADD(s, test_schedule_lr_resume);
    FX_ADD(s, test_schedule_rules);
    FX_ADD(s, test_schedule_syntax);
    FX_ADD(s, test_schedule_check);
    FX_ADD(s, test_schedule_fit);
}
