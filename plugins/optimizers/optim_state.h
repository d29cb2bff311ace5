/* optim_state.h - per-parameter state helpers that adam.c, adamw.c and
 * rmsprop.c share (through adam_impl.h for the first two). Static,
 * compiled into each plugin. */
#ifndef NN_PLUGINS_OPTIM_STATE_H
#define NN_PLUGINS_OPTIM_STATE_H

#include <nn/plugin.h>

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
