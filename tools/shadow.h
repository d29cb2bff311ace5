/* shadow.h - say when a component used hides another file's of its name. */
#ifndef NN_TOOLS_SHADOW_H
#define NN_TOOLS_SHADOW_H
#include <nn/nn.h>

/* Prints, once per component, a note on stderr for each component looked
 * up so far that shadows another file's component of its kind and name. */
void note_shadows(const nn_registry *reg);
#endif
