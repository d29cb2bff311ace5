/* tiny.c - a plugin whose nn_plugin_descriptor symbol is 4 bytes, not a
 * whole descriptor: the loader must refuse it by the symbol's size, before
 * reading a field past its end. */
#include <stdint.h>

__attribute__((visibility("default"))) extern const uint32_t nn_plugin_descriptor;
const uint32_t nn_plugin_descriptor = 2;
