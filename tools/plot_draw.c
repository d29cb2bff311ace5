/* plot_draw.c - nnrun's pictures drawn with PLplot: axes, labels, legends,
 * colour maps and colour bars are PLplot's own. PLplot reports errors by
 * printing them (plabort) or by calling exit() (plexit): the first goes to
 * a buffer, the second jumps back here, so that nnrun reports the error
 * and removes its temporary file instead of stopping half-way. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifdef HAVE_PLPLOT /* the fuzz build compiles every .c of tools/, without PLplot */
#include "plot_draw.h"

#include <plplot.h>

#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* cmap0: background, text and axes, grid lines, then one colour per class
 * (matplotlib's tab10, which the tutorial's pictures use). */
enum { C_BG, C_FG, C_GRID, C_CLASS0 };
static const int class_rgb[DRAW_MAX_CLASSES][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};
#define DOT "●" /* a filled circle, drawn by the cairo driver's fonts */

static jmp_buf bail;
static char why[512];    /* the first error PLplot reported */
static PLINT pl_code;    /* set by plabort */
static char pl_msg[1024]; /* where plabort writes instead of stderr */

static int on_plexit(const char *msg)
{
    if (!why[0]) snprintf(why, sizeof why, "%s", msg);
    longjmp(bail, 1); /* PLplot would exit() on return */
}

static void on_plabort(const char *msg)
{
    if (!why[0]) snprintf(why, sizeof why, "%s", msg);
}

bool draw_has_device(const char *device)
{
    const char *menu[128], *names[128];
    const char **m = menu, **n = names;
    int count = 128;
    why[0] = 0;
    plsexit(on_plexit); /* with no driver at all, PLplot would exit() */
    if (setjmp(bail)) {
        plsexit(NULL);
        return false;
    }
    plgDevs(&m, &n, &count);
    plsexit(NULL);
    for (int i = 0; i < count; i++)
        if (!strcmp(n[i], device)) return true;
    return false;
}

static void palette(void)
{
    plscmap0n(C_CLASS0 + DRAW_MAX_CLASSES);
    plscol0(C_BG, 255, 255, 255);
    plscol0(C_FG, 0, 0, 0);
    plscol0(C_GRID, 215, 215, 215);
    for (int k = 0; k < DRAW_MAX_CLASSES; k++)
        plscol0(C_CLASS0 + k, class_rgb[k][0], class_rgb[k][1], class_rgb[k][2]);
}

typedef void (*draw_fn)(const void *arg);

static double text_px, page_w, page_h; /* the picture's text height and size, in pixels */

/* PLplot sizes text by the page's area, so a wide and short page would
 * crowd its labels: text 12 pixels high per 600 of the shorter side (and
 * at least 8), and margins counted in lines of text (lines_x, lines_y). */
static void text_size(const draw_page *pg)
{
    PLFLT x0, x1, y0, y1;
    plgspa(&x0, &x1, &y0, &y1); /* the page in mm */
    double side = pg->width < pg->height ? pg->width : pg->height;
    text_px = fmax(8.0, 12.0 * side / 600);
    page_w = pg->width, page_h = pg->height;
    plschr((x1 - x0) / pg->width * text_px, 1.0);
}

/* n lines of text as a fraction of the page's width, or of its height. */
static double lines_x(double n) { return n * text_px / page_w; }
static double lines_y(double n) { return n * text_px / page_h; }

/* One picture: PLplot set up for pg, fn draws, plend writes the file. */
static nn_status draw(const draw_page *pg, draw_fn fn, const void *arg, char **err)
{
    why[0] = 0;
    pl_code = 0;
    plsexit(on_plexit);
    plsabort(on_plabort);
    if (setjmp(bail)) {
        plsexit(NULL);
        plsabort(NULL);
        return nn_fail(err, NN_IO, "PLplot: %s", why);
    }
    plsdev(pg->device);
    plsfile(pg->file);
    plspage(0, 0, pg->width, pg->height, 0, 0);
    plsError(&pl_code, pl_msg);
    palette();
    plinit();
    pladv(0);
    text_size(pg);
    /* labels as numbers up to 7 digits: PLplot's "x10^n" beside an axis
     * of scaled labels is easy to miss */
    plsxax(7, 0);
    plsyax(7, 0);
    fn(arg);
    plend();
    plsexit(NULL);
    plsabort(NULL);
    if (why[0] || pl_code) return nn_fail(err, NN_IO, "PLplot: %s", why[0] ? why : pl_msg);
    return NN_OK;
}

