/* optim.c - optimizer instances: parameters by name, state slots by name,
 * hyper-parameters that can change at any time. */
#include "nn-impl.h"

nn_status nn_optim_create_over(nn_ctx *ctx, const char *name, const char *words, int n,
                               nn_tensor *const *params, const char *const *names, nn_optim **out,
                               char **err)
{
    *out = NULL;
    const nn_component *comp;
    nn_props *props;
    nn_status st = nn_component_open(ctx->reg, NN_KIND_OPTIMIZER, name, words, &comp, &props, err);
    if (st) return st;
    const nn_optim_vt *vt = comp->def->vt;
    if (!NN_VT_HAS(vt, nn_optim_vt, step)) {
        nn_props_free(props);
        return nn_fail(err, NN_ABI, "optimizer '%s' (%s) lacks step", name,
                       nn_component_file(comp));
    }
    if (NN_VT_HAS(vt, nn_optim_vt, validate) && (st = vt->validate(props, err))) {
        nn_props_free(props);
        return st;
    }
    nn_optim *o = calloc(1, sizeof *o);
    if (!o) {
        nn_props_free(props);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    *o = (nn_optim){.ctx = ctx, .comp = comp, .vt = vt, .props = props};
    while (vt->state_names && vt->state_names[o->nstate]) o->nstate++;
    o->params = calloc((size_t)(n > 0 ? n : 1), sizeof *o->params);
    o->state = calloc((size_t)(n * o->nstate + 1), sizeof *o->state);
    size_t psize = NN_VT_IN(vt, nn_optim_vt, priv_size) ? vt->priv_size : 0;
    if (psize) o->priv = calloc(1, psize);
    if (!o->params || !o->state || (psize && !o->priv)) {
        nn_optim_free(o);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (!nn_tensor_requires_grad(params[i])) continue;
        for (int j = 0; j < o->nparams; j++)
            if (!strcmp(o->params[j].name, names[i])) {
                nn_optim_free(o);
                return nn_fail(err, NN_INVALID, "parameter name '%s' given twice", names[i]);
            }
        nn_param *p = &o->params[o->nparams++];
        p->t = params[i];
        if (!(p->name = nn_strdup(names[i]))) {
            nn_optim_free(o);
            return nn_fail(err, NN_NO_MEMORY, "out of memory");
        }
    }
    if (NN_VT_HAS(vt, nn_optim_vt, init) && (st = vt->init(o, err))) {
        nn_optim_free(o);
        return nn_fail_context(err, st, "optimizer '%s'", name);
    }
    *out = o;
    return NN_OK;
}

nn_status nn_optim_create(nn_ctx *ctx, const char *name, const char *words, nn_module *m,
                          nn_optim **out, char **err)
{
    int n = nn_module_param_count(m);
    if (n < 0) return nn_fail(err, NN_NO_MEMORY, "out of memory listing the model's parameters");
    nn_tensor **ts = calloc((size_t)(n ? n : 1), sizeof *ts);
    const char **names = calloc((size_t)(n ? n : 1), sizeof *names);
    nn_status st = ts && names ? NN_OK : nn_fail(err, NN_NO_MEMORY, "out of memory");
    for (int i = 0; !st && i < n; i++) ts[i] = nn_module_param(m, i, &names[i]);
    if (!st) st = nn_optim_create_over(ctx, name, words, n, ts, names, out, err);
    free(ts);
    free(names);
    return st;
}

void nn_optim_free(nn_optim *o)
{
    if (!o) return;
    if (NN_VT_HAS(o->vt, nn_optim_vt, destroy)) o->vt->destroy(o);
    free(o->priv);
    for (int i = 0; i < o->nparams; i++) free(o->params[i].name);
    for (int i = 0; o->state && i < o->nparams * o->nstate; i++) nn_tensor_free(o->state[i]);
    free(o->params);
    free(o->state);
    nn_props_free(o->props);
    free(o);
}

nn_status nn_optim_step(nn_optim *o)
{
    nn_status st = o->vt->step(o);
    if (st) return st;
    o->steps++;
    return nn_ctx_error(o->ctx, NULL);
}

void nn_optim_zero_grad(nn_optim *o)
{
    for (int i = 0; i < o->nparams; i++) nn_tensor_zero_grad(o->params[i].t);
}

nn_status nn_optim_set(nn_optim *o, const char *key, const char *value, char **err)
{
    /* Validate on a copy so that a refused value leaves the optimizer as it was. */
    nn_props *next = nn_props_clone(o->props);
    if (!next) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_status st = nn_props_set(next, key, value, err);
    if (!st && NN_VT_HAS(o->vt, nn_optim_vt, validate)) st = o->vt->validate(next, err);
    if (st) {
        nn_props_free(next);
        return st;
    }
    nn_props_free(o->props);
    o->props = next;
    return NN_OK;
}

nn_status nn_optim_get(const nn_optim *o, const char *key, double *value)
{
    int i = nn_props_index(o->props, key);
    if (i < 0) return NN_NOT_FOUND;
    const nn_prop_def *d = &o->comp->def->props[i];
    if (d->type == NN_PROP_BOOL)
        *value = nn_props_bool(o->props, i);
    else if (d->type == NN_PROP_INT || d->type == NN_PROP_FLOAT)
        *value = nn_props_float(o->props, i);
    else
        return NN_INVALID;
    return NN_OK;
}

nn_props *nn_optim_props(nn_optim *o) { return o->props; }
const nn_props *nn_optim_hparams(const nn_optim *o) { return o->props; }
const char *nn_optim_name(const nn_optim *o) { return o->comp->def->name; }
int64_t nn_optim_steps(const nn_optim *o) { return o->steps; }
int nn_optim_param_count(const nn_optim *o) { return o->nparams; }
void *nn_optim_priv(nn_optim *o) { return o->priv; }
nn_ctx *nn_optim_ctx(const nn_optim *o) { return o->ctx; }

nn_tensor *nn_optim_param(nn_optim *o, int i)
{
    return i >= 0 && i < o->nparams ? o->params[i].t : NULL;
}

bool nn_optim_state_is_scalar(const nn_optim *o, int j)
{
    return j < 32 && NN_VT_IN(o->vt, nn_optim_vt, scalar_states) &&
           (o->vt->scalar_states >> j & 1u);
}

nn_tensor *nn_optim_state(nn_optim *o, int i, int j)
{
    NN_ASSERT(i >= 0 && i < o->nparams && j >= 0 && j < o->nstate);
    return o->state[i * o->nstate + j];
}

nn_tensor *nn_optim_state_new(nn_optim *o, int i, int j)
{
    NN_ASSERT(i >= 0 && i < o->nparams && j >= 0 && j < o->nstate);
    static const nn_shape scalar = {0, {0}};
    const nn_shape *shape =
        nn_optim_state_is_scalar(o, j) ? &scalar : nn_tensor_shape(o->params[i].t);
    nn_tensor **slot = &o->state[i * o->nstate + j];
    if (!*slot) *slot = nn_tensor_new(o->ctx, shape, 0);
    return *slot;
}
