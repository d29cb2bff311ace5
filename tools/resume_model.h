/* resume_model.h - --model with --resume: it must name the saved model. */
#ifndef NN_TOOLS_RESUME_MODEL_H
#define NN_TOOLS_RESUME_MODEL_H
#include <nn/nn.h>

/* Builds chain (in a context of its own, so the run's random numbers stay
 * as saved) and compares it with saved, the model rebuilt from ck read from
 * file: the same tree of module types, and every tensor of ck with its
 * shape. NN_OK when they match; else NN_INVALID and a message naming the
 * first difference and the file's model. */
nn_status resume_model_check(nn_registry *reg, const char *device, const nn_checkpoint *ck,
                             const char *file, const nn_module *saved, const char *chain,
                             const nn_shape *in, char **err);
#endif
