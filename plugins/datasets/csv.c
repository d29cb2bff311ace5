/* csv.c - rows of numbers from a text file, one sample a row.
 * input: [columns - 1] (every column but the target)  target: [1]
 *
 * classes=N: the target is a class index, a whole number in 0..N-1.
 * classes=0 (default): inferred; when every target is a whole number >= 0
 * the targets are class indices and N is their largest value + 1, otherwise
 * the target is a regression value. Either way the target is passed as it is;
 * N only checks the rows (of this file and of the files opened with the
 * learned words, see csv_learned).
 *
 * normalize=standard: (x - mean) / std per feature, std the population one
 * (0 is taken as 1); normalize=minmax: (x - min) / (max - min) (a zero range
 * as 1). The statistics come from the file unless mean= and std= (or min=
 * and max=) give them; csv_learned returns them to be saved, so that other
 * files are scaled as the training file was. */
#include <nn/plugin.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { P_PATH, P_TARGET, P_HEADER, P_DELIM, P_CLASSES, P_NORM, P_MEAN, P_STD, P_MIN, P_MAX };

static const nn_prop_def csv_props[] = {
    [P_PATH] = {"path", NN_PROP_STRING, NULL, 1, 0, NULL, "the CSV file"},
    [P_TARGET] = {"target", NN_PROP_INT, "-1", -1e6, 1e6, NULL,
                  "target column, from 0; negative counts from the end (-1: the last)"},
    [P_HEADER] = {"header", NN_PROP_INT, "0", 0, 1e9, NULL, "lines to skip at the top"},
    [P_DELIM] = {"delimiter", NN_PROP_STRING, ",", 1, 0, NULL,
                 "the one character between cells, or 'tab'"},
    [P_CLASSES] = {"classes", NN_PROP_INT, "0", 0, 1e7, NULL,
                   "class-index target in 0..N-1 (0: so when every target is a whole number >= 0)"},
    [P_NORM] = {"normalize", NN_PROP_ENUM, "none", 1, 0, "none|standard|minmax",
                "feature scaling, with statistics of this file unless given"},
    [P_MEAN] = {"mean", NN_PROP_STRING, "", 1, 0, NULL, "normalize=standard: the features' means"},
    [P_STD] = {"std", NN_PROP_STRING, "", 1, 0, NULL, "normalize=standard: the features' stds"},
    [P_MIN] = {"min", NN_PROP_STRING, "", 1, 0, NULL, "normalize=minmax: the features' minima"},
    [P_MAX] = {"max", NN_PROP_STRING, "", 1, 0, NULL, "normalize=minmax: the features' maxima"},
};

enum { NORM_NONE, NORM_STANDARD, NORM_MINMAX };

typedef struct {
    int64_t n;
    int nf;         /* features a row */
    int64_t classes; /* 0: a regression target */
    int norm;
    double *shift, *scale; /* x' = (x - shift) / scale, nf each */
    float *x, *y;          /* n x nf, n */
} csv;

static void csv_close(void *priv)
{
    csv *c = priv;
    if (!c) return;
    free(c->shift);
    free(c->scale);
    free(c->x);
    free(c->y);
    free(c);
}

/* The whole file, NUL-terminated; a NUL inside it is refused. */
static nn_status read_all(const char *path, char **out, size_t *len, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return nn_fail(err, NN_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *more = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!more) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = more;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return nn_fail(err, NN_NO_MEMORY, "%s: out of memory", path);
    if (bad) {
        free(buf);
        return nn_fail(err, NN_IO, "%s: read error", path);
    }
    buf[n] = 0;
    if (memchr(buf, 0, n)) {
        free(buf);
        return nn_fail(err, NN_FORMAT, "%s: not a text file (it holds a NUL byte)", path);
    }
    *out = buf;
    *len = n;
    return NN_OK;
}

/* "1.5,2,3" into nf numbers; an empty text is "not given" (0). */
static nn_status parse_list(const char *key, const char *text, int nf, bool positive,
                            double **out, char **err)
{
    *out = NULL;
    if (!*text) return NN_OK;
    double *v = malloc(sizeof *v * (size_t)nf);
    if (!v) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    const char *s = text;
    int k = 0;
    for (;; k++) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || (*end && *end != ',') || errno || !isfinite(d) || (positive && d <= 0)) {
            free(v);
            return nn_fail(err, NN_INVALID, "csv: %s=%s: item %d is not a %snumber", key, text,
                           k + 1, positive ? "positive finite " : "finite ");
        }
        if (k < nf) v[k] = d;
        if (!*end) break;
        s = end + 1;
    }
    if (k + 1 != nf) {
        free(v);
        return nn_fail(err, NN_INVALID, "csv: %s= has %d numbers, the data %d features", key,
                       k + 1, nf);
    }
    *out = v;
    return NN_OK;
}

