/* check_comm.c - `nnrun check` of a communicator: it joins the job (alone,
 * a job of one; under mpirun, every rank checks) and checks each collective
 * against values every rank can compute: whole numbers, whose float sums
 * are exact in any order. */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The allreduce of rank-dependent whole numbers against their sum. */
static void check_allreduce(checker *c, nn_comm *comm, int64_t n, char **err)
{
    int rank = nn_comm_rank(comm), size = nn_comm_size(comm);
    float *b = malloc((size_t)n * sizeof *b);
    if (!b) return;
    for (int64_t i = 0; i < n; i++) b[i] = (float)((i % 97) * (rank + 1));
    double worst = 0;
    if (nn_comm_allreduce_sum(comm, b, n, err)) {
        worst = INFINITY;
    } else {
        double ranks = (double)size * (size + 1) / 2; /* sum of rank + 1 */
        for (int64_t i = 0; i < n; i++) {
            double d = b[i] - (double)(i % 97) * ranks;
            worst = d < 0 ? (-d > worst ? -d : worst) : (d > worst ? d : worst);
        }
    }
    char what[64];
    snprintf(what, sizeof what, "allreduce_sum of %lld floats", (long long)n);
    report(c, what, worst, 0);
    free(b);
}

nn_status check_comm(checker *c, nn_registry *reg, const char *name, const char *words, char **err)
{
    nn_comm *comm;
    nn_status st = nn_comm_open(reg, name, words, &comm, err);
    if (st) return st;
    int rank = nn_comm_rank(comm), size = nn_comm_size(comm);
    printf("communicator %s: rank %d of %d\n", name, rank, size);
    report(c, "rank inside 0 .. size-1", rank >= 0 && rank < size ? 0 : 1, 0);
    /* Every rank learns rank 0's size and the root's pattern. */
    int64_t v[3] = {size, rank, 12345};
    if (rank != 0) v[0] = v[1] = v[2] = -1;
    if ((st = nn_comm_broadcast(comm, v, sizeof v, 0, err))) goto out;
    report(c, "broadcast from rank 0", (v[0] == size && v[1] == 0 && v[2] == 12345) ? 0 : 1, 0);
    int from = size - 1, got = rank == from ? 777 + from : -1;
    if ((st = nn_comm_broadcast(comm, &got, sizeof got, from, err))) goto out;
    report(c, "broadcast from the last rank", got == 777 + from ? 0 : 1, 0);
    check_allreduce(c, comm, 5, err);
    check_allreduce(c, comm, 100000, err);
    if ((st = nn_comm_barrier(comm, err))) goto out;
    report(c, "barrier", 0, 0);
out:
    if (st && size > 1) nn_comm_abort(comm, 1, *err ? *err : "check failed");
    nn_comm_free(comm);
    return st;
}
