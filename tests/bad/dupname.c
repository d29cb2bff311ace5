/* dupname.c - a valid plugin whose module is named "sigmoid", as the real
 * sigmoid plugin's is. Whichever of the two the loader meets second must be
 * refused ("already provided by ..."), never silently replace the first.
 *
 * It also brings a device, "halfdev", that lacks most kernels: when this
 * plugin is loaded on its own, nn_ctx_open(reg, "halfdev") must refuse it
 * with a message naming the missing kernel instead of crashing later. */
#include <nn/plugin.h>

#include <stdlib.h>

static nn_status dup_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                          char **err)
{
    *out = *in;
    return NN_OK;
}

static nn_tensor *dup_forward(nn_module *m, nn_tensor *x) { return nn_sigmoid(x); }

static const nn_module_vt dup_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "DupSigmoid",
    .init = dup_init,
    .forward = dup_forward,
};

static nn_status half_open(const nn_props *p, void **dev, char **err)
{
    *dev = NULL;
    return NN_OK;
}

static void *half_alloc(void *dev, size_t bytes) { return calloc(1, bytes ? bytes : 1); }
static void half_free(void *dev, void *ptr) { free(ptr); }

/* open, alloc and free only: "to_device" is the first required kernel missing. */
static const nn_device_vt half_vt = {
    NN_VT_HEADER(nn_device_vt),
    .open = half_open,
    .alloc = half_alloc,
    .free = half_free,
};

static const nn_component_def dup_components[] = {
    {NN_KIND_MODULE, "sigmoid", "a second sigmoid: must lose to the first one loaded", &dup_vt,
     NULL, 0},
    {NN_KIND_DEVICE, "halfdev", "a device without its kernels", &half_vt, NULL, 0},
};

NN_PLUGIN_DEFINE("dupname", "1.0", dup_components)
