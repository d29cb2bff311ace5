/* plot.c - nnrun plot and train --plot-history: the numbers of each picture
 * (the points and their classes, the grid of predictions, the history's
 * series), the --values CSV of them, and the files. The drawing itself is
 * PLplot's, in tools/plot_draw.c, built only when configure found PLplot. */
#define _POSIX_C_SOURCE 200809L
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "plot.h"
#include "plot_draw.h"
#include "savepath.h"
#include "atomic.h"
#include "strfmt.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define GRID 200       /* grid points per side of the boundary picture */
#define MIN_SIDE 100   /* --size limits, in pixels */
#define MAX_SIDE 8000
#define TITLE_MAX 72   /* bytes of a title kept; a longer one is cut with "..." */

#define NO_PLPLOT                                                                            \
    "nnrun was built without PLplot: install libplplot-dev and plplot-driver-cairo, then "   \
    "configure and build again"


/* ---- options ------------------------------------------------------------- */

/* A whole number in [lo, hi] at *s, ending at one of the bytes of stop. */
static int whole(const char **s, long lo, long hi, const char *stop)
{
    char *end;
    errno = 0;
    long v = **s >= '0' && **s <= '9' ? strtol(*s, &end, 10) : -1;
    if (v < lo || v > hi || errno || !strchr(stop, *end)) return -1;
    *s = end;
    return (int)v;
}

static char *parse_size(const char *v, plot_opts *po)
{
    const char *s = v;
    int w = whole(&s, MIN_SIDE, MAX_SIDE, "xX");
    if (w >= 0) s++;
    int h = w < 0 ? -1 : whole(&s, MIN_SIDE, MAX_SIDE, "");
    if (h < 0)
        return strfmt("--size expects WIDTHxHEIGHT in pixels, each %d to %d (600x600), got '%s'",
                   MIN_SIDE, MAX_SIDE, v);
    po->width = w, po->height = h, po->size_given = true;
    return NULL;
}

static char *parse_dims(const char *v, plot_opts *po)
{
    const char *s = v;
    int i = whole(&s, 0, 1 << 30, ",");
    if (i >= 0) s++;
    int j = i < 0 ? -1 : whole(&s, 0, 1 << 30, "");
    if (j < 0 || i == j)
        return strfmt("--dims expects two different feature indices from 0, as 0,1, got '%s'", v);
    po->dims[0] = i, po->dims[1] = j, po->dims_given = true;
    return NULL;
}

char *plot_take_args(int *argc, char **argv, plot_opts *po)
{
    static const char *const names[] = {"--size", "--dims", "--values"};
    *po = (plot_opts){600, 600, {0, 1}, false, false, NULL};
    int kept = 0;
    for (int i = 0; i < *argc; i++) {
        int which = -1;
        const char *value = NULL;
        for (int k = 0; k < 3; k++) {
            size_t len = strlen(names[k]);
            if (!strncmp(argv[i], names[k], len) && (!argv[i][len] || argv[i][len] == '=')) {
                which = k;
                value = argv[i][len] ? argv[i] + len + 1 : NULL;
            }
        }
        if (which < 0) {
            argv[kept++] = argv[i];
            continue;
        }
        if (!value && i + 1 == *argc) return strfmt("%s needs a value", names[which]);
        if (!value) value = argv[++i];
        char *why = which == 0 ? parse_size(value, po) : which == 1 ? parse_dims(value, po) : NULL;
        if (why) return why;
        if (which == 2) po->values = value;
    }
    *argc = kept;
    return NULL;
}

#ifdef HAVE_PLPLOT
#ifndef NNRUN_PLOT_MODULE /* Makefile.am sets both; a build of its own (make fuzz) need not */
#define NNRUN_PLOT_MODULE "/nonexistent/nnrun_plot.so"
#define NNRUN_BINDIR "/nonexistent"
#endif

