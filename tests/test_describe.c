/* test_describe.c - print, summary, parameter listing and graph: the
 * "seeing a network" views of core/describe.c through the C API. */
#include "test.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUTORIAL "linear in=2 out=5 ! sigmoid ! linear out=1 ! sigmoid"

/* ---- helpers ------------------------------------------------------------------ */

/* Builds a chain; the input width comes from in= (shape [-1]) unless width > 0. */
static nn_module *chain_in(nn_ctx *ctx, const char *chain, int64_t width)
{
    nn_shape in = shp1(width > 0 ? width : -1);
    nn_module *m = NULL;
    char *err = NULL;
    nn_status st = nn_module_from_chain(ctx, chain, &in, &m, &err);
    CHECK_OK(st, err);
    nn_free(err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    return m;
}

static nn_module *chain(const char *c) { return chain_in(fx_ctx(), c, 0); }

/* A registry that also holds the example plugin two_layers_net; a context on it. */
static nn_registry *g_xreg;
static nn_ctx *g_xctx;

static void example_close(void)
{
    nn_ctx_free(g_xctx);
    nn_registry_free(g_xreg);
    g_xctx = NULL;
    g_xreg = NULL;
}

static nn_ctx *example_ctx(void)
{
    const char *top = getenv("top_builddir");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/examples/plugins/.libs", top ? top : ".");
    const char *paths[1] = {dir};
    nn_registry_opts o = {paths, 1, 0};
    char *err = NULL;
    example_close();
    nn_status st = nn_registry_open(&o, &g_xreg, &err);
    CHECK_OK(st, err);
    nn_free(err);
    err = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(g_xreg);
    st = nn_ctx_open(g_xreg, "cpu", FX_SEED, &g_xctx, &err);
    CHECK_OK(st, err);
    nn_free(err);
    if (st) {
        example_close();
        CU_FAIL_FATAL("cannot open a context on the registry with the example plugin");
    }
    return g_xctx;
}

/* Compares whole texts; shows both on failure. */
#define CHECK_TEXT(got, want) check_text_((got), (want), #got, __LINE__, __FILE__, __func__)
static void check_text_(const char *got, const char *want, const char *what, unsigned line,
                        const char *file, const char *func)
{
    char buf[4096];
    int ok = got && !strcmp(got, want);
    snprintf(buf, sizeof buf, "%.100s =\n%.1900s\nexpected\n%.1900s", what, got ? got : "(null)",
             want);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, buf, file, func, CU_FALSE);
}

/* The number of non-overlapping occurrences of sub in s. */
static int count_of(const char *s, const char *sub)
{
    int n = 0;
    size_t len = strlen(sub);
    for (const char *p = s ? strstr(s, sub) : NULL; p; p = strstr(p + len, sub)) n++;
    return n;
}

/* ---- summary rows --------------------------------------------------------------- */

typedef struct row {
    int indent;       /* leading spaces */
    char name[64];    /* "Linear-1" */
    char shape[64];   /* "[-1, 5]" */
    long long params;
} row;

/* The rows between the second and the third rule line (the ones of '='). */
static int summary_rows(const char *text, row *rows, int max)
{
    int rules = 0, n = 0;
    const char *p = text;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[256];
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = 0;
        p = e ? e + 1 : NULL;
        if (len && line[0] == '=' && strspn(line, "=") == len) {
            rules++;
            continue;
        }
        if (rules != 1) continue;
        if (n == max) return -1;
        row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        r->indent = (int)strspn(line, " ");
        const char *open = strchr(line, '['), *close = open ? strchr(open, ']') : NULL;
        if (!open || !close || sscanf(line, "%63s", r->name) != 1) return -1;
        snprintf(r->shape, sizeof r->shape, "%.*s", (int)(close - open + 1), open);
        char *end;
        r->params = strtoll(close + 1, &end, 10);
        while (*end == ' ') end++;
        if (end == close + 1 || *end) return -1;
    }
    return rules == 2 ? n : -1;
}

static void check_row(const row *r, const char *name, const char *shape, long long params)
{
    char what[256];
    snprintf(what, sizeof what, "row \"%s %s %lld\" is \"%s %s %lld\"", r->name, r->shape,
             r->params, name, shape, params);
    CU_assertImplementation(!strcmp(r->name, name) && !strcmp(r->shape, shape) &&
                                r->params == params ? CU_TRUE : CU_FALSE,
                            __LINE__, what, __FILE__, "check_row", CU_FALSE);
}

static void check_totals(const char *text, long long all, long long trainable)
{
    char want[256];
    snprintf(want, sizeof want, "\nTotal params: %lld\nTrainable params: %lld\nNon-trainable params: %lld\n",
             all, trainable, all - trainable);
    CHECK_CONTAINS(text, want);
}

