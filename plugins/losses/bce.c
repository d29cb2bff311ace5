/* bce.c - PyTorch's BCELoss (mean reduction): predictions are probabilities,
 * targets 0 or 1; each log is clamped at -100. Accuracy is the share of
 * outputs that round to their target, as the tutorial's (y.round() == yb). */
#include <nn/plugin.h>

#include <math.h>
#include <stdlib.h>

static nn_tensor *bce_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    return nn_bce(pred, target);
}

static nn_status bce_correct(nn_loss *l, nn_tensor *pred, nn_tensor *target, int64_t *correct,
                            int64_t *total)
{
    int64_t n = nn_tensor_numel(pred);
    if (n != nn_tensor_numel(target)) return NN_SHAPE;
    float stack[512]; /* a batch of the tutorial's size needs no allocation */
    float *h = n <= 256 ? stack : malloc((size_t)n * 2 * sizeof(float));
    if (!h) return NN_NO_MEMORY;
    nn_status st = nn_tensor_to_host(pred, h, n);
    if (!st) st = nn_tensor_to_host(target, h + n, n);
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += rintf(h[i]) == h[n + i]; /* round half to even, as torch */
    if (h != stack) free(h);
    *correct = c;
    *total = n;
    return st;
}

static const nn_loss_vt bce_vt = {
    NN_VT_HEADER(nn_loss_vt),
    .type_name = "BCELoss",
    .forward = bce_forward,
    .correct = bce_correct,
};

static const nn_component_def bce_components[] = {
    {NN_KIND_LOSS, "bce", "binary cross-entropy on probabilities (PyTorch BCELoss)", &bce_vt, NULL,
     0},
};

NN_PLUGIN_DEFINE("bce", "1.0", bce_components)
