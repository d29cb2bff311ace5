/* abimajor.c - a plugin built for a future, incompatible ABI: its descriptor
 * claims major NN_ABI_MAJOR + 1. Everything else is well formed, so the
 * major version is the only reason the loader has to refuse it. Built by hand
 * (not NN_PLUGIN_DEFINE) so that the numbers can be wrong. */
#include <nn/plugin.h>

static const nn_module_vt abimajor_vt = {
    .abi_version = (uint32_t)(((NN_ABI_MAJOR + 1) << 16) | NN_ABI_MINOR),
    .struct_size = sizeof(nn_module_vt),
    .type_name = "AbiMajor",
};

static const nn_component_def abimajor_components[] = {
    {NN_KIND_MODULE, "abimajor", "refused: built for a newer ABI major", &abimajor_vt, NULL, 0},
};

NN_API extern const nn_plugin_desc nn_plugin_descriptor;
const nn_plugin_desc nn_plugin_descriptor = {
    NN_ABI_MAJOR + 1,
    NN_ABI_MINOR,
    (uint32_t)sizeof(nn_plugin_desc),
    "abimajor",
    "1.0",
    abimajor_components,
    NN_COUNT_OF(abimajor_components),
};
