/* nn_mpi.c - the mpi communicator's calls into MPI (Open MPI), loaded by
 * the mpi plugin (plugins/comm/mpi.c) when a communicator is opened, so
 * that only a process that trains on several ranks loads MPI's libraries.
 *
 * One rank per process, as mpirun starts them. The plugin works on its own
 * duplicate of MPI_COMM_WORLD, whose error handler returns codes instead of
 * stopping the job, so that a failure comes back as a message that names
 * the call and the rank; abort prints its message with the rank, then
 * stops every rank with MPI_Abort. Counts above INT_MAX go in pieces. */
#include <nn/plugin.h>

#include <dlfcn.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct mpi_comm {
    MPI_Comm comm;
    int rank, size;
    int finalize; /* this plugin started MPI, so it ends it */
} mpi_comm;

static nn_status mpi_fail(char **err, int code, const char *call, int rank)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
    text[len] = '\0';
    if (rank >= 0)
        return nn_fail(err, NN_DEVICE, "%s failed on rank %d: %s", call, rank,
                       len ? text : "unknown MPI error");
    return nn_fail(err, NN_DEVICE, "%s failed: %s", call, len ? text : "unknown MPI error");
}

static nn_status mpi_open(const nn_props *p, void **out, char **err)
{
    (void)p;
    /* nn loads plugins with RTLD_LOCAL, but Open MPI loads components of
     * its own that look for its symbols globally: make them visible. */
    void *lib = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    if (!lib) lib = dlopen("libmpi.so", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    (void)lib; /* the mapping stays; this handle only changed its scope */
    int started = 0, finished = 0;
    MPI_Initialized(&started);
    MPI_Finalized(&finished);
    if (finished) return nn_fail(err, NN_DEVICE, "MPI has already been finalized in this process");
    mpi_comm *c = calloc(1, sizeof *c);
    if (!c) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    int rc;
    if (!started) {
        int provided;
        if ((rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS) {
            free(c);
            return mpi_fail(err, rc, "MPI_Init_thread", -1);
        }
        c->finalize = 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &c->comm)) != MPI_SUCCESS) {
        mpi_fail(err, rc, "MPI_Comm_dup", -1);
        if (c->finalize) MPI_Finalize();
        free(c);
        return NN_DEVICE;
    }
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    *out = c;
    return NN_OK;
}

static void mpi_close(void *h)
{
    mpi_comm *c = h;
    MPI_Comm_free(&c->comm);
    int finished = 0;
    MPI_Finalized(&finished);
    if (c->finalize && !finished) MPI_Finalize();
    free(c);
}

static int mpi_rank(void *h) { return ((mpi_comm *)h)->rank; }
static int mpi_size(void *h) { return ((mpi_comm *)h)->size; }

static nn_status mpi_broadcast(void *h, void *buf, size_t bytes, int root, char **err)
{
    mpi_comm *c = h;
    for (size_t at = 0; at < bytes;) {
        size_t n = bytes - at < (size_t)INT_MAX ? bytes - at : (size_t)INT_MAX;
        int rc = MPI_Bcast((char *)buf + at, (int)n, MPI_BYTE, root, c->comm);
        if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Bcast", c->rank);
        at += n;
    }
    return NN_OK;
}

static nn_status mpi_allreduce(void *h, float *buf, int64_t n, int on_device, char **err)
{
    mpi_comm *c = h;
    if (on_device) return nn_fail(err, NN_UNSUPPORTED, "mpi takes host memory only");
    for (int64_t at = 0; at < n;) {
        int64_t k = n - at < INT_MAX ? n - at : INT_MAX;
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + at, (int)k, MPI_FLOAT, MPI_SUM, c->comm);
        if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Allreduce", c->rank);
        at += k;
    }
    return NN_OK;
}

static nn_status mpi_barrier(void *h, char **err)
{
    mpi_comm *c = h;
    int rc = MPI_Barrier(c->comm);
    return rc == MPI_SUCCESS ? NN_OK : mpi_fail(err, rc, "MPI_Barrier", c->rank);
}

static void mpi_abort(void *h, int code, const char *msg)
{
    mpi_comm *c = h;
    fprintf(stderr, "rank %d of %d: %s\n", c->rank, c->size, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    exit(code ? code : 1); /* MPI_Abort does not return; if it ever did */
}

/* What the mpi plugin calls: every slot but probe, which it answers itself. */
static const nn_comm_vt mpi_vt = {
    NN_VT_HEADER(nn_comm_vt),
    .open = mpi_open,
    .close = mpi_close,
    .rank = mpi_rank,
    .size = mpi_size,
    .broadcast = mpi_broadcast,
    .allreduce_sum = mpi_allreduce,
    .barrier = mpi_barrier,
    .abort = mpi_abort,
};

__attribute__((visibility("default"))) const nn_comm_vt *nn_mpi_impl(void);
const nn_comm_vt *nn_mpi_impl(void) { return &mpi_vt; }
