/* golden.c - reads the PyTorch values of tests/golden/ (see golden.h). */
#include "golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gtensor {
    char *name;
    nn_shape shape;
    float *v;
    int64_t n;
} gtensor;

struct golden {
    char *path;
    gtensor *t;
    int nt;
};

static int parse_line(golden *g, char *line)
{
    char *save = NULL, *tok = strtok_r(line, " \t\n", &save);
    if (!tok || tok[0] == '#') return 0;
    gtensor t = {strdup(tok), {0, {0}}, NULL, 1};
    char *end;
    tok = strtok_r(NULL, " \t\n", &save);
    long nd = tok ? strtol(tok, &end, 10) : -1;
    if (!t.name || !tok || *end || nd < 0 || nd > NN_MAX_DIMS) goto bad;
    t.shape.ndim = (int)nd;
    for (int i = 0; i < nd; i++) {
        tok = strtok_r(NULL, " \t\n", &save);
        long long d = tok ? strtoll(tok, &end, 10) : -1;
        if (!tok || *end || d < 0) goto bad;
        t.shape.dim[i] = d;
        t.n *= d;
    }
    t.v = malloc((size_t)(t.n ? t.n : 1) * sizeof *t.v);
    if (!t.v) goto bad;
    for (int64_t i = 0; i < t.n; i++) {
        tok = strtok_r(NULL, " \t\n", &save);
        if (!tok) goto bad;
        t.v[i] = strtof(tok, &end); /* "nan", "inf" and "-inf" read as such */
        if (*end) goto bad;
    }
    if (strtok_r(NULL, " \t\n", &save)) goto bad;
    gtensor *nt = realloc(g->t, sizeof *nt * (size_t)(g->nt + 1));
    if (!nt) goto bad;
    g->t = nt;
    g->t[g->nt++] = t;
    return 0;
bad:
    fprintf(stderr, "\n%s: malformed tensor '%s'\n", g->path, t.name ? t.name : "?");
    free(t.name);
    free(t.v);
    return -1;
}

golden *golden_open(const char *file)
{
    const char *top = getenv("top_srcdir");
    golden *g = calloc(1, sizeof *g);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    size_t n = strlen(top ? top : ".") + strlen(file) + 16;
    g->path = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g->path);
    snprintf(g->path, n, "%s/tests/golden/%s", top ? top : ".", file);
    FILE *f = fopen(g->path, "r");
    if (!f) fprintf(stderr, "\ncannot open %s\n", g->path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char *line = NULL;
    size_t cap = 0;
    int bad = 0;
    while (!bad && getline(&line, &cap, f) > 0) bad = parse_line(g, line);
    free(line);
    fclose(f);
    if (bad) golden_close(g);
    CU_ASSERT_FATAL(!bad);
    return g;
}

void golden_close(golden *g)
{
    if (!g) return;
    for (int i = 0; i < g->nt; i++) {
        free(g->t[i].name);
        free(g->t[i].v);
    }
    free(g->t);
    free(g->path);
    free(g);
}

static gtensor *find(golden *g, const char *name)
{
    for (int i = 0; i < g->nt; i++)
        if (!strcmp(g->t[i].name, name)) return &g->t[i];
    return NULL;
}

int golden_has(golden *g, const char *name) { return find(g, name) != NULL; }

const float *golden_get(golden *g, const char *name, nn_shape *shape)
{
    gtensor *t = find(g, name);
    if (!t) fprintf(stderr, "\n%s has no tensor '%s'\n", g->path, name);
    CU_ASSERT_PTR_NOT_NULL(t);
    if (!t) return NULL;
    if (shape) *shape = t->shape;
    return t->v;
}

nn_tensor *golden_tensor(golden *g, const char *name, int requires_grad)
{
    nn_shape s;
    const float *v = golden_get(g, name, &s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    return tensor_from(&s, v, requires_grad);
}

double golden_scalar(golden *g, const char *name)
{
    nn_shape s;
    const float *v = golden_get(g, name, &s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(nn_shape_numel(&s), 1);
    return v[0];
}

void golden_check_(golden *g, const nn_tensor *t, const char *name, double atol, double rtol,
                   unsigned line, const char *file, const char *func)
{
    nn_shape s;
    const float *want = golden_get(g, name, &s);
    char what[160];
    snprintf(what, sizeof what, "%s (golden %s)", name, g->path);
    if (!want) return;
    if (!t) {
        CU_assertImplementation(0, line, "tensor is NULL", file, func, CU_FALSE);
        fprintf(stderr, "\n%s:%u: %s: no tensor to compare\n", file, line, what);
        return;
    }
    const nn_shape *ts = nn_tensor_shape(t);
    int same = ts->ndim == s.ndim;
    for (int i = 0; same && i < s.ndim; i++) same = ts->dim[i] == s.dim[i];
    if (!same) {
        char a[64], b[64];
        nn_shape_format(ts, 0, a, sizeof a);
        nn_shape_format(&s, 0, b, sizeof b);
        fprintf(stderr, "\n%s:%u: %s: shape %s, PyTorch's %s\n", file, line, what, a, b);
    }
    CU_assertImplementation(same, line, "shape equals PyTorch's", file, func, CU_FALSE);
    if (!same) return;
    int64_t n = nn_shape_numel(&s);
    float *got = malloc((size_t)(n ? n : 1) * sizeof *got);
    double *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    CU_ASSERT_FATAL(got && w);
    to_host(t, got, n);
    for (int64_t i = 0; i < n; i++) w[i] = want[i];
    check_array_(got, w, n, atol, rtol, what, line, file, func);
    free(got);
    free(w);
}