/* PLplot reads '#' as the start of an escape sequence: "##" is a '#'. */
static char *escaped(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++) n += *p == '#' ? 2 : 1;
    char *t = malloc(n + 1), *q = t;
    if (!t) return NULL;
    for (const char *p = s; *p; p++) {
        if (*p == '#') *q++ = '#';
        *q++ = *p;
    }
    *q = 0;
    return t;
}

/* Characters of the longest label PLplot writes on an axis from lo to hi
 * (an estimate: its ticks are about a fifth of the range apart). */
static int label_chars(double lo, double hi)
{
    double step = (hi - lo) / 5, big = fmax(fabs(lo), fabs(hi));
    int decimals = step > 0 && step < 1 ? (int)ceil(-log10(step)) : 0;
    int whole = big >= 1 ? (int)floor(log10(big)) + 1 : 1;
    return whole + (decimals ? decimals + 1 : 0) + (lo < 0);
}

/* How far left of the axis its name goes, in lines of text (PLplot's 5)
 * so as to clear tick labels of chars characters. */
static double ylabel_disp(int chars)
{
    return 5.0 + 0.55 * fmax(0, chars - 4);
}

/* The axes' names (the y one at ydisp) and the title. */
static void labels(const char *x, const char *y, double ydisp, const char *title)
{
    char *ex = escaped(x), *ey = escaped(y), *et = escaped(title);
    pllab(ex ? ex : "", "", et ? et : "");
    plmtex("l", ydisp, 0.5, 0.5, ey ? ey : "");
    free(ex);
    free(ey);
    free(et);
}

/* A legend at position (PL_POSITION_*, relative to the viewport) in ncol
 * columns: a dot per entry, a line too for lines (dots: only for the
 * entries from dots on). */
static void legend(int n, const char *const *text, const int *colors, bool lines, int dots,
                   int position, int ncol)
{
    PLINT opt[DRAW_MAX_CLASSES], col[DRAW_MAX_CLASSES], sty[DRAW_MAX_CLASSES],
        num[DRAW_MAX_CLASSES], tcol[DRAW_MAX_CLASSES];
    PLFLT scale[DRAW_MAX_CLASSES], width[DRAW_MAX_CLASSES];
    const char *sym[DRAW_MAX_CLASSES];
    for (int k = 0; k < n; k++) {
        opt[k] = (lines ? PL_LEGEND_LINE : 0) | (k >= dots ? PL_LEGEND_SYMBOL : 0);
        col[k] = colors[k];
        tcol[k] = C_FG;
        sty[k] = 1;
        num[k] = 1;
        scale[k] = lines ? 0.6 : 1.0;
        width[k] = 2.0;
        sym[k] = DOT;
    }
    PLFLT w, h;
    plscol0a(C_BG, 255, 255, 255, 0.85); /* its background lets the picture show a little */
    int nrow = (n + ncol - 1) / ncol;
    pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX | PL_LEGEND_ROW_MAJOR,
             position | PL_POSITION_VIEWPORT, 0.02, 0.02, 0.06, C_BG, C_FG, 1, nrow, ncol, n,
             opt, 0.8, 0.8, 2.0, 0.0, tcol, text, NULL, NULL, NULL, NULL, col, sty, width, col,
             scale, num, sym);
    plscol0a(C_BG, 255, 255, 255, 1.0);
}

/* ---- points over a field ------------------------------------------------ */

typedef struct {
    const draw_axes *ax;
    const draw_points *pts;
    const draw_field *field;
} points_args;