/* nnrun_plot.so: beside the program in the build tree (tools/.libs), in
 * $(pkglibdir) once installed, under the same DESTDIR as the program when
 * that is staged. */
static const draw_vt *drawer(char **why)
{
    static const draw_vt *vt;
    if (vt) return vt;
    char exe[4096], path[4096 + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0'; /* the program's folder */
    size_t len = strlen(exe), blen = strlen(NNRUN_BINDIR);
    const char *where[2] = {path, NNRUN_PLOT_MODULE};
    snprintf(path, sizeof path, "%s/nnrun_plot.so", exe);
    if (access(path, F_OK) && len >= blen && !strcmp(exe + len - blen, NNRUN_BINDIR))
        snprintf(path, sizeof path, "%.*s%s", (int)(len - blen), exe, NNRUN_PLOT_MODULE);
    for (int i = 0; i < 2 && !vt; i++) {
        if (access(where[i], F_OK)) continue;
        void *h = dlopen(where[i], RTLD_NOW | RTLD_LOCAL);
        const draw_vt *(*get)(void) = h ? (const draw_vt *(*)(void))dlsym(h, "nnrun_plot_draw") : NULL;
        if (!get) {
            const char *e = dlerror();
            *why = strfmt("cannot load nnrun's pictures, '%s': %s", where[i], e ? e : "no table");
            return NULL;
        }
        vt = get();
    }
    if (!vt) *why = strfmt("nnrun's pictures module '%s' is missing: install nn again", NNRUN_PLOT_MODULE);
    return vt;
}

/* PLplot's driver for path's extension, or NULL. */
static const char *device_for(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash)) return NULL;
    if (!strcasecmp(dot, ".png")) return "pngcairo";
    if (!strcasecmp(dot, ".svg")) return "svgcairo";
    return NULL;
}
#endif

char *plot_check(const char *path, const plot_opts *po)
{
#ifndef HAVE_PLPLOT
    (void)po;
    return strfmt("%s (for '%s')", NO_PLPLOT, path);
#else
    const char *device = device_for(path);
    if (!device)
        return strfmt("cannot draw '%s': the picture's name must end in .png or .svg", path);
    char *why = NULL;
    const draw_vt *d = drawer(&why);
    if (!d) return why ? why : strfmt("out of memory");
    if (!d->has_device(device))
        return strfmt("PLplot has no %s driver here: install plplot-driver-cairo", device);
    why = save_target_problem(path);
    if (!why && po->values) why = save_target_problem(po->values);
    if (!why && po->values && !strcmp(po->values, path))
        why = strfmt("--values '%s' would overwrite the picture", po->values);
    return why;
#endif
}

char *plot_train_check(const char *path, const plot_opts *po)
{
    if (po->dims_given) return strfmt("--dims is for nnrun plot --data");
    if (!path && (po->size_given || po->values))
        return strfmt("--size and --values go with --plot-history FILE");
    return path ? plot_check(path, po) : NULL;
}

/* ---- files: a temporary beside the target, renamed over it at the end ------ */

typedef struct {
    const char *path;
    char *tmp; /* NULL once renamed or removed */
} target;

static nn_status target_open(target *t, const char *path, FILE **f, char **err)
{
    t->path = path;
    return (*f = atomic_open(path, &t->tmp, err)) ? NN_OK : NN_IO;
}

static void target_drop(target *t)
{
    if (!t->tmp) return;
    unlink(t->tmp);
    free(t->tmp);
    t->tmp = NULL;
}

static nn_status target_commit(target *t, char **err)
{
    nn_status st = NN_OK;
    if (rename(t->tmp, t->path))
        st = nn_fail(err, NN_IO, "cannot write '%s': %s", t->path, strerror(errno));
    if (st) unlink(t->tmp);
    free(t->tmp);
    t->tmp = NULL;
    return st;
}

