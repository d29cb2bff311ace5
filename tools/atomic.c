/* atomic.c - nnrun's output files, whole or not at all. */
#define _POSIX_C_SOURCE 200809L
#include "atomic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int atomic_temp(const char *path, char **tmp, char **err)
{
    if (!(*tmp = malloc(strlen(path) + 16))) {
        nn_fail(err, NN_NO_MEMORY, "out of memory");
        return -1;
    }
    sprintf(*tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        nn_fail(err, NN_IO, "cannot write '%s': %s", path, strerror(errno));
        free(*tmp);
        *tmp = NULL;
        return -1;
    }
    mode_t u = umask(0); /* umask can only be read by setting it */
    umask(u);
    fchmod(fd, 0666 & ~u);
    return fd;
}

FILE *atomic_open(const char *path, char **tmp, char **err)
{
    int fd = atomic_temp(path, tmp, err);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        nn_fail(err, NN_IO, "cannot write '%s': %s", path, strerror(errno));
        close(fd);
        unlink(*tmp);
        free(*tmp);
        *tmp = NULL;
    }
    return f;
}

nn_status atomic_close(FILE *f, char *tmp, const char *path, bool ok, char **err)
{
    bool done = !ferror(f) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) done = false;
    nn_status st = NN_OK;
    if (ok && (!done || rename(tmp, path)))
        st = nn_fail(err, NN_IO, "cannot write '%s': %s", path, strerror(errno));
    if (!ok || st) unlink(tmp);
    free(tmp);
    return st;
}

nn_status atomic_write(const char *path, const void *data, size_t n, char **err)
{
    char *tmp;
    FILE *f = atomic_open(path, &tmp, err);
    if (!f) return NN_IO;
    fwrite(data, 1, n, f); /* a short write sets the error flag atomic_close reads */
    return atomic_close(f, tmp, path, true, err);
}
