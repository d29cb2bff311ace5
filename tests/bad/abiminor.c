/* abiminor.c - a plugin built against a newer minor of the same ABI major:
 * it may use slots this core does not know, so it must be refused (the rule
 * is "same major, minor not newer"). Built by hand, not NN_PLUGIN_DEFINE. */
#include <nn/plugin.h>

static const nn_module_vt abiminor_vt = {
    .abi_version = (uint32_t)((NN_ABI_MAJOR << 16) | (NN_ABI_MINOR + 1)),
    .struct_size = sizeof(nn_module_vt),
    .type_name = "AbiMinor",
};

static const nn_component_def abiminor_components[] = {
    {NN_KIND_MODULE, "abiminor", "refused: built for a newer ABI minor", &abiminor_vt, NULL, 0},
};

NN_API extern const nn_plugin_desc nn_plugin_descriptor;
const nn_plugin_desc nn_plugin_descriptor = {
    NN_ABI_MAJOR,
    NN_ABI_MINOR + 1,
    (uint32_t)sizeof(nn_plugin_desc),
    "abiminor",
    "1.0",
    abiminor_components,
    NN_COUNT_OF(abiminor_components),
};
