/* ops.h - what nnrun shows of ops and their kernels (inspect, plugins -v),
 * and the look-ups that `nnrun check` shares with them. */
#ifndef NN_TOOLS_OPS_H
#define NN_TOOLS_OPS_H

#include <nn/plugin.h>

/* The op component called name, or NULL. */
const nn_component *ops_find_op(const nn_registry *reg, const char *name);
/* The kernel components of op `name`, in registry order: stores up to max of
 * them in out (may be NULL) and returns how many there are. */
int ops_kernels(const nn_registry *reg, const char *name, const nn_component **out, int max);
/* The components called name, kernels last (after their op): stores up to
 * max of them in out and returns how many it stored. */
int ops_named(const nn_registry *reg, const char *name, const nn_component **out, int max);
/* The device a kernel component runs on. */
const char *ops_kernel_device(const nn_component *kernel);

/* inspect: the op-related lines for component c (an op's inputs, outputs,
 * attributes, backward and kernels; a kernel's device and op; the ops that
 * have a kernel for a device), then the ops c's plugin defines, with the
 * devices that have kernels and the file that brings each. */
void ops_inspect(const nn_registry *reg, const nn_component *c);
/* plugins -v: every op with the devices that have kernels for it. */
void ops_list(const nn_registry *reg);

#endif
