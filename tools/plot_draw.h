/* plot_draw.h - the PLplot side of nnrun's pictures (tools/plot_draw.c):
 * tools/plot.c computes every number, these functions only draw them. Built
 * only with PLplot (HAVE_PLPLOT). */
#ifndef NNRUN_PLOT_DRAW_H
#define NNRUN_PLOT_DRAW_H

#include <nn/nn.h>

#include <stdbool.h>
#include <stdio.h>

#define DRAW_MAX_CLASSES 10 /* one colour each */

typedef struct {
    const char *device; /* PLplot's driver: "pngcairo" or "svgcairo" */
    FILE *file;         /* drawn into; PLplot closes it, also on failure */
    int width, height;  /* pixels (points for SVG) */
} draw_page;

typedef struct {
    double xmin, xmax, ymin, ymax;
    const char *title, *xlabel, *ylabel; /* plain text (no PLplot escapes) */
} draw_axes;

typedef struct {
    const double *x, *y;
    const int *cls; /* 0 .. nclasses-1 */
    int64_t n;
    int nclasses;
} draw_points;

typedef struct {
    int nx, ny;      /* grid points from xmin to xmax, ymin to ymax */
    const double *z; /* z[i * ny + j] at (x_i, y_j) */
    int nclasses;    /* 0: z is P(class 1) in [0, 1]; else z is a class 0..nclasses-1 */
} draw_field;

typedef struct {
    int64_t n;
    const double *epoch, *loss, *val_loss; /* NaN: no point there */
    const double *acc, *val_acc;           /* NULL: a loss without accuracy, no panel */
} draw_series;

/* The functions below, as nnrun_plot.so hands them to nnrun: nnrun links
 * no PLplot (its libraries cost every run of nnrun about 0.6 ms to load),
 * and loads this module the first time it draws. */
typedef struct {
    bool (*has_device)(const char *device);
    nn_status (*points_picture)(const draw_page *pg, const draw_axes *ax,
                                const draw_points *pts, const draw_field *field, char **err);
    nn_status (*history_picture)(const draw_page *pg, const draw_series *s, char **err);
} draw_vt;

/* In nnrun_plot.so: the table of the functions below. */
const draw_vt *nnrun_plot_draw(void);

/* Whether PLplot can load the named driver (plplot-driver-cairo brings
 * pngcairo and svgcairo). */
bool draw_has_device(const char *device);

/* Points coloured by class, with a legend, on square axes; over field's
 * colour map (with a colour bar and the 0.5 contour for a probability)
 * when field is not NULL. */
nn_status draw_points_picture(const draw_page *pg, const draw_axes *ax, const draw_points *pts,
                              const draw_field *field, char **err);

/* Loss per epoch over accuracy per epoch (training and validation), each
 * panel with its legend; the loss alone when s->acc is NULL. */
nn_status draw_history_picture(const draw_page *pg, const draw_series *s, char **err);

#endif
