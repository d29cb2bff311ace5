/* abiold.c - a plugin built for plugin ABI 1.0, before ops moved out of the
 * Device interface. Its sigmoid-like module is well formed for 1.0; the
 * loader must refuse it for its ABI major alone, with both numbers. Built by
 * hand (not NN_PLUGIN_DEFINE) so that the numbers can be old. */
#include <nn/plugin.h>

static const nn_module_vt abiold_vt = {
    .abi_version = (uint32_t)(1u << 16),
    .struct_size = sizeof(nn_module_vt),
    .type_name = "AbiOld",
};

static const nn_component_def abiold_components[] = {
    {NN_KIND_MODULE, "abiold", "refused: built for plugin ABI 1.0", &abiold_vt, NULL, 0},
};

NN_API extern const nn_plugin_desc nn_plugin_descriptor;
const nn_plugin_desc nn_plugin_descriptor = {
    1,
    0,
    (uint32_t)sizeof(nn_plugin_desc),
    "abiold",
    "1.0",
    abiold_components,
    NN_COUNT_OF(abiold_components),
};
