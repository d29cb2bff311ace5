/* nnrun - loads plugin chains and trains, evaluates and inspects networks.
 *
 *   nnrun train [FILE.nn] [--data SPEC] [--model CHAIN] [--loss SPEC] ...
 *   nnrun plugins [-v]
 *   nnrun inspect NAME
 *
 * Every user error ends in one message on stderr and exit status 1. */
#define _POSIX_C_SOURCE 200809L
#include <nn/plugin.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PATHS 16

typedef struct {
    const char *paths[MAX_PATHS];
    int npaths;
    char *device;
    char *data, *model, *loss, *optim, *shuffle;
    int64_t epochs, batch, log_every;
    uint64_t seed;
    int verbose;
    char *owned[64]; /* strings read from a spec file */
    int nowned;
} options;

static const char usage[] =
    "usage: nnrun COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  train [FILE.nn]   train a network (with no options: the tutorial's circle net)\n"
    "  plugins [-v]      list every component found (-v: search path, refused files)\n"
    "  inspect NAME      show a component's properties\n"
    "\n"
    "train options:\n"
    "  --data SPEC       dataset and its properties     (circle n=1200)\n"
    "  --model CHAIN     modules joined by '!'          (linear out=5 ! sigmoid ! linear out=1 ! sigmoid)\n"
    "  --loss SPEC       loss function                  (bce)\n"
    "  --optim SPEC      optimizer                      (sgd lr=0.5 momentum=0.8)\n"
    "  --epochs N        epochs to train                (1000)\n"
    "  --batch N         samples per batch              (100)\n"
    "  --shuffle MODE    none | epoch                   (epoch)\n"
    "  --seed N          seed of initialisation and shuffling (0)\n"
    "  --log-every N     print every N epochs and the last (100)\n"
    "  --device NAME     device backend                 (cpu)\n"
    "\n"
    "common options:\n"
    "  --plugin-path DIR search DIR for plugins first (repeatable)\n"
    "  -h, --help        this text;  --version  the version\n"
    "\n"
    "A spec file holds the same options, one per line, without the dashes:\n"
    "  model linear out=5 ! sigmoid ! linear out=1 ! sigmoid\n";

/* "FILE:LINE: " while a spec file line is applied, so that its error stays one line. */
static char where[512];

static int die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nnrun: ", stderr);
    fputs(where, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int die_err(char *err, nn_status st)
{
    int r = die("%s", err ? err : nn_strerror(st));
    nn_free(err);
    return r;
}

static int parse_count(const char *opt, const char *s, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min)
        return die("%s expects a whole number >= %lld, got '%s'", opt, (long long)min, s);
    *out = v;
    return 0;
}

/* Applies one option; value may be NULL when the option takes none. */
static int set_option(options *o, const char *name, const char *value)
{
    while (*name == '-') name++;
    static const char *const with_value[] = {"data", "model", "loss", "optim", "epochs", "batch",
                                             "shuffle", "seed", "log-every", "device",
                                             "plugin-path"};
    int known = 0;
    for (size_t i = 0; i < sizeof with_value / sizeof *with_value; i++)
        known |= !strcmp(name, with_value[i]);
    const char *dashes = where[0] ? "" : "--"; /* a spec file line has none */
    if (!known) return die("unknown option '%s%s' (see nnrun --help)", dashes, name);
    if (!value) return die("option %s%s needs a value", dashes, name);
    int64_t v;
    if (!strcmp(name, "data")) o->data = (char *)value;
    else if (!strcmp(name, "model")) o->model = (char *)value;
    else if (!strcmp(name, "loss")) o->loss = (char *)value;
    else if (!strcmp(name, "optim")) o->optim = (char *)value;
    else if (!strcmp(name, "device")) o->device = (char *)value;
    else if (!strcmp(name, "shuffle")) {
        if (strcmp(value, "none") && strcmp(value, "epoch"))
            return die("--shuffle expects none or epoch, got '%s'", value);
        o->shuffle = (char *)value;
    } else if (!strcmp(name, "epochs")) {
        if (parse_count("--epochs", value, 0, &o->epochs)) return 1;
    } else if (!strcmp(name, "batch")) {
        if (parse_count("--batch", value, 1, &o->batch)) return 1;
    } else if (!strcmp(name, "log-every")) {
        if (parse_count("--log-every", value, 1, &o->log_every)) return 1;
    } else if (!strcmp(name, "seed")) {
        if (parse_count("--seed", value, 0, &v)) return 1;
        o->seed = (uint64_t)v;
    } else if (!strcmp(name, "plugin-path")) {
        if (o->npaths == MAX_PATHS) return die("too many --plugin-path options");
        o->paths[o->npaths++] = value;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

/* A spec file: "option value" per line; '#' starts a comment line. */
static int read_spec(options *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return die("cannot open spec file '%s': %s", path, strerror(errno));
    char line[4096];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = die("%s:%d: line too long", path, lineno);
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *sp = s + strcspn(s, " \t");
        char *value = NULL;
        if (*sp) {
            *sp = 0;
            value = trim(sp + 1);
        }
        if (o->nowned == (int)(sizeof o->owned / sizeof *o->owned)) {
            rc = die("%s: too many lines", path);
            break;
        }
        char *keep = value ? strdup(value) : NULL;
        if (keep) o->owned[o->nowned++] = keep;
        snprintf(where, sizeof where, "%s:%d: ", path, lineno);
        rc = set_option(o, s, keep);
        where[0] = 0;
    }
    if (!rc && ferror(f)) rc = die("cannot read '%s'", path);
    fclose(f);
    return rc;
}

/* Parses argv after the command; positional arguments go to pos. */
static int parse_args(options *o, int argc, char **argv, const char **pos, int max_pos,
                      int *npos)
{
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a, '=');
            char name[64];
            if (eq) {
                snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
                if (set_option(o, name, eq + 1)) return 1;
            } else if (set_option(o, a, i + 1 < argc ? argv[i + 1] : NULL)) {
                return 1;
            } else {
                i++;
            }
        } else if (a[0] == '-' && a[1]) {
            return die("unknown option '%s' (see nnrun --help)", a);
        } else {
            if (*npos == max_pos) return die("unexpected argument '%s'", a);
            pos[(*npos)++] = a;
        }
    }
    return 0;
}

