/* ops.c - ops and their kernels as nnrun shows them. An op's kernels may
 * come from other plugins than the op (a device plugin, a kernel plugin), so
 * every view here looks across the whole registry. */
#include "ops.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

const nn_component *ops_find_op(const nn_registry *reg, const char *name)
{
    for (int i = 0, n = nn_registry_count(reg); i < n; i++) {
        const nn_component *c = nn_registry_at(reg, i);
        if (nn_component_kind(c) == NN_KIND_OP && !strcmp(nn_component_name(c), name)) return c;
    }
    return NULL;
}

int ops_kernels(const nn_registry *reg, const char *name, const nn_component **out, int max)
{
    int found = 0;
    for (int i = 0, n = nn_registry_count(reg); i < n; i++) {
        const nn_component *c = nn_registry_at(reg, i);
        if (nn_component_kind(c) != NN_KIND_KERNEL || strcmp(nn_component_name(c), name)) continue;
        if (out && found < max) out[found] = c;
        found++;
    }
    return found;
}

int ops_named(const nn_registry *reg, const char *name, const nn_component **out, int max)
{
    int n = 0;
    for (int kernels = 0; kernels < 2; kernels++)
        for (int i = 0, count = nn_registry_count(reg); i < count && n < max; i++) {
            const nn_component *c = nn_registry_at(reg, i);
            if (!strcmp(nn_component_name(c), name) &&
                (nn_component_kind(c) == NN_KIND_KERNEL) == kernels)
                out[n++] = c;
        }
    return n;
}

const char *ops_kernel_device(const nn_component *kernel)
{
    const nn_kernel_def *k = nn_component_vt(kernel);
    return k->device;
}

/* "cpu, hostdev" or "(none)". */
static void print_devices(const nn_registry *reg, const char *op)
{
    int n = 0;
    for (int i = 0, count = nn_registry_count(reg); i < count; i++) {
        const nn_component *c = nn_registry_at(reg, i);
        if (nn_component_kind(c) != NN_KIND_KERNEL || strcmp(nn_component_name(c), op)) continue;
        printf("%s%s", n++ ? ", " : "", ops_kernel_device(c));
    }
    if (!n) printf("(none)");
}

/* How a kernel does the op's backward. */
static const char *backward_of(const nn_op_def *d, const nn_kernel_def *k)
{
    if (!d || !d->node_name) return NULL;
    if (k->backward) return "backward: its own";
    if (d->struct_size >= offsetof(nn_op_def, backward) + sizeof d->backward && d->backward)
        return "backward: the op's composed one";
    return "backward: none, so no gradient on this device";
}

/* One line per kernel of op: device, file, and how it does the backward. */
static void print_kernels(const nn_registry *reg, const char *op, const char *indent)
{
    const nn_component *opc = ops_find_op(reg, op);
    const nn_op_def *d = opc ? nn_component_vt(opc) : NULL;
    int n = 0;
    for (int i = 0, count = nn_registry_count(reg); i < count; i++) {
        const nn_component *c = nn_registry_at(reg, i);
        if (nn_component_kind(c) != NN_KIND_KERNEL || strcmp(nn_component_name(c), op)) continue;
        const char *how = backward_of(d, nn_component_vt(c));
        printf("%s%-12s %s%s%s%s\n", indent, ops_kernel_device(c), nn_component_file(c),
               how ? " (" : "", how ? how : "", how ? ")" : "");
        n++;
    }
    if (!n) printf("%s(none)\n", indent);
}

static void print_arg(const nn_op_arg *a, int width)
{
    static const struct {
        uint32_t flag;
        const char *word;
    } flags[] = {{NN_ARG_NO_GRAD, "no-grad"},
                 {NN_ARG_OPTIONAL, "optional"},
                 {NN_ARG_WRITTEN, "written"},
                 {NN_ARG_INDEX, "index per row"},
                 {NN_ARG_PER_COL, "one per column"}};
    int parts = 0;
    printf("  %-*s", width, a->name);
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (a->flags & flags[i].flag) printf("%s%s", parts++ ? ", " : " ", flags[i].word);
    if (a->lo != a->hi) printf("%scheck draws from [%g, %g]", parts ? "; " : " ", a->lo, a->hi);
    printf("\n");
}

