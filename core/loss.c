/* loss.c - loss instances over the Loss interface. */
#include "nn-impl.h"

nn_status nn_loss_create(nn_ctx *ctx, const char *name, const char *words, nn_loss **out,
                         char **err)
{
    *out = NULL;
    const nn_component *comp;
    nn_props *props;
    nn_status st = nn_component_open(ctx->reg, NN_KIND_LOSS, name, words, &comp, &props, err);
    if (st) return st;
    const nn_loss_vt *vt = comp->def->vt;
    if (!NN_VT_HAS(vt, nn_loss_vt, forward)) {
        nn_props_free(props);
        return nn_fail(err, NN_ABI, "loss '%s' (%s) lacks forward", name, nn_component_file(comp));
    }
    nn_loss *l = calloc(1, sizeof *l);
    if (!l) {
        nn_props_free(props);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    *l = (nn_loss){ctx, comp, vt, props, NULL};
    size_t psize = NN_VT_IN(vt, nn_loss_vt, priv_size) ? vt->priv_size : 0;
    if (psize && !(l->priv = calloc(1, psize))) {
        nn_loss_free(l);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    if (NN_VT_HAS(vt, nn_loss_vt, init) && (st = vt->init(l, props, err))) {
        nn_loss_free(l);
        return nn_fail_context(err, st, "loss '%s'", name);
    }
    *out = l;
    return NN_OK;
}

void nn_loss_free(nn_loss *l)
{
    if (!l) return;
    if (NN_VT_HAS(l->vt, nn_loss_vt, destroy)) l->vt->destroy(l);
    free(l->priv);
    nn_props_free(l->props);
    free(l);
}

/* As a module's forward (module.c): a tensor or a recorded error, and for a
 * loss exactly one element, or backward and the loss value would fail later
 * with a message that does not name the loss. */
nn_tensor *nn_loss_forward(nn_loss *l, nn_tensor *pred, nn_tensor *target)
{
    if (!pred || !target) return NULL;
    const char *name = l->comp->def->name;
    const char *type = l->vt->type_name ? l->vt->type_name : name;
    nn_tensor *L = l->vt->forward(l, pred, target);
    if (!L) {
        if (l->ctx->err == NN_OK)
            nn_ctx_fail(l->ctx, NN_INTERNAL, "loss '%s' (%s) returned no tensor and recorded no error",
                        name, type);
        return NULL;
    }
    if (L->numel != 1) {
        char got[96];
        nn_shape_format(&L->shape, 0, got, sizeof got);
        return nn_ctx_fail(l->ctx, NN_SHAPE,
                           "loss '%s' (%s) returned shape %s; a loss returns one element (a 0-d "
                           "tensor, as nn_mean or nn_sum give)",
                           name, type, got);
    }
    return L;
}

nn_status nn_loss_correct(nn_loss *l, nn_tensor *pred, nn_tensor *target, int64_t *correct,
                          int64_t *total)
{
    if (!NN_VT_HAS(l->vt, nn_loss_vt, correct)) return NN_UNSUPPORTED;
    return l->vt->correct(l, pred, target, correct, total);
}

const nn_props *nn_loss_props(const nn_loss *l) { return l->props; }
void *nn_loss_priv(nn_loss *l) { return l->priv; }
nn_ctx *nn_loss_ctx(const nn_loss *l) { return l->ctx; }
