/* dataspec.c - a dataset spec with the words its dataset learned. */
#include "dataspec.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The spec's first word (the dataset's name): its start and length. */
static const char *first_word(const char *s, size_t *n)
{
    while (isspace((unsigned char)*s)) s++;
    *n = strcspn(s, " \t\n");
    return s;
}

bool dataspec_same_name(const char *a, const char *b)
{
    size_t na, nb;
    a = first_word(a, &na);
    b = first_word(b, &nb);
    return na == nb && !strncmp(a, b, na);
}

/* Does spec (after its name) give key (klen characters, with its '=')? */
static bool gives(const char *spec, const char *key, size_t klen)
{
    size_t n;
    const char *s = first_word(spec, &n) + n;
    for (;;) {
        while (isspace((unsigned char)*s)) s++;
        if (!*s) return false;
        if (!strncmp(s, key, klen)) return true;
        s += strcspn(s, " \t\n");
    }
}

char *dataspec_with_learned(const char *spec, const char *learned)
{
    size_t len = strlen(spec);
    char *out = malloc(len + strlen(learned) + 2);
    if (!out) return NULL;
    memcpy(out, spec, len + 1);
    for (const char *w = learned;;) {
        while (isspace((unsigned char)*w)) w++;
        if (!*w) break;
        size_t wl = strcspn(w, " \t\n");
        const char *eq = memchr(w, '=', wl);
        if (eq && !gives(spec, w, (size_t)(eq - w) + 1)) {
            out[len++] = ' ';
            memcpy(out + len, w, wl);
            len += wl;
            out[len] = 0;
        }
        w += wl;
    }
    return out;
}
