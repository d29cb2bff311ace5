/* predict.c - nnrun predict: a network's outputs, one CSV row per sample,
 * written atomically (temporary file beside the target, then rename). */
#define _POSIX_C_SOURCE 200809L
#include "predict.h"
#include "atomic.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static nn_status ctx_failed(nn_ctx *ctx, const char *what, char **err)
{
    const char *msg;
    nn_status st = nn_ctx_error(ctx, &msg);
    if (!st) return nn_fail(err, NN_INTERNAL, "%s gave no result and no reason", what);
    st = nn_fail(err, st, "%s: %s", what, msg);
    nn_ctx_clear_error(ctx);
    return st;
}

/* One pass over the batches into f. */
static nn_status write_rows(FILE *f, nn_module *m, nn_loss *l, nn_dataset *d, int64_t batch,
                            bool targets, int64_t *rows, char **err)
{
    nn_ctx *ctx = nn_module_ctx(m);
    nn_loader *ld;
    nn_status st = nn_loader_open(d, batch, NN_SHUFFLE_NONE, 0, &ld, err);
    if (st) return st;
    int64_t per = nn_shape_numel(nn_module_out_shape(m));
    int64_t b = batch < nn_dataset_len(d) ? batch : nn_dataset_len(d);
    int64_t tper = targets ? nn_shape_numel(nn_dataset_target_shape(d)) : 0;
    float *h = malloc((size_t)(b * per) * sizeof *h);
    float *t = malloc((size_t)(b * (tper ? tper : 1)) * sizeof *t);
    int64_t *cls = malloc((size_t)b * sizeof *cls);
    if (!h || !t || !cls) st = nn_fail(err, NN_NO_MEMORY, "out of memory");
    bool classes = false;
    if (!st && l) { /* does the loss define classes? ask it about one row of zeros */
        nn_shape one = *nn_module_out_shape(m), s1 = {one.ndim + 1, {1}};
        memcpy(s1.dim + 1, one.dim, (size_t)one.ndim * sizeof one.dim[0]);
        nn_tensor *z = nn_tensor_scratch(ctx, &s1);
        char *why = NULL;
        if (z) nn_tensor_zero_(z);
        classes = z && nn_loss_predict_class(l, z, cls, &why) == NN_OK;
        nn_free(why);
        nn_ctx_scratch_reset(ctx);
    }
    for (int64_t k = 0; !st && k < per; k++) fprintf(f, "%sout%lld", k ? "," : "", (long long)k);
    for (int64_t k = 0; !st && k < tper; k++) fprintf(f, ",target%lld", (long long)k);
    if (!st) fputs(classes ? ",class\n" : "\n", f);
    *rows = 0;
    nn_tensor *x, *y;
    int r;
    while (!st && (r = nn_loader_next(ld, &x, &y)) != 0) {
        if (r < 0) {
            st = ctx_failed(ctx, "reading the data", err);
            break;
        }
        nn_tensor *out = nn_module_forward(m, x);
        if (!out) {
            st = ctx_failed(ctx, "forward pass", err);
            break;
        }
        int64_t n = nn_tensor_shape(out)->dim[0];
        if (n * per != nn_tensor_numel(out) || n > b)
            st = nn_fail(err, NN_SHAPE, "the model's output does not match its output shape");
        if (!st) st = nn_tensor_to_host(out, h, n * per);
        if (!st && tper) st = nn_tensor_to_host(y, t, n * tper);
        if (!st && classes) st = nn_loss_predict_class(l, out, cls, err);
        for (int64_t i = 0; !st && i < n; i++) {
            for (int64_t k = 0; k < per; k++)
                fprintf(f, "%s%.9g", k ? "," : "", (double)h[i * per + k]);
            for (int64_t k = 0; k < tper; k++) fprintf(f, ",%.9g", (double)t[i * tper + k]);
            if (classes) fprintf(f, ",%lld", (long long)cls[i]);
            fputc('\n', f);
        }
        if (!st) *rows += n;
        nn_ctx_scratch_reset(ctx);
    }
    free(h);
    free(t);
    free(cls);
    nn_loader_free(ld);
    return st;
}

nn_status predict_write(nn_module *m, nn_loss *l, nn_dataset *d, int64_t batch, bool targets,
                        const char *path, int64_t *rows, char **err)
{
    char *tmp = NULL;
    FILE *f = stdout;
    /* The temporary file first: a folder that cannot take it fails now. */
    if (path && !(f = atomic_open(path, &tmp, err))) return NN_IO;
    nn_ctx *ctx = nn_module_ctx(m);
    int prev_grad = nn_grad_set_enabled(ctx, 0);
    nn_module_train(m, 0); /* model.eval(), torch.no_grad() */
    nn_status st = write_rows(f, m, l, d, batch, targets, rows, err);
    nn_grad_set_enabled(ctx, prev_grad);
    if (path) {
        nn_status cst = atomic_close(f, tmp, path, !st, err);
        if (!st) st = cst;
    } else if (!st && (fflush(stdout) != 0 || ferror(stdout))) {
        st = nn_fail(err, NN_IO, "cannot write the predictions: %s", strerror(errno));
    }
    return st;
}
