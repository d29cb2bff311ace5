/* mpi.c - the mpi communicator: data-parallel training on MPI (Open MPI).
 *
 * nn loads every plugin when a program starts, and Open MPI's libraries
 * take about 1.6 ms to load: more than half of what the tutorial's whole
 * run costs. So this plugin links no MPI. Its probe reads the environment
 * mpirun sets, and its first open loads the calls that do link MPI,
 * nn_mpi.so, from beside it: the folder mpi/ next to this file once
 * installed, ../mpi/.libs/ in the build tree. */
#define _GNU_SOURCE /* dladdr */
#include <nn/plugin.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const nn_comm_vt *impl; /* nn_mpi.so's table, once loaded */

/* Does the environment say a launcher started this process as a rank?
 * Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE; MPICH's Hydra and Slurm's
 * PMI set PMI_SIZE; PMIx launchers PMIX_RANK. */
static int mpi_probe(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

static nn_status load_impl(char **err)
{
    if (impl) return NN_OK;
    Dl_info self;
    if (!dladdr((void *)load_impl, &self) || !self.dli_fname)
        return nn_fail(err, NN_LOAD, "mpi: cannot tell which folder the plugin was loaded from");
    const char *slash = strrchr(self.dli_fname, '/');
    int dir = slash ? (int)(slash - self.dli_fname) : 1;
    const char *base = slash ? self.dli_fname : ".";
    static const char *const beside[] = {"/mpi/nn_mpi.so", "/../mpi/.libs/nn_mpi.so"};
    char path[4096];
    for (size_t i = 0; i < sizeof beside / sizeof *beside; i++) {
        snprintf(path, sizeof path, "%.*s%s", dir, base, beside[i]);
        if (access(path, F_OK)) continue;
        /* Global: Open MPI's own components look for its symbols there. */
        void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (!h) {
            const char *why = dlerror();
            return nn_fail(err, NN_LOAD, "mpi: cannot load '%s': %s", path,
                           why ? why : "unknown reason");
        }
        const nn_comm_vt *(*get)(void) = (const nn_comm_vt *(*)(void))dlsym(h, "nn_mpi_impl");
        if (!get) {
            dlclose(h);
            return nn_fail(err, NN_LOAD, "mpi: '%s' lacks nn_mpi_impl", path);
        }
        impl = get();
        return NN_OK;
    }
    snprintf(path, sizeof path, "%.*s%s", dir, base, beside[0]);
    return nn_fail(err, NN_LOAD, "mpi: '%s' is missing: the plugin was installed without it",
                   path);
}

static nn_status mpi_open(const nn_props *p, void **out, char **err)
{
    nn_status st = load_impl(err);
    return st ? st : impl->open(p, out, err);
}

/* The other slots are called only on what open made, so impl is there. */
static void mpi_close(void *h) { impl->close(h); }
static int mpi_rank(void *h) { return impl->rank(h); }
static int mpi_size(void *h) { return impl->size(h); }

static nn_status mpi_broadcast(void *h, void *buf, size_t bytes, int root, char **err)
{
    return impl->broadcast(h, buf, bytes, root, err);
}

static nn_status mpi_allreduce(void *h, float *buf, int64_t n, int on_device, char **err)
{
    return impl->allreduce_sum(h, buf, n, on_device, err);
}

static nn_status mpi_barrier(void *h, char **err) { return impl->barrier(h, err); }
static void mpi_abort(void *h, int code, const char *msg) { impl->abort(h, code, msg); }

static const nn_comm_vt mpi_vt = {
    NN_VT_HEADER(nn_comm_vt),
    .probe = mpi_probe,
    .open = mpi_open,
    .close = mpi_close,
    .rank = mpi_rank,
    .size = mpi_size,
    .broadcast = mpi_broadcast,
    .allreduce_sum = mpi_allreduce,
    .barrier = mpi_barrier,
    .abort = mpi_abort,
};

static const nn_component_def mpi_components[] = {
    {NN_KIND_COMM, "mpi", "ranks of an MPI job (mpirun): broadcast, allreduce, barrier, abort",
     &mpi_vt, NULL, 0},
};
NN_PLUGIN_DEFINE("mpi", "1.0", mpi_components)
