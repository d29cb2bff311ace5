/* fileio.c - a file written whole or not at all: a temporary file beside
 * the target, then a rename over it. Checkpoints and the plugin cache are
 * written this way. */
#include "nn-impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static nn_status write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w == 0) errno = EIO; /* no progress and no reason: not a success */
        if (w <= 0) return NN_IO;
        p += w;
        n -= (size_t)w;
    }
    return NN_OK;
}

/* Whether NAME is one of nn's temporary files for the target BASE,
 * BASE.tmp.PID.XXXXXX, of a process PID that is gone. */
static bool stale_tmp(const char *name, const char *base)
{
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) || strncmp(name + bl, ".tmp.", 5)) return false;
    const char *p = name + bl + 5, *digits = p;
    long pid = 0;
    while (*p >= '0' && *p <= '9' && p - digits < 10) pid = pid * 10 + (*p++ - '0');
    if (p == digits || *p++ != '.' || strlen(p) != 6) return false;
    for (; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return false;
    return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Removes the temporary files a killed save to PATH left in DIR. */
static void remove_stale(const char *dir, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    DIR *d = opendir(dir);
    if (!d) return;
    int saved = errno;
    for (struct dirent *e; (e = readdir(d));)
        if (stale_tmp(e->d_name, base)) unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    errno = saved;
}

/* Temporary file beside the target, named with the pid so that the next save
 * can tell a killed save's leftovers from a live one's, fsync, rename over
 * the target, fsync the folder. On failure the temporary file is removed and
 * the target is untouched; the message names the step that failed. */
nn_status nn_write_atomic(const char *path, const uint8_t *a, size_t an, const uint8_t *b,
                          size_t bn, int mode, char **err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? nn_format("%.*s", (int)(slash == path ? 1 : slash - path), path)
                      : nn_strdup(".");
    char *tmp = nn_format("%s.tmp.%ld.XXXXXX", path, (long)getpid());
    if (!dir || !tmp) {
        free(dir);
        free(tmp);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    remove_stale(dir, path);
    nn_status st = NN_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = nn_fail(err, NN_IO, "cannot write '%s': creating a temporary file beside it: %s",
                     path, strerror(errno));
        goto out;
    }
    /* mkstemp makes 0600: the mode asked for, else keep the mode of the
     * file replaced, else the one open() would give. */
    struct stat old;
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, mode >= 0                   ? (mode_t)mode
               : stat(path, &old) == 0 ? (old.st_mode & 07777)
                                       : (0666 & ~mask));
    const char *step = "writing";
    bool ok = !write_all(fd, a, an) && !write_all(fd, b, bn);
    if (ok && fsync(fd)) {
        step = "fsync of";
        ok = false;
    }
    int e = errno;
    /* A close that fails may have lost data: the file is then not renamed. */
    if (close(fd) && ok) {
        step = "closing";
        e = errno;
        ok = false;
    }
    if (ok && rename(tmp, path)) {
        step = "renaming over it";
        e = errno;
        ok = false;
    }
    if (!ok) {
        st = nn_fail(err, NN_IO, "cannot write '%s': %s '%s': %s", path, step, tmp, strerror(e));
        unlink(tmp);
        goto out;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { /* makes the rename itself durable */
        fsync(dfd);
        close(dfd);
    }
out:
    free(dir);
    free(tmp);
    return st;
}
