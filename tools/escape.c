/* escape.c - control characters written as C escapes (see escape.h). */
#include "escape.h"

#include <stdlib.h>
#include <string.h>

static size_t escape_into(const char *s, char *out, int keep_newlines)
{
    size_t n = 0;
    char tmp[8];
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        const char *e = NULL;
        int len;
        if (*p == '\n' && keep_newlines) {
            tmp[0] = '\n';
            len = 1;
        } else if (*p < 0x20 || *p == 0x7f) {
            switch (*p) {
            case '\n': e = "\\n"; break;
            case '\r': e = "\\r"; break;
            case '\t': e = "\\t"; break;
            case '\v': e = "\\v"; break;
            case '\f': e = "\\f"; break;
            default: break;
            }
            len = e ? 2 : snprintf(tmp, sizeof tmp, "\\x%02x", *p);
            if (e) memcpy(tmp, e, 2);
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            len = snprintf(tmp, sizeof tmp, "\\u%04x", p[1]);
            p++;
        } else {
            tmp[0] = (char)*p;
            len = 1;
        }
        if (out) memcpy(out + n, tmp, (size_t)len);
        n += (size_t)len;
    }
    if (out) out[n] = 0;
    return n;
}

void fput_escaped(const char *s, FILE *f, int keep_newlines)
{
    size_t n = escape_into(s, NULL, keep_newlines);
    char *b = malloc(n + 1);
    if (!b) { /* no memory: drop what cannot be shown safely */
        for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
            fputc(*p < 0x20 && !(*p == '\n' && keep_newlines) ? '?' : *p, f);
        return;
    }
    escape_into(s, b, keep_newlines);
    fputs(b, f);
    free(b);
}

const char *esc(const char *s)
{
    static char *ring[16];
    static int next;
    char *b = malloc(escape_into(s, NULL, 0) + 1);
    if (!b) return "?";
    escape_into(s, b, 0);
    free(ring[next]);
    ring[next] = b;
    next = (next + 1) % 16;
    return b;
}
