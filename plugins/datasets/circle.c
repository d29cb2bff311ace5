/* circle.c - the tutorial's data: n points uniform in the unit square,
 * class 1 inside the circle (x-0.5)^2 + (y-0.5)^2 < 0.1, else class 0.
 * input: [2]  target: [1] */
#include <nn/plugin.h>

#include <stdlib.h>

enum { P_N, P_SEED };

static const nn_prop_def circle_props[] = {
    [P_N] = {"n", NN_PROP_INT, "1200", 1, 1e8, NULL, "number of points"},
    [P_SEED] = {"seed", NN_PROP_INT, "0", 0, 9.2e18, NULL, "seed of the points"},
};

typedef struct {
    int64_t n;
    float *xy; /* n x 2 */
} circle;

static nn_status circle_open(const nn_props *p, void **priv, int64_t *len, nn_shape *input,
                             nn_shape *target, char **err)
{
    circle *c = malloc(sizeof *c);
    if (!c) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    c->n = nn_props_int(p, P_N);
    c->xy = malloc((size_t)c->n * 2 * sizeof(float));
    if (!c->xy) {
        long long n = (long long)c->n;
        free(c);
        return nn_fail(err, NN_NO_MEMORY, "circle: out of memory for %lld points", n);
    }
    nn_rng rng;
    nn_rng_seed(&rng, (uint64_t)nn_props_int(p, P_SEED), 0x636972636c65ULL); /* its own stream */
    for (int64_t i = 0; i < 2 * c->n; i++) c->xy[i] = nn_rng_uniform(&rng);
    *priv = c;
    *len = c->n;
    *input = (nn_shape){1, {2}};
    *target = (nn_shape){1, {1}};
    return NN_OK;
}

static void circle_close(void *priv)
{
    circle *c = priv;
    free(c->xy);
    free(c);
}

static nn_status circle_get(void *priv, int64_t i, float *x, float *y, char **err)
{
    (void)err; /* the points are in memory: reading one cannot fail */
    const circle *c = priv;
    float a = c->xy[2 * i], b = c->xy[2 * i + 1];
    x[0] = a;
    x[1] = b;
    y[0] = (a - 0.5f) * (a - 0.5f) + (b - 0.5f) * (b - 0.5f) < 0.1f ? 1.0f : 0.0f;
    return NN_OK;
}

static const nn_dataset_vt circle_vt = {
    NN_VT_HEADER(nn_dataset_vt),
    .open = circle_open,
    .close = circle_close,
    .get = circle_get,
};

static const nn_component_def circle_components[] = {
    {NN_KIND_DATASET, "circle", "points in the unit square, class 1 inside a circle", &circle_vt,
     circle_props, NN_COUNT_OF(circle_props)},
};

NN_PLUGIN_DEFINE("circle", "1.0", circle_components)
