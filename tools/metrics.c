/* metrics.c - nnrun train --metrics FILE.csv (see metrics.h). */
#define _POSIX_C_SOURCE 200809L
#include "metrics.h"
#include "savepath.h"
#include "atomic.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *metrics_target_problem(const char *path, const char *save)
{
    struct stat a, b;
    bool same = save && (!strcmp(path, save) || (stat(path, &a) == 0 && stat(save, &b) == 0 &&
                                                 a.st_dev == b.st_dev && a.st_ino == b.st_ino));
    const char *fmt = "--metrics '%s' is the file that --save writes the checkpoint to";
    if (same) {
        size_t n = strlen(fmt) + strlen(path) + 1;
        char *msg = malloc(n);
        if (msg) snprintf(msg, n, fmt, path);
        return msg ? msg : strdup("out of memory");
    }
    char *why = save_target_problem(path); /* "cannot save 'PATH': ..." */
    if (!why) return NULL;
    size_t n = strlen(why) + 16;
    char *msg = malloc(n);
    if (msg) snprintf(msg, n, "--metrics: %s", why);
    free(why);
    return msg ? msg : strdup("out of memory");
}

/* The shortest of %.15g, %.16g, %.17g that reads back as x, as Python's
 * repr (and so Keras's CSVLogger) writes it; nothing for NaN. */
static void put_number(FILE *f, double x)
{
    if (isnan(x)) return;
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) break;
    }
    fputs(buf, f);
}

static void put_rows(FILE *f, const history *h)
{
    fputs("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n", f);
    for (size_t i = 0; i < h->n; i++) {
        const history_row *r = &h->rows[i];
        fprintf(f, "%lld,", (long long)r->epoch);
        const double v[] = {r->loss, r->accuracy, r->val_loss, r->val_accuracy, r->lr};
        for (size_t k = 0; k < sizeof v / sizeof *v; k++) {
            put_number(f, v[k]);
            fputc(',', f);
        }
        fprintf(f, "%.9g\n", r->seconds); /* a measured time: nanoseconds at most */
    }
}

nn_status metrics_write(const char *path, const history *h, char **err)
{
    char *tmp;
    FILE *f = atomic_open(path, &tmp, err);
    if (!f) return NN_IO;
    put_rows(f, h);
    return atomic_close(f, tmp, path, true, err);
}
