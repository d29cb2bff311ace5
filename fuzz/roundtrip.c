/* roundtrip.c - fuzz target: the bytes pick a small valid model (a chain on
 * the circle data ending in one output), an optimizer and its
 * hyper-parameters, a few epochs of training, a training state, info and
 * metadata; it is saved, loaded and compared: metadata, training state and
 * every parameter bit for bit, then the optimizer's state by one more epoch
 * with both the original and the restored model and optimizer, which must
 * end bit for bit equal. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const uint8_t *p;
    size_t n;
} bytes;

static unsigned take(bytes *b)
{
    if (!b->n) return 0;
    b->n--;
    return *b->p++;
}

static void fail(const char *what)
{
    fprintf(stderr, "round trip: %s\n", what);
    abort();
}

static void same_params(nn_module *a, nn_module *b, const char *when)
{
    int n = nn_module_param_count(a);
    if (n != nn_module_param_count(b)) fail("parameter counts differ");
    for (int i = 0; i < n; i++) {
        const char *na, *nb;
        nn_tensor *ta = nn_module_param(a, i, &na), *tb = nn_module_param(b, i, &nb);
        int64_t k = nn_tensor_numel(ta);
        if (strcmp(na, nb) || k != nn_tensor_numel(tb)) fail("parameter names or sizes differ");
        float *x = malloc((size_t)k * sizeof *x + 1), *y = malloc((size_t)k * sizeof *y + 1);
        if (!x || !y || nn_tensor_to_host(ta, x, k) || nn_tensor_to_host(tb, y, k)) fail("copy");
        if (memcmp(x, y, (size_t)k * sizeof *x)) {
            fprintf(stderr, "round trip: %s: parameter %s differs\n", when, na);
            abort();
        }
        free(x);
        free(y);
    }
}

static const char *const layers[] = {"sigmoid", "relu", "tanh", "gelu", "leaky_relu",
                                     "identity", "batchnorm1d"};
static const char *const optims[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    bytes b = {data, size};
    char chain[512] = "", spec[128], info[64], path[64];
    int nl = (int)(take(&b) % 4);
    for (int i = 0; i < nl; i++) {
        unsigned k = take(&b);
        size_t at = strlen(chain);
        if (k % 3 == 0)
            snprintf(chain + at, sizeof chain - at, "linear out=%u bias=%s ! ", 1 + k / 3 % 4,
                     k & 64 ? "false" : "true");
        else
            snprintf(chain + at, sizeof chain - at, "%s ! ", layers[k % 7]);
    }
    strcat(chain, "linear out=1");
    unsigned ok = take(&b);
    const char *oname = optims[ok % 5];
    if (ok % 5 == 0)
        snprintf(spec, sizeof spec, "lr=0.%02u momentum=0.%u", take(&b) % 50 + 1, take(&b) % 10);
    else
        snprintf(spec, sizeof spec, "lr=0.0%02u", take(&b) % 50 + 1);
    int epochs = (int)(take(&b) % 3);
    int64_t batch = 2 + take(&b) % 11; /* 20 samples: no batch of one (batchnorm1d) */
    /* info: any bytes (saving refuses what is not UTF-8) */
    size_t ni = take(&b) % 16;
    for (size_t i = 0; i < ni; i++) {
        unsigned v = take(&b);
        info[i] = (char)(v < 0x80 ? 0x20 + v % 95 : v); /* printable or raw */
    }
    info[ni] = 0;

    nn_ctx *ctx = fuzz_ctx;
    nn_rng *rng = nn_ctx_rng(ctx);
    nn_rng_seed(rng, 7, 0);
    nn_shape in = {1, {2}};
    nn_module *m = NULL, *m2 = NULL;
    nn_optim *o = NULL, *o2 = NULL;
    nn_loss *l = NULL;
    nn_dataset *d = NULL;
    nn_checkpoint *c = NULL;
    char *err = NULL;
    if (nn_module_from_chain(ctx, chain, &in, &m, &err) ||
        nn_optim_create(ctx, oname, spec, m, &o, &err) ||
        nn_loss_create(ctx, "mse", "", &l, &err) ||
        nn_dataset_open(ctx, "circle", "n=20", &d, &err)) {
        fprintf(stderr, "round trip: set-up of [%s] [%s %s]: %s\n", chain, oname, spec, err);
        abort();
    }
    int64_t order[20];
    for (int i = 0; i < 20; i++) order[i] = i;
    nn_rng_permutation(rng, order, 20);
    /* Settings that diverge are refused by training (non-finite loss or
     * parameter): a correct refusal, and nothing to round-trip. */
    for (int e = 0; e < epochs; e++)
        if (nn_fit_epoch(m, l, o, d, batch, order, NULL, &err)) {
            if (!strncmp(err, "non-finite ", 11)) goto done;
            fail(err);
        }

    nn_train_state ts = {.epoch = epochs, .step = nn_optim_steps(o), .batch = batch,
                         .shuffle = (nn_shuffle)(take(&b) % 3), .seed = take(&b) * 977u,
                         .rng = *rng, .data = "circle n=20", .loss = "mse", .device = "cpu",
                         .order = order, .norder = take(&b) & 1 ? 20 : 0};
    char key[8], val[8];
    snprintf(key, sizeof key, "k%u", take(&b));
    snprintf(val, sizeof val, "v%u", take(&b));
    const char *meta[] = {key, val, "schedule", "step_size=3"};
    nn_save_opts so = {.info = info, .date = "2024-05-06T07:08:09Z", .model = m, .optim = o,
                       .train = &ts, .metadata = meta, .nmetadata = 2};
    static char dir[48];
    if (!*dir) {
        strcpy(dir, "/tmp/nn-fuzz-rt-XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    snprintf(path, sizeof path, "%s/c", dir);
    if (nn_checkpoint_save(path, &so, &err)) {
        fuzz_check_msg(err); /* info that is not UTF-8 */
        goto done;
    }
    if (nn_checkpoint_load(path, &c, &err)) fail(err);
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "saved [%s] [%s %s] %d epochs\n", chain, oname, spec, epochs);
    if (strcmp(nn_checkpoint_info(c), info) || strcmp(nn_checkpoint_date(c), so.date) ||
        strcmp(nn_checkpoint_metadata(c, key), val) ||
        strcmp(nn_checkpoint_metadata(c, "schedule"), "step_size=3"))
        fail("info, date or metadata differ");
    nn_train_state t2;
    if (nn_checkpoint_train_state(c, &t2)) fail("no training state");
    if (t2.epoch != ts.epoch || t2.step != ts.step || t2.batch != ts.batch ||
        t2.shuffle != ts.shuffle || t2.seed != ts.seed || t2.rng.state != ts.rng.state ||
        t2.rng.inc != ts.rng.inc || strcmp(t2.data, ts.data) || strcmp(t2.loss, ts.loss) ||
        strcmp(t2.device, ts.device) || t2.norder != ts.norder ||
        (ts.norder && memcmp(t2.order, order, sizeof order)))
        fail("training state differs");
    if (nn_checkpoint_build_model(c, ctx, &m2, &err) || nn_checkpoint_build_optim(c, m2, &o2, &err))
        fail(err);
    same_params(m, m2, "after loading");
    if (nn_optim_steps(o2) != nn_optim_steps(o)) fail("optimizer steps differ");
    /* the optimizer's state: one more epoch each, from the same RNG */
    nn_rng r0 = *rng;
    if (nn_fit_epoch(m, l, o, d, batch, order, NULL, &err)) {
        if (strncmp(err, "non-finite ", 11)) fail(err);
        /* diverged: the restored pair must diverge the same way */
        char *first = err;
        err = NULL;
        *rng = r0;
        nn_status st = nn_fit_epoch(m2, l, o2, d, batch, order, NULL, &err);
        int same = st && err && !strcmp(first, err);
        nn_free(first);
        if (!same) fail("the restored run does not diverge as the original does");
        goto done;
    }
    *rng = r0;
    if (nn_fit_epoch(m2, l, o2, d, batch, order, NULL, &err)) fail(err);
    same_params(m, m2, "one epoch after loading");
done:
    nn_free(err);
    unlink(path);
    nn_checkpoint_free(c);
    nn_optim_free(o2);
    nn_module_free(m2);
    nn_dataset_free(d);
    nn_loss_free(l);
    nn_optim_free(o);
    nn_module_free(m);
    return 0;
}
