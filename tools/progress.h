/* progress.h - nnrun train: a progress bar during each epoch, as Keras and
 * tqdm draw it, redrawn in place on one line of the terminal:
 *
 *   epoch 12/1000 [=========>          ] 45/120  37% 51234 samples/s ETA 0:03 loss: 0.1234
 *
 * It is fed by nn_fit's on_batch callback. The clock is read every k batches,
 * k adapted so that reads come a few hundred times a second at most, and the
 * line is redrawn at most ten times a second, so that the bar costs nothing
 * measurable even on a step of a few microseconds. Each drawing is "\r" TEXT
 * "\033[K" and progress_clear writes "\r\033[K": removing every match of
 * "\r[^\r\n\033]*\033[K" from the output gives the output without a bar. */
#ifndef NNRUN_PROGRESS_H
#define NNRUN_PROGRESS_H

#include <nn/nn.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { PROGRESS_AUTO, PROGRESS_NEVER, PROGRESS_ALWAYS } progress_mode; /* auto is 0 */

/* "auto", "never" or "always"; -1 for anything else. */
int progress_mode_parse(const char *s, progress_mode *out);

/* Whether a bar is drawn on f in mode: auto when f is a terminal. */
bool progress_wanted(progress_mode mode, FILE *f);

typedef struct {
    FILE *f;
    int64_t epochs;       /* the run's last epoch + 1, for "epoch E/N" */
    bool shown;           /* a bar is on the line now */
    uint64_t seen;        /* batches so far, every epoch */
    uint64_t next_read;   /* read the clock when seen reaches it */
    uint64_t every;       /* batches between clock reads */
    uint64_t seen_read, seen_draw;
    double t_read, t_draw;
    int64_t samples;      /* samples so far, every epoch */
    int64_t samples_draw;
    int64_t epoch_samples; /* of the current epoch, for its running loss */
    double loss_sum;      /* of the current epoch: batch loss * batch size */
    double rate;          /* samples/s, smoothed; 0: not known yet */
    double batch_s;       /* seconds a batch, smoothed */
    bool drawn;           /* drawn at least once */
} progress;

/* Starts the clock of a bar on f for epochs up to (not including) epochs. */
void progress_start(progress *p, FILE *f, int64_t epochs);

/* nn_fit's on_batch: counts the batch and now and then redraws the line.
 * Returns 0 (never stops training). */
int progress_batch(progress *p, const nn_batch_stats *s);

/* Erases the bar, if one is shown, so that a line can be printed in its place. */
void progress_clear(progress *p);

#endif
