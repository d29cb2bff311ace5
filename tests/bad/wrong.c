/* wrong.c - components that load fine and are wrong when they run, as a
 * plugin author's first attempt can be. nnrun must stop on each and name it.
 *
 *   noout       module: forward returns NULL and records no error
 *   wrongshape  module: init declares [1], forward returns its input's shape
 *   noloss      loss: forward returns NULL and records no error
 *   vecloss     loss: one value per element, not their mean
 *   baddata     dataset: samples from readable_samples_before_failure on
 *               cannot be read, with a message saying why; n is required
 *               (and inspect must show a long property name in its column) */
#include <nn/plugin.h>

static nn_status same_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                           char **err)
{
    *out = *in;
    return NN_OK;
}

static nn_status one_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                          char **err)
{
    *out = (nn_shape){1, {1}};
    return NN_OK;
}

static nn_tensor *noout_forward(nn_module *m, nn_tensor *x) { return NULL; }
static nn_tensor *sigmoid_forward(nn_module *m, nn_tensor *x) { return nn_sigmoid(x); }

static const nn_module_vt noout_vt = {
    NN_VT_HEADER(nn_module_vt), .type_name = "NoOut", .init = same_init, .forward = noout_forward,
};
static const nn_module_vt wrongshape_vt = {
    NN_VT_HEADER(nn_module_vt), .type_name = "WrongShape", .init = one_init,
    .forward = sigmoid_forward,
};

static nn_tensor *noloss_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target) { return NULL; }

static nn_tensor *vecloss_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    nn_tensor *d = nn_sub(pred, target);
    return nn_mul(d, d);
}

static const nn_loss_vt noloss_vt = {
    NN_VT_HEADER(nn_loss_vt), .type_name = "NoLoss", .forward = noloss_forward,
};
static const nn_loss_vt vecloss_vt = {
    NN_VT_HEADER(nn_loss_vt), .type_name = "VecLoss", .forward = vecloss_forward,
};

enum { P_N, P_READABLE };
static const nn_prop_def bad_props[] = {
    [P_N] = {"n", NN_PROP_INT, NULL, 1, 100000, NULL, "number of samples"},
    [P_READABLE] = {"readable_samples_before_failure", NN_PROP_INT, "2", 0, 100000, NULL,
                    "samples that can be read"},
};

static nn_status bad_open(const nn_props *p, void **priv, int64_t *len, nn_shape *input,
                          nn_shape *target, char **err)
{
    *priv = (void *)(intptr_t)nn_props_int(p, P_READABLE);
    *len = nn_props_int(p, P_N);
    *input = (nn_shape){1, {2}};
    *target = (nn_shape){1, {1}};
    return NN_OK;
}

static nn_status bad_get(void *priv, int64_t i, float *x, float *y, char **err)
{
    if (i >= (int64_t)(intptr_t)priv)
        return nn_fail(err, NN_IO, "the file ends before sample %lld", (long long)i);
    x[0] = x[1] = y[0] = 0.5f;
    return NN_OK;
}

static const nn_dataset_vt baddata_vt = {
    NN_VT_HEADER(nn_dataset_vt), .open = bad_open, .get = bad_get,
};

static const nn_component_def wrong_components[] = {
    {NN_KIND_MODULE, "noout", "returns NULL and records no error", &noout_vt, NULL, 0},
    {NN_KIND_MODULE, "wrongshape", "declares [1], returns its input's shape", &wrongshape_vt,
     NULL, 0},
    {NN_KIND_LOSS, "noloss", "returns NULL and records no error", &noloss_vt, NULL, 0},
    {NN_KIND_LOSS, "vecloss", "one loss per element, not their mean", &vecloss_vt, NULL, 0},
    {NN_KIND_DATASET, "baddata", "cannot read its later samples", &baddata_vt, bad_props,
     NN_COUNT_OF(bad_props)},
};

NN_PLUGIN_DEFINE("wrong", "1.0", wrong_components)
