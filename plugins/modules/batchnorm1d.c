/* batchnorm1d.c - PyTorch's nn.BatchNorm1d over (N, C) or (N, C, L).
 *
 *   train mode: y = (x - mean) / sqrt(var + eps) * weight + bias, with the
 *               batch's mean and biased variance per channel (over N and L);
 *               running_mean and running_var move towards the batch's mean
 *               and unbiased variance by momentum, num_batches_tracked += 1
 *   eval mode:  the same with running_mean and running_var (when tracked;
 *               without them, the batch's statistics as in train mode)
 *
 * The math is composed of core ops, so autograd gives the gradients; the
 * running statistics are buffers updated in place outside autograd. A
 * channel's values of an (N, C, L) batch are spread over (C, L) with a
 * product by a row of ones, as the core's binary ops repeat along rows. */
#include <nn/plugin.h>

#include <stdbool.h>
#include <stdio.h>

enum { P_NUM_FEATURES, P_EPS, P_MOMENTUM, P_AFFINE, P_TRACK };

static const nn_prop_def bn_props[] = {
    [P_NUM_FEATURES] = {"num_features", NN_PROP_INT, "0", 0, 1 << 30, NULL,
                        "channels C; 0 infers them from the previous element"},
    [P_EPS] = {"eps", NN_PROP_FLOAT, "1e-05", 0, 1, NULL, "added to the variance"},
    [P_MOMENTUM] = {"momentum", NN_PROP_FLOAT, "0.1", 0, 1, NULL,
                    "weight of the batch in the running statistics"},
    [P_AFFINE] = {"affine", NN_PROP_BOOL, "true", 1, 0, NULL, "learn weight and bias per channel"},
    [P_TRACK] = {"track_running_stats", NN_PROP_BOOL, "true", 1, 0, NULL,
                 "keep running statistics for eval mode"},
};

typedef struct {
    nn_tensor *weight, *bias;
    nn_tensor *running_mean, *running_var, *num_batches_tracked;
    nn_tensor *one;      /* 1, added to num_batches_tracked */
    nn_tensor *ones_row; /* (1, L) of ones for (N, C, L) input; NULL for (N, C) */
    int64_t c, l;
    float eps, momentum;
} bn;

