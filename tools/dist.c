/* dist.c - nnrun train --dist: joining the job, sharing rank 0's model,
 * and stopping every rank when one fails, so that none waits forever in a
 * collective for a rank that is gone. */
#define _POSIX_C_SOURCE 200809L
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dist_check(const char *mode, const char **why)
{
    if (!*mode || strchr(mode, ' ')) {
        *why = "--dist expects none, auto or a communicator's name (mpi)";
        return 1;
    }
    return 0;
}

nn_status dist_open(nn_registry *reg, const char *mode, nn_comm **comm, char **err)
{
    *comm = NULL;
    if (!mode || !strcmp(mode, "none")) return NN_OK;
    if (!strcmp(mode, "auto")) {
        if (!nn_comm_launched(reg, "mpi")) return NN_OK; /* alone */
        mode = "mpi";
    }
    nn_status st = nn_comm_open(reg, mode, "", comm, err);
    if (st) return st;
    /* Only rank 0 prints: the figures are the same on every rank. Errors
     * keep stderr. */
    if (nn_comm_rank(*comm) != 0 && !freopen("/dev/null", "w", stdout))
        return nn_fail(err, NN_IO, "rank %d cannot quiet its output", nn_comm_rank(*comm));
    return NN_OK;
}

nn_status dist_start(nn_comm *comm, nn_module *m, char **err)
{
    return comm ? nn_comm_broadcast_module(comm, m, 0, err) : NN_OK;
}

void dist_end(nn_comm *comm, int failed, const char *msg)
{
    if (!comm || !failed || nn_comm_size(comm) < 2) return;
    fflush(stdout);
    size_t n = strlen(msg) + 8;
    char *line = malloc(n);
    if (line) snprintf(line, n, "nnrun: %s", msg);
    nn_comm_abort(comm, 1, line ? line : msg); /* does not return */
}
