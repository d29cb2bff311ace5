/* check.h - conformance checks behind `nnrun check NAME`. */
#ifndef NN_TOOLS_CHECK_H
#define NN_TOOLS_CHECK_H

#include <nn/plugin.h>

/* Checks every component called name (a module or loss with input width
 * `width`), printing one line per check. Returns 0 when all pass, else 1 with
 * the worst failure (or the error that stopped the checks) in *err. */
int nn_check_run(nn_registry *reg, const char *device, const char *name, const char *words,
                 int64_t width, char **err);

#endif
