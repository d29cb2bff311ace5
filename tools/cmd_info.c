/* cmd_info.c - nnrun plugins, inspect and check: what the plugins hold and
 * whether they keep their promises. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#include "nnrun.h"

#include "check.h"
#include "ops.h"
#include "predict.h"
#include "savepath.h"
#include "shadow.h"
#include "resume_model.h"
#include "dataspec.h"
#include "escape.h"
#include "history.h"
#include "metrics.h"
#include "plot.h"
#include "onnx_cli.h"
#include "dist.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int inspect_checkpoint(const char *path)
{
    nn_checkpoint *c;
    char *err = NULL;
    nn_status st = nn_checkpoint_load(path, &c, &err);
    if (st) return die_err(err, st);
    char *chain = nn_checkpoint_model_chain(c), *optim = nn_checkpoint_optim_spec(c), in[64];
    nn_shape_format(nn_checkpoint_input_shape(c), 0, in, sizeof in);
    int64_t values = 0;
    int nt = nn_checkpoint_tensor_count(c);
    for (int i = 0; i < nt; i++) {
        nn_shape s;
        nn_checkpoint_tensor(c, i, &s);
        values += nn_shape_numel(&s);
    }
    printf("file:      %s\ninfo:      %s\ndate:      %s\nformat:    %u\n", esc(path),
           esc(nn_checkpoint_info(c)), esc(nn_checkpoint_date(c)), nn_checkpoint_format(c));
    printf("model:     %s\ninput:     %s\ntensors:   %d (%lld values)\n", esc(chain), in,
           nt, (long long)values);
    for (int i = 0; i < nt; i++) { /* the state_dict: parameters and buffers */
        nn_shape s;
        char shape[96];
        const char *name = nn_checkpoint_tensor(c, i, &s);
        nn_shape_format(&s, 0, shape, sizeof shape);
        printf("  %-20s %s\n", esc(name), shape);
    }
    printf("optimizer: %s\n", optim ? esc(optim) : "(none)");
    nn_train_state ts;
    if (nn_checkpoint_train_state(c, &ts) == NN_OK)
        printf("epoch:     %lld\nstep:      %lld\ndata:      %s\nloss:      %s\nbatch:     %lld\n"
               "shuffle:   %s\nseed:      %llu\ndevice:    %s\n",
               (long long)ts.epoch, (long long)ts.step, esc(ts.data), esc(ts.loss),
               (long long)ts.batch,
               ts.shuffle == NN_SHUFFLE_EPOCH    ? "epoch"
               : ts.shuffle == NN_SHUFFLE_SAMPLE ? "sample"
                                                 : "none",
               (unsigned long long)ts.seed,
               esc(ts.device));
    schedule_print(c);
    nn_free(chain);
    nn_free(optim);
    nn_checkpoint_free(c);
    return 0;
}

/* check NAME [key=value ...]: conformance of a plugin's component. */
int cmd_check(options *o, int argc, char **argv)
{
    const char *pos[32];
    int npos;
    if (parse_args(o, argc, argv, pos, 32, &npos)) return 1;
    if (npos < 1) return die("check expects a component name (see nnrun plugins)");
    char words[512] = "";
    size_t used = 0;
    for (int i = 1; i < npos; i++) {
        if (!strchr(pos[i], '=')) return die("check: expected key=value, got '%s'", pos[i]);
        used += (size_t)snprintf(words + used, used < sizeof words ? sizeof words - used : 0,
                                 " %s", pos[i]);
    }
    if (used >= sizeof words) return die("check: properties too long");
    nn_registry *reg;
    char *err = NULL;
    nn_status st = open_registry(o, &reg, &err);
    if (st) return die_err(err, st);
    int rc = nn_check_run(reg, DEVICE(o), pos[0], words,
                          o->input_shape.ndim ? &o->input_shape : NULL, &err);
    nn_registry_free(reg);
    return rc ? die_err(err, NN_INVALID) : 0;
}

/* plugins --write-cache DIR */
static int write_cache(const char *dir)
{
    char *real = realpath(dir, NULL), *err = NULL;
    if (!real) return die("--write-cache '%s': %s", dir, strerror(errno));
    int written = 0, refused = 0;
    nn_status st = nn_registry_write_cache(real, &written, &refused, &err);
    if (!st) {
        printf("wrote %s/plugins.cache: %d plugin file(s)\n", real, written);
        if (refused)
            printf("%d file(s) refused and left out, loaded at every start; nnrun plugins -v "
                   "--plugin-path %s says why\n", refused, real);
    }
    free(real);
    return st ? die_err(err, st) : 0;
}

