/* progress.c - nnrun train's progress bar (see progress.h). */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Seconds between clock reads at most once k has settled (250 a second),
 * and between two drawings of the line. */
#define READ_EVERY_S 0.004
#define DRAW_EVERY_S 0.1
#define MAX_EVERY (1u << 20) /* batches between reads: a bound for very fast steps */
#define SMOOTH 0.3           /* weight of the newest rate, as tqdm's smoothing */
#define BAR_MAX 32           /* characters of the [=====>....] part, brackets included */
#define BAR_MIN 12

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int progress_mode_parse(const char *s, progress_mode *out)
{
    static const char *const names[] = {"auto", "never", "always"}; /* in the enum's order */
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i])) {
            *out = (progress_mode)i;
            return 0;
        }
    return -1;
}

bool progress_wanted(progress_mode mode, FILE *f)
{
    if (mode != PROGRESS_AUTO) return mode == PROGRESS_ALWAYS;
    /* A dumb terminal (Emacs's shell) knows no erase-line: plain lines there. */
    const char *term = getenv("TERM");
    return isatty(fileno(f)) && !(term && !strcmp(term, "dumb"));
}

void progress_start(progress *p, FILE *f, int64_t epochs)
{
    *p = (progress){.f = f, .epochs = epochs, .next_read = 1, .every = 1};
    p->t_read = p->t_draw = now();
}

/* The terminal's width, asked at each drawing (ten times a second at most):
 * a resized window is followed without a SIGWINCH handler, whose signal
 * would interrupt the training's system calls. COLUMNS when f is no
 * terminal (--progress always into a pipe), else 80. */
static int columns(FILE *f)
{
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long v = c ? strtol(c, NULL, 10) : 0;
    return v > 0 && v < 10000 ? (int)v : 80;
}

/* "m:ss", or "h:mm:ss" from an hour on; "?" before anything is known. */
static void format_eta(double s, char *buf, size_t len)
{
    if (!(s >= 0) || s > 359999) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t < 3600)
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

/* Keras's bar in brackets: '=' for the batches done, '>' at the front,
 * '.' for the rest; width characters inside. */
static void format_bar(int width, int64_t done, int64_t total, char *buf)
{
    int fill = (int)((double)width * (double)done / (double)total);
    buf[0] = '[';
    for (int i = 0; i < width; i++)
        buf[i + 1] = i < fill - 1 || (i == fill - 1 && done == total) ? '=' : i == fill - 1 ? '>' : '.';
    buf[width + 1] = ']';
    buf[width + 2] = 0;
}

enum { F_EPOCH, F_COUNT, F_BAR, F_PCT, F_ETA, F_ALL, F_RATE, F_LOSS, NFIELDS };

/* The line in at most width characters; an empty field is left out. A
 * narrow terminal loses, in this order, samples/s, the run's ETA, the
 * epoch, the bar (once it would be under BAR_MIN), the loss and the
 * epoch's ETA; what is left is cut at the width. */
static void compose(char field[NFIELDS][64], int64_t done, int64_t total, int width, char *line,
                    size_t len)
{
    static const int drop[] = {F_RATE, F_ALL, F_EPOCH, F_BAR, F_LOSS, F_ETA};
    bool keep[NFIELDS];
    int text = -1, bar = 0; /* the kept fields but the bar, a space between each two */
    for (int i = 0; i < NFIELDS; i++) {
        keep[i] = i == F_BAR || field[i][0];
        if (i != F_BAR && keep[i]) text += (int)strlen(field[i]) + 1;
    }
    for (size_t d = 0;; d++) {
        bar = keep[F_BAR] ? width - text - 1 : 0; /* and a space */
        if (keep[F_BAR] ? bar >= BAR_MIN : text <= width) break;
        if (d == sizeof drop / sizeof *drop) break;
        if (keep[drop[d]] && drop[d] != F_BAR) text -= (int)strlen(field[drop[d]]) + 1;
        keep[drop[d]] = false;
    }
    if (bar > BAR_MAX) bar = BAR_MAX;
    if (keep[F_BAR]) format_bar(bar - 2, done, total, field[F_BAR]);
    size_t n = 0;
    line[0] = 0;
    for (int i = 0; i < NFIELDS && n < len; i++)
        if (keep[i]) n += (size_t)snprintf(line + n, len - n, "%s%s", n ? " " : "", field[i]);
    if (width >= 0 && (size_t)width < len) line[width] = 0;
}

