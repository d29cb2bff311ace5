/* optim_state.h - per-parameter state helpers that adam.c, adamw.c,
 * rmsprop.c and adagrad.c share (through adam_impl.h for the first two),
 * and the split of the optimizers' updates (sgd's too) among the device's
 * threads. Static, compiled into each plugin. */
#ifndef NN_PLUGINS_OPTIM_STATE_H
#define NN_PLUGINS_OPTIM_STATE_H

#include <nn/plugin.h>

/* An update's loop over elements [i0, i1) of its parameter. */
typedef void (*optim_range_fn)(const void *arg, int64_t i0, int64_t i1);

typedef struct {
    optim_range_fn range;
    const void *arg;
    int64_t n;
} optim_job;

/* Part of parts, in whole blocks of 16 elements, so that a vector loop
 * runs the same vectors (and tail) for each element whatever the split. */
static void optim_part(void *job, int part, int parts)
{
    const optim_job *j = job;
    int64_t v = (j->n + 15) / 16, i0 = v * part / parts * 16, i1 = v * (part + 1) / parts * 16;
    if (i1 > j->n) i1 = j->n;
    if (i0 < i1) j->range(j->arg, i0, i1);
}

/* From this many elements on, an update with a square root and a division
 * an element is split among the device's threads. */
#define OPTIM_SPLIT (32 * 1024)

/* range over the whole parameter of n elements: from `from` elements on,
 * split among the device's threads (nn_kernel_parallel), each element's
 * update the same whichever part it falls in; below, called directly. */
static inline void optim_run(const nn_kernel_call *c, optim_range_fn range, const void *arg,
                             int64_t n, int64_t from)
{
    if (n >= from) {
        optim_job j = {range, arg, n};
        nn_kernel_parallel(c, optim_part, &j, 64);
    } else {
        range(arg, 0, n);
    }
}

/* step += 1 on parameter i's count, state slot j (created at 0), in
 * float32 as PyTorch's; the new count into *step unless step is NULL. */
static inline nn_status next_step(nn_optim *o, int i, int j, double *step)
{
    nn_tensor *t = nn_optim_state(o, i, j);
    if (!t && !(t = nn_optim_state_new(o, i, j))) return NN_NO_MEMORY;
    float v = 0;
    nn_status st = nn_tensor_item(t, &v);
    v += 1.0f;
    if (!st) st = nn_tensor_from_host(t, &v, 1);
    if (step) *step = v;
    return st;
}

/* State slot j of parameter i, created (zeroed) on first use. */
static inline nn_tensor *slot(nn_optim *o, int i, int j)
{
    nn_tensor *t = nn_optim_state(o, i, j);
    return t ? t : nn_optim_state_new(o, i, j);
}

#endif
