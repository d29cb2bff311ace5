/* history.c - nnrun train: the figures of every epoch. */
#include "history.h"

#include <stdlib.h>

int history_push(history *h, const history_row *row)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        history_row *r = realloc(h->rows, cap * sizeof *r);
        if (!r) return -1;
        h->rows = r;
        h->cap = cap;
    }
    h->rows[h->n++] = *row;
    return 0;
}

void history_free(history *h)
{
    free(h->rows);
    *h = (history){0};
}