/* Flushes, syncs and closes f (a CSV); any failure is the write's. */
static nn_status csv_close(FILE *f, const target *t, char **err)
{
    bool ok = !ferror(f) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) ok = false;
    return ok ? NN_OK : nn_fail(err, NN_IO, "cannot write '%s': %s", t->path, strerror(errno));
}

#ifdef HAVE_PLPLOT
/* The cairo driver does not report a failed write, so the file must end as
 * its format ends (PNG's IEND chunk, SVG's closing tag); then it is synced. */
static nn_status picture_complete(const target *t, bool png, char **err)
{
    int fd = open(t->tmp, O_RDONLY);
    char tail[32] = {0};
    off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof tail ? size - (off_t)sizeof tail : 0;
    ssize_t got = size > 0 ? pread(fd, tail, (size_t)(size - from), from) : -1;
    bool ok = got > 0 && fsync(fd) == 0;
    if (fd >= 0) close(fd);
    if (ok && png) ok = got >= 8 && !memcmp(tail + got - 8, "IEND\xae\x42\x60\x82", 8);
    if (ok && !png) {
        while (got > 0 && (tail[got - 1] == '\n' || tail[got - 1] == ' ')) got--;
        ok = got >= 6 && !memcmp(tail + got - 6, "</svg>", 6);
    }
    return ok ? NN_OK : nn_fail(err, NN_IO, "cannot write '%s': the picture came out incomplete",
                                t->path);
}
#endif

/* Bytes of the valid UTF-8 character at p, or 0 for a bad byte or a
 * control character. */
static int char_len(const unsigned char *p)
{
    int len = *p < 0x20 || *p == 0x7f ? 0
              : *p < 0x80             ? 1
              : (*p & 0xe0) == 0xc0   ? 2
              : (*p & 0xf0) == 0xe0   ? 3
              : (*p & 0xf8) == 0xf0   ? 4
                                      : 0;
    for (int k = 1; k < len; k++) /* stops at the string's end too */
        if ((p[k] & 0xc0) != 0x80) return 0;
    return len;
}

/* Text for a picture: valid UTF-8 (a bad byte becomes '?'), at most
 * TITLE_MAX bytes (then "..."). Caller frees. */
static char *clean_text(const char *s)
{
    char *t = malloc(TITLE_MAX + 4), *q = t;
    const unsigned char *p = (const unsigned char *)s;
    if (!t) return NULL;
    while (*p) {
        int len = char_len(p);
        if (q - t + (len ? len : 1) > TITLE_MAX) break;
        if (len) {
            memcpy(q, p, (size_t)len);
            q += len, p += len;
        } else {
            *q++ = '?', p++;
        }
    }
    if (*p) memcpy(q, "...", 3), q += 3;
    *q = 0;
    return t;
}

/* ---- the points and their classes ------------------------------------------ */

typedef struct {
    double *x, *y;
    int *cls;
    int64_t n;
    int nclasses;
} points;

static void points_free(points *p)
{
    free(p->x);
    free(p->y);
    free(p->cls);
}

static nn_status sample_failed(nn_ctx *ctx, int64_t i, nn_status st, char **err)
{
    const char *msg = NULL;
    if (!nn_ctx_error(ctx, &msg)) msg = nn_strerror(st);
    st = nn_fail(err, st, "reading sample %lld of the data: %s", (long long)i, msg);
    nn_ctx_clear_error(ctx);
    return st;
}

/* Features dims[0] and dims[1] of every sample of d, and its class: the
 * target, one whole number 0 .. DRAW_MAX_CLASSES-1 per sample. */