static nn_status open_registry(const options *o, nn_registry **reg, char **err)
{
    nn_registry_opts ro = {o->paths, o->npaths, 0};
    return nn_registry_open(&ro, reg, err);
}

/* Splits "name k=v k=v" into its name (copied to buf) and the words. */
static const char *spec_words(const char *spec, char *name, size_t len)
{
    while (isspace((unsigned char)*spec)) spec++;
    size_t n = strcspn(spec, " \t");
    snprintf(name, len, "%.*s", (int)n, spec);
    return spec + n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    int64_t epochs, log_every;
} log_state;

static void print_stats(const char *label, const nn_epoch_stats *s)
{
    printf("%s loss: %.4f accuracy: %.4f\n", label, s->loss, s->accuracy);
}

static int on_epoch(const nn_epoch_stats *s, void *user)
{
    const log_state *ls = user;
    if (s->epoch % ls->log_every == 0 || s->epoch == ls->epochs - 1) {
        char label[32];
        snprintf(label, sizeof label, "epoch: %5lld", (long long)s->epoch);
        print_stats(label, s);
        fflush(stdout);
    }
    return 0;
}

static int cmd_train(options *o, int argc, char **argv)
{
    const char *pos[1];
    int npos;
    /* The spec file is read first so that command-line options override it. */
    for (int i = 0; i < argc; i++)
        if (argv[i][0] != '-' && (i == 0 || argv[i - 1][0] != '-' || strchr(argv[i - 1], '=') ||
                                  !strcmp(argv[i - 1], "-v"))) {
            if (read_spec(o, argv[i])) return 1;
            break;
        }
    if (parse_args(o, argc, argv, pos, 1, &npos)) return 1;

    nn_registry *reg = NULL;
    nn_ctx *ctx = NULL;
    nn_dataset *data = NULL;
    nn_module *model = NULL;
    nn_loss *loss = NULL;
    nn_optim *optim = NULL;
    char *err = NULL, name[64];
    nn_status st;
    int rc = 1;
    if ((st = open_registry(o, &reg, &err))) goto fail;
    if ((st = nn_ctx_open(reg, o->device, o->seed, &ctx, &err))) goto fail;
    const char *w = spec_words(o->data, name, sizeof name);
    if ((st = nn_dataset_open(ctx, name, w, &data, &err))) goto fail;
    if ((st = nn_module_from_chain(ctx, o->model, nn_dataset_input_shape(data), &model, &err)))
        goto fail;
    w = spec_words(o->loss, name, sizeof name);
    if ((st = nn_loss_create(ctx, name, w, &loss, &err))) goto fail;
    w = spec_words(o->optim, name, sizeof name);
    if ((st = nn_optim_create(ctx, name, w, model, &optim, &err))) goto fail;

    nn_epoch_stats before;
    if ((st = nn_fit_epoch(model, loss, NULL, data, o->batch, NULL, &before, &err))) goto fail;
    print_stats("before:     ", &before);
    log_state ls = {o->epochs, o->log_every};
    nn_fit_opts fo = {o->epochs, o->batch,
                      !strcmp(o->shuffle, "epoch") ? NN_SHUFFLE_EPOCH : NN_SHUFFLE_NONE,
                      on_epoch, &ls};
    double t0 = now();
    if ((st = nn_fit(model, loss, optim, data, &fo, &err))) goto fail;
    double dt = now() - t0;
    int64_t samples = o->epochs * (nn_dataset_len(data) / o->batch) * o->batch;
    printf("time: %.3f s for %lld epochs, %.0f samples/s on %s\n", dt, (long long)o->epochs,
           dt > 0 ? (double)samples / dt : 0.0, nn_ctx_device_name(ctx));
    rc = 0;
fail:
    if (rc) die_err(err, st);
    nn_optim_free(optim);
    nn_loss_free(loss);
    nn_module_free(model);
    nn_dataset_free(data);
    nn_ctx_free(ctx);
    nn_registry_free(reg);
    return rc;
}