/* The statistics: given (both or neither) or computed from the rows. */
static nn_status statistics(csv *c, const nn_props *p, char **err)
{
    if (c->norm == NORM_NONE) {
        for (int i = P_MEAN; i <= P_MAX; i++)
            if (*nn_props_string(p, i))
                return nn_fail(err, NN_INVALID, "csv: %s= is for normalize=%s, not normalize=none",
                               csv_props[i].name, i <= P_STD ? "standard" : "minmax");
        return NN_OK;
    }
    int a = c->norm == NORM_STANDARD ? P_MEAN : P_MIN, b = a + 1;
    int other = c->norm == NORM_STANDARD ? P_MIN : P_MEAN;
    if (*nn_props_string(p, other) || *nn_props_string(p, other + 1))
        return nn_fail(err, NN_INVALID, "csv: normalize=%s takes %s= and %s=, not %s= or %s=",
                       c->norm == NORM_STANDARD ? "standard" : "minmax",
                       csv_props[a].name, csv_props[b].name, csv_props[other].name,
                       csv_props[other + 1].name);
    const char *ta = nn_props_string(p, a), *tb = nn_props_string(p, b);
    if (!*ta != !*tb)
        return nn_fail(err, NN_INVALID, "csv: give both %s= and %s=, or neither", csv_props[a].name,
                       csv_props[b].name);
    double *va, *vb;
    nn_status st = parse_list(csv_props[a].name, ta, c->nf, false, &va, err);
    if (st) return st;
    if ((st = parse_list(csv_props[b].name, tb, c->nf, c->norm == NORM_STANDARD, &vb, err))) {
        free(va);
        return st;
    }
    if (va) {
        c->shift = va;
        c->scale = vb;
        if (c->norm == NORM_MINMAX)
            for (int j = 0; j < c->nf; j++) {
                double r = vb[j] - va[j];
                if (!(r >= 0))
                    return nn_fail(err, NN_INVALID, "csv: feature %d: max %g is below min %g",
                                   j + 1, vb[j], va[j]);
                c->scale[j] = r > 0 ? r : 1.0;
            }
        return NN_OK;
    }
    c->shift = calloc((size_t)c->nf, sizeof(double));
    c->scale = calloc((size_t)c->nf, sizeof(double));
    if (!c->shift || !c->scale) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    for (int j = 0; j < c->nf; j++) {
        const float *x = c->x + j;
        int64_t nf = c->nf;
        if (c->norm == NORM_STANDARD) {
            double s = 0, q = 0;
            for (int64_t i = 0; i < c->n; i++) s += x[i * nf];
            double m = s / (double)c->n;
            for (int64_t i = 0; i < c->n; i++) q += (x[i * nf] - m) * (x[i * nf] - m);
            double sd = sqrt(q / (double)c->n);
            c->shift[j] = m;
            c->scale[j] = sd > 0 ? sd : 1.0;
        } else {
            double lo = x[0], hi = x[0];
            for (int64_t i = 1; i < c->n; i++) {
                if (x[i * nf] < lo) lo = x[i * nf];
                if (x[i * nf] > hi) hi = x[i * nf];
            }
            c->shift[j] = lo;
            c->scale[j] = hi > lo ? hi - lo : 1.0;
        }
    }
    return NN_OK;
}