static void test_summary_chain(void)
{
    nn_module *m = chain(TUTORIAL);
    char *s = nn_module_summary(m, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    /* a rule line first, then the header */
    CU_ASSERT(s[0] == '-' && strspn(s, "-") >= 10 && s[strspn(s, "-")] == '\n');
    CHECK_CONTAINS(s, "Layer (type)");
    CHECK_CONTAINS(s, "Output Shape");
    CHECK_CONTAINS(s, "Param #");
    CU_ASSERT_PTR_NULL(strstr(s, "Input Shape"));
    row r[8];
    int n = summary_rows(s, r, 8);
    CU_ASSERT_EQUAL(n, 4);
    if (n == 4) {
        check_row(&r[0], "Linear-1", "[-1, 5]", 15);
        check_row(&r[1], "Sigmoid-2", "[-1, 5]", 0);
        check_row(&r[2], "Linear-3", "[-1, 1]", 6);
        check_row(&r[3], "Sigmoid-4", "[-1, 1]", 0);
    }
    check_totals(s, 21, 21);

    nn_summary_opts flat = {0, 0};
    char *s2 = nn_module_summary(m, &flat);
    CHECK_TEXT(s2, s); /* NULL options are the defaults */
    nn_free(s2);
    nn_free(s);
    nn_module_free(m);
}

static void test_summary_show_input(void)
{
    nn_module *m = chain(TUTORIAL);
    nn_summary_opts o = {1, 0};
    char *s = nn_module_summary(m, &o);
    CHECK_CONTAINS(s, "Input Shape");
    CU_ASSERT_PTR_NULL(s ? strstr(s, "Output Shape") : "x");
    row r[8];
    int n = summary_rows(s, r, 8);
    CU_ASSERT_EQUAL(n, 4);
    if (n == 4) {
        check_row(&r[0], "Linear-1", "[-1, 2]", 15);
        check_row(&r[1], "Sigmoid-2", "[-1, 5]", 0);
        check_row(&r[2], "Linear-3", "[-1, 5]", 6);
        check_row(&r[3], "Sigmoid-4", "[-1, 1]", 0);
    }
    check_totals(s, 21, 21);
    nn_free(s);
    nn_module_free(m);
}

static void test_summary_frozen_params(void)
{
    nn_module *m = chain(TUTORIAL);
    const char *name;
    nn_tensor *w = nn_module_param(m, 0, &name);
    CU_ASSERT_STRING_EQUAL(name, "0.weight");
    nn_tensor_set_requires_grad(w, 0);
    char *s = nn_module_summary(m, NULL);
    check_totals(s, 21, 11);
    nn_free(s);
    nn_module_free(m);
}

static void test_summary_composite(void)
{
    nn_module *m = chain_in(example_ctx(), "two_layers_net in=2", 0);
    char *s = nn_module_summary(m, NULL);
    row r[8];
    int n = summary_rows(s, r, 8);
    CU_ASSERT_EQUAL(n, 2); /* modelsummary of the tutorial's TwoLayersNet */
    if (n == 2) {
        check_row(&r[0], "Linear-1", "[-1, 5]", 15);
        check_row(&r[1], "Linear-2", "[-1, 1]", 6);
    }
    check_totals(s, 21, 21);
    nn_free(s);
    nn_module_free(m);
    example_close();
}

static void test_summary_hierarchical(void)
{
    nn_module *m = chain_in(example_ctx(), "two_layers_net in=2 ! sigmoid", 0);
    nn_summary_opts o = {0, 1};
    char *s = nn_module_summary(m, &o);
    row r[8];
    int n = summary_rows(s, r, 8);
    CU_ASSERT_EQUAL(n, 4);
    if (n == 4) {
        check_row(&r[0], "TwoLayersNet-1", "[-1, 1]", 21);
        check_row(&r[1], "Linear-2", "[-1, 5]", 15);
        check_row(&r[2], "Linear-3", "[-1, 1]", 6);
        check_row(&r[3], "Sigmoid-4", "[-1, 1]", 0);
        CU_ASSERT(r[1].indent > r[0].indent);
        CU_ASSERT_EQUAL(r[2].indent, r[1].indent);
        CU_ASSERT_EQUAL(r[3].indent, r[0].indent);
    }
    check_totals(s, 21, 21);
    nn_free(s);

    /* flat: the leaves only */
    s = nn_module_summary(m, NULL);
    n = summary_rows(s, r, 8);
    CU_ASSERT_EQUAL(n, 3);
    if (n == 3) {
        check_row(&r[0], "Linear-1", "[-1, 5]", 15);
        check_row(&r[1], "Linear-2", "[-1, 1]", 6);
        check_row(&r[2], "Sigmoid-3", "[-1, 1]", 0);
    }
    nn_free(s);
    nn_module_free(m);
    example_close();
}

/* ---- print(model) ---------------------------------------------------------------- */

static void test_repr_chain(void)
{
    static const char want[] = "Sequential(\n"
                               "  (0): Linear(in_features=2, out_features=5, bias=True)\n"
                               "  (1): Sigmoid()\n"
                               "  (2): Linear(in_features=5, out_features=1, bias=True)\n"
                               "  (3): Sigmoid()\n"
                               ")\n";
    nn_module *m = chain(TUTORIAL);
    char *s = nn_module_repr(m);
    CHECK_TEXT(s, want);
    nn_free(s);
    nn_module_free(m);

    /* the width from the input shape instead of in= */
    m = chain_in(fx_ctx(), "linear out=5 ! sigmoid ! linear out=1 ! sigmoid", 2);
    s = nn_module_repr(m);
    CHECK_TEXT(s, want);
    nn_free(s);
    nn_module_free(m);
}

static void test_repr_bias_false(void)
{
    nn_module *m = chain("linear in=2 out=3 bias=false");
    char *s = nn_module_repr(m);
    CHECK_TEXT(s, "Linear(in_features=2, out_features=3, bias=False)\n");
    nn_free(s);
    s = nn_module_extra_repr(m);
    CHECK_TEXT(s, "in_features=2, out_features=3, bias=False");
    nn_free(s);
    nn_module_free(m);

    m = chain("linear in=2 out=3 bias=false ! sigmoid");
    s = nn_module_repr(m);
    CHECK_TEXT(s, "Sequential(\n"
                  "  (0): Linear(in_features=2, out_features=3, bias=False)\n"
                  "  (1): Sigmoid()\n"
                  ")\n");
    nn_free(s);
    nn_module_free(m);
}

static void test_repr_composite(void)
{
    nn_ctx *ctx = example_ctx();
    nn_module *m = chain_in(ctx, "two_layers_net in=2", 0);
    CU_ASSERT_STRING_EQUAL(nn_module_type(m), "TwoLayersNet");
    char *s = nn_module_repr(m);
    CHECK_TEXT(s, "TwoLayersNet(\n"
                  "  (fc1): Linear(in_features=2, out_features=5, bias=True)\n"
                  "  (fc2): Linear(in_features=5, out_features=1, bias=True)\n"
                  ")\n");
    nn_free(s);
    nn_module_free(m);

    m = chain_in(ctx, "two_layers_net in=2 ! sigmoid", 0);
    s = nn_module_repr(m);
    CHECK_TEXT(s, "Sequential(\n"
                  "  (0): TwoLayersNet(\n"
                  "    (fc1): Linear(in_features=2, out_features=5, bias=True)\n"
                  "    (fc2): Linear(in_features=5, out_features=1, bias=True)\n"
                  "  )\n"
                  "  (1): Sigmoid()\n"
                  ")\n");
    nn_free(s);
    nn_module_free(m);

    m = chain_in(ctx, "linear in=2 out=3 ! two_layers_net nh=4 ny=2 ! sigmoid", 0);
    s = nn_module_repr(m);
    CHECK_TEXT(s, "Sequential(\n"
                  "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                  "  (1): TwoLayersNet(\n"
                  "    (fc1): Linear(in_features=3, out_features=4, bias=True)\n"
                  "    (fc2): Linear(in_features=4, out_features=2, bias=True)\n"
                  "  )\n"
                  "  (2): Sigmoid()\n"
                  ")\n");
    nn_free(s);
    nn_module_free(m);
    example_close();
}

static void test_extra_repr_default(void)
{
    /* sigmoid has no extra_repr slot and no property set: empty */
    nn_module *m = chain_in(fx_ctx(), "sigmoid", 3);
    CU_ASSERT_STRING_EQUAL(nn_module_type(m), "Sigmoid");
    char *s = nn_module_extra_repr(m);
    CHECK_TEXT(s, "");
    nn_free(s);
    s = nn_module_repr(m);
    CHECK_TEXT(s, "Sigmoid()\n");
    nn_free(s);
    nn_module_free(m);

    /* linear has one */
    m = chain("linear in=2 out=5");
    s = nn_module_extra_repr(m);
    CHECK_TEXT(s, "in_features=2, out_features=5, bias=True");
    nn_free(s);
    nn_module_free(m);

    /* two_layers_net has none: the properties that differ from their defaults */
    m = chain_in(example_ctx(), "two_layers_net in=2 nh=3", 0);
    s = nn_module_extra_repr(m);
    CHECK_CONTAINS(s, "in=2");
    CHECK_CONTAINS(s, "nh=3");
    CU_ASSERT_PTR_NULL(s ? strstr(s, "ny=") : "x"); /* ny=1 is the default */
    nn_free(s);
    nn_module_free(m);
    example_close();
}

/* ---- the walk --------------------------------------------------------------------- */

typedef struct walk_log {
    char paths[16][32];
    int depths[16];
    nn_module *mods[16];
    int n;
    const char *skip_at, *stop_at;
} walk_log;

static int log_visit(nn_module *m, const char *path, int depth, void *user)
{
    walk_log *w = user;
    if (w->n < 16) {
        snprintf(w->paths[w->n], sizeof w->paths[0], "%s", path);
        w->depths[w->n] = depth;
        w->mods[w->n] = m;
    }
    w->n++;
    if (w->skip_at && !strcmp(path, w->skip_at)) return -1;
    if (w->stop_at && !strcmp(path, w->stop_at)) return 7;
    return 0;
}

static void check_walk(const walk_log *w, const char *const *paths, const int *depths, int n)
{
    CU_ASSERT_EQUAL(w->n, n);
    for (int i = 0; i < n && i < w->n && i < 16; i++) {
        char what[160];
        snprintf(what, sizeof what, "visit %d: path \"%s\" depth %d, expected \"%s\" depth %d", i,
                 w->paths[i], w->depths[i], paths[i], depths[i]);
        CU_assertImplementation(!strcmp(w->paths[i], paths[i]) && w->depths[i] == depths[i]
                                    ? CU_TRUE : CU_FALSE,
                                __LINE__, what, __FILE__, "check_walk", CU_FALSE);
    }
}

static void test_visit_chain(void)
{
    nn_module *m = chain(TUTORIAL);
    walk_log w = {0};
    CU_ASSERT_EQUAL(nn_module_visit(m, log_visit, &w), 0);
    static const char *const paths[] = {"", "0", "1", "2", "3"};
    static const int depths[] = {0, 1, 1, 1, 1};
    check_walk(&w, paths, depths, 5);
    CU_ASSERT_PTR_EQUAL(w.mods[0], m);
    for (int i = 0; i < 4; i++) CU_ASSERT_PTR_EQUAL(w.mods[i + 1], nn_module_child(m, i));

    /* a negative return at the root skips every child */
    walk_log s = {0};
    s.skip_at = "";
    CU_ASSERT_EQUAL(nn_module_visit(m, log_visit, &s), 0);
    CU_ASSERT_EQUAL(s.n, 1);

    /* a positive one stops the walk */
    walk_log t = {0};
    t.stop_at = "1";
    CU_ASSERT_NOT_EQUAL(nn_module_visit(m, log_visit, &t), 0);
    check_walk(&t, paths, depths, 3);
    nn_module_free(m);

    /* a lone module is visited once, as the root */
    m = chain("linear in=2 out=5");
    walk_log one = {0};
    CU_ASSERT_EQUAL(nn_module_visit(m, log_visit, &one), 0);
    static const char *const p1[] = {""};
    static const int d1[] = {0};
    check_walk(&one, p1, d1, 1);
    nn_module_free(m);
}

static void test_visit_composite(void)
{
    nn_ctx *ctx = example_ctx();
    nn_module *m = chain_in(ctx, "two_layers_net in=2", 0);
    walk_log w = {0};
    CU_ASSERT_EQUAL(nn_module_visit(m, log_visit, &w), 0);
    static const char *const p1[] = {"", "fc1", "fc2"};
    static const int d1[] = {0, 1, 1};
    check_walk(&w, p1, d1, 3);
    nn_module_free(m);

    m = chain_in(ctx, "two_layers_net in=2 ! sigmoid", 0);
    walk_log n = {0};
    CU_ASSERT_EQUAL(nn_module_visit(m, log_visit, &n), 0);
    static const char *const p2[] = {"", "0", "0.fc1", "0.fc2", "1"};
    static const int d2[] = {0, 1, 2, 2, 1};
    check_walk(&n, p2, d2, 5);

    /* skipping "0" skips 0.fc1 and 0.fc2 and goes on with "1" */
    walk_log s = {0};
    s.skip_at = "0";
    CU_ASSERT_EQUAL(nn_module_visit(m, log_visit, &s), 0);
    static const char *const p3[] = {"", "0", "1"};
    static const int d3[] = {0, 1, 1};
    check_walk(&s, p3, d3, 3);

    /* stopping inside the composite stops the whole walk */
    walk_log t = {0};
    t.stop_at = "0.fc1";
    CU_ASSERT_NOT_EQUAL(nn_module_visit(m, log_visit, &t), 0);
    check_walk(&t, p2, d2, 3);
    nn_module_free(m);
    example_close();
}

/* ---- the state_dict listing -------------------------------------------------------- */

static void test_params_text_chain(void)
{
    nn_module *m = chain(TUTORIAL);
    char *s = nn_module_params_text(m, 0);
    CHECK_TEXT(s, "0.weight             :     10  shape: (5, 2)\n"
                  "0.bias               :      5  shape: (5,)\n"
                  "2.weight             :      5  shape: (1, 5)\n"
                  "2.bias               :      1  shape: (1,)\n"
                  "total                :     21\n");
    nn_free(s);
    nn_module_free(m);

    /* a one-element chain is the module itself: no "0." prefix */
    m = chain("linear in=2 out=5");
    s = nn_module_params_text(m, 0);
    CHECK_TEXT(s, "weight               :     10  shape: (5, 2)\n"
                  "bias                 :      5  shape: (5,)\n"
                  "total                :     15\n");
    nn_free(s);
    nn_module_free(m);

    m = chain("linear in=2 out=3 bias=false ! sigmoid");
    s = nn_module_params_text(m, 0);
    CHECK_TEXT(s, "0.weight             :      6  shape: (3, 2)\n"
                  "total                :      6\n");
    nn_free(s);
    nn_module_free(m);
}

static void test_params_text_composite(void)
{
    nn_ctx *ctx = example_ctx();
    nn_module *m = chain_in(ctx, "two_layers_net in=2", 0);
    char *s = nn_module_params_text(m, 0);
    CHECK_TEXT(s, "fc1.weight           :     10  shape: (5, 2)\n"
                  "fc1.bias             :      5  shape: (5,)\n"
                  "fc2.weight           :      5  shape: (1, 5)\n"
                  "fc2.bias             :      1  shape: (1,)\n"
                  "total                :     21\n");
    nn_free(s);
    nn_module_free(m);

    m = chain_in(ctx, "two_layers_net in=2 ! sigmoid", 0);
    s = nn_module_params_text(m, 0);
    CHECK_TEXT(s, "0.fc1.weight         :     10  shape: (5, 2)\n"
                  "0.fc1.bias           :      5  shape: (5,)\n"
                  "0.fc2.weight         :      5  shape: (1, 5)\n"
                  "0.fc2.bias           :      1  shape: (1,)\n"
                  "total                :     21\n");
    nn_free(s);
    nn_module_free(m);
    example_close();
}

/* Every number in the value lines (those that start with '[' or ' ') of a
 * listing with values; the others are collected in *rest. */
static int parse_values(const char *text, double *v, int max, char *rest, size_t restlen)
{
    int n = 0;
    size_t used = 0;
    rest[0] = 0;
    const char *p = text;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p + 1) : strlen(p);
        if (*p == '[' || *p == ' ') {
            for (const char *q = p; q < p + len;) {
                if (*q == '-' || *q == '+' || isdigit((unsigned char)*q)) {
                    char *end;
                    double d = strtod(q, &end);
                    if (end == q) return -1;
                    if (n == max) return -1;
                    v[n++] = d;
                    q = end;
                } else if (*q == '[' || *q == ']' || *q == ',' || isspace((unsigned char)*q)) {
                    q++;
                } else {
                    return -1;
                }
            }
        } else if (used + len < restlen) {
            memcpy(rest + used, p, len);
            used += len;
            rest[used] = 0;
        }
        p += len;
    }
    return n;
}

