/* failalloc.c - an LD_PRELOAD library for tests/probe.sh that fails one
 * allocation, as libuv's and SQLite's tests do: with NN_FAIL_ALLOC=N, the
 * Nth malloc, calloc or realloc made while libnn loads or saves a
 * checkpoint or trains (nn_checkpoint_load, nn_checkpoint_save, nn_fit,
 * nn_fit_epoch) by nn's own code returns NULL. The test raises N until the run succeeds;
 * NN_FAIL_ALLOC_LOG names a file that gets "reached" once the Nth
 * allocation has been failed. */
#define _GNU_SOURCE
#include <nn/nn.h>

#include <dlfcn.h>
#include <execinfo.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static int armed;
static long target = -1, count;

/* Only nn's own allocations count (libnn, nnrun, plugins): the C library's
 * inner ones (localtime's time zone, stdio buffers) have fallbacks of their
 * own that are no part of nn. */
static int ours(const void *caller)
{
    Dl_info di;
    if (!dladdr(caller, &di) || !di.dli_fname) return 0;
    return strstr(di.dli_fname, "libnn.so") || strstr(di.dli_fname, "nnrun") ||
           strstr(di.dli_fname, "/plugins/");
}

static int fail_now(const void *caller)
{
    if (!armed || !ours(caller)) return 0;
    if (target < 0) {
        const char *e = getenv("NN_FAIL_ALLOC");
        target = e ? atol(e) : 0;
    }
    if (++count != target) return 0;
    const char *log = getenv("NN_FAIL_ALLOC_LOG");
    int fd = log ? open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    if (fd >= 0) {
        if (write(fd, "reached\n", 8) != 8) {}
        close(fd);
    }
    if (getenv("NN_FAIL_ALLOC_TRACE")) {
        void *bt[32];
        backtrace_symbols_fd(bt, backtrace(bt, 32), 2);
    }
    errno = ENOMEM;
    return 1;
}

#define CALLER __builtin_return_address(0)
EXPORT void *malloc(size_t n) { return fail_now(CALLER) ? NULL : __libc_malloc(n); }
EXPORT void *calloc(size_t k, size_t n) { return fail_now(CALLER) ? NULL : __libc_calloc(k, n); }
EXPORT void *realloc(void *p, size_t n) { return fail_now(CALLER) ? NULL : __libc_realloc(p, n); }

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

EXPORT nn_status nn_checkpoint_load(const char *path, nn_checkpoint **out, char **err)
{
    static __typeof__(&nn_checkpoint_load) real;
    if (!real) real = REAL(nn_checkpoint_load);
    armed++;
    nn_status st = real(path, out, err);
    armed--;
    return st;
}

EXPORT nn_status nn_checkpoint_save(const char *path, const nn_save_opts *o, char **err)
{
    static __typeof__(&nn_checkpoint_save) real;
    if (!real) real = REAL(nn_checkpoint_save);
    armed++;
    nn_status st = real(path, o, err);
    armed--;
    return st;
}

EXPORT nn_status nn_fit(nn_module *m, nn_loss *l, nn_optim *o, nn_dataset *d,
                        const nn_fit_opts *opts, char **err)
{
    static __typeof__(&nn_fit) real;
    if (!real) real = REAL(nn_fit);
    armed++;
    nn_status st = real(m, l, o, d, opts, err);
    armed--;
    return st;
}

EXPORT nn_status nn_fit_epoch(nn_module *m, nn_loss *l, nn_optim *o, nn_dataset *d,
                              int64_t batch, const int64_t *order, nn_epoch_stats *out, char **err)
{
    static __typeof__(&nn_fit_epoch) real;
    if (!real) real = REAL(nn_fit_epoch);
    armed++;
    nn_status st = real(m, l, o, d, batch, order, out, err);
    armed--;
    return st;
}