/* Parses the rows of buf into c->x and c->y. */
static nn_status parse_rows(csv *c, const char *path, char *buf, const nn_props *p, char delim,
                            char **err)
{
    int64_t skip = nn_props_int(p, P_HEADER), tcol_prop = nn_props_int(p, P_TARGET);
    int64_t cap = 0, line = 0;
    int ncols = 0, tcol = 0;
    double *cells = NULL;
    nn_status st = NN_OK;
    char *s = buf;
    while (*s) {
        char *eol = strchr(s, '\n'), *next = eol ? eol + 1 : s + strlen(s);
        if (eol) *eol = 0;
        else eol = next;
        if (eol > s && eol[-1] == '\r') eol[-1] = 0;
        line++;
        char *row = s;
        s = next;
        if (line <= skip) continue;
        if (!row[strspn(row, " \t")]) continue; /* a blank line */
        /* the cells */
        int n = 0;
        for (char *cell = row;; n++) {
            char *end = strchr(cell, delim);
            if (end) *end = 0;
            char *t = cell + strspn(cell, " \t");
            if (n >= 1 << 20) {
                st = nn_fail(err, NN_FORMAT, "%s:%lld: more than %d columns", path,
                             (long long)line, 1 << 20);
                goto out;
            }
            if (!ncols || n < ncols) {
                if (*t == '"' || *t == '\'') {
                    st = nn_fail(err, NN_FORMAT, "%s:%lld:%d: quoted cells are not supported",
                                 path, (long long)line, n + 1);
                    goto out;
                }
                char *e;
                errno = 0;
                double v = strtod(t, &e);
                e += strspn(e, " \t");
                if (e == t || *e || errno == ERANGE || !isfinite(v) || fabs(v) > FLT_MAX) {
                    st = nn_fail(err, NN_FORMAT, "%s:%lld:%d: '%.40s' is not a %snumber", path,
                                 (long long)line, n + 1, t,
                                 e != t && !*e ? "finite single-precision " : "");
                    goto out;
                }
                if (!ncols) {
                    double *more = realloc(cells, sizeof *more * (size_t)(n + 1));
                    if (!more) {
                        st = nn_fail(err, NN_NO_MEMORY, "out of memory");
                        goto out;
                    }
                    cells = more;
                }
                cells[n] = v;
            }
            if (!end) break;
            cell = end + 1;
        }
        n++;
        if (!ncols) { /* the first row sets the columns */
            if (n < 2) {
                st = nn_fail(err, NN_FORMAT, "%s:%lld: 1 column; a row needs features and a target",
                             path, (long long)line);
                goto out;
            }
            ncols = n;
            int64_t t = tcol_prop < 0 ? ncols + tcol_prop : tcol_prop;
            if (t < 0 || t >= ncols) {
                st = nn_fail(err, NN_INVALID, "csv: target=%lld is outside the %d columns of %s",
                             (long long)tcol_prop, ncols, path);
                goto out;
            }
            tcol = (int)t;
            c->nf = ncols - 1;
        } else if (n != ncols) {
            st = nn_fail(err, NN_FORMAT, "%s:%lld: %d column%s, expected %d", path,
                         (long long)line, n, n == 1 ? "" : "s", ncols);
            goto out;
        }
        if (c->n == cap) {
            cap = cap ? cap * 2 : 256;
            float *x = realloc(c->x, sizeof *x * (size_t)(cap * c->nf));
            if (x) c->x = x;
            float *y = x ? realloc(c->y, sizeof *y * (size_t)cap) : NULL;
            if (y) c->y = y;
            if (!x || !y) {
                st = nn_fail(err, NN_NO_MEMORY, "%s: out of memory", path);
                goto out;
            }
        }
        double y = cells[tcol];
        if (c->classes && !(y >= 0 && y < (double)c->classes && y == floor(y))) {
            st = nn_fail(err, NN_FORMAT, "%s:%lld: label %g is not a class in 0..%lld", path,
                         (long long)line, y, (long long)c->classes - 1);
            goto out;
        }
        float *x = c->x + c->n * c->nf;
        for (int j = 0, k = 0; j < ncols; j++)
            if (j != tcol) x[k++] = (float)cells[j];
        c->y[c->n++] = (float)y;
    }
    if (!c->n) st = nn_fail(err, NN_FORMAT, "%s: no data rows", path);
out:
    free(cells);
    return st;
}

