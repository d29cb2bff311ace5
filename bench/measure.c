/* measure.c - run a command, then report its wall time and peak resident
 * set size, so that the benchmark's figures need no /usr/bin/time.
 *
 *   measure FILE CMD [ARG...]
 *
 * The command inherits stdin, stdout and stderr. One line goes to FILE
 * (appended, so that a caller can collect several runs):
 *   wall_s 0.123456 maxrss_kb 12345 status 0
 * The wall time is CLOCK_MONOTONIC from just before fork to just after the
 * command is reaped; the peak RSS is getrusage(RUSAGE_CHILDREN) ru_maxrss,
 * the largest of the command and anything it waited for. measure exits with
 * the command's status (128 + N when signal N ended it, 127 when it could
 * not be started), so `set -e` scripts stop on a failing command. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: measure FILE CMD [ARG...]\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "a");
    if (!out) {
        fprintf(stderr, "measure: cannot open %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    fflush(stdout);
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "measure: fork: %s\n", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        fclose(out);
        execvp(argv[2], argv + 2);
        fprintf(stderr, "measure: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "measure: waitpid: %s\n", strerror(errno));
            return 2;
        }
    }
    double wall = now() - t0;
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) < 0) {
        fprintf(stderr, "measure: getrusage: %s\n", strerror(errno));
        return 2;
    }
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    /* ru_maxrss is in kilobytes on Linux. */
    fprintf(out, "wall_s %.6f maxrss_kb %ld status %d\n", wall, ru.ru_maxrss, rc);
    if (fclose(out) != 0) {
        fprintf(stderr, "measure: cannot write %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    return rc;
}
