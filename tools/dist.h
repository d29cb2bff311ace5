/* dist.h - nnrun train --dist: data-parallel runs over a communicator. */
#ifndef NN_TOOLS_DIST_H
#define NN_TOOLS_DIST_H

#include <nn/nn.h>

/* Checks a --dist value: none, auto or a communicator's name (mpi). 0 if
 * fine, else 1 with a message in *why (static). */
int dist_check(const char *mode, const char **why);

/* Joins the job --dist names: none gives *comm NULL; auto joins mpi when
 * mpirun started this process, else NULL; a name joins that communicator.
 * On ranks other than 0, stdout goes to /dev/null: only rank 0 prints. */
nn_status dist_open(nn_registry *reg, const char *mode, nn_comm **comm, char **err);

/* After the model exists: rank 0's parameters and buffers on every rank. */
nn_status dist_start(nn_comm *comm, nn_module *m, char **err);

/* A failed run with a communicator of more than one rank stops every rank:
 * the message with this rank's number, then exit status 1, so that no rank
 * waits for this one in a collective. Otherwise nothing: the caller reports
 * the failure and frees the communicator (nn_comm_free) as usual. */
void dist_end(nn_comm *comm, int failed, const char *msg);

#endif
