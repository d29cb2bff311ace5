/* nodesc.c - a well-formed shared object that is not an nn plugin: it
 * exports a function but no nn_plugin_descriptor symbol. The loader must
 * refuse it, naming the missing symbol. */
#include <nn/plugin.h>

NN_API int nodesc_answer(void);
NN_API int nodesc_answer(void) { return 42; }