/* P(class 1): class 0's colour, lightened, through white to class 1's. */
static void probability_map(void)
{
    PLFLT pos[3] = {0.0, 0.5, 1.0}, r[3], g[3], b[3];
    for (int i = 0; i < 3; i += 2) {
        const int *c = class_rgb[i / 2];
        r[i] = (0.4 * c[0] + 0.6 * 255) / 255;
        g[i] = (0.4 * c[1] + 0.6 * 255) / 255;
        b[i] = (0.4 * c[2] + 0.6 * 255) / 255;
    }
    r[1] = g[1] = b[1] = 1.0;
    plscmap1l(1, 3, pos, r, g, b, NULL);
}

/* One pale colour per class, for the class regions. */
static void class_map(int n)
{
    PLINT r[DRAW_MAX_CLASSES], g[DRAW_MAX_CLASSES], b[DRAW_MAX_CLASSES];
    for (int k = 0; k < n; k++) {
        r[k] = (class_rgb[k][0] + 2 * 255) / 3;
        g[k] = (class_rgb[k][1] + 2 * 255) / 3;
        b[k] = (class_rgb[k][2] + 2 * 255) / 3;
    }
    plscmap1(r, g, b, n);
}

/* The grid's cells as an image (an SVG keeps it as one raster, where shaded
 * polygons would take megabytes), then the 0.5 contour over it. */
static void draw_field_probability(const draw_axes *ax, const draw_field *f, PLFLT **z)
{
    probability_map();
    plimage((PLFLT_MATRIX)z, f->nx, f->ny, ax->xmin, ax->xmax, ax->ymin, ax->ymax, 0, 1,
            ax->xmin, ax->xmax, ax->ymin, ax->ymax);
    PLFLT *xg = malloc((size_t)f->nx * sizeof *xg), *yg = malloc((size_t)f->ny * sizeof *yg);
    if (xg && yg) {
        for (int i = 0; i < f->nx; i++)
            xg[i] = ax->xmin + (ax->xmax - ax->xmin) * i / (f->nx - 1);
        for (int j = 0; j < f->ny; j++)
            yg[j] = ax->ymin + (ax->ymax - ax->ymin) * j / (f->ny - 1);
        PLcGrid grid = {xg, yg, NULL, f->nx, f->ny, 0};
        PLFLT half = 0.5;
        plcol0(C_FG);
        plwidth(2.0);
        plcont((PLFLT_MATRIX)z, f->nx, f->ny, 1, f->nx, 1, f->ny, &half, 1, pltr1, &grid);
        plwidth(1.0);
    } else {
        on_plabort("out of memory");
    }
    free(xg);
    free(yg);
}

static void colour_bar(void)
{
    PLINT label_opts[] = {PL_COLORBAR_LABEL_TOP};
    const char *label[] = {"P(class 1)"};
    const char *axis_opts[] = {"bcvtmi"};
    PLFLT ticks[] = {0.2};
    PLINT sub_ticks[] = {2}, n_values[] = {101};
    PLFLT steps[101]; /* an image, as the map: the cairo driver's gradients leak */
    for (int k = 0; k <= 100; k++) steps[k] = k / 100.0;
    const PLFLT *values[] = {steps};
    PLFLT w, h;
    plcol0(C_FG);
    plcolorbar(&w, &h, PL_COLORBAR_IMAGE | PL_COLORBAR_LABEL_TOP,
               PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 0.03, 0.0, 0.05,
               1.0, C_BG, C_FG, 1, 0, 0, 0, 0, 1, label_opts, label, 1, axis_opts, ticks,
               sub_ticks, n_values, (PLFLT_MATRIX)values);
}

static void draw_field_classes(const draw_axes *ax, const draw_field *f, PLFLT **z)
{
    class_map(f->nclasses);
    plimage((PLFLT_MATRIX)z, f->nx, f->ny, ax->xmin, ax->xmax, ax->ymin, ax->ymax, 0,
            f->nclasses - 1, ax->xmin, ax->xmax, ax->ymin, ax->ymax);
}