static nn_status bn_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out, char **err)
{
    bn *b = nn_module_priv(m);
    if (in->ndim != 1 && in->ndim != 2)
        return nn_fail(err, NN_SHAPE,
                       "batchnorm1d takes samples of shape [C] or [C, L] (batches (N, C) or "
                       "(N, C, L)), got %d-d",
                       in->ndim);
    int64_t want = nn_props_int(p, P_NUM_FEATURES);
    if (in->dim[0] < 0) { /* no data yet: the width comes from num_features= */
        if (!want)
            return nn_fail(err, NN_SHAPE,
                           "the number of features is unknown; give num_features=N or the data");
        in->dim[0] = want;
    }
    if (want && want != in->dim[0])
        return nn_fail(err, NN_SHAPE, "num_features=%lld but the input has %lld features",
                       (long long)want, (long long)in->dim[0]);
    b->c = in->dim[0];
    b->l = in->ndim == 2 ? in->dim[1] : 1;
    b->eps = (float)nn_props_float(p, P_EPS);
    b->momentum = (float)nn_props_float(p, P_MOMENTUM);
    nn_shape cs = {1, {b->c}}, scalar = {0, {0}};
    if (nn_props_bool(p, P_AFFINE) &&
        (!(b->weight = nn_module_add_param(m, "weight", &cs, err)) ||
         !(b->bias = nn_module_add_param(m, "bias", &cs, err))))
        return NN_NO_MEMORY;
    if (nn_props_bool(p, P_TRACK) &&
        (!(b->running_mean = nn_module_add_buffer(m, "running_mean", &cs, err)) ||
         !(b->running_var = nn_module_add_buffer(m, "running_var", &cs, err)) ||
         !(b->num_batches_tracked = nn_module_add_buffer(m, "num_batches_tracked", &scalar, err))))
        return NN_NO_MEMORY;
    nn_ctx *ctx = nn_module_ctx(m);
    if (!(b->one = nn_tensor_new(ctx, &scalar, 0)) || nn_tensor_fill_(b->one, 1.0f))
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    if (in->ndim == 2) {
        nn_shape rs = {2, {1, b->l}};
        if (!(b->ones_row = nn_tensor_new(ctx, &rs, 0)) || nn_tensor_fill_(b->ones_row, 1.0f))
            return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    *out = *in;
    return NN_OK;
}

/* PyTorch's reset_parameters: weight 1, bias 0, running statistics reset
 * (mean 0, variance 1, no batches). Draws nothing from the RNG. */
static nn_status bn_reset(nn_module *m, nn_rng *rng)
{
    (void)rng;
    bn *b = nn_module_priv(m);
    nn_status st = NN_OK;
    if (b->weight) st = nn_tensor_fill_(b->weight, 1.0f);
    if (!st && b->bias) st = nn_tensor_zero_(b->bias);
    if (!st && b->running_mean) st = nn_tensor_zero_(b->running_mean);
    if (!st && b->running_var) st = nn_tensor_fill_(b->running_var, 1.0f);
    if (!st && b->num_batches_tracked) st = nn_tensor_zero_(b->num_batches_tracked);
    return st;
}

static void bn_destroy(nn_module *m)
{
    bn *b = nn_module_priv(m);
    nn_tensor_free(b->one);
    nn_tensor_free(b->ones_row);
}

/* A per-channel vector (C) as the batch's rows see it: (C) itself for
 * (N, C) input, (C * L) with each value repeated L times for (N, C, L). */
static nn_tensor *spread(const bn *b, nn_tensor *v)
{
    if (!b->ones_row) return v;
    nn_shape col = {2, {b->c, 1}}, flat = {1, {b->c * b->l}};
    return nn_reshape(nn_mm(nn_reshape(v, &col), b->ones_row), &flat);
}

/* The mean over N (and L) of rows (N, C * L): a (C) vector. */
static nn_tensor *channel_mean(const bn *b, nn_tensor *rows, int64_t n)
{
    if (!b->ones_row) return nn_mean_dim(rows, 0, 0);
    nn_shape s = {3, {n, b->c, b->l}};
    return nn_mean_dim(nn_mean_dim(nn_reshape(rows, &s), 2, 0), 0, 0);
}

static nn_tensor *bn_forward(nn_module *m, nn_tensor *x)
{
    bn *b = nn_module_priv(m);
    nn_ctx *ctx = nn_module_ctx(m);
    int64_t n = nn_tensor_dim(x, 0);
    nn_shape rows_shape = {2, {n, b->c * b->l}};
    nn_tensor *rows = b->ones_row ? nn_reshape(x, &rows_shape) : x;
    bool batch_stats = nn_module_is_training(m) || !b->running_mean;
    nn_tensor *xc, *invstd;
    if (batch_stats) {
        if (n * b->l <= 1) {
            nn_ctx_set_error(ctx, NN_SHAPE,
                             "batchnorm1d: expected more than 1 value per channel when training, "
                             "got %lld sample(s) of length %lld",
                             (long long)n, (long long)b->l);
            return NULL;
        }
        nn_tensor *mean = channel_mean(b, rows, n);
        xc = nn_sub(rows, spread(b, mean));
        nn_tensor *var = channel_mean(b, nn_mul(xc, xc), n); /* biased */
        invstd = nn_pow_scalar(nn_add_scalar(var, b->eps), -0.5f);
        if (var && nn_module_is_training(m) && b->running_mean) {
            /* running = (1 - momentum) running + momentum batch, the variance
             * unbiased; outside autograd, as PyTorch's in-place update */
            double cnt = (double)(n * b->l);
            float mo = b->momentum;
            nn_status st = nn_tensor_scale_(b->running_mean, 1.0f - mo);
            if (!st) st = nn_tensor_add_(b->running_mean, mean, mo);
            if (!st) st = nn_tensor_scale_(b->running_var, 1.0f - mo);
            if (!st) st = nn_tensor_add_(b->running_var, var, (float)(mo * cnt / (cnt - 1)));
            if (!st) st = nn_tensor_add_(b->num_batches_tracked, b->one, 1.0f);
            if (st) {
                nn_ctx_set_error(ctx, st, "batchnorm1d: updating the running statistics: %s",
                                 nn_strerror(st));
                return NULL;
            }
        }
    } else {
        xc = nn_sub(rows, spread(b, b->running_mean));
        invstd = nn_pow_scalar(nn_add_scalar(b->running_var, b->eps), -0.5f);
    }
    nn_tensor *y = nn_mul(xc, spread(b, invstd));
    if (b->weight) y = nn_add(nn_mul(y, spread(b, b->weight)), spread(b, b->bias));
    return b->ones_row ? nn_reshape(y, nn_tensor_shape(x)) : y;
}

static void bn_repr(nn_module *m, char *buf, size_t len)
{
    bn *b = nn_module_priv(m);
    const nn_props *p = nn_module_props(m);
    snprintf(buf, len, "%lld, eps=%g, momentum=%g, affine=%s, track_running_stats=%s",
             (long long)b->c, nn_props_float(p, P_EPS), nn_props_float(p, P_MOMENTUM),
             b->weight ? "True" : "False", b->running_mean ? "True" : "False");
}

static const nn_module_vt bn_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "BatchNorm1d",
    .priv_size = sizeof(bn),
    .init = bn_init,
    .forward = bn_forward,
    .reset_parameters = bn_reset,
    .extra_repr = bn_repr,
    .destroy = bn_destroy,
};

static const nn_component_def bn_components[] = {
    {NN_KIND_MODULE, "batchnorm1d",
     "batch normalisation over (N, C) or (N, C, L), running statistics for eval mode",
     &bn_vt, bn_props, NN_COUNT_OF(bn_props)},
};

NN_PLUGIN_DEFINE("batchnorm1d", "1.0", bn_components)
