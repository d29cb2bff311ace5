/* history.h - nnrun train: the figures of every epoch, kept for --metrics
 * and --plot-history. */
#ifndef NNRUN_HISTORY_H
#define NNRUN_HISTORY_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t epoch;      /* 0-based, as printed */
    double loss;        /* training, per sample, as the epoch line prints it */
    double accuracy;    /* NaN for a loss without one */
    double val_loss;    /* NaN when the epoch was not validated */
    double val_accuracy;
    double lr;          /* the optimizer's lr during the epoch; NaN if it has none */
    double seconds;     /* wall time of the epoch's training pass */
} history_row;

typedef struct {
    history_row *rows;
    size_t n, cap;
} history;

/* Appends a copy of row; -1 without memory (h unchanged). */
int history_push(history *h, const history_row *row);
void history_free(history *h);

#endif