static void points_picture(const void *arg)
{
    const points_args *a = arg;
    const draw_axes *ax = a->ax;
    const draw_points *p = a->pts;
    const draw_field *f = a->field;
    plschr(0, 0.9);
    /* square in data units (the axes' spans are equal); room above for the
     * title and the legend, at the right for a colour bar */
    double right = f && !f->nclasses ? 8 : 2.5;
    double yd = ylabel_disp(label_chars(ax->ymin, ax->ymax));
    plvpas(lines_x(fmax(5, 0.9 * yd + 0.5)), 1 - lines_x(right), lines_y(4), 1 - lines_y(8.5),
           1.0);
    plwind(ax->xmin, ax->xmax, ax->ymin, ax->ymax);
    if (f) {
        PLFLT **z = malloc((size_t)f->nx * sizeof *z);
        if (!z) {
            on_plabort("out of memory");
            return;
        }
        for (int i = 0; i < f->nx; i++) z[i] = (PLFLT *)f->z + (size_t)i * f->ny;
        if (f->nclasses) draw_field_classes(ax, f, z);
        else draw_field_probability(ax, f, z);
        free(z);
    }
    plcol0(C_FG);
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
    labels(ax->xlabel, ax->ylabel, yd, "");
    char *title = escaped(ax->title);
    plmtex("t", 4.2, 0.5, 0.5, title ? title : "");
    free(title);
    plschr(0, 0.55);
    PLFLT *x = malloc((size_t)p->n * sizeof *x), *y = malloc((size_t)p->n * sizeof *y);
    for (int k = 0; x && y && k < p->nclasses; k++) { /* class by class, the last on top */
        PLINT m = 0;
        for (int64_t i = 0; i < p->n; i++)
            if (p->cls[i] == k) x[m] = p->x[i], y[m++] = p->y[i];
        plcol0(C_CLASS0 + k);
        if (m) plstring(m, x, y, DOT);
    }
    if (!x || !y) on_plabort("out of memory");
    free(x);
    free(y);
    plschr(0, 0.9);
    char names[DRAW_MAX_CLASSES][32];
    const char *text[DRAW_MAX_CLASSES];
    int colors[DRAW_MAX_CLASSES];
    for (int k = 0; k < p->nclasses; k++) {
        snprintf(names[k], sizeof names[k], "class %d", k);
        text[k] = names[k];
        colors[k] = C_CLASS0 + k;
    }
    legend(p->nclasses, text, colors, false, 0, PL_POSITION_TOP | PL_POSITION_OUTSIDE,
           p->nclasses < 5 ? p->nclasses : 5);
    if (f && !f->nclasses) colour_bar();
}

nn_status draw_points_picture(const draw_page *pg, const draw_axes *ax, const draw_points *pts,
                              const draw_field *field, char **err)
{
    points_args a = {ax, pts, field};
    return draw(pg, points_picture, &a, err);
}

/* ---- training history --------------------------------------------------- */

/* The finite values' range, padded; [0, 1] when there is none. */
static void value_range(int64_t n, const double *a, const double *b, double *lo, double *hi)
{
    double mn = INFINITY, mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(a[i])) mn = fmin(mn, a[i]), mx = fmax(mx, a[i]);
        if (isfinite(b[i])) mn = fmin(mn, b[i]), mx = fmax(mx, b[i]);
    }
    if (mn > mx) mn = 0, mx = 1;
    double pad = mx > mn ? 0.05 * (mx - mn) : fmax(0.05 * fabs(mx), 0.05);
    *lo = mn - pad;
    *hi = mx + pad;
}

/* y over x as a line through its finite points, with a dot at each when
 * dots. A NaN breaks the line (a diverged loss) unless bridge (validation,
 * which only some epochs ran: their points are joined). */
