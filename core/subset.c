/* subset.c - a view of a dataset by index (PyTorch's Subset): it shares the
 * parent's samples and cache, so a validation split costs no copy. */
#include "nn-impl.h"

nn_status nn_dataset_subset(nn_dataset *d, const int64_t *idx, int64_t n, nn_dataset **out,
                            char **err)
{
    *out = NULL;
    if (n <= 0) return nn_fail(err, NN_INVALID, "a subset needs at least one sample");
    for (int64_t k = 0; k < n; k++)
        if (idx[k] < 0 || idx[k] >= d->len)
            return nn_fail(err, NN_INVALID, "subset index %lld is %lld, outside 0..%lld",
                           (long long)k, (long long)idx[k], (long long)(d->len - 1));
    nn_dataset *s = calloc(1, sizeof *s);
    int64_t *map = malloc((size_t)n * sizeof *map);
    if (!s || !map) {
        free(s);
        free(map);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    nn_dataset *root = d->parent ? d->parent : d; /* a subset of a subset maps to the root */
    for (int64_t k = 0; k < n; k++) map[k] = d->map ? d->map[idx[k]] : idx[k];
    s->ctx = d->ctx;
    s->comp = d->comp;
    s->len = n;
    s->input = d->input;
    s->target = d->target;
    s->parent = root;
    s->map = map;
    *out = s;
    return NN_OK;
}
