/* test_props.c - the key=value property parser, through the tables of the
 * real components "linear", "sgd" and "circle". */
#include "test.h"

#include <nn/plugin.h> /* nn_prop_def, nn_prop_type_name */

#include <string.h>

static const nn_component *component(nn_kind kind, const char *name)
{
    const nn_component *c = NULL;
    char *err = NULL;
    CHECK_OK(nn_registry_find(g_reg, kind, name, &c, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    return c;
}

/* Parses words, expecting success; the caller frees the result. */
static nn_props *parse_ok(const nn_component *c, const char *words)
{
    nn_props *p = NULL;
    char *err = NULL;
    CHECK_OK(nn_props_parse(c, words, &p, &err), err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

/* Parses words, expecting NN_INVALID and a message that contains sub. */
#define PARSE_BAD(c, words, sub)                                              \
    do {                                                                      \
        nn_props *p_ = (nn_props *)1;                                         \
        char *e_ = NULL;                                                      \
        CHECK_STATUS(nn_props_parse((c), (words), &p_, &e_), NN_INVALID, e_); \
        CU_ASSERT_PTR_NULL(p_);                                               \
        CHECK_CONTAINS(e_, (sub));                                            \
        nn_free(e_);                                                          \
    } while (0)

static void test_find(void)
{
    const nn_component *c = component(NN_KIND_MODULE, "linear");
    CU_ASSERT_STRING_EQUAL(nn_component_name(c), "linear");
    CU_ASSERT_EQUAL(nn_component_kind(c), NN_KIND_MODULE);
    CU_ASSERT_STRING_EQUAL(nn_component_plugin(c), "linear");
    int n = -1;
    const nn_prop_def *defs = nn_component_props(c, &n);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_STRING_EQUAL(defs[0].name, "in");
    CU_ASSERT_STRING_EQUAL(defs[1].name, "out");
    CU_ASSERT_PTR_NULL(defs[1].def); /* required */
    CU_ASSERT_STRING_EQUAL(defs[2].name, "bias");
    CU_ASSERT_STRING_EQUAL(nn_prop_type_name(defs[0].type), "int");
    CU_ASSERT_STRING_EQUAL(nn_prop_type_name(defs[2].type), "bool");
    CU_ASSERT_STRING_EQUAL(nn_prop_type_name(NN_PROP_FLOAT), "float");

    component(NN_KIND_OPTIMIZER, "sgd");
    component(NN_KIND_DATASET, "circle");
    const nn_component *none = (const nn_component *)1;
    char *err = NULL;
    CHECK_STATUS(nn_registry_find(g_reg, NN_KIND_MODULE, "lineer", &none, &err), NN_NOT_FOUND, err);
    CU_ASSERT_PTR_NULL(none);
    CHECK_CONTAINS(err, "no module named 'lineer'");
    CHECK_CONTAINS(err, "linear");
    CHECK_CONTAINS(err, "sigmoid");
    /* kinds are separate name spaces */
    CHECK_STATUS(nn_registry_find(g_reg, NN_KIND_MODULE, "sgd", &none, &err), NN_NOT_FOUND, err);
    nn_free(err);
}

static void test_parse_good(void)
{
    const nn_component *lin = component(NN_KIND_MODULE, "linear");
    nn_props *p = parse_ok(lin, "out=5");
    int in = nn_props_index(p, "in"), out = nn_props_index(p, "out"), bias = nn_props_index(p, "bias");
    CU_ASSERT_EQUAL(in, 0);
    CU_ASSERT_EQUAL(out, 1);
    CU_ASSERT_EQUAL(bias, 2);
    CU_ASSERT_EQUAL(nn_props_index(p, "nope"), -1);
    CU_ASSERT_EQUAL(nn_props_int(p, out), 5);
    CU_ASSERT_EQUAL(nn_props_int(p, in), 0); /* defaults */
    CU_ASSERT_EQUAL(nn_props_bool(p, bias), 1);
    CU_ASSERT_EQUAL(nn_props_float(p, out), 5.0); /* an int reads as a float too */
    nn_props_free(p);

    p = parse_ok(lin, "  in=2\tout=7   bias=false ");
    CU_ASSERT_EQUAL(nn_props_int(p, 0), 2);
    CU_ASSERT_EQUAL(nn_props_int(p, 1), 7);
    CU_ASSERT_EQUAL(nn_props_bool(p, 2), 0);
    nn_props_free(p);

    /* boolean spellings */
    const char *yes[] = {"bias=true", "bias=1", "bias=yes"}, *no[] = {"bias=false", "bias=0", "bias=no"};
    char words[64];
    for (int i = 0; i < 3; i++) {
        snprintf(words, sizeof words, "out=1 %s", yes[i]);
        p = parse_ok(lin, words);
        CU_ASSERT_EQUAL(nn_props_bool(p, 2), 1);
        nn_props_free(p);
        snprintf(words, sizeof words, "out=1 %s", no[i]);
        p = parse_ok(lin, words);
        CU_ASSERT_EQUAL(nn_props_bool(p, 2), 0);
        nn_props_free(p);
    }

    const nn_component *sgd = component(NN_KIND_OPTIMIZER, "sgd");
    p = parse_ok(sgd, "lr=0.5 momentum=0.8 nesterov=true weight_decay=1e-4");
    CU_ASSERT_EQUAL(nn_props_float(p, nn_props_index(p, "lr")), 0.5);
    CU_ASSERT_EQUAL(nn_props_float(p, nn_props_index(p, "momentum")), 0.8);
    CU_ASSERT_EQUAL(nn_props_float(p, nn_props_index(p, "weight_decay")), 1e-4);
    CU_ASSERT_EQUAL(nn_props_float(p, nn_props_index(p, "dampening")), 0.0);
    CU_ASSERT_EQUAL(nn_props_bool(p, nn_props_index(p, "nesterov")), 1);
    nn_props_free(p);

    /* the range is inclusive: dampening in [0, 1] */
    p = parse_ok(sgd, "dampening=1 lr=0");
    CU_ASSERT_EQUAL(nn_props_float(p, nn_props_index(p, "dampening")), 1.0);
    nn_props_free(p);

    const nn_component *circle = component(NN_KIND_DATASET, "circle");
    p = parse_ok(circle, "n=100 seed=7");
    CU_ASSERT_EQUAL(nn_props_int(p, nn_props_index(p, "n")), 100);
    CU_ASSERT_EQUAL(nn_props_int(p, nn_props_index(p, "seed")), 7);
    nn_props_free(p);

    /* argv form */
    const char *argv[] = {"out=3", "bias=no"};
    CHECK_OK(nn_props_parse_argv(lin, 2, argv, &p, NULL), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(nn_props_int(p, 1), 3);
    CU_ASSERT_EQUAL(nn_props_bool(p, 2), 0);
    nn_props_free(p);
}

static void test_parse_empty(void)
{
    const nn_component *sgd = component(NN_KIND_OPTIMIZER, "sgd");
    const char *empties[] = {"", "   ", " \t \n ", NULL};
    for (int i = 0; i < 4; i++) {
        nn_props *p = parse_ok(sgd, empties[i]);
        CU_ASSERT_EQUAL(nn_props_float(p, nn_props_index(p, "lr")), 0.01); /* defaults */
        CU_ASSERT_EQUAL(nn_props_float(p, nn_props_index(p, "momentum")), 0.0);
        CU_ASSERT_EQUAL(nn_props_bool(p, nn_props_index(p, "nesterov")), 0);
        nn_props_free(p);
    }
    const nn_component *circle = component(NN_KIND_DATASET, "circle");
    nn_props *p = parse_ok(circle, "");
    CU_ASSERT_EQUAL(nn_props_int(p, nn_props_index(p, "n")), 1200);
    CU_ASSERT_EQUAL(nn_props_int(p, nn_props_index(p, "seed")), 0);
    nn_props_free(p);
    /* sigmoid has no properties at all */
    const nn_component *sig = component(NN_KIND_MODULE, "sigmoid");
    p = parse_ok(sig, "");
    char *s = nn_props_format(p, 0);
    CU_ASSERT_STRING_EQUAL(s, "");
    nn_free(s);
    nn_props_free(p);
    PARSE_BAD(sig, "x=1", "unknown property 'x'; valid: (none)");
}

static void test_parse_bad(void)
{
    const nn_component *lin = component(NN_KIND_MODULE, "linear");
    const nn_component *sgd = component(NN_KIND_OPTIMIZER, "sgd");
    const nn_component *circle = component(NN_KIND_DATASET, "circle");

    /* unknown key: the message lists the valid ones */
    PARSE_BAD(lin, "out=3 outs=4", "linear: unknown property 'outs'; valid: in, out, bias");
    PARSE_BAD(sgd, "learning_rate=0.1", "valid: lr, momentum, dampening, weight_decay, nesterov");
    PARSE_BAD(circle, "size=5", "valid: n, seed");
    /* bad int */
    PARSE_BAD(lin, "out=abc", "out=abc is not an integer");
    PARSE_BAD(lin, "out=1.5", "out=1.5 is not an integer");
    PARSE_BAD(lin, "out=5x", "is not an integer");
    PARSE_BAD(lin, "out=", "is not an integer");
    PARSE_BAD(lin, "out=99999999999999999999", "is not an integer");
    /* bad float */
    PARSE_BAD(sgd, "lr=fast", "lr=fast is not a finite number");
    PARSE_BAD(sgd, "lr=0.1.2", "is not a finite number");
    PARSE_BAD(sgd, "lr=inf", "is not a finite number");
    PARSE_BAD(sgd, "lr=nan", "is not a finite number");
    PARSE_BAD(sgd, "lr=1e999", "is not a finite number");
    /* out of range */
    PARSE_BAD(lin, "out=0", "out=0 is out of range [1, 1073741824]");
    PARSE_BAD(lin, "out=-2", "out of range");
    PARSE_BAD(lin, "out=2 in=-1", "in=-1 is out of range");
    PARSE_BAD(sgd, "lr=-0.1", "lr=-0.1 is out of range [0, 1e+09]");
    PARSE_BAD(sgd, "dampening=1.5", "dampening=1.5 is out of range [0, 1]");
    PARSE_BAD(circle, "n=0", "n=0 is out of range");
    /* bad bool */
    PARSE_BAD(lin, "out=2 bias=maybe", "bias=maybe is not a boolean (true or false)");
    PARSE_BAD(sgd, "nesterov=2", "is not a boolean");
    PARSE_BAD(sgd, "nesterov=TRUE", "is not a boolean");
    /* the required 'out' of linear */
    PARSE_BAD(lin, "", "linear: property 'out' is required");
    PARSE_BAD(lin, "in=2 bias=false", "property 'out' is required");
    /* duplicates */
    PARSE_BAD(lin, "out=3 out=4", "linear: property 'out' given twice");
    PARSE_BAD(sgd, "lr=0.1 momentum=0.9 lr=0.1", "property 'lr' given twice");
    /* not key=value */
    PARSE_BAD(lin, "out", "linear: expected key=value, got 'out'");
    PARSE_BAD(lin, "out=3 bias", "got 'bias'");
    PARSE_BAD(lin, "=3", "expected key=value, got '=3'");
    /* a NULL err is allowed */
    nn_props *p = (nn_props *)1;
    CU_ASSERT_EQUAL(nn_props_parse(lin, "out=abc", &p, NULL), NN_INVALID);
    CU_ASSERT_PTR_NULL(p);
}

static void test_prefix_keys(void)
{
    /* "in" is a prefix of "inx": neither a duplicate nor a known key */
    const nn_component *lin = component(NN_KIND_MODULE, "linear");
    PARSE_BAD(lin, "in=2 inx=3 out=1", "unknown property 'inx'");
    /* "out" given only as the prefix of an unknown key is still missing */
    PARSE_BAD(lin, "outx=3", "unknown property 'outx'");
    nn_props *p = parse_ok(lin, "in=2 out=3");
    CU_ASSERT_EQUAL(nn_props_int(p, 0), 2);
    nn_props_free(p);
}

static void test_format(void)
{
    const nn_component *lin = component(NN_KIND_MODULE, "linear");
    nn_props *p = parse_ok(lin, "out=3");
    char *all = nn_props_format(p, 0), *changed = nn_props_format(p, 1);
    CU_ASSERT_STRING_EQUAL(all, "in=0 out=3 bias=true");
    CU_ASSERT_STRING_EQUAL(changed, "out=3"); /* a required one always shows */
    nn_free(all);
    nn_free(changed);
    nn_props_free(p);

    const nn_component *sgd = component(NN_KIND_OPTIMIZER, "sgd");
    p = parse_ok(sgd, "lr=0.5 momentum=0.8");
    all = nn_props_format(p, 0);
    changed = nn_props_format(p, 1);
    CU_ASSERT_STRING_EQUAL(all, "lr=0.5 momentum=0.8 dampening=0 weight_decay=0 nesterov=false");
    CU_ASSERT_STRING_EQUAL(changed, "lr=0.5 momentum=0.8");
    /* a default given explicitly is not "changed" */
    nn_props *q = parse_ok(sgd, "lr=0.01 nesterov=false weight_decay=0.001");
    char *qs = nn_props_format(q, 1);
    CU_ASSERT_STRING_EQUAL(qs, "weight_decay=0.001");
    nn_free(qs);
    nn_props_free(q);

    /* format, parse, format: the same text */
    q = parse_ok(sgd, all);
    qs = nn_props_format(q, 0);
    CU_ASSERT_STRING_EQUAL(qs, all);
    nn_free(qs);
    nn_props_free(q);
    nn_free(all);
    nn_free(changed);
    nn_props_free(p);

    /* a float that needs all its digits survives the round trip */
    p = parse_ok(sgd, "lr=0.123456789");
    all = nn_props_format(p, 1);
    CU_ASSERT_STRING_EQUAL(all, "lr=0.123456789");
    nn_free(all);
    nn_props_free(p);
}

static void test_set(void)
{
    const nn_component *lin = component(NN_KIND_MODULE, "linear");
    nn_props *p = parse_ok(lin, "out=3");
    char *err = NULL;
    CHECK_OK(nn_props_set(p, "out", "8", &err), err);
    CU_ASSERT_EQUAL(nn_props_int(p, 1), 8);
    CHECK_OK(nn_props_set(p, "bias", "no", &err), err);
    CU_ASSERT_EQUAL(nn_props_bool(p, 2), 0);
    /* refused values leave the old one */
    CHECK_STATUS(nn_props_set(p, "out", "zero", &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "not an integer");
    CHECK_STATUS(nn_props_set(p, "out", "0", &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "out of range");
    CHECK_STATUS(nn_props_set(p, "bias", "perhaps", &err), NN_INVALID, err);
    CHECK_STATUS(nn_props_set(p, "width", "3", &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "unknown property 'width'; valid: in, out, bias");
    CU_ASSERT_EQUAL(nn_props_int(p, 1), 8);
    CU_ASSERT_EQUAL(nn_props_bool(p, 2), 0);
    char *s = nn_props_format(p, 1);
    CU_ASSERT_STRING_EQUAL(s, "out=8 bias=false");
    nn_free(s);
    nn_free(err);
    nn_props_free(p);
}

static void test_clone(void)
{
    const nn_component *sgd = component(NN_KIND_OPTIMIZER, "sgd");
    nn_props *p = parse_ok(sgd, "lr=0.25 nesterov=true momentum=0.5");
    nn_props *c = nn_props_clone(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char *a = nn_props_format(p, 0), *b = nn_props_format(c, 0);
    CU_ASSERT_STRING_EQUAL(a, b);
    nn_free(b);
    /* independent: a change to the clone leaves the original */
    CHECK_OK(nn_props_set(c, "lr", "0.75", NULL), NULL);
    CU_ASSERT_EQUAL(nn_props_float(c, 0), 0.75);
    CU_ASSERT_EQUAL(nn_props_float(p, 0), 0.25);
    b = nn_props_format(p, 0);
    CU_ASSERT_STRING_EQUAL(a, b);
    nn_free(a);
    nn_free(b);
    nn_props_free(p); /* the clone outlives its source */
    CU_ASSERT_EQUAL(nn_props_bool(c, 4), 1);
    nn_props_free(c);

    /* a clone of a table with a required key */
    const nn_component *lin = component(NN_KIND_MODULE, "linear");
    p = parse_ok(lin, "out=4 in=2");
    c = nn_props_clone(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(nn_props_int(c, 1), 4);
    CU_ASSERT_EQUAL(nn_props_int(c, 0), 2);
    nn_props_free(p);
    nn_props_free(c);
}

static void test_props_through_components(void)
{
    /* the parser's messages reach the callers of the component constructors */
    nn_ctx *ctx = fx_ctx();
    nn_shape in = shp1(2);
    nn_module *m = (nn_module *)1;
    char *err = NULL;
    CHECK_STATUS(nn_module_create(ctx, "linear", "out=2 colour=red", &in, &m, &err), NN_INVALID, err);
    CU_ASSERT_PTR_NULL(m);
    CHECK_CONTAINS(err, "unknown property 'colour'");
    CHECK_STATUS(nn_module_from_chain(ctx, "linear out=2 ! linear", &in, &m, &err), NN_INVALID, err);
    CHECK_CONTAINS(err, "model element 1 (linear)");
    CHECK_CONTAINS(err, "'out' is required");
    nn_dataset *d = (nn_dataset *)1;
    CHECK_STATUS(nn_dataset_open(ctx, "circle", "n=-5", &d, &err), NN_INVALID, err);
    CU_ASSERT_PTR_NULL(d);
    CHECK_CONTAINS(err, "n=-5 is out of range");
    nn_loss *l = (nn_loss *)1;
    CHECK_STATUS(nn_loss_create(ctx, "bce", "reduction=sum", &l, &err), NN_INVALID, err);
    CU_ASSERT_PTR_NULL(l);
    CHECK_CONTAINS(err, "unknown property 'reduction'");
    nn_free(err);
}

void register_props_tests(void)
{
    CU_pSuite s = fx_add_suite("props");
    if (!s) return;
    FX_ADD(s, test_find);
    FX_ADD(s, test_parse_good);
    FX_ADD(s, test_parse_empty);
    FX_ADD(s, test_parse_bad);
    FX_ADD(s, test_prefix_keys);
    FX_ADD(s, test_format);
    FX_ADD(s, test_set);
    FX_ADD(s, test_clone);
    FX_ADD(s, test_props_through_components);
}
