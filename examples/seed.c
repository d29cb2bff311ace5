/* seed.c - the PyTorch tutorial "Neural networks", start to finish, in C.
 *
 *   cc seed.c $(pkg-config --cflags --libs nn) -o seed && ./seed [DIR]
 *
 * The circle data, a 2-5-1 sigmoid network, BCELoss and SGD(0.5, 0.8), the
 * tutorial's fit() with batches and train/eval mode, shuffling each epoch,
 * a hand-written update under no-grad, print/summary/parameters, saving
 * {info, date, model, optimizer} and loading it into a fresh model, a
 * Dataset with __len__/__getitem__ through a DataLoader, and "cuda if
 * available, else cpu". The checkpoint goes to DIR (default: the current
 * directory). */
#include <nn/plugin.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *err;

/* Every call that can fail returns a status; on failure, say why and stop. */
#define TRY(call)                                                                          \
    do {                                                                                   \
        nn_status st_ = (call);                                                            \
        if (st_) {                                                                         \
            fprintf(stderr, "seed: %s: %s\n", #call, err ? err : nn_strerror(st_));         \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* def fit(model, X, Y, batch_size=100, train=True) */
static void fit(nn_module *model, nn_loss *loss, nn_optim *optimizer, nn_loader *batches,
                int train, double *mean_loss, double *mean_acc)
{
    nn_ctx *ctx = nn_module_ctx(model);
    nn_module_train(model, train);               /* matters for Dropout, BatchNorm */
    int prev = nn_grad_set_enabled(ctx, train);  /* evaluation records no graph */
    double sumL = 0, sumA = 0;
    int numB = 0, more;
    nn_tensor *xb, *yb;
    while ((more = nn_loader_next(batches, &xb, &yb)) == 1) {
        nn_tensor *y = nn_module_forward(model, xb);  /* forward */
        nn_tensor *L = nn_loss_forward(loss, y, yb);  /* the loss */
        if (!L) break;                                /* nn_ctx_error says why */
        if (train) {
            nn_optim_zero_grad(optimizer);
            TRY(nn_backward(L));
            TRY(nn_optim_step(optimizer));
        }
        float l;
        int64_t right, total;
        TRY(nn_tensor_item(L, &l));
        TRY(nn_loss_correct(loss, y, yb, &right, &total)); /* (y.round() == yb).mean() */
        sumL += l;
        sumA += (double)right / (double)total;
        numB++;
        nn_ctx_scratch_reset(ctx); /* this step's tensors and graph, in one call */
    }
    const char *msg;
    if (more < 0 || nn_ctx_error(ctx, &msg)) {
        nn_ctx_error(ctx, &msg);
        fprintf(stderr, "seed: %s\n", msg);
        exit(1);
    }
    nn_grad_set_enabled(ctx, prev);
    *mean_loss = sumL / numB;
    *mean_acc = sumA / numB;
}

/* The tutorial's manual step: with torch.no_grad(): p.add_(p.grad, alpha=-0.7) */
static void manual_step(nn_module *model)
{
    int prev = nn_grad_set_enabled(nn_module_ctx(model), 0);
    for (int i = 0; i < nn_module_param_count(model); i++) {
        nn_tensor *p = nn_module_param(model, i, NULL);
        nn_tensor *g = nn_tensor_grad(p);
        if (g) TRY(nn_tensor_add_(p, g, -0.7f));
        nn_tensor_zero_grad(p);
    }
    nn_grad_set_enabled(nn_module_ctx(model), prev);
}

/* ---- class MyDataset(Dataset): x = rand(N, 1), target = 2 x ---- */

typedef struct {
    int64_t n;
    float x[64];
} my_dataset;

static const nn_prop_def my_props[] = {
    {"n", NN_PROP_INT, "10", 1, 64, NULL, "number of samples"},
};

static nn_status my_open(const nn_props *p, void **priv, int64_t *len, nn_shape *input,
                         nn_shape *target, char **e)
{
    my_dataset *d = calloc(1, sizeof *d);
    if (!d) return nn_fail(e, NN_NO_MEMORY, "out of memory");
    d->n = nn_props_int(p, 0);
    nn_rng rng;
    nn_rng_seed(&rng, 42, 0);
    for (int64_t i = 0; i < d->n; i++) d->x[i] = nn_rng_uniform(&rng);
    *priv = d;
    *len = d->n;                  /* __len__ */
    *input = (nn_shape){1, {1}};
    *target = (nn_shape){1, {1}};
    return NN_OK;
}

static void my_close(void *priv) { free(priv); }

static nn_status my_get(void *priv, int64_t i, float *x, float *y, char **e) /* __getitem__ */
{
    (void)e; /* a sample in memory cannot fail to read */
    const my_dataset *d = priv;
    x[0] = d->x[i];
    y[0] = 2 * d->x[i];
    return NN_OK;
}

static const nn_dataset_vt my_vt = {
    NN_VT_HEADER(nn_dataset_vt), .open = my_open, .close = my_close, .get = my_get,
};
static const nn_component_def my_components[] = {
    {NN_KIND_DATASET, "my_dataset", "the tutorial's MyDataset", &my_vt, my_props, 1},
};
static const nn_plugin_desc my_plugin = {
    NN_ABI_MAJOR, NN_ABI_MINOR, sizeof(nn_plugin_desc), "seed", "1.0", my_components, 1,
};

static void print_tensor(const char *label, nn_tensor *t)
{
    float v[16];
    int64_t n = nn_tensor_numel(t);
    TRY(nn_tensor_to_host(t, v, n < 16 ? n : 16));
    printf("%s[", label);
    for (int64_t i = 0; i < n && i < 16; i++) printf("%s%.4f", i ? ", " : "", v[i]);
    printf("]");
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    nn_registry *reg;
    TRY(nn_registry_open(NULL, &reg, &err));
    TRY(nn_registry_add(reg, &my_plugin, &err));

    /* gpu = torch.device("cuda:0" if torch.cuda.is_available() else "cpu") */
    const char *device = nn_device_available(reg, "cuda", NULL) ? "cuda" : "cpu";
    nn_ctx *ctx;
    TRY(nn_ctx_open(reg, device, /* torch.manual_seed */ 1, &ctx, &err));
    printf("device: %s\n", device);

    /* X = torch.rand(1200, 2); Y = (sum((X - 0.5)**2) < 0.1) */
    nn_dataset *data;
    TRY(nn_dataset_open(ctx, "circle", "n=1200", &data, &err));

    /* model = nn.Sequential(Linear(2, 5), Sigmoid(), Linear(5, 1), Sigmoid()) */
    nn_module *model;
    TRY(nn_module_from_chain(ctx, "linear out=5 ! sigmoid ! linear out=1 ! sigmoid",
                             nn_dataset_input_shape(data), &model, &err));
    nn_loss *loss;
    TRY(nn_loss_create(ctx, "bce", "", &loss, &err));
    nn_optim *optimizer;
    TRY(nn_optim_create(ctx, "sgd", "lr=0.5 momentum=0.8", model, &optimizer, &err));

    /* Shuffled batches each epoch (idx = torch.randperm(len(X))); in order for evaluation. */
    nn_loader *shuffled, *ordered;
    TRY(nn_loader_open(data, 100, NN_SHUFFLE_EPOCH, 1, &shuffled, &err));
    TRY(nn_loader_open(data, 100, NN_SHUFFLE_NONE, 1, &ordered, &err));

    double L, A;
    fit(model, loss, optimizer, ordered, 0, &L, &A);
    printf("before:      loss: %.4f accuracy: %.4f\n", L, A);
    const int epochs = 1000;
    for (int epoch = 0; epoch < epochs; epoch++) {
        fit(model, loss, optimizer, shuffled, 1, &L, &A);
        if (epoch % 100 == 0 || epoch == epochs - 1)
            printf("epoch: %5d loss: %.4f accuracy: %.4f\n", epoch, L, A);
    }
    fit(model, loss, optimizer, ordered, 0, &L, &A);
    printf("eval:        loss: %.4f accuracy: %.4f\n", L, A);

    /* print(model), summary(model, torch.zeros(1, 2)), the state_dict listing */
    char *text = nn_module_repr(model);
    printf("\n%s", text);
    nn_free(text);
    text = nn_module_summary(model, NULL);
    printf("%s", text);
    nn_free(text);
    text = nn_module_params_text(model, 0);
    printf("%s\n", text);
    nn_free(text);

    /* The hand-written update instead of optimizer.step(), on a fresh model. */
    nn_module *manual;
    TRY(nn_module_from_chain(ctx, "linear out=5 ! sigmoid ! linear out=1 ! sigmoid",
                             nn_dataset_input_shape(data), &manual, &err));
    nn_tensor *xb, *yb;
    for (int epoch = 0; epoch < epochs; epoch++)
        while (nn_loader_next(shuffled, &xb, &yb) == 1) {
            TRY(nn_backward(nn_loss_forward(loss, nn_module_forward(manual, xb), yb)));
            manual_step(manual);
            nn_ctx_scratch_reset(ctx);
        }
    fit(manual, loss, NULL, ordered, 0, &L, &A);
    printf("manual update, %d epochs: loss: %.4f accuracy: %.4f\n", epochs, L, A);
    nn_module_free(manual);

    /* Hyper-parameters change at any time: optimizer.param_groups[0]['lr'] = 0.25 */
    TRY(nn_optim_set(optimizer, "lr", "0.25", &err));

    /* torch.save({'info': ..., 'date': now, 'model': ..., 'optimizer': ...}, 'state.pt') */
    char path[4096];
    snprintf(path, sizeof path, "%s/state.pb", dir);
    nn_save_opts so = {.info = "Это моя сеть", .model = model, .optim = optimizer};
    TRY(nn_checkpoint_save(path, &so, &err));

    /* state = torch.load(...); m = TwoLayersNet(...); m.load_state_dict(...) */
    nn_checkpoint *state;
    TRY(nn_checkpoint_load(path, &state, &err));
    nn_module *m;
    TRY(nn_module_from_chain(ctx, "linear out=5 ! sigmoid ! linear out=1 ! sigmoid",
                             nn_dataset_input_shape(data), &m, &err));
    TRY(nn_checkpoint_load_model(state, m, &err));
    nn_optim *opt2;
    TRY(nn_optim_create(ctx, "sgd", "lr=1", m, &opt2, &err)); /* any settings: they load */
    TRY(nn_checkpoint_load_optim(state, opt2, &err));
    double lr;
    TRY(nn_optim_get(opt2, "lr", &lr));
    printf("%s %s (lr=%g)\n", nn_checkpoint_info(state), nn_checkpoint_date(state), lr);
    fit(m, loss, NULL, ordered, 0, &L, &A);
    printf("loaded:      loss: %.4f accuracy: %.4f\n\n", L, A);

    /* data = MyDataset(); for sample in data: print(sample) */
    nn_dataset *mine;
    TRY(nn_dataset_open(ctx, "my_dataset", "n=10", &mine, &err));
    for (int64_t i = 0; i < nn_dataset_len(mine); i++) {
        float x, y;
        TRY(nn_dataset_get(mine, i, &x, &y));
        printf("{'input': %.4f, 'target': %.4f}\n", x, y);
    }
    /* DataLoader(dataset=data, batch_size=12, shuffle=False) */
    nn_loader *loader;
    TRY(nn_loader_open(mine, 12, NN_SHUFFLE_NONE, 0, &loader, &err));
    while (nn_loader_next(loader, &xb, &yb) == 1) {
        print_tensor("input ", xb);
        print_tensor(" target ", yb);
        printf("\n");
        nn_ctx_scratch_reset(ctx);
    }

    nn_loader_free(loader);
    nn_dataset_free(mine);
    nn_optim_free(opt2);
    nn_module_free(m);
    nn_checkpoint_free(state);
    nn_loader_free(shuffled);
    nn_loader_free(ordered);
    nn_optim_free(optimizer);
    nn_loss_free(loss);
    nn_module_free(model);
    nn_dataset_free(data);
    nn_ctx_free(ctx);
    nn_registry_free(reg);
    return 0;
}
