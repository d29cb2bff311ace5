/* plot.h - nnrun plot and train --plot-history: pictures of the data, of
 * what a checkpoint learned, and of the training history, as PNG or SVG
 * (the format from the file's extension), drawn with PLplot.
 *
 *   nnrun plot --data 'circle n=1200' -o data.png    scatter plot by class
 *   nnrun plot s.pb -o boundary.png                   P(class 1) over the plane
 *   nnrun train --plot-history hist.png               loss and accuracy per epoch
 *
 * Every picture is drawn into a temporary file beside its target and renamed
 * over it at the end, so a failure leaves nothing; so is the --values CSV of
 * the numbers drawn. Built without PLplot, each call says how to get it. */
#ifndef NNRUN_PLOT_H
#define NNRUN_PLOT_H

#include <nn/nn.h>

#include <stdbool.h>

#include "history.h"

typedef struct {
    int width, height;  /* --size WxH in pixels (600x600) */
    int dims[2];        /* --dims i,j: the two features drawn (0,1) */
    bool dims_given, size_given;
    const char *values; /* --values FILE.csv: the numbers drawn, or NULL */
} plot_opts;

/* Takes --size WxH, --dims i,j and --values FILE (also as --name=value) out
 * of argv[0 .. *argc), keeping the other arguments in order; fills po with
 * them and the defaults. NULL, or a one-line message to free. */
char *plot_take_args(int *argc, char **argv, plot_opts *po);

/* NULL when the picture can be made at path (and po->values written):
 * nnrun has PLplot and its cairo driver, path ends in .png or .svg, its
 * folder takes the file (save_target_problem); else a one-line message to
 * free. Call it before the work whose result is drawn. */
char *plot_check(const char *path, const plot_opts *po);

/* train --plot-history FILE (path, or NULL without it): plot_check, and
 * --size and --values only with it, --dims never. */
char *plot_train_check(const char *path, const plot_opts *po);

/* The samples of d, the features po->dims, coloured by class (each target
 * a class index: 0/1 for bce data); title names the data. --values:
 * "x,y,class" per sample. */
nn_status plot_data(nn_ctx *ctx, nn_dataset *d, const char *title, const plot_opts *po,
                    const char *path, char **err);

/* For a network m of 2 inputs: what it predicts over the plane around the
 * samples of d, by the class rule of l (nn_loss_predict_class): one output
 * (bce: a probability, bce_with_logits: a logit) gives P(class 1) as a
 * colour map with the 0.5 contour; several (cross_entropy, nll) the class
 * regions. The samples of d on top. --values: "x,y,probability" (or
 * "x,y,class,p0,p1,...") per grid point. */
nn_status plot_boundary(nn_module *m, nn_loss *l, nn_dataset *d, const char *title,
                        const plot_opts *po, const char *path, char **err);

/* Loss and accuracy per epoch, training and validation (where it ran), in
 * two panels; the loss alone for a loss without accuracy. --values:
 * "epoch,loss,accuracy,val_loss,val_accuracy" with a cell left empty where
 * nothing is drawn. */
nn_status plot_history(const history *h, const char *path, const plot_opts *po, char **err);

#endif
