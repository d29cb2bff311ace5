/* metrics.h - nnrun train --metrics FILE.csv: the figures of every epoch,
 * one CSV row each, for anyone who plots elsewhere:
 *
 *   epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds
 *   0,0.6366607497135798,0.6725,,,0.5,4.1111001e-05
 *
 * The figures are written with as few digits as read back as the same
 * double (at most 17, as Python's repr), the seconds to 9 digits; a figure
 * that does not exist (no accuracy for mse, no validation, an optimizer
 * without lr) is an empty field. */
#ifndef NNRUN_METRICS_H
#define NNRUN_METRICS_H

#include "history.h"

#include <nn/nn.h>

/* NULL when the metrics can be written to path, else a one-line message to
 * free: what save_target_problem finds, or the same file as the checkpoint
 * save (may be NULL). */
char *metrics_target_problem(const char *path, const char *save);

/* Writes the header and a row per entry of h through a temporary file
 * beside path, renamed over it at the end: a failure leaves path as it was. */
nn_status metrics_write(const char *path, const history *h, char **err);

#endif