static void draw(progress *p, const nn_batch_stats *s)
{
    char field[NFIELDS][64], eta[32];
    int64_t done = s->batch + 1;
    int digits = snprintf(NULL, 0, "%lld", (long long)s->batches);
    snprintf(field[F_EPOCH], 64, "epoch %lld/%lld", (long long)s->epoch, (long long)p->epochs);
    snprintf(field[F_COUNT], 64, "%*lld/%lld", digits, (long long)done, (long long)s->batches);
    snprintf(field[F_PCT], 64, "%3d%%", (int)(100 * done / s->batches));
    snprintf(field[F_RATE], 64, "%.0f samples/s", p->rate);
    format_eta(p->batch_s * (double)(s->batches - done), eta, sizeof eta);
    snprintf(field[F_ETA], 64, "ETA %s", eta);
    /* and of the whole run, when epochs follow: an epoch may take a blink */
    double left = (double)(p->epochs - s->epoch - 1) * (double)s->batches;
    format_eta(p->batch_s * (left + (double)(s->batches - done)), eta, sizeof eta);
    if (left > 0)
        snprintf(field[F_ALL], 64, "(all %s)", eta);
    else
        field[F_ALL][0] = '\0';
    snprintf(field[F_LOSS], 64, "loss: %.4f",
             p->epoch_samples > 0 ? p->loss_sum / (double)p->epoch_samples : s->loss);
    char line[512];
    compose(field, done, s->batches, columns(p->f) - 1, line, sizeof line);
    fprintf(p->f, "\r%s\033[K", line); /* overwrite, then erase what is left */
    fflush(p->f);
    p->shown = true;
}

/* A clock read: k for the next reads from the time a batch takes, and a
 * drawing when the last is a tenth of a second old. */
static void tick(progress *p, const nn_batch_stats *s)
{
    double t = now();
    double per = (t - p->t_read) / (double)(p->seen - p->seen_read);
    uint64_t k = per > 0 ? (uint64_t)(READ_EVERY_S / per) : 2 * p->every;
    if (k > 2 * p->every) k = 2 * p->every; /* grow gently: a fast stretch may end */
    k = k < 1 ? 1 : k > MAX_EVERY ? MAX_EVERY : k;
    p->every = k;
    p->next_read = p->seen + k;
    p->t_read = t;
    p->seen_read = p->seen;
    if (p->drawn && t - p->t_draw < DRAW_EVERY_S) return;
    double dt = t - p->t_draw;
    if (dt > 0) {
        double rate = (double)(p->samples - p->samples_draw) / dt;
        double batch_s = dt / (double)(p->seen - p->seen_draw);
        bool first = p->seen_draw <= 1; /* the first batch's rate has start-up in it */
        p->rate = first ? rate : SMOOTH * rate + (1 - SMOOTH) * p->rate;
        p->batch_s = first ? batch_s : SMOOTH * batch_s + (1 - SMOOTH) * p->batch_s;
    }
    p->t_draw = t;
    p->seen_draw = p->seen;
    p->samples_draw = p->samples;
    p->drawn = true;
    draw(p, s);
}

int progress_batch(progress *p, const nn_batch_stats *s)
{
    if (s->batch == 0) p->loss_sum = 0, p->epoch_samples = 0;
    int64_t bs = s->samples - p->epoch_samples;
    p->loss_sum += s->loss * (double)bs;
    p->epoch_samples = s->samples;
    p->samples += bs;
    if (++p->seen >= p->next_read) tick(p, s);
    return 0;
}

void progress_clear(progress *p)
{
    if (!p->shown) return;
    /* flushed at once: an error on stderr may follow, which a late erase
     * from stdout's buffer would wipe off the terminal */
    fputs("\r\033[K", p->f);
    fflush(p->f);
    p->shown = false;
}