int cmd_plugins(options *o, int argc, char **argv)
{
    const char *pos[1];
    int npos;
    if (parse_args(o, argc, argv, pos, 0, &npos)) return 1;
    char *err = NULL;
    if (o->write_cache) return write_cache(o->write_cache);
    nn_registry *reg;
    nn_status st = open_registry(o, &reg, &err);
    if (st) return die_err(err, st);
    if (o->verbose) {
        const char *const *dirs;
        int n = nn_registry_search_path(reg, &dirs);
        printf("search path:\n");
        for (int i = 0; i < n; i++) printf("  %s\n", dirs[i]);
        printf("\n");
    }
    int wk = 10, wn = 12, wv = 8; /* widened to the longest kind, name and version */
    for (int i = 0; i < nn_registry_count(reg); i++) {
        const nn_component *c = nn_registry_at(reg, i);
        int k = (int)strlen(nn_kind_name(nn_component_kind(c)));
        int n = (int)strlen(nn_component_name(c)), v = (int)strlen(nn_component_version(c));
        wk = k > wk ? k : wk;
        wn = n > wn ? n : wn;
        wv = v > wv ? v : wv;
    }
    printf("%-*s %-*s %-*s %s\n", wk, "KIND", wn, "NAME", wv, "VERSION", "FILE");
    for (int i = 0; i < nn_registry_count(reg); i++) {
        const nn_component *c = nn_registry_at(reg, i);
        printf("%-*s %-*s %-*s %s\n", wk, nn_kind_name(nn_component_kind(c)), wn,
               nn_component_name(c), wv, nn_component_version(c), nn_component_file(c));
    }
    if (o->verbose) ops_list(reg);
    int nref = nn_registry_refused_count(reg);
    if (o->verbose && nref) {
        printf("\nrefused:\n");
        for (int i = 0; i < nref; i++) {
            const char *path, *why;
            nn_registry_refused(reg, i, &path, &why);
            printf("  %s: %s\n", path, why);
        }
    } else if (nref) {
        printf("\n%d file(s) refused; nnrun plugins -v says why\n", nref);
    }
    nn_registry_free(reg);
    return 0;
}

/* "  one of: a|b" or "  range: [lo, hi]" into buf, or "" when there is none. */
static void format_range(const nn_prop_def *d, char *buf, size_t len)
{
    buf[0] = 0;
    if (d->type == NN_PROP_ENUM)
        snprintf(buf, len, "  one of: %s", d->choices ? d->choices : "");
    else if ((d->type == NN_PROP_INT || d->type == NN_PROP_FLOAT || d->type == NN_PROP_FLOATS) &&
             d->min <= d->max)
        snprintf(buf, len, "  range: [%.10g, %.10g]", d->min, d->max);
}

/* The property table, its columns as wide as their longest entry; a
 * property without a default is marked "required". */
static void print_props(const nn_prop_def *p, int np)
{
    printf("properties:%s\n", np ? "" : " none");
    int wname = 0, wdef = 0;
    for (int k = 0; k < np; k++) {
        int n = (int)strlen(p[k].name ? p[k].name : "");
        int d = (int)(p[k].def ? strlen("default: ") + strlen(p[k].def) : strlen("required"));
        if (n > wname) wname = n;
        if (d > wdef) wdef = d;
    }
    for (int k = 0; k < np; k++) {
        char def[256], range[256];
        if (p[k].def)
            snprintf(def, sizeof def, "default: %s", p[k].def);
        else
            snprintf(def, sizeof def, "required");
        format_range(&p[k], range, sizeof range);
        printf("  %-*s  %-6s  %-*s%s", wname, p[k].name ? p[k].name : "",
               nn_prop_type_name(p[k].type), range[0] ? wdef : 0, def, range);
        printf("\n  %-*s  %s\n", wname, "", p[k].doc ? p[k].doc : "");
    }
}

int cmd_inspect(options *o, int argc, char **argv)
{
    const char *pos[1];
    int npos;
    if (parse_args(o, argc, argv, pos, 1, &npos)) return 1;
    if (npos != 1) return die("inspect expects a component name or a checkpoint file");
    struct stat sb;
    if (strchr(pos[0], '/') || stat(pos[0], &sb) == 0) return inspect_checkpoint(pos[0]);
    nn_registry *reg;
    char *err = NULL;
    nn_status st = open_registry(o, &reg, &err);
    if (st) return die_err(err, st);
    int found = 0;
    const nn_component *named[64];
    int nnamed = ops_named(reg, pos[0], named, 64);
    for (int i = 0; i < nnamed; i++) {
        const nn_component *c = named[i];
        if (found++) printf("\n");
        printf("%s (%s)\n  %s\n\n", nn_component_name(c), nn_kind_name(nn_component_kind(c)),
               nn_component_doc(c));
        printf("plugin:   %s %s\nfile:     %s\n\n", nn_component_plugin(c), nn_component_version(c),
               nn_component_file(c));
        int np;
        const nn_prop_def *props = nn_component_props(c, &np);
        nn_kind kind = nn_component_kind(c);
        if (kind != NN_KIND_OP && kind != NN_KIND_KERNEL) /* ops take attributes instead */
            print_props(props, np);
        ops_inspect(reg, c);
    }
    if (!found) {
        nn_registry_free(reg);
        return die("no component named '%s' (see nnrun plugins)", pos[0]);
    }
    nn_registry_free(reg);
    return 0;
}
