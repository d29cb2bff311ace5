/* clip.c - torch.nn.utils.clip_grad_norm_: the 2-norm of all gradients
 * together, and every gradient scaled by max_norm / (norm + 1e-6) when the
 * norm exceeds max_norm. Built from core ops (mul, sum, add, mul_scalar) on
 * the context's device; one host read per call. */
#include "nn-impl.h"

#include <math.h>

nn_status nn_clip_grad_norm_params(nn_tensor *const *params, int n, double max_norm,
                                   double *total_norm)
{
    if (total_norm) *total_norm = 0.0;
    if (!(max_norm >= 0) || isinf(max_norm)) return NN_INVALID;
    nn_ctx *ctx = NULL;
    for (int i = 0; i < n && !ctx; i++)
        if (nn_tensor_grad(params[i])) ctx = params[i]->ctx;
    if (!ctx) return NN_OK; /* no gradient: norm 0, as PyTorch */
    if (ctx->err) return ctx->err;
    int prev = nn_grad_set_enabled(ctx, 0);
    nn_tensor *sq = NULL;
    for (int i = 0; i < n; i++) {
        nn_tensor *g = nn_tensor_grad(params[i]);
        if (!g) continue;
        nn_tensor *s = nn_sum(nn_mul(g, g));
        sq = sq ? nn_add(sq, s) : s;
    }
    float sum = 0;
    nn_status st = ctx->err ? ctx->err : sq ? nn_tensor_item(sq, &sum) : NN_INTERNAL;
    double norm = sqrt((double)sum);
    /* clip_coef = max_norm / (total_norm + 1e-6), clamped at 1 (float32, as torch) */
    float coef = (float)max_norm / ((float)norm + 1e-6f);
    if (!st && !(coef >= 1.0f)) /* at 1 PyTorch's multiply changes nothing; NaN spreads */
        for (int i = 0; i < n && !ctx->err; i++) {
            nn_tensor *g = nn_tensor_grad(params[i]);
            if (!g) continue;
            if (!nn_t_contig(g)) {
                nn_ctx_fail(ctx, NN_UNSUPPORTED, "clip_grad_norm: a strided gradient");
                break;
            }
            nn_tensor *c = nn_mul_scalar(g, coef);
            if (c) ctx->dev.vt->copy(ctx->dev.h, g->data, c->data, (size_t)g->numel * sizeof(float));
        }
    if (!st) st = ctx->err;
    nn_grad_set_enabled(ctx, prev);
    if (total_norm) *total_norm = norm;
    return st;
}

nn_status nn_clip_grad_norm(nn_module *m, double max_norm, double *total_norm)
{
    int n = nn_module_param_count(m);
    if (n < 0) return NN_NO_MEMORY; /* the parameters could not be listed */
    nn_tensor *stack[64], **p = n <= 64 ? stack : malloc((size_t)n * sizeof *p);
    if (!p) return NN_NO_MEMORY;
    for (int i = 0; i < n; i++) p[i] = nn_module_param(m, i, NULL);
    nn_status st = nn_clip_grad_norm_params(p, n, max_norm, total_norm);
    if (p != stack) free(p);
    return st;
}
