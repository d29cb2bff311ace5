/* predict.c - the class a loss's own rule assigns to a prediction. */
#include "nn-impl.h"

nn_status nn_loss_predict_class(nn_loss *l, nn_tensor *pred, int64_t *cls, char **err)
{
    const nn_shape *ps = nn_tensor_shape(pred);
    if (ps->ndim < 1) return nn_fail(err, NN_SHAPE, "predictions need a batch dimension");
    int64_t n = ps->dim[0], per = n ? nn_tensor_numel(pred) / n : 0;
    bool index = NN_VT_IN(l->vt, nn_loss_vt, target) && l->vt->target == NN_TARGET_CLASS_INDEX;
    if (!index && (per != 1 || !NN_VT_HAS(l->vt, nn_loss_vt, correct)))
        return nn_fail(err, NN_UNSUPPORTED, "loss '%s' defines no classes", l->comp->def->name);
    float *h = malloc((size_t)(n * per) * sizeof *h);
    if (!h) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_status st = nn_tensor_to_host(pred, h, n * per);
    if (index) { /* one score per class: the highest wins, the first of equals */
        for (int64_t i = 0; i < n && !st; i++) {
            int64_t best = 0;
            for (int64_t c = 1; c < per; c++)
                if (h[i * per + c] > h[i * per + best]) best = c;
            cls[i] = best;
        }
    } else { /* one output: class 1 when the accuracy rule counts target 1 correct */
        nn_shape one = *ps;
        one.dim[0] = 1;
        nn_tensor *p = nn_tensor_new(l->ctx, &one, 0), *t = nn_tensor_new(l->ctx, &one, 0);
        const float one_f = 1.0f;
        if (!st && (!p || !t)) st = nn_fail(err, NN_NO_MEMORY, "out of memory");
        if (!st) st = nn_tensor_from_host(t, &one_f, 1);
        for (int64_t i = 0; i < n && !st; i++) {
            int64_t ok = 0, total = 0;
            if (!(st = nn_tensor_from_host(p, h + i, 1)))
                st = nn_loss_correct(l, p, t, &ok, &total);
            if (st == NN_UNSUPPORTED)
                nn_fail(err, st, "loss '%s' defines no classes", l->comp->def->name);
            cls[i] = ok > 0;
        }
        nn_tensor_free(p);
        nn_tensor_free(t);
    }
    free(h);
    if (st && err && !*err) nn_fail(err, st, "predicting classes: %s", nn_strerror(st));
    return st;
}
