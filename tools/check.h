/* check.h - conformance checks behind `nnrun check NAME`. */
#ifndef NN_TOOLS_CHECK_H
#define NN_TOOLS_CHECK_H

#include <nn/plugin.h>

/* The state of one `nnrun check`: every check reports into it. */
typedef struct checker {
    nn_ctx *ctx;
    int run, failed;
    double worst; /* the worst error relative to its tolerance */
    char worst_what[512];
    nn_rng rng;
} checker;

/* One line "ok|FAIL  what  error E (tolerance T)"; NaN fails. */
void report(checker *c, const char *what, double err, double tol);

/* Checks every component called name (a module or loss fed samples of
 * shape *sample; NULL: 4 features), printing one line per check. Returns 0
 * when all pass, else 1 with the worst failure (or the error that stopped
 * the checks) in *err. */
int nn_check_run(nn_registry *reg, const char *device, const char *name, const char *words,
                 const nn_shape *sample, char **err);

/* check_op.c: an op (a kernel: its op) on every usable device that has a
 * kernel for it; the gradient against central differences on cpu, every
 * other device against cpu. */
nn_status check_op(checker *c, nn_registry *reg, const nn_component *comp, char **err);
/* The ops of the plugins of found[] (for a device: the ops with a kernel for
 * it) that found[] does not hold itself. */
nn_status check_plugin_ops(checker *c, nn_registry *reg, const nn_component *const *found,
                           int nfound, char **err);

/* check_comm.c: a communicator's collectives (alone, or on every rank of a
 * job under mpirun). */
nn_status check_comm(checker *c, nn_registry *reg, const char *name, const char *words,
                     char **err);
#endif