/* The values of every parameter of m, in order. */
static int host_values(nn_module *m, double *v, int max)
{
    int n = 0;
    for (int i = 0; i < nn_module_param_count(m); i++) {
        nn_tensor *t = nn_module_param(m, i, NULL);
        int64_t k = nn_tensor_numel(t);
        float h[64];
        if (k > 64 || n + k > max) return -1;
        to_host(t, h, k);
        for (int64_t j = 0; j < k; j++) v[n++] = h[j];
    }
    return n;
}

static void check_values_text(nn_module *m, const char *want_rest)
{
    char *s = nn_module_params_text(m, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    double got[64], want[64];
    char rest[2048];
    int n = parse_values(s, got, 64, rest, sizeof rest);
    int k = host_values(m, want, 64);
    CU_ASSERT_EQUAL(n, 21);
    CU_ASSERT_EQUAL(k, 21);
    if (n == k && n > 0) {
        float g[64];
        for (int i = 0; i < n; i++) g[i] = (float)got[i];
        /* printed with 8 decimals: 1e-6 relative, or half a unit of the last digit */
        CHECK_ARRAY(g, want, n, 1e-8, 1e-6);
    }
    CHECK_TEXT(rest, want_rest);
    nn_free(s);
}

static void test_params_values(void)
{
    nn_module *m = chain(TUTORIAL);
    /* values of all sizes and signs, some of them > 1 */
    const char *name;
    nn_tensor *w = nn_module_param(m, 0, &name);
    static const float wv[10] = {0.13305923f, -2.64693213f, 12.5f, -0.04220283f, 0.375f,
                                 -1.0f, 0.0f, 3.25f, -7.125f, 0.5f};
    CU_ASSERT_EQUAL(nn_tensor_from_host(w, wv, 10), NN_OK);
    check_values_text(m, "*** 0: Linear(in_features=2, out_features=5, bias=True)\n"
                         "0.weight             :     10  shape: (5, 2)\n"
                         "0.bias               :      5  shape: (5,)\n"
                         "*** 2: Linear(in_features=5, out_features=1, bias=True)\n"
                         "2.weight             :      5  shape: (1, 5)\n"
                         "2.bias               :      1  shape: (1,)\n"
                         "total                :     21\n");
    /* the weight's rows are lines of their own */
    char *s = nn_module_params_text(m, 1);
    CHECK_CONTAINS(s, "(5, 2)\n[[");
    CU_ASSERT_EQUAL(count_of(s, "],\n ["), 4);
    nn_free(s);
    nn_module_free(m);

    m = chain_in(example_ctx(), "two_layers_net in=2", 0);
    check_values_text(m, "*** fc1: Linear(in_features=2, out_features=5, bias=True)\n"
                         "fc1.weight           :     10  shape: (5, 2)\n"
                         "fc1.bias             :      5  shape: (5,)\n"
                         "*** fc2: Linear(in_features=5, out_features=1, bias=True)\n"
                         "fc2.weight           :      5  shape: (1, 5)\n"
                         "fc2.bias             :      1  shape: (1,)\n"
                         "total                :     21\n");
    nn_module_free(m);
    example_close();
}

/* What nnrun params FILE --values does: the listing of the model rebuilt from
 * a checkpoint shows the saved numbers. */
static void test_params_values_checkpoint(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_module *m = chain(TUTORIAL);
    char dir[] = "/tmp/nn-describe.XXXXXX";
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/nn-describe.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    char *d = mkdtemp(tmpl);
    if (!d) d = mkdtemp(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    snprintf(path, sizeof path, "%s/s.pb", d);
    nn_save_opts so = {0};
    so.info = "test_describe";
    so.model = m;
    char *err = NULL;
    nn_status st = nn_checkpoint_save(path, &so, &err);
    CHECK_OK(st, err);
    nn_free(err);
    err = NULL;
    nn_checkpoint *c = NULL;
    st = nn_checkpoint_load(path, &c, &err);
    CHECK_OK(st, err);
    nn_free(err);
    err = NULL;
    unlink(path);
    rmdir(d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    nn_module *b = NULL;
    st = nn_checkpoint_build_model(c, ctx, &b, &err);
    CHECK_OK(st, err);
    nn_free(err);
    if (b) {
        check_values_text(b, "*** 0: Linear(in_features=2, out_features=5, bias=True)\n"
                             "0.weight             :     10  shape: (5, 2)\n"
                             "0.bias               :      5  shape: (5,)\n"
                             "*** 2: Linear(in_features=5, out_features=1, bias=True)\n"
                             "2.weight             :      5  shape: (1, 5)\n"
                             "2.bias               :      1  shape: (1,)\n"
                             "total                :     21\n");
        /* and they are the numbers of the module that was saved */
        char *s = nn_module_params_text(b, 1);
        double got[64], want[64];
        char rest[2048];
        int n = s ? parse_values(s, got, 64, rest, sizeof rest) : -1;
        CU_ASSERT_EQUAL(host_values(m, want, 64), 21);
        CU_ASSERT_EQUAL(n, 21);
        if (n == 21) {
            float g[64];
            for (int i = 0; i < n; i++) g[i] = (float)got[i];
            CHECK_ARRAY(g, want, n, 1e-8, 1e-6);
        }
        nn_free(s);
        nn_module_free(b);
    }
    nn_checkpoint_free(c);
    nn_module_free(m);
}

/* ---- the graph ---------------------------------------------------------------------- */

typedef struct gnode {
    char id[16];
    char label[64];
    int in, out;
    char from[16]; /* the source of the last incoming edge */
    char to[16];   /* the target of the last outgoing edge */
} gnode;

typedef struct graph {
    gnode n[128];
    int nn, nedges;
    int bad; /* lines not understood */
} graph;

static gnode *gfind(graph *g, const char *id)
{
    for (int i = 0; i < g->nn; i++)
        if (!strcmp(g->n[i].id, id)) return &g->n[i];
    return NULL;
}

/* Node lines `  ID [label="..." ...]` and edge lines `  A -> B`. */
static void parse_dot(const char *dot, graph *g)
{
    memset(g, 0, sizeof *g);
    const char *p = dot;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[512];
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = 0;
        p = e ? e + 1 : NULL;
        char a[16], b[16];
        const char *lab = strstr(line, "[label=\"");
        if (sscanf(line, " %15s -> %15s", a, b) == 2 && strstr(line, "->")) {
            gnode *x = gfind(g, a), *y = gfind(g, b);
            g->nedges++;
            if (!x || !y) {
                g->bad++;
                continue;
            }
            x->out++;
            y->in++;
            snprintf(x->to, sizeof x->to, "%s", b);
            snprintf(y->from, sizeof y->from, "%s", a);
        } else if (lab && sscanf(line, " %15s", a) == 1 && g->nn < 128) {
            gnode *x = &g->n[g->nn++];
            snprintf(x->id, sizeof x->id, "%s", a);
            const char *l = lab + 8, *end = strchr(l, '"');
            snprintf(x->label, sizeof x->label, "%.*s", end ? (int)(end - l) : 0, l);
        }
    }
}

static int label_count(const graph *g, const char *label)
{
    int n = 0;
    for (int i = 0; i < g->nn; i++) n += !strcmp(g->n[i].label, label);
    return n;
}

static int label_starts(const gnode *x, const char *prefix)
{
    return x && !strncmp(x->label, prefix, strlen(prefix));
}

/* Forward of a batch of 3 through m, then its DOT (NULL on failure). */
static char *forward_dot(nn_module *m, int64_t width)
{
    nn_ctx *ctx = nn_module_ctx(m);
    nn_shape s = shp2(3, width);
    nn_tensor *x = nn_tensor_scratch(ctx, &s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    float v[64] = {0.5f, -1.0f, 0.25f, 2.0f, -0.75f, 1.5f};
    CU_ASSERT_EQUAL_FATAL(nn_tensor_from_host(x, v, 3 * width), NN_OK);
    nn_tensor *y = nn_module_forward(m, x);
    CHECK_CTX_OK(ctx);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    char *dot = NULL, *err = NULL;
    nn_status st = nn_graph_dot(y, m, &dot, &err);
    CHECK_OK(st, err);
    nn_free(err);
    if (st) return NULL;
    CU_ASSERT_PTR_NOT_NULL(dot);
    return dot;
}

/* The tutorial's structure, with the parameter names given by prefix ("0." /
 * "2." or "fc1." / "fc2."). */
static void check_tutorial_graph(const char *dot, const char *p1, const char *p2)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(dot);
    CU_ASSERT(!strncmp(dot, "digraph {", 9));
    CU_ASSERT_EQUAL(count_of(dot, "{"), 1);
    CU_ASSERT_EQUAL(count_of(dot, "}"), 1);
    graph *g = malloc(sizeof *g);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    parse_dot(dot, g);
    CU_ASSERT_EQUAL(g->bad, 0);
    CU_ASSERT_EQUAL(label_count(g, "AddmmBackward0"), 2);
    CU_ASSERT_EQUAL(label_count(g, "SigmoidBackward0"), 2);
    CU_ASSERT_EQUAL(label_count(g, "TBackward0"), 2);
    CU_ASSERT_EQUAL(label_count(g, "AccumulateGrad"), 4);
    /* 4 parameters, AccumulateGrad, 2 T, 2 Addmm, 2 Sigmoid, output */
    CU_ASSERT_EQUAL(g->nn, 4 + 4 + 2 + 2 + 2 + 1);
    /* p->a (4), a->T or Addmm (4), T->Addmm (2), Addmm->Sigmoid (2),
     * Sigmoid->Addmm (1), Sigmoid->output (1) */
    CU_ASSERT_EQUAL(g->nedges, 14);

    char want[64];
    static const char *const pnames[] = {"weight", "bias"};
    static const char *const shapes1[] = {"(5, 2)", "(5,)"};
    static const char *const shapes2[] = {"(1, 5)", "(1,)"};
    for (int layer = 0; layer < 2; layer++)
        for (int k = 0; k < 2; k++) {
            snprintf(want, sizeof want, "%s%s\\n%s", layer ? p2 : p1, pnames[k],
                     layer ? shapes2[k] : shapes1[k]);
            CU_ASSERT_EQUAL(label_count(g, want), 1);
            if (label_count(g, want) != 1) fprintf(stderr, "\nno box labelled %s\n", want);
        }
    /* the output: marked, one edge in, from a SigmoidBackward0 */
    gnode *out = NULL;
    for (int i = 0; i < g->nn; i++)
        if (label_starts(&g->n[i], "output")) out = &g->n[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_STRING_EQUAL(out->label, "output\\n(3, 1)");
    CHECK_CONTAINS(dot, "output [label=\"output\\n(3, 1)\" fillcolor=");
    CU_ASSERT_EQUAL(out->in, 1);
    CU_ASSERT_EQUAL(out->out, 0);
    CU_ASSERT(label_starts(gfind(g, out->from), "SigmoidBackward0"));
    for (int i = 0; i < g->nn; i++) {
        gnode *x = &g->n[i];
        gnode *from = gfind(g, x->from), *to = gfind(g, x->to);
        if (!strcmp(x->label, "AccumulateGrad")) {
            /* one edge in from a parameter box, one edge out to T or Addmm */
            CU_ASSERT_EQUAL(x->in, 1);
            CU_ASSERT_EQUAL(x->out, 1);
            CU_ASSERT(from && (label_starts(from, p1) || label_starts(from, p2)));
            CU_ASSERT(label_starts(to, "TBackward0") || label_starts(to, "AddmmBackward0"));
            /* a weight goes through its transpose, a bias straight to addmm */
            if (from && strstr(from->label, "weight")) CU_ASSERT(label_starts(to, "TBackward0"));
            if (from && strstr(from->label, "bias")) CU_ASSERT(label_starts(to, "AddmmBackward0"));
        } else if (label_starts(x, p1) || label_starts(x, p2)) {
            CU_ASSERT_EQUAL(x->in, 0);
            CU_ASSERT_EQUAL(x->out, 1);
            CU_ASSERT(label_starts(to, "AccumulateGrad"));
        } else if (!strcmp(x->label, "TBackward0")) {
            CU_ASSERT_EQUAL(x->in, 1);
            CU_ASSERT_EQUAL(x->out, 1);
            CU_ASSERT(label_starts(to, "AddmmBackward0"));
        } else if (!strcmp(x->label, "AddmmBackward0")) {
            CU_ASSERT(x->in == 2 || x->in == 3); /* bias, weight.T, and the input of layer 2 */
            CU_ASSERT_EQUAL(x->out, 1);
            CU_ASSERT(label_starts(to, "SigmoidBackward0"));
        } else if (!strcmp(x->label, "SigmoidBackward0")) {
            CU_ASSERT_EQUAL(x->in, 1);
            CU_ASSERT_EQUAL(x->out, 1);
            CU_ASSERT(label_starts(from, "AddmmBackward0"));
        } else if (x != out) {
            fprintf(stderr, "\nunexpected node %s [%s]\n", x->id, x->label);
            CU_FAIL("a node of an unexpected kind");
        }
    }
    /* the second addmm takes the first sigmoid's output */
    int addmm3 = 0;
    for (int i = 0; i < g->nn; i++) addmm3 += !strcmp(g->n[i].label, "AddmmBackward0") && g->n[i].in == 3;
    CU_ASSERT_EQUAL(addmm3, 1);
    free(g);
}

static void test_graph_dot(void)
{
    nn_module *m = chain(TUTORIAL);
    char *dot = forward_dot(m, 2);
    check_tutorial_graph(dot, "0.", "2.");
    /* written exactly as "0.weight\n(5, 2)" in the DOT text */
    CHECK_CONTAINS(dot, "[label=\"0.weight\\n(5, 2)\"");
    /* the same network and input give the same text */
    nn_ctx_scratch_reset(fx_ctx());
    char *again = forward_dot(m, 2);
    CHECK_TEXT(again, dot ? dot : "");
    nn_free(again);
    nn_free(dot);
    nn_module_free(m);
}

static void test_graph_dot_composite(void)
{
    nn_module *m = chain_in(example_ctx(), "two_layers_net in=2", 0);
    char *dot = forward_dot(m, 2);
    check_tutorial_graph(dot, "fc1.", "fc2.");
    nn_free(dot);
    nn_module_free(m);
    example_close();
}

static void test_graph_dot_errors(void)
{
    nn_ctx *ctx = fx_ctx();
    nn_module *m = chain(TUTORIAL);
    nn_shape s = shp2(3, 2);
    nn_tensor *x = nn_tensor_scratch(ctx, &s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    nn_tensor_zero_(x);
    int prev = nn_grad_set_enabled(ctx, 0);
    nn_tensor *y = nn_module_forward(m, x);
    nn_grad_set_enabled(ctx, prev);
    CHECK_CTX_OK(ctx);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_PTR_NULL(nn_tensor_grad_fn_name(y));
    char *dot = (char *)"untouched", *err = NULL;
    nn_status st = nn_graph_dot(y, m, &dot, &err);
    CU_ASSERT_NOT_EQUAL(st, NN_OK);
    CU_ASSERT_PTR_NULL(dot);
    CU_ASSERT_PTR_NOT_NULL(err);
    CU_ASSERT(err && strlen(err) > 0);
    CHECK_CONTAINS(err, "no-grad");
    nn_free(err);

    /* no output at all */
    err = NULL;
    dot = (char *)"untouched";
    st = nn_graph_dot(NULL, m, &dot, &err);
    CU_ASSERT_NOT_EQUAL(st, NN_OK);
    CU_ASSERT_PTR_NULL(dot);
    CU_ASSERT_PTR_NOT_NULL(err);
    nn_free(err);
    nn_module_free(m);
}

void register_describe_tests(void)
{
    CU_pSuite s = fx_add_suite("describe");
    if (!s) return;
    FX_ADD(s, test_summary_chain);
    FX_ADD(s, test_summary_show_input);
    FX_ADD(s, test_summary_frozen_params);
    FX_ADD(s, test_summary_composite);
    FX_ADD(s, test_summary_hierarchical);
    FX_ADD(s, test_repr_chain);
    FX_ADD(s, test_repr_bias_false);
    FX_ADD(s, test_repr_composite);
    FX_ADD(s, test_extra_repr_default);
    FX_ADD(s, test_visit_chain);
    FX_ADD(s, test_visit_composite);
    FX_ADD(s, test_params_text_chain);
    FX_ADD(s, test_params_text_composite);
    FX_ADD(s, test_params_values);
    FX_ADD(s, test_params_values_checkpoint);
    FX_ADD(s, test_graph_dot);
    FX_ADD(s, test_graph_dot_composite);
    FX_ADD(s, test_graph_dot_errors);
}
