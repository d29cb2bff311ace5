/* synthetic.c - random data for trying a network's shapes and speed: n
 * inputs of any shape, each value standard normal, with a random class
 * label uniform in 0..classes-1. Everything comes from the dataset's own
 * generator, seeded by `seed`, not from the run's.
 *
 *   synthetic n=1000 shape=1,28,28 classes=10 seed=0
 *
 * input: the shape given  target: [1], the class index as a float */
#include <nn/plugin.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SYN_MAX_VALUES (1LL << 30) /* n * numel(shape), floats */

enum { P_N, P_SHAPE, P_CLASSES, P_SEED };

static const nn_prop_def synthetic_props[] = {
    [P_N] = {"n", NN_PROP_INT, "1000", 1, 1e8, NULL, "number of samples"},
    [P_SHAPE] = {"shape", NN_PROP_STRING, "20", 1, 0, NULL,
                 "shape of one input, sizes separated by commas (1,28,28)"},
    [P_CLASSES] = {"classes", NN_PROP_INT, "10", 1, 1e6, NULL, "number of classes"},
    [P_SEED] = {"seed", NN_PROP_INT, "0", 0, 9.2e18, NULL, "seed of the data"},
};

typedef struct {
    int64_t n, numel;
    float *x; /* n * numel */
    float *y; /* n */
} synthetic;

/* "1,28,28" into s; a message in *err when it is not a list of sizes. */
static nn_status parse_shape(const char *text, nn_shape *s, char **err)
{
    s->ndim = 0;
    const char *p = text;
    for (;;) {
        if (s->ndim == NN_MAX_DIMS - 1)
            return nn_fail(err, NN_INVALID, "synthetic: shape '%s' has more than %d sizes", text,
                           NN_MAX_DIMS - 1);
        char *end;
        errno = 0;
        long long v = *p >= '0' && *p <= '9' ? strtoll(p, &end, 10) : (end = (char *)p, 0);
        if (end == p || errno || v < 1 || v > 100000000LL)
            return nn_fail(err, NN_INVALID,
                           "synthetic: shape '%s' is not a list of sizes 1..100000000 "
                           "separated by commas",
                           text);
        s->dim[s->ndim++] = v;
        if (*end == '\0') break;
        if (*end != ',')
            return nn_fail(err, NN_INVALID,
                           "synthetic: shape '%s' is not a list of sizes separated by commas",
                           text);
        p = end + 1;
    }
    return NN_OK;
}

static nn_status synthetic_open(const nn_props *p, void **priv, int64_t *len, nn_shape *input,
                                nn_shape *target, char **err)
{
    nn_shape shape;
    nn_status st = parse_shape(nn_props_string(p, P_SHAPE), &shape, err);
    if (st) return st;
    int64_t n = nn_props_int(p, P_N), numel = 1;
    for (int i = 0; i < shape.ndim; i++) {
        numel *= shape.dim[i];
        if (numel > SYN_MAX_VALUES) break;
    }
    if (numel > SYN_MAX_VALUES || n * numel > SYN_MAX_VALUES)
        return nn_fail(err, NN_INVALID, "synthetic: n=%lld samples of shape %s are too many values "
                       "(at most %lld)", (long long)n, nn_props_string(p, P_SHAPE),
                       (long long)SYN_MAX_VALUES);
    synthetic *s = calloc(1, sizeof *s);
    if (s) {
        s->x = malloc((size_t)(n * numel) * sizeof(float));
        s->y = malloc((size_t)n * sizeof(float));
    }
    if (!s || !s->x || !s->y) {
        if (s) {
            free(s->x);
            free(s->y);
        }
        free(s);
        return nn_fail(err, NN_NO_MEMORY, "synthetic: out of memory for %lld samples",
                       (long long)n);
    }
    s->n = n;
    s->numel = numel;
    nn_rng rng;
    nn_rng_seed(&rng, (uint64_t)nn_props_int(p, P_SEED), 0x73796e746865ULL); /* its own stream */
    uint32_t classes = (uint32_t)nn_props_int(p, P_CLASSES);
    /* Sample by sample: its values (Box-Muller, both values of each pair),
     * then its label. */
    for (int64_t i = 0; i < n; i++) {
        float *x = s->x + i * numel;
        for (int64_t k = 0; k < numel; k += 2) {
            double u1 = 1.0 - (double)nn_rng_uniform(&rng); /* (0, 1] */
            double u2 = (double)nn_rng_uniform(&rng);
            double r = sqrt(-2.0 * log(u1)), a = 2.0 * M_PI * u2;
            x[k] = (float)(r * cos(a));
            if (k + 1 < numel) x[k + 1] = (float)(r * sin(a));
        }
        s->y[i] = (float)nn_rng_below(&rng, classes);
    }
    *priv = s;
    *len = n;
    *input = shape;
    *target = (nn_shape){1, {1}};
    return NN_OK;
}

static void synthetic_close(void *priv)
{
    synthetic *s = priv;
    free(s->x);
    free(s->y);
    free(s);
}

static nn_status synthetic_get(void *priv, int64_t i, float *x, float *y, char **err)
{
    (void)err; /* in memory: reading one cannot fail */
    const synthetic *s = priv;
    memcpy(x, s->x + i * s->numel, (size_t)s->numel * sizeof(float));
    y[0] = s->y[i];
    return NN_OK;
}

static nn_status synthetic_get_batch(void *priv, const int64_t *idx, int64_t n, float *x,
                                     float *y, char **err)
{
    (void)err;
    const synthetic *s = priv;
    for (int64_t k = 0; k < n; k++) {
        memcpy(x + k * s->numel, s->x + idx[k] * s->numel, (size_t)s->numel * sizeof(float));
        y[k] = s->y[idx[k]];
    }
    return NN_OK;
}

static const nn_dataset_vt synthetic_vt = {
    NN_VT_HEADER(nn_dataset_vt),
    .open = synthetic_open,
    .close = synthetic_close,
    .get = synthetic_get,
    .get_batch = synthetic_get_batch,
    .flags = NN_DATASET_BATCH_THREADS, /* get_batch reads what open made only */
};

static const nn_component_def synthetic_components[] = {
    {NN_KIND_DATASET, "synthetic", "standard normal inputs of any shape with random class labels",
     &synthetic_vt, synthetic_props, NN_COUNT_OF(synthetic_props)},
};

NN_PLUGIN_DEFINE("synthetic", "1.0", synthetic_components)
