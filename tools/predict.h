/* predict.h - nnrun predict: a network's outputs, one CSV row per sample. */
#ifndef NNRUN_PREDICT_H
#define NNRUN_PREDICT_H

#include <nn/nn.h>

#include <stdbool.h>

/* Runs m in eval mode without grad over every sample of d (the last batch
 * may be smaller) and writes "out0,out1,...[,class]" rows after a header;
 * the class column when l defines classes (nn_loss_predict_class; l may be
 * NULL), with the dataset's targets before the class when targets is set
 * (target0,...). path NULL: stdout; else a temporary file beside path, renamed over
 * it at the end, so a failure leaves nothing half-written. *rows: samples
 * written. */
nn_status predict_write(nn_module *m, nn_loss *l, nn_dataset *d, int64_t batch, bool targets,
                        const char *path, int64_t *rows, char **err);

#endif