static nn_status read_points(nn_ctx *ctx, nn_dataset *d, const int dims[2], points *p, char **err)
{
    int64_t n = nn_dataset_len(d);
    int64_t nin = nn_shape_numel(nn_dataset_input_shape(d));
    int64_t nt = nn_shape_numel(nn_dataset_target_shape(d));
    *p = (points){0};
    if (n < 1) return nn_fail(err, NN_INVALID, "the data has no samples to draw");
    if (nin < 2)
        return nn_fail(err, NN_INVALID, "the data has 1 feature per sample; a scatter plot "
                       "needs two");
    if (dims[0] >= nin || dims[1] >= nin)
        return nn_fail(err, NN_INVALID, "--dims %d,%d: the data has %lld features per sample "
                       "(0 to %lld)", dims[0], dims[1], (long long)nin, (long long)nin - 1);
    if (nt != 1)
        return nn_fail(err, NN_INVALID, "the data has %lld target values per sample; the points "
                       "are coloured by a class, one per sample", (long long)nt);
    float *x = malloc((size_t)nin * sizeof *x), t;
    p->x = malloc((size_t)n * sizeof *p->x);
    p->y = malloc((size_t)n * sizeof *p->y);
    p->cls = malloc((size_t)n * sizeof *p->cls);
    nn_status st = NN_OK;
    if (!x || !p->x || !p->y || !p->cls) st = nn_fail(err, NN_NO_MEMORY, "out of memory");
    for (int64_t i = 0; !st && i < n; i++) {
        if ((st = nn_dataset_get(d, i, x, &t))) {
            st = sample_failed(ctx, i, st, err);
            break;
        }
        p->x[i] = x[dims[0]], p->y[i] = x[dims[1]];
        if (!isfinite(p->x[i]) || !isfinite(p->y[i]))
            st = nn_fail(err, NN_INVALID, "sample %lld: feature %d is %g; only finite values can "
                         "be drawn", (long long)i, isfinite(p->x[i]) ? dims[1] : dims[0],
                         isfinite(p->x[i]) ? p->y[i] : p->x[i]);
        else if (!(t >= 0 && t == floorf(t)))
            st = nn_fail(err, NN_INVALID, "sample %lld: target %g is no class index (a whole "
                         "number from 0); the points are coloured by class", (long long)i,
                         (double)t);
        else if (t >= DRAW_MAX_CLASSES)
            st = nn_fail(err, NN_INVALID, "sample %lld: class %g; a picture shows at most %d "
                         "classes", (long long)i, (double)t, DRAW_MAX_CLASSES);
        else if ((p->cls[i] = (int)t) >= p->nclasses)
            p->nclasses = p->cls[i] + 1;
    }
    free(x);
    p->n = n;
    if (st) points_free(p);
    return st;
}

/* Half of an axis's span for data spanning span, with a margin. */
static double half_span(double span, double at)
{
    return span > 0 ? 0.54 * span : fmax(0.5, 0.1 * fabs(at));
}

/* The axes around the points, drawn in a square: with the same span on
 * both (the data's proportions kept, the circle round) unless one feature
 * spans over 3 times the other's range, when each axis fits its own. */
static void square_box(const points *p, draw_axes *ax)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int64_t i = 0; i < p->n; i++) {
        x0 = fmin(x0, p->x[i]), x1 = fmax(x1, p->x[i]);
        y0 = fmin(y0, p->y[i]), y1 = fmax(y1, p->y[i]);
    }
    double sx = x1 - x0, sy = y1 - y0, big = fmax(sx, sy);
    bool alike = sx * 3 >= big && sy * 3 >= big;
    double hx = half_span(alike ? big : sx, x0), hy = half_span(alike ? big : sy, y0);
    double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    ax->xmin = cx - hx, ax->xmax = cx + hx;
    ax->ymin = cy - hy, ax->ymax = cy + hy;
}

static nn_status picture(const char *path, const plot_opts *po, const draw_axes *ax,
                         const draw_points *pts, const draw_field *field, const draw_series *s,
                         char **err);

/* ---- nnrun plot --data ------------------------------------------------------ */

