/* resume_model.c - a --model given with --resume names the saved model's
 * architecture or the run is refused, naming the first difference. */
#include "resume_model.h"

#include <stdio.h>
#include <string.h>

/* The first difference of module types or child counts below path, or 0. */
static int tree_diff(const nn_module *a, const nn_module *b, const char *path, char *out, size_t n)
{
    const char *where = *path ? path : "the top";
    if (strcmp(nn_module_type(a), nn_module_type(b))) {
        snprintf(out, n, "module %s is %s in --model, %s in the file", where, nn_module_type(a),
                 nn_module_type(b));
        return 1;
    }
    int na = nn_module_child_count(a), nb = nn_module_child_count(b);
    if (na != nb) {
        snprintf(out, n, "%s has %d modules in --model, %d in the file", where, na, nb);
        return 1;
    }
    for (int i = 0; i < na; i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "",
                 nn_module_name(nn_module_child(a, i)));
        if (tree_diff(nn_module_child(a, i), nn_module_child(b, i), sub, out, n)) return 1;
    }
    return 0;
}

nn_status resume_model_check(nn_registry *reg, const char *device, const nn_checkpoint *ck,
                             const char *file, const nn_module *saved, const char *chain,
                             const nn_shape *in, char **err)
{
    nn_ctx *ctx = NULL;
    nn_module *m = NULL;
    char *why = NULL, diff[512] = "";
    nn_status st = nn_ctx_open(reg, device, 0, &ctx, err);
    if (!st) st = nn_module_from_chain(ctx, chain, in, &m, err);
    if (!st && !tree_diff(m, saved, "", diff, sizeof diff) &&
        nn_checkpoint_load_model(ck, m, &why) == NN_OK) {
        nn_module_free(m);
        nn_ctx_free(ctx);
        return NN_OK;
    }
    if (!st) {
        char *saved_chain = nn_checkpoint_model_chain(ck);
        st = nn_fail(err, NN_INVALID,
                     "--model '%s' is not the model of '%s': %s; its model is '%s'", chain, file,
                     *diff ? diff : why ? why : "?", saved_chain ? saved_chain : "?");
        nn_free(saved_chain);
    }
    nn_free(why);
    nn_module_free(m);
    nn_ctx_free(ctx);
    return st;
}