static nn_status csv_open(const nn_props *p, void **priv, int64_t *len, nn_shape *input,
                          nn_shape *target, char **err)
{
    const char *path = nn_props_string(p, P_PATH), *dt = nn_props_string(p, P_DELIM);
    char delim = !strcmp(dt, "tab") ? '\t' : dt[0];
    if (strcmp(dt, "tab") && (strlen(dt) != 1 || delim == '"' || delim == '.' || delim == '-' ||
                              delim == '+' || (delim >= '0' && delim <= '9')))
        return nn_fail(err, NN_INVALID, "csv: delimiter=%s: give one character that is not part "
                       "of a number, or 'tab'", dt);
    if (!*path) return nn_fail(err, NN_INVALID, "csv: path= is empty");
    csv *c = calloc(1, sizeof *c);
    if (!c) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    c->classes = nn_props_int(p, P_CLASSES);
    const char *norm = nn_props_string(p, P_NORM);
    c->norm = !strcmp(norm, "standard") ? NORM_STANDARD : !strcmp(norm, "minmax") ? NORM_MINMAX
                                                                                 : NORM_NONE;
    char *buf = NULL;
    size_t n;
    nn_status st = read_all(path, &buf, &n, err);
    if (!st) {
        st = parse_rows(c, path, buf, p, delim, err);
        free(buf);
    }
    if (!st && !c->classes) { /* inferred: whole numbers >= 0 are class indices */
        double top = 0;
        bool whole = true;
        for (int64_t i = 0; i < c->n && whole; i++) {
            whole = c->y[i] >= 0 && c->y[i] == floorf(c->y[i]) && c->y[i] < 1e7f;
            if (c->y[i] > top) top = c->y[i];
        }
        if (whole) c->classes = (int64_t)top + 1;
    }
    if (!st) st = statistics(c, p, err);
    if (st) {
        csv_close(c);
        return st;
    }
    if (c->shift)
        for (int64_t i = 0; i < c->n; i++)
            for (int j = 0; j < c->nf; j++) {
                float *x = &c->x[i * c->nf + j];
                *x = (float)(((double)*x - c->shift[j]) / c->scale[j]);
            }
    *priv = c;
    *len = c->n;
    *input = (nn_shape){1, {c->nf}};
    *target = (nn_shape){1, {1}};
    return NN_OK;
}

static nn_status csv_get(void *priv, int64_t i, float *x, float *y, char **err)
{
    (void)err; /* the rows are in memory */
    const csv *c = priv;
    memcpy(x, c->x + i * c->nf, sizeof *x * (size_t)c->nf);
    y[0] = c->y[i];
    return NN_OK;
}

static void add_list(char **s, size_t *left, const char *key, const double *v, int n)
{
    int w = snprintf(*s, *left, " %s=", key);
    *s += w;
    *left -= (size_t)w;
    for (int j = 0; j < n; j++) {
        char t[32];
        snprintf(t, sizeof t, "%.15g", v[j]);
        if (strtod(t, NULL) != v[j]) snprintf(t, sizeof t, "%.17g", v[j]);
        w = snprintf(*s, *left, "%s%s", j ? "," : "", t);
        *s += w;
        *left -= (size_t)w;
    }
}

/* "classes=2 normalize=standard mean=1.5,2 std=0.5,1": what this file taught. */
static nn_status csv_learned(void *priv, char **words)
{
    const csv *c = priv;
    size_t cap = 128 + (size_t)c->nf * 2 * 32, left = cap;
    char *s = *words = malloc(cap);
    if (!s) return NN_NO_MEMORY;
    *s = 0;
    if (c->classes) {
        int w = snprintf(s, left, " classes=%lld", (long long)c->classes);
        s += w;
        left -= (size_t)w;
    }
    if (c->norm != NORM_NONE) {
        bool std = c->norm == NORM_STANDARD;
        int w = snprintf(s, left, " normalize=%s", std ? "standard" : "minmax");
        s += w;
        left -= (size_t)w;
        add_list(&s, &left, std ? "mean" : "min", c->shift, c->nf);
        if (std) {
            add_list(&s, &left, "std", c->scale, c->nf);
        } else {
            double *hi = malloc(sizeof *hi * (size_t)c->nf);
            if (!hi) {
                free(*words);
                *words = NULL;
                return NN_NO_MEMORY;
            }
            for (int j = 0; j < c->nf; j++) hi[j] = c->shift[j] + c->scale[j];
            add_list(&s, &left, "max", hi, c->nf);
            free(hi);
        }
    }
    if (**words) memmove(*words, *words + 1, strlen(*words)); /* the leading space */
    return NN_OK;
}

static const nn_dataset_vt csv_vt = {
    NN_VT_HEADER(nn_dataset_vt),
    .open = csv_open,
    .close = csv_close,
    .get = csv_get,
    .learned = csv_learned,
};

static const nn_component_def csv_components[] = {
    {NN_KIND_DATASET, "csv", "rows of numbers from a CSV file; one column is the target",
     &csv_vt, csv_props, NN_COUNT_OF(csv_props)},
};

NN_PLUGIN_DEFINE("csv", "1.0", csv_components)