static nn_status points_csv(const points *p, const char *path, target *t, char **err)
{
    FILE *f;
    nn_status st = target_open(t, path, &f, err);
    if (st) return st;
    fputs("x,y,class\n", f);
    for (int64_t i = 0; i < p->n; i++) /* the floats of the data, exactly */
        fprintf(f, "%.9g,%.9g,%d\n", p->x[i], p->y[i], p->cls[i]);
    if ((st = csv_close(f, t, err))) target_drop(t);
    return st;
}

nn_status plot_data(nn_ctx *ctx, nn_dataset *d, const char *title, const plot_opts *po,
                    const char *path, char **err)
{
    points p;
    nn_status st = read_points(ctx, d, po->dims, &p, err);
    if (st) return st;
    char xl[32], yl[32];
    snprintf(xl, sizeof xl, "feature %d", po->dims[0]);
    snprintf(yl, sizeof yl, "feature %d", po->dims[1]);
    char *t = clean_text(title);
    draw_axes ax = {0, 0, 0, 0, t ? t : "", xl, yl};
    square_box(&p, &ax);
    draw_points dp = {p.x, p.y, p.cls, p.n, p.nclasses};
    target values = {0};
    if (po->values) st = points_csv(&p, po->values, &values, err);
    if (!st) st = picture(path, po, &ax, &dp, NULL, NULL, err);
    if (!st && po->values) st = target_commit(&values, err);
    target_drop(&values);
    free(t);
    points_free(&p);
    return st;
}

/* ---- nnrun plot FILE: the decision boundary ---------------------------------- */

/* What the network's output means, from its loss's class rule. */
typedef enum { OUT_PROBABILITY, OUT_LOGIT, OUT_SCORES } out_kind;

/* One output: the rule's class of -0.25, 0.25 and 0.75 tells p > 0.5
 * (bce: 0 0 1) from logit > 0 (bce_with_logits: 0 1 1). Several: scores,
 * when the rule gives classes of them (cross_entropy, nll: the highest). */
static nn_status output_kind(nn_module *m, nn_loss *l, out_kind *kind, char **err)
{
    nn_ctx *ctx = nn_module_ctx(m);
    const nn_shape *os = nn_module_out_shape(m);
    int64_t per = nn_shape_numel(os);
    nn_shape s = {os->ndim + 1, {3}};
    memcpy(s.dim + 1, os->dim, (size_t)os->ndim * sizeof os->dim[0]);
    float probe[3] = {-0.25f, 0.25f, 0.75f};
    int64_t cls[3] = {0};
    nn_tensor *t = nn_tensor_scratch(ctx, &s);
    char *why = NULL;
    nn_status st = t ? NN_OK : nn_fail(err, NN_NO_MEMORY, "out of memory");
    if (!st && per == 1) st = nn_tensor_from_host(t, probe, 3);
    else if (!st) nn_tensor_zero_(t);
    if (!st) st = nn_loss_predict_class(l, t, cls, &why);
    nn_ctx_scratch_reset(ctx);
    if (st && why) {
        st = nn_fail(err, st, "cannot draw what the network predicts: %s", why);
        nn_free(why);
        return st;
    }
    if (st) return st;
    if (per > DRAW_MAX_CLASSES)
        return nn_fail(err, NN_INVALID, "the network scores %lld classes; a picture shows at most "
                       "%d", (long long)per, DRAW_MAX_CLASSES);
    if (per > 1) *kind = OUT_SCORES;
    else if (!cls[0] && !cls[1] && cls[2]) *kind = OUT_PROBABILITY;
    else if (!cls[0] && cls[1] && cls[2]) *kind = OUT_LOGIT;
    else
        return nn_fail(err, NN_UNSUPPORTED, "the loss's class rule is neither p > 0.5 nor "
                       "logit > 0: cannot tell what the network's output means");
    return NN_OK;
}

typedef struct {
    float gx[GRID], gy[GRID]; /* the inputs along x and y, as the network takes them */
    double *prob;             /* GRID*GRID*nprob: P(class 1), or P(class k) */
    int64_t *cls;             /* GRID*GRID classes (OUT_SCORES) */
    double *z;                /* GRID*GRID: what is drawn */
    int nprob;
} grid;

