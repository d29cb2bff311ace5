/* shim.c - an LD_PRELOAD library for the tests that makes the calls of a
 * checkpoint save fail on demand; built for make check, never installed.
 *
 * NN_FAULT=STEP[:N]:ERRNO, STEP one of open, write, fsync, close, rename;
 * the Nth such call (default 1) fails with ERRNO (ENOSPC or EIO) and later
 * ones succeed. ERRNO KILL instead kills the process there with SIGKILL, as
 * if the machine stopped it mid-save. Only the calls on nn's temporary files count: open is the
 * mkstemp of a template containing ".tmp.", write, fsync, fdatasync and close
 * are those on a descriptor mkstemp returned for it, rename and renameat those
 * from a name containing ".tmp.". Anything else (the shell of the libtool
 * wrapper, stdout) passes through untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The build hides symbols by default; these must replace libc's. */
#define SHIM __attribute__((visibility("default")))

#define MAXFD 1024
static char tracked[MAXFD];
static int counts[5];
static const char *steps[5] = {"open", "write", "fsync", "close", "rename"};

static void *next(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "shim: no %s\n", name);
        abort();
    }
    return f;
}

/* Whether this call of STEP fails; sets errno when it does. */
static int fault(int step)
{
    const char *spec = getenv("NN_FAULT");
    size_t len = strlen(steps[step]);
    if (!spec || strncmp(spec, steps[step], len) || spec[len] != ':') return 0;
    const char *rest = spec + len + 1;
    long nth = 1;
    if (*rest >= '0' && *rest <= '9') {
        char *end;
        nth = strtol(rest, &end, 10);
        rest = *end == ':' ? end + 1 : end;
    }
    if (++counts[step] != nth) return 0;
    if (!strcmp(rest, "KILL")) raise(SIGKILL);
    errno = !strcmp(rest, "EIO") ? EIO : ENOSPC;
    return 1;
}

static int is_tracked(int fd) { return fd >= 0 && fd < MAXFD && tracked[fd]; }

static int track(const char *tmpl, int fd)
{
    if (fd >= 0 && fd < MAXFD && strstr(tmpl, ".tmp.")) tracked[fd] = 1;
    return fd;
}

SHIM int mkstemp(char *tmpl)
{
    static int (*real)(char *);
    if (!real) real = (int (*)(char *))next("mkstemp");
    if (strstr(tmpl, ".tmp.") && fault(0)) return -1;
    return track(tmpl, real(tmpl));
}

SHIM int mkstemp64(char *tmpl)
{
    static int (*real)(char *);
    if (!real) real = (int (*)(char *))next("mkstemp64");
    if (strstr(tmpl, ".tmp.") && fault(0)) return -1;
    return track(tmpl, real(tmpl));
}

SHIM int mkostemp(char *tmpl, int flags)
{
    static int (*real)(char *, int);
    if (!real) real = (int (*)(char *, int))next("mkostemp");
    if (strstr(tmpl, ".tmp.") && fault(0)) return -1;
    return track(tmpl, real(tmpl, flags));
}

/* open of a temporary file with O_CREAT, for a save that makes its own. */
static int open_fault(const char *path, int flags)
{
    return (flags & O_CREAT) && strstr(path, ".tmp.") && fault(0);
}

SHIM int open(const char *path, int flags, ...)
{
    static int (*real)(const char *, int, ...);
    if (!real) real = (int (*)(const char *, int, ...))next("open");
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;
    va_end(ap);
    if (open_fault(path, flags)) return -1;
    return track(path, real(path, flags, mode));
}

SHIM int openat(int dir, const char *path, int flags, ...)
{
    static int (*real)(int, const char *, int, ...);
    if (!real) real = (int (*)(int, const char *, int, ...))next("openat");
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;
    va_end(ap);
    if (open_fault(path, flags)) return -1;
    return track(path, real(dir, path, flags, mode));
}

SHIM ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t))next("write");
    if (is_tracked(fd) && fault(1)) return -1;
    return real(fd, buf, n);
}

SHIM int fsync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))next("fsync");
    if (is_tracked(fd) && fault(2)) return -1;
    return real(fd);
}

SHIM int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))next("fdatasync");
    if (is_tracked(fd) && fault(2)) return -1;
    return real(fd);
}

/* A failed close still releases the descriptor, as Linux's does. */
SHIM int close(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))next("close");
    int t = is_tracked(fd);
    if (t) tracked[fd] = 0;
    int r = real(fd);
    if (t && r == 0 && fault(3)) return -1;
    return r;
}

SHIM int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (!real) real = (int (*)(const char *, const char *))next("rename");
    if (strstr(from, ".tmp.") && fault(4)) return -1;
    return real(from, to);
}

SHIM int renameat(int fromdir, const char *from, int todir, const char *to)
{
    static int (*real)(int, const char *, int, const char *);
    if (!real) real = (int (*)(int, const char *, int, const char *))next("renameat");
    if (strstr(from, ".tmp.") && fault(4)) return -1;
    return real(fromdir, from, todir, to);
}
