/* flatten.c - PyTorch's nn.Flatten: merges dimensions start_dim..end_dim
 * (counting the batch as dimension 0, as PyTorch does; negative values count
 * from the end) into one. A view of a contiguous input (ViewBackward0), a
 * copy otherwise, as torch.flatten; the input itself when nothing merges.
 * The batch stays: start_dim must be 1 or more. */
#include <nn/plugin.h>

#include <stdio.h>

enum { P_START, P_END };

static const nn_prop_def flatten_props[] = {
    [P_START] = {"start_dim", NN_PROP_INT, "1", -NN_MAX_DIMS, NN_MAX_DIMS - 1, NULL,
                 "first dimension merged (0 is the batch)"},
    [P_END] = {"end_dim", NN_PROP_INT, "-1", -NN_MAX_DIMS, NN_MAX_DIMS - 1, NULL,
               "last dimension merged; negative counts from the end"},
};

typedef struct {
    int start, end; /* as given, for the repr */
    int s, e;       /* resolved indices into the batch's dimensions */
} flatten;

static nn_status flatten_init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out,
                              char **err)
{
    flatten *f = nn_module_priv(m);
    int nd = in->ndim + 1; /* with the batch */
    f->start = (int)nn_props_int(p, P_START);
    f->end = (int)nn_props_int(p, P_END);
    f->s = f->start < 0 ? f->start + nd : f->start;
    f->e = f->end < 0 ? f->end + nd : f->end;
    if (f->s < 0 || f->s >= nd || f->e < 0 || f->e >= nd)
        return nn_fail(err, NN_INVALID,
                       "flatten: start_dim=%d end_dim=%d out of range for a batch of %d "
                       "dimensions (%d to %d)",
                       f->start, f->end, nd, -nd, nd - 1);
    if (f->s > f->e)
        return nn_fail(err, NN_INVALID, "flatten: start_dim=%d comes after end_dim=%d", f->start,
                       f->end);
    if (f->s == 0 && f->e > 0)
        return nn_fail(err, NN_INVALID,
                       "flatten: start_dim=0 would merge the batch dimension; use 1 or more");
    /* Per sample: the batch's dimension k is the sample's k - 1. */
    out->ndim = 0;
    for (int k = 1; k < nd; k++) {
        int64_t d = in->dim[k - 1];
        if (k > f->s && k <= f->e) { /* merged into the previous one */
            int64_t *acc = &out->dim[out->ndim - 1];
            *acc = *acc < 0 || d < 0 ? -1 : *acc * d; /* unknown stays unknown */
        } else {
            out->dim[out->ndim++] = d;
        }
    }
    return NN_OK;
}

static nn_tensor *flatten_forward(nn_module *m, nn_tensor *x)
{
    flatten *f = nn_module_priv(m);
    const nn_shape *xs = nn_tensor_shape(x);
    if (f->s == f->e) return x; /* nothing to merge: torch.flatten returns the input */
    nn_shape s = {0, {0}};
    for (int k = 0; k < xs->ndim; k++) {
        if (k > f->s && k <= f->e)
            s.dim[s.ndim - 1] *= xs->dim[k];
        else
            s.dim[s.ndim++] = xs->dim[k];
    }
    return nn_reshape(x, &s);
}

/* "start_dim=1, end_dim=-1", as PyTorch's Flatten.extra_repr */
static void flatten_repr(nn_module *m, char *buf, size_t len)
{
    flatten *f = nn_module_priv(m);
    snprintf(buf, len, "start_dim=%d, end_dim=%d", f->start, f->end);
}

static const nn_module_vt flatten_vt = {
    NN_VT_HEADER(nn_module_vt),
    .type_name = "Flatten",
    .priv_size = sizeof(flatten),
    .init = flatten_init,
    .forward = flatten_forward,
    .extra_repr = flatten_repr,
};

static const nn_component_def flatten_components[] = {
    {NN_KIND_MODULE, "flatten", "merges dimensions start_dim..end_dim (PyTorch Flatten)",
     &flatten_vt, flatten_props, NN_COUNT_OF(flatten_props)},
};

NN_PLUGIN_DEFINE("flatten", "1.0", flatten_components)