/* One column of the grid (x = gx[i], every gy) through the network. */
static nn_status grid_column(nn_module *m, nn_loss *l, out_kind kind, grid *g, int i, char **err)
{
    nn_ctx *ctx = nn_module_ctx(m);
    float in[2 * GRID], out[GRID * DRAW_MAX_CLASSES];
    for (int j = 0; j < GRID; j++) in[2 * j] = g->gx[i], in[2 * j + 1] = g->gy[j];
    nn_shape s = {2, {GRID, 2}};
    nn_tensor *x = nn_tensor_scratch(ctx, &s), *y = NULL;
    if (!x) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_status st = nn_tensor_from_host(x, in, 2 * GRID);
    if (!st && !(y = nn_module_forward(m, x))) {
        const char *msg;
        st = nn_ctx_error(ctx, &msg);
        st = nn_fail(err, st ? st : NN_INTERNAL, "forward pass: %s", st ? msg : "no output");
        nn_ctx_clear_error(ctx);
    } else if (!st && nn_tensor_numel(y) != (int64_t)GRID * g->nprob) {
        st = nn_fail(err, NN_SHAPE, "the model's output does not match its output shape");
    }
    if (!st) st = nn_tensor_to_host(y, out, (int64_t)GRID * g->nprob);
    if (!st && kind == OUT_SCORES) st = nn_loss_predict_class(l, y, g->cls + (size_t)i * GRID, err);
    nn_ctx_scratch_reset(ctx);
    for (int j = 0; !st && j < GRID; j++) {
        size_t at = (size_t)i * GRID + (size_t)j;
        const float *o = out + (size_t)j * g->nprob;
        if (kind != OUT_SCORES) {
            double p = kind == OUT_LOGIT ? 1 / (1 + exp(-(double)o[0])) : o[0];
            g->prob[at] = p;
            g->z[at] = isnan(p) ? 0.5 : fmin(fmax(p, 0), 1); /* the colour map's range */
            continue;
        }
        double mx = o[0], sum = 0; /* softmax: P(class k) for logits and log-probabilities */
        for (int k = 1; k < g->nprob; k++) mx = fmax(mx, o[k]);
        for (int k = 0; k < g->nprob; k++) sum += exp(o[k] - mx);
        for (int k = 0; k < g->nprob; k++) g->prob[at * g->nprob + k] = exp(o[k] - mx) / sum;
        g->z[at] = (double)g->cls[at];
    }
    return st;
}

static nn_status grid_csv(const grid *g, out_kind kind, const char *path, target *t, char **err)
{
    FILE *f;
    nn_status st = target_open(t, path, &f, err);
    if (st) return st;
    if (kind != OUT_SCORES) {
        fputs("x,y,probability\n", f);
    } else {
        fputs("x,y,class", f);
        for (int k = 0; k < g->nprob; k++) fprintf(f, ",p%d", k);
        fputc('\n', f);
    }
    for (int i = 0; i < GRID; i++)
        for (int j = 0; j < GRID; j++) {
            size_t at = (size_t)i * GRID + (size_t)j;
            fprintf(f, "%.9g,%.9g", (double)g->gx[i], (double)g->gy[j]);
            if (kind != OUT_SCORES) {
                fprintf(f, ",%.9g\n", g->prob[at]);
                continue;
            }
            fprintf(f, ",%lld", (long long)g->cls[at]);
            for (int k = 0; k < g->nprob; k++) fprintf(f, ",%.9g", g->prob[at * g->nprob + k]);
            fputc('\n', f);
        }
    if ((st = csv_close(f, t, err))) target_drop(t);
    return st;
}

