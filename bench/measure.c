/* measure.c - run a command, then report its wall time and peak resident
 * set size, so that the benchmark's figures need no /usr/bin/time.
 *
 *   measure [-k SECONDS] FILE CMD [ARG...]
 *
 * The command inherits stdin, stdout and stderr. One line goes to FILE
 * (appended, so that a caller can collect several runs):
 *   wall_s 0.123456 maxrss_kb 12345 status 0
 * The wall time is CLOCK_MONOTONIC from just before fork to just after the
 * command is reaped; the peak RSS is getrusage(RUSAGE_CHILDREN) ru_maxrss,
 * the largest of the command and anything it waited for. measure exits with
 * the command's status (128 + N when signal N ended it, 127 when it could
 * not be started), so `set -e` scripts stop on a failing command.
 *
 * With -k (0: no limit), a command still running after SECONDS is killed
 * (SIGKILL) and its status is 124, as timeout(1) has it; its line then
 * gives the time until it was reaped. The benchmark uses this for a run that can no
 * longer be the best of its kind, such as PyTorch's threads collapsing on
 * a busy machine. */
#define _XOPEN_SOURCE 700 /* setitimer */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile sig_atomic_t expired;

static void on_alarm(int sig)
{
    (void)sig;
    expired = 1;
}

/* Interrupt waitpid after SECONDS: SIGALRM without SA_RESTART. */
static int arm(double seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) < 0) return -1;
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)seconds;
    it.it_value.tv_usec = (suseconds_t)((seconds - (double)it.it_value.tv_sec) * 1e6);
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
    return setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
    double limit = 0;
    if (argc > 2 && !strcmp(argv[1], "-k")) {
        char *end;
        limit = strtod(argv[2], &end);
        if (*end || !(limit >= 0) || limit > 1e6) {
            fprintf(stderr, "measure: -k wants a number of seconds (0: no limit), not '%s'\n", argv[2]);
            return 2;
        }
        argc -= 2;
        argv += 2;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: measure [-k SECONDS] FILE CMD [ARG...]\n");
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
    if (limit > 0 && arm(limit) < 0) {
        fprintf(stderr, "measure: cannot set a timer: %s\n", strerror(errno));
        kill(pid, SIGKILL);
    }
    int status, killed = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "measure: waitpid: %s\n", strerror(errno));
            return 2;
        }
        if (expired && !killed) {
            kill(pid, SIGKILL);
            killed = 1;
        }
    }
    double wall = now() - t0;
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) < 0) {
        fprintf(stderr, "measure: getrusage: %s\n", strerror(errno));
        return 2;
    }
    int rc = killed ? 124 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    /* ru_maxrss is in kilobytes on Linux. */
    fprintf(out, "wall_s %.6f maxrss_kb %ld status %d\n", wall, ru.ru_maxrss, rc);
    if (fclose(out) != 0) {
        fprintf(stderr, "measure: cannot write %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    return rc;
}