static void print_op(const nn_registry *reg, const nn_component *c)
{
    const nn_op_def *d = nn_component_vt(c);
    int width = 14; /* as the properties' column, or the longest name and a space */
    for (int i = 0; i < d->nin; i++)
        if ((int)strlen(d->in[i].name) >= width) width = (int)strlen(d->in[i].name) + 1;
    for (int i = 0; i < d->nattr; i++)
        if ((int)strlen(d->attr[i].name) >= width) width = (int)strlen(d->attr[i].name) + 1;
    printf("inputs:\n");
    for (int i = 0; i < d->nin; i++) print_arg(&d->in[i], width);
    printf("outputs:%s\n", d->nout ? "" : " none");
    for (int i = 0; i < d->nout; i++) printf("  %s\n", d->out[i].name);
    printf("attributes:%s\n", d->nattr ? "" : " none");
    for (int i = 0; i < d->nattr; i++)
        printf("  %-*s default: %.10g\n  %*s %s\n", width, d->attr[i].name, d->attr[i].def, width,
               "", d->attr[i].doc ? d->attr[i].doc : "");
    printf("backward: %s\n", d->node_name ? d->node_name : "no gradient");
    printf("kernels:\n");
    print_kernels(reg, nn_component_name(c), "  ");
}

static void print_kernel(const nn_registry *reg, const nn_component *c)
{
    const nn_component *op = ops_find_op(reg, nn_component_name(c));
    const nn_op_def *d = op ? nn_component_vt(op) : NULL;
    const char *how = backward_of(d, nn_component_vt(c));
    printf("device:   %s\n", ops_kernel_device(c));
    if (op)
        printf("op:       %s, from plugin %s (%s)\n", nn_component_name(op),
               nn_component_plugin(op), nn_component_file(op));
    else
        printf("op:       none loaded: no plugin here defines '%s'\n", nn_component_name(c));
    if (how) printf("%s\n", how);
}

/* The ops that have a kernel for device c. */
static void print_device_ops(const nn_registry *reg, const nn_component *c)
{
    int n = 0;
    printf("\nop kernels for this device:");
    for (int i = 0, count = nn_registry_count(reg); i < count; i++) {
        const nn_component *k = nn_registry_at(reg, i);
        if (nn_component_kind(k) != NN_KIND_KERNEL ||
            strcmp(ops_kernel_device(k), nn_component_name(c)))
            continue;
        printf("%s  %-22s %s", n++ ? "\n" : "\n", nn_component_name(k), nn_component_file(k));
    }
    printf("%s\n", n ? "" : " none");
}

void ops_inspect(const nn_registry *reg, const nn_component *c)
{
    switch (nn_component_kind(c)) {
    case NN_KIND_OP: print_op(reg, c); break;
    case NN_KIND_KERNEL: print_kernel(reg, c); break;
    case NN_KIND_DEVICE: print_device_ops(reg, c); break;
    default: break;
    }
    /* The ops of c's plugin (components of one plugin share its file); an
     * op or kernel skips its own op, shown above. */
    bool of_op = nn_component_kind(c) == NN_KIND_OP || nn_component_kind(c) == NN_KIND_KERNEL;
    int n = 0;
    for (int i = 0, count = nn_registry_count(reg); i < count; i++) {
        const nn_component *o = nn_registry_at(reg, i);
        if (nn_component_kind(o) != NN_KIND_OP ||
            (of_op && !strcmp(nn_component_name(o), nn_component_name(c))) ||
            strcmp(nn_component_file(o), nn_component_file(c)) ||
            strcmp(nn_component_plugin(o), nn_component_plugin(c)))
            continue;
        if (!n++) printf("\n%sops of plugin %s:\n", of_op ? "other " : "", nn_component_plugin(c));
        printf("  %s: %s\n", nn_component_name(o), nn_component_doc(o));
        print_kernels(reg, nn_component_name(o), "    ");
    }
    if (!n && !of_op) printf("\nops of plugin %s: none\n", nn_component_plugin(c));
}

void ops_list(const nn_registry *reg)
{
    int width = 0, n = 0;
    for (int i = 0, count = nn_registry_count(reg); i < count; i++) {
        const nn_component *c = nn_registry_at(reg, i);
        if (nn_component_kind(c) == NN_KIND_OP && (int)strlen(nn_component_name(c)) > width)
            width = (int)strlen(nn_component_name(c));
    }
    for (int i = 0, count = nn_registry_count(reg); i < count; i++) {
        const nn_component *c = nn_registry_at(reg, i);
        if (nn_component_kind(c) != NN_KIND_OP) continue;
        if (!n++) printf("\nops and the devices with a kernel for them:\n");
        printf("  %-*s  ", width, nn_component_name(c));
        print_devices(reg, nn_component_name(c));
        printf("\n");
    }
    /* Kernels whose op no plugin here defines. */
    for (int i = 0, count = nn_registry_count(reg); i < count; i++) {
        const nn_component *c = nn_registry_at(reg, i);
        if (nn_component_kind(c) == NN_KIND_KERNEL && !ops_find_op(reg, nn_component_name(c)))
            printf("  kernel %s for %s (%s): no plugin here defines the op\n",
                   nn_component_name(c), ops_kernel_device(c), nn_component_file(c));
    }
}