static nn_status boundary_checks(nn_module *m, nn_dataset *d, const plot_opts *po, char **err)
{
    const nn_shape *in = nn_module_in_shape(m), *din = nn_dataset_input_shape(d);
    char a[64], b[64];
    nn_shape_format(in, 0, a, sizeof a);
    if (in->ndim != 1 || in->dim[0] != 2)
        return nn_fail(err, NN_SHAPE, "the network takes input of shape %s; a decision-boundary "
                       "picture needs a network of 2 inputs", a);
    if (po->dims_given)
        return nn_fail(err, NN_INVALID, "--dims is for --data pictures: the network takes its 2 "
                       "inputs as they are");
    nn_shape_format(din, 0, b, sizeof b);
    if (din->ndim != 1 || din->dim[0] != 2)
        return nn_fail(err, NN_SHAPE, "the data's samples have shape %s; the network takes %s",
                       b, a);
    return NN_OK;
}

/* A grid of GRID x GRID points over ax, for nprob probabilities each. */
static grid *grid_new(const draw_axes *ax, int nprob)
{
    grid *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->nprob = nprob;
    g->prob = malloc((size_t)GRID * GRID * (size_t)nprob * sizeof *g->prob);
    g->cls = malloc((size_t)GRID * GRID * sizeof *g->cls);
    g->z = malloc((size_t)GRID * GRID * sizeof *g->z);
    for (int i = 0; i < GRID; i++) { /* the float inputs, so --values gives them exactly */
        g->gx[i] = (float)(ax->xmin + (ax->xmax - ax->xmin) * i / (GRID - 1));
        g->gy[i] = (float)(ax->ymin + (ax->ymax - ax->ymin) * i / (GRID - 1));
    }
    return g;
}

static void grid_free(grid *g)
{
    if (!g) return;
    free(g->prob);
    free(g->cls);
    free(g->z);
    free(g);
}

/* Every column through the network, in eval mode without grad. */
static nn_status grid_eval(nn_module *m, nn_loss *l, out_kind kind, grid *g, char **err)
{
    if (!g || !g->prob || !g->cls || !g->z) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_ctx *ctx = nn_module_ctx(m);
    int prev_grad = nn_grad_set_enabled(ctx, 0);
    nn_module_train(m, 0); /* model.eval(), torch.no_grad() */
    nn_status st = NN_OK;
    for (int i = 0; !st && i < GRID; i++) st = grid_column(m, l, kind, g, i, err);
    nn_grad_set_enabled(ctx, prev_grad);
    return st;
}

nn_status plot_boundary(nn_module *m, nn_loss *l, nn_dataset *d, const char *title,
                        const plot_opts *po, const char *path, char **err)
{
    out_kind kind = OUT_PROBABILITY;
    nn_status st = boundary_checks(m, d, po, err);
    if (!st) st = output_kind(m, l, &kind, err);
    if (st) return st;
    points p;
    const int dims[2] = {0, 1};
    if ((st = read_points(nn_module_ctx(m), d, dims, &p, err))) return st;
    draw_axes ax = {0, 0, 0, 0, NULL, "feature 0", "feature 1"};
    square_box(&p, &ax);
    int nout = (int)nn_shape_numel(nn_module_out_shape(m));
    grid *g = grid_new(&ax, kind == OUT_SCORES ? nout : 1);
    st = grid_eval(m, l, kind, g, err);
    char *t = clean_text(title);
    char *full = t ? strfmt("%s: %s", t, kind == OUT_SCORES ? "predicted class" : "P(class 1)") : NULL;
    ax.title = full ? full : "";
    /* the legend: every class the network scores or the data holds, both for one output */
    int nclasses = kind == OUT_SCORES && nout > p.nclasses ? nout : p.nclasses;
    if (kind != OUT_SCORES && nclasses < 2) nclasses = 2;
    draw_points dp = {p.x, p.y, p.cls, p.n, nclasses};
    draw_field field = {GRID, GRID, g ? g->z : NULL, kind == OUT_SCORES ? nclasses : 0};
    target values = {0};
    if (!st && po->values) st = grid_csv(g, kind, po->values, &values, err);
    if (!st) st = picture(path, po, &ax, &dp, &field, NULL, err);
    if (!st && po->values) st = target_commit(&values, err);
    target_drop(&values);
    free(t);
    free(full);
    grid_free(g);
    points_free(&p);
    return st;
}

