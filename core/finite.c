/* finite.c - finding NaN and Inf in a model's state: the training loop
 * refuses to go on (and so to save) with non-finite weights, and eval
 * refuses a checkpoint that holds them. */
#include "nn-impl.h"

#include <math.h>

nn_status nn_module_check_finite(nn_module *m, const char **name, float *value)
{
    if (name) *name = NULL;
    int n = nn_module_state_count(m);
    if (n < 0) return NN_NO_MEMORY; /* the tree's tensors could not be listed */
    float *h = NULL;
    int64_t cap = 0;
    nn_status st = NN_OK;
    for (int i = 0; i < n && !st; i++) {
        const char *nm;
        nn_tensor *t = nn_module_state(m, i, &nm, NULL);
        int64_t k = nn_tensor_numel(t);
        if (k > cap) {
            float *g = realloc(h, (size_t)k * sizeof *g);
            if (!g) {
                st = NN_NO_MEMORY;
                break;
            }
            h = g;
            cap = k;
        }
        if ((st = nn_tensor_to_host(t, h, k))) break;
        for (int64_t j = 0; j < k; j++)
            if (!isfinite(h[j])) {
                if (name) *name = nm;
                if (value) *value = h[j];
                st = NN_INVALID;
                break;
            }
    }
    free(h);
    return st;
}