static void series(int64_t n, const double *x, const double *y, int color, bool dots, bool bridge)
{
    plcol0(color);
    plwidth(2.0);
    PLFLT *px = malloc((size_t)n * sizeof *px), *py = malloc((size_t)n * sizeof *py);
    if (!px || !py) {
        free(px);
        free(py);
        on_plabort("out of memory");
        return;
    }
    int64_t m = 0; /* points in the run being collected */
    for (int64_t i = 0; i <= n; i++) {
        if (i < n && isfinite(y[i])) {
            px[m] = x[i];
            py[m++] = y[i];
            continue;
        }
        if (i < n && bridge) continue;
        if (m > 1) plline((PLINT)m, px, py);
        if (dots && m) plstring((PLINT)m, px, py, DOT);
        m = 0;
    }
    plwidth(1.0);
    free(px);
    free(py);
}

static int64_t count_finite(int64_t n, const double *y)
{
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += isfinite(y[i]) != 0;
    return c;
}

typedef struct {
    double top, bottom; /* of the viewport, as fractions of the page */
    double ydisp;       /* the y axis's name, lines left of the axis */
    int legend;         /* PL_POSITION_* of the legend */
} panel_at;

/* One panel: what (loss, accuracy) per epoch, training and validation. */
static void panel(const draw_series *s, const double *train, const double *val,
                  const char *what, const panel_at *at)
{
    double x0 = s->epoch[0], x1 = s->epoch[s->n - 1], lo, hi;
    if (x1 <= x0) x0 -= 0.5, x1 += 0.5;
    value_range(s->n, train, val, &lo, &hi);
    plvpor(lines_x(fmax(6, 0.9 * at->ydisp + 0.5)), 1 - lines_x(2.5), at->bottom, at->top);
    plwind(x0, x1, lo, hi);
    plcol0(C_GRID);
    plbox("g", 0, 0, "g", 0, 0);
    plcol0(C_FG);
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
    char title[64];
    snprintf(title, sizeof title, "%c%s per epoch", what[0] - 'a' + 'A', what + 1);
    labels("epoch", what, at->ydisp, title);
    /* validation where it ran, its points joined; a dot at each while
     * they are few enough to tell apart */
    int64_t nval = count_finite(s->n, val);
    bool dots = nval <= 60;
    series(s->n, s->epoch, train, C_CLASS0, false, false);
    plschr(0, 0.5);
    if (nval) series(s->n, s->epoch, val, C_CLASS0 + 1, dots, true);
    plschr(0, 0.9);
    const char *text[] = {"training", "validation"};
    int colors[] = {C_CLASS0, C_CLASS0 + 1};
    legend(nval ? 2 : 1, text, colors, true, dots ? 1 : 2, at->legend, 1);
}

/* Loss above accuracy, their y axes' names aligned. */
static void history_picture(const void *arg)
{
    const draw_series *s = arg;
    plschr(0, 0.9);
    double lo, hi;
    value_range(s->n, s->loss, s->val_loss, &lo, &hi);
    int chars = label_chars(lo, hi);
    if (s->acc) {
        value_range(s->n, s->acc, s->val_acc, &lo, &hi);
        chars = chars > label_chars(lo, hi) ? chars : label_chars(lo, hi);
    }
    int right = PL_POSITION_RIGHT | PL_POSITION_INSIDE;
    double top = 1 - lines_y(3.5), bottom = lines_y(4.5), gap = lines_y(7);
    double mid = (top + bottom) / 2, yd = ylabel_disp(chars);
    panel_at loss = {top, s->acc ? mid + gap / 2 : bottom, yd, right | PL_POSITION_TOP};
    panel_at acc = {mid - gap / 2, bottom, yd, right | PL_POSITION_BOTTOM};
    panel(s, s->loss, s->val_loss, "loss", &loss);
    if (s->acc) panel(s, s->acc, s->val_acc, "accuracy", &acc);
}

nn_status draw_history_picture(const draw_page *pg, const draw_series *s, char **err)
{
    return draw(pg, history_picture, s, err);
}

static const draw_vt draw_table = {draw_has_device, draw_points_picture, draw_history_picture};

__attribute__((visibility("default"))) const draw_vt *nnrun_plot_draw(void)
{
    return &draw_table;
}

#endif