/* ---- nnrun train --plot-history ------------------------------------------------ */

static void cell(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, ",%.9g", v);
    else fputc(',', f);
}

static nn_status series_csv(const draw_series *s, const char *path, target *t, char **err)
{
    FILE *f;
    nn_status st = target_open(t, path, &f, err);
    if (st) return st;
    fputs(s->acc ? "epoch,loss,accuracy,val_loss,val_accuracy\n" : "epoch,loss,val_loss\n", f);
    for (int64_t i = 0; i < s->n; i++) {
        fprintf(f, "%.0f", s->epoch[i]);
        cell(f, s->loss[i]);
        if (s->acc) cell(f, s->acc[i]);
        cell(f, s->val_loss[i]);
        if (s->acc) cell(f, s->val_acc[i]);
        fputc('\n', f);
    }
    if ((st = csv_close(f, t, err))) target_drop(t);
    return st;
}

nn_status plot_history(const history *h, const char *path, const plot_opts *po, char **err)
{
    if (h->n == 0)
        return nn_fail(err, NN_INVALID, "no epoch was trained: nothing to draw in '%s'", path);
    size_t n = h->n;
    double *a = malloc(5 * n * sizeof *a);
    if (!a) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    bool has_acc = false;
    for (size_t i = 0; i < n; i++) {
        const history_row *r = &h->rows[i];
        a[i] = (double)r->epoch;
        a[n + i] = r->loss, a[2 * n + i] = r->val_loss;
        a[3 * n + i] = r->accuracy, a[4 * n + i] = r->val_accuracy;
        if (!isnan(r->accuracy)) has_acc = true;
    }
    draw_series s = {(int64_t)n, a, a + n, a + 2 * n, has_acc ? a + 3 * n : NULL,
                     has_acc ? a + 4 * n : NULL};
    target values = {0};
    nn_status st = po->values ? series_csv(&s, po->values, &values, err) : NN_OK;
    if (!st) st = picture(path, po, NULL, NULL, NULL, &s, err);
    if (!st && po->values) st = target_commit(&values, err);
    target_drop(&values);
    free(a);
    return st;
}

/* ---- the picture's file ------------------------------------------------------ */

/* Draws the points picture (s NULL) or the history (s) into a temporary
 * file beside path, checks it is whole and renames it over path. */
static nn_status picture(const char *path, const plot_opts *po, const draw_axes *ax,
                         const draw_points *pts, const draw_field *field, const draw_series *s,
                         char **err)
{
#ifdef HAVE_PLPLOT
    const char *device = device_for(path);
    if (!device) return nn_fail(err, NN_INVALID, "cannot draw '%s': not .png or .svg", path);
    char *why = NULL;
    const draw_vt *d = drawer(&why);
    if (!d) {
        nn_status st = nn_fail(err, NN_LOAD, "%s", why ? why : "out of memory");
        free(why);
        return st;
    }
    target t = {0};
    FILE *f;
    nn_status st = target_open(&t, path, &f, err);
    if (st) return st;
    draw_page pg = {device, f, po->width, po->height};
    st = s ? d->history_picture(&pg, s, err) : d->points_picture(&pg, ax, pts, field, err);
    if (!st) st = picture_complete(&t, !strcmp(device, "pngcairo"), err);
    if (!st) st = target_commit(&t, err);
    target_drop(&t);
    return st;
#else
    (void)po, (void)ax, (void)pts, (void)field, (void)s;
    return nn_fail(err, NN_UNSUPPORTED, "cannot draw '%s': %s", path, NO_PLPLOT);
#endif
}
