/* anomaly.c - torch.autograd.detect_anomaly: with the context's flag on,
 * backward reads the gradients each node wrote for its inputs back to the
 * host and stops at the first NaN or Inf, naming the node. Off by default;
 * then backward only tests the flag. */
#include "nn-impl.h"

#include <math.h>

int nn_ctx_set_detect_anomaly(nn_ctx *ctx, int on)
{
    int old = ctx->detect_anomaly;
    ctx->detect_anomaly = on != 0;
    return old;
}

int nn_ctx_detect_anomaly(const nn_ctx *ctx) { return ctx->detect_anomaly; }

void nn_anomaly_check(nn_ctx *ctx, const nn_node *n)
{
    for (int i = 0; i < n->nin && !ctx->err; i++) {
        const nn_tensor *t = n->in[i];
        if (!t || !t->grad || !(t->flags & NN_T_GRAD_VALID)) continue;
        int64_t k = t->grad->numel;
        float *h = malloc((size_t)k * sizeof *h);
        if (!h) {
            nn_ctx_fail(ctx, NN_NO_MEMORY, "out of memory");
            return;
        }
        nn_status st = nn_tensor_to_host(t->grad, h, k);
        int64_t j = 0;
        while (!st && j < k && isfinite(h[j])) j++;
        if (st)
            nn_ctx_fail(ctx, st, "detect_anomaly: reading the gradient of %s: %s", n->name,
                        nn_strerror(st));
        else if (j < k) {
            const char *what = isnan(h[j]) ? "NaN" : "Inf";
            if (n->op)
                nn_ctx_fail(ctx, NN_INVALID,
                            "op '%s' (%s) produced %s in its backward (gradient of input %d, "
                            "element %lld)",
                            nn_op_name(n->op), n->name, what, i, (long long)j);
            else
                nn_ctx_fail(ctx, NN_INVALID,
                            "op '%s' produced %s in its backward (gradient of input %d, "
                            "element %lld)",
                            n->name, what, i, (long long)j);
        }
        free(h);
    }
}