static int cmd_plugins(options *o, int argc, char **argv)
{
    const char *pos[1];
    int npos;
    if (parse_args(o, argc, argv, pos, 0, &npos)) return 1;
    nn_registry *reg;
    char *err = NULL;
    nn_status st = open_registry(o, &reg, &err);
    if (st) return die_err(err, st);
    if (o->verbose) {
        const char *const *dirs;
        int n = nn_registry_search_path(reg, &dirs);
        printf("search path:\n");
        for (int i = 0; i < n; i++) printf("  %s\n", dirs[i]);
        printf("\n");
    }
    printf("%-10s %-12s %-8s %s\n", "KIND", "NAME", "VERSION", "FILE");
    for (int i = 0; i < nn_registry_count(reg); i++) {
        const nn_component *c = nn_registry_at(reg, i);
        printf("%-10s %-12s %-8s %s\n", nn_kind_name(nn_component_kind(c)), nn_component_name(c),
               nn_component_version(c), nn_component_file(c));
    }
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

static void print_range(const nn_prop_def *d)
{
    if (d->type == NN_PROP_ENUM)
        printf("  one of: %s", d->choices ? d->choices : "");
    else if ((d->type == NN_PROP_INT || d->type == NN_PROP_FLOAT) && d->min <= d->max)
        printf("  range: [%.10g, %.10g]", d->min, d->max);
}

static int cmd_inspect(options *o, int argc, char **argv)
{
    const char *pos[1];
    int npos;
    if (parse_args(o, argc, argv, pos, 1, &npos)) return 1;
    if (npos != 1) return die("inspect expects a component name (see nnrun plugins)");
    nn_registry *reg;
    char *err = NULL;
    nn_status st = open_registry(o, &reg, &err);
    if (st) return die_err(err, st);
    int found = 0;
    for (int i = 0; i < nn_registry_count(reg); i++) {
        const nn_component *c = nn_registry_at(reg, i);
        if (strcmp(nn_component_name(c), pos[0])) continue;
        if (found++) printf("\n");
        printf("%s (%s)\n  %s\n\n", nn_component_name(c), nn_kind_name(nn_component_kind(c)),
               nn_component_doc(c));
        printf("plugin:   %s %s\nfile:     %s\n\n", nn_component_plugin(c), nn_component_version(c),
               nn_component_file(c));
        int np;
        const nn_prop_def *p = nn_component_props(c, &np);
        printf("properties:%s\n", np ? "" : " none");
        for (int k = 0; k < np; k++) {
            printf("  %-14s %-6s default: %s", p[k].name, nn_prop_type_name(p[k].type),
                   p[k].def ? p[k].def : "");
            print_range(&p[k]);
            printf("\n  %14s %s\n", "", p[k].doc ? p[k].doc : "");
        }
    }
    if (!found) {
        nn_registry_free(reg);
        return die("no component named '%s' (see nnrun plugins)", pos[0]);
    }
    nn_registry_free(reg);
    return 0;
}

int main(int argc, char **argv)
{
    options o = {
        .data = "circle n=1200",
        .model = "linear out=5 ! sigmoid ! linear out=1 ! sigmoid",
        .loss = "bce",
        .optim = "sgd lr=0.5 momentum=0.8",
        .shuffle = "epoch",
        .epochs = 1000,
        .batch = 100,
        .log_every = 100,
    };
    int rc;
    if (argc < 2) {
        fputs(usage, stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("nnrun %s (plugin ABI %d.%d)\n", NN_VERSION_STRING, NN_ABI_MAJOR, NN_ABI_MINOR);
        return 0;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        }
    if (!strcmp(cmd, "train"))
        rc = cmd_train(&o, argc - 2, argv + 2);
    else if (!strcmp(cmd, "plugins"))
        rc = cmd_plugins(&o, argc - 2, argv + 2);
    else if (!strcmp(cmd, "inspect"))
        rc = cmd_inspect(&o, argc - 2, argv + 2);
    else
        rc = die("unknown command '%s' (see nnrun --help)", cmd);
    for (int i = 0; i < o.nowned; i++) free(o.owned[i]);
    return rc;
}
