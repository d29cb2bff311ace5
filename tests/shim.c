/* shim.c - an LD_PRELOAD library for tests/probe.sh that counts the calls
 * made to strcmp: with NN_SHIM_STRCMP_MAX=N in the environment, the N+1st
 * call ends the process with status 3 and a message, so that a test can
 * tell an O(n log n) loader from an O(n^2) one without timing it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long limit = -2, calls;

__attribute__((visibility("default"))) int strcmp(const char *a, const char *b)
{
    if (limit == -2) {
        const char *e = getenv("NN_SHIM_STRCMP_MAX");
        limit = e ? atol(e) : -1;
    }
    if (limit >= 0 && ++calls > limit) {
        static const char msg[] = "shim: too many strcmp calls\n";
        write(2, msg, sizeof msg - 1);
        _exit(3);
    }
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
    while (*p && *p == *q) p++, q++;
    return (int)*p - (int)*q;
}
