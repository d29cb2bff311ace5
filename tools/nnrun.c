/* nnrun - loads plugin chains and trains, evaluates and inspects networks.
 *
 *   nnrun train [FILE.nn] [--data SPEC] [--model CHAIN] [--loss SPEC] ...
 *   nnrun plugins [-v]
 *   nnrun inspect NAME | FILE
 *   nnrun eval FILE [--data SPEC]
 *   nnrun print | summary | params | graph [FILE] [--model CHAIN] ...
 *   nnrun plot FILE | --data SPEC -o OUT.png|.svg
 *
 * Every user error ends in one message on stderr and exit status 1. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#include <nn/plugin.h>

#include "check.h"
#include "ops.h"
#include "predict.h"
#include "savepath.h"
#include "shadow.h"
#include "resume_model.h"
#include "schedule.h"
#include "dataspec.h"
#include "escape.h"
#include "history.h"
#include "metrics.h"
#include "progress.h"
#include "plot.h"
#include "onnx_cli.h"

#include <nn/onnx.h>
#include "dist.h"

#include <ctype.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
#include <math.h>
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
    char *save, *info, *resume;
    int64_t epochs, batch, log_every, save_every;
    uint64_t seed;
    int verbose, show_input, hierarchical, values, targets;
    int drop_last; /* --drop-last */
    int detect_anomaly; /* --detect-anomaly */
    double clip; /* --clip-grad-norm X (0: none) */
    const char *out; /* -o FILE */
    nn_shape input_shape; /* --input-shape: one sample's shape (ndim 0: not given) */
    unsigned given; /* bit i: with_value[i] was set explicitly */
    char *owned[64]; /* strings read from a spec file */
    int nowned;
    schedule_opts sched; /* --schedule, --lr-schedule */
    char *val;       /* --val SPEC */
    double val_split; /* --val-split F (0: none) */
    char *metrics;    /* --metrics FILE.csv */
    int quiet;        /* --quiet */
    progress_mode progress; /* --progress */
    char *plot_history; /* --plot-history FILE */
    char *dist;       /* --dist none|auto|mpi */
} options;

static const char *const with_value[] = {"data",        "model",     "loss",   "optim",
                                         "epochs",      "batch",     "shuffle", "seed",
                                         "log-every",   "device",    "plugin-path", "save",
                                         "save-every",  "info",      "resume",
                                         "schedule",    "lr-schedule", "input-shape",
                                         "val",         "val-split", "metrics", "progress",
                                         "plot-history", "dist"};
enum { OPT_DATA, OPT_MODEL, OPT_LOSS, OPT_OPTIM, OPT_EPOCHS, OPT_BATCH, OPT_SHUFFLE, OPT_SEED };
#define DROP_LAST_KEY "drop-last" /* checkpoint metadata of a run trained with --drop-last */
#define CLIP_KEY "clip-grad-norm"  /* and of one trained with --clip-grad-norm */
#define GIVEN(o, i) (((o)->given >> (i)) & 1u)
#define DEVICE(o) ((o)->device ? (o)->device : "cpu") /* nnrun's default, not the core's */

static const char usage[] =
    "usage: nnrun COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  train [FILE.nn]   train a network (with no options: the tutorial's circle net)\n"
    "  plugins [-v]      list every component found (-v: search path, the devices\n"
    "                    with kernels for each op, refused files)\n"
    "  check NAME [k=v]  conformance of a component: gradients of a module or loss,\n"
    "                    descent of an optimizer, a dataset's samples, a device's\n"
    "                    kernels against cpu, an op's gradient and its kernels on\n"
    "                    every device against cpu (with a component: its plugin's ops)\n"
    "  inspect NAME      show a component's properties and its plugin's ops; an op's\n"
    "                    inputs, outputs, attributes, backward and kernels per device\n"
    "  inspect FILE      show a checkpoint: info, date, model, optimizer, epoch,\n"
    "                    schedules\n"
    "  eval FILE         loss and accuracy of a checkpoint on its data (or --data)\n"
    "  predict FILE [-o OUT.csv]  the network's outputs on its data (or --data), one\n"
    "                    CSV row per sample, eval mode: out0,out1,... and the class\n"
    "                    when the loss defines one (stdout without -o; --batch N;\n"
    "                    --targets: the data's targets too, before the class)\n"
    "  print [FILE]      the network as PyTorch prints it\n"
    "  summary [FILE]    layer table with output shapes and parameter counts\n"
    "                    (--show-input: input shapes; --hierarchical: containers too)\n"
    "  params [FILE]     parameter names, sizes and shapes (--values: the numbers)\n"
    "  export FILE -o OUT.onnx [--opset N]  the network as an ONNX model, traced in\n"
    "                    eval mode (opsets 13 to 20, default 17; docs/onnx.md)\n"
    "  import FILE.onnx -o OUT.pb [--info TEXT]  an ONNX chain (a PyTorch\n"
    "                    nn.Sequential) as a checkpoint; train on with --model OUT.pb\n"
    "  graph [FILE] -o OUT  the autograd graph of one forward pass: OUT.dot, .svg or .png\n"
    "                    (print, summary, params, graph take a checkpoint FILE or\n"
    "                    --model CHAIN with in=N, --input-shape or --data SPEC)\n"
    "  plot --data SPEC -o OUT  the samples as points coloured by class, OUT.png or .svg\n"
    "                    (--dims i,j: the two features drawn, 0,1)\n"
    "  plot FILE -o OUT  what a checkpoint of 2 inputs predicts over the plane: P(class 1)\n"
    "                    and its 0.5 contour, or the class regions; its data on top (or\n"
    "                    --data). Both: --size WxH (600x600); --values OUT.csv: the\n"
    "                    numbers drawn\n"
    "\n"
    "train options:\n"
    "  --data SPEC       dataset and its properties     (circle n=1200)\n"
    "  --model CHAIN     modules joined by '!'          (linear out=5 ! sigmoid ! linear out=1 ! sigmoid)\n"
    "                    or a checkpoint FILE.pb: its network and weights, trained on\n"
    "  --loss SPEC       loss function                  (bce)\n"
    "  --optim SPEC      optimizer                      (sgd lr=0.5 momentum=0.8)\n"
    "  --epochs N        epochs to train                (1000)\n"
    "  --batch N         samples per batch              (100)\n"
    "  --shuffle MODE    none | epoch | sample          (epoch)\n"
    "  --drop-last       train without the last partial batch\n"
    "  --detect-anomaly  stop at the first op whose backward gives NaN or Inf\n"
    "  --clip-grad-norm X  scale the gradients to a total 2-norm of at most X each step\n"
    "  --seed N          seed of initialisation and shuffling (1)\n"
    "  --log-every N     print every N epochs and the last (100)\n"
    "  --device NAME     device backend                 (cpu)\n"
    "  --save FILE       save a checkpoint at the end (and every --save-every N epochs)\n"
    "  --info TEXT       description stored in the checkpoint\n"
    "  --val SPEC        a validation dataset, evaluated on every logged epoch\n"
    "  --val-split F     hold out a seeded random fraction F of the data for\n"
    "                    validation (0 < F < 1; the same --seed, the same split)\n"
    "  --metrics FILE    write each epoch's figures as CSV (epoch,loss,accuracy,\n"
    "                    val_loss,val_accuracy,lr,seconds; with validation, every\n"
    "                    epoch is validated); after --resume, this run's epochs\n"
    "  --progress WHEN   auto | always | never        (auto)\n"
    "                    a bar during each epoch; auto: when stdout is a terminal\n"
    "                    and training is not distributed (--dist)\n"
    "  --quiet           no bar, no before: or epoch lines; errors, the time:\n"
    "                    and saved: lines stay\n"
    "  --plot-history FILE  draw loss and accuracy per epoch, training and validation\n"
    "                    (every epoch validated), into FILE.png or .svg (--size WxH;\n"
    "                    --values OUT.csv: the numbers drawn)\n"
    "  --dist MODE       data-parallel over the ranks of an MPI job: none | mpi |\n"
    "                    auto (mpi when started by mpirun)   (none)\n"
    "  --resume FILE     continue a saved run up to --epochs in total (with its\n"
    "                    schedules, unless --schedule or --lr-schedule replace them)\n"
    "  --schedule 'E: key=value ...'   set optimizer properties at the start of\n"
    "                    epoch E (0-based, as printed); 'E+: ...' at every epoch\n"
    "                    from E on, where key*=F multiplies a float property by F\n"
    "                    (repeatable; applied in the order given):\n"
    "                    --schedule '500: momentum=0.3' --schedule '500+: lr*=0.999'\n"
    "  --lr-schedule SPEC  lr stepped once per epoch as PyTorch's lr_scheduler:\n"
    "                    'step step_size=N gamma=G' | 'exponential gamma=G' |\n"
    "                    'cosine T_max=N eta_min=E' (each takes base_lr=X too)\n"
    "\n"
    "common options:\n"
    "  --plugin-path DIR search DIR for plugins first (repeatable)\n"
    "  --input-shape S   one sample's shape, as 1,28,28, for --model without data\n"
    "                    (print, summary, params, graph) and for check\n"
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
    va_list aq;
    va_copy(aq, ap);
    int len = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    char *msg = len < 0 ? NULL : malloc((size_t)len + 1);
    if (msg) vsnprintf(msg, (size_t)len + 1, fmt, ap);
    fputs("nnrun: ", stderr);
    fput_escaped(where, stderr, 0);
    fput_escaped(msg ? msg : "out of memory", stderr, 0); /* one line, whatever it quotes */
    fputc('\n', stderr);
    free(msg);
    va_end(ap);
    return 1;
}

static void warn(const char *fmt, ...) NN_PRINTF(1, 2);
static void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nnrun: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int die_err(char *err, nn_status st)
{
    int r = die("%s", err ? err : nn_strerror(st));
    nn_free(err);
    return r;
}

static int die_free(char *msg)
{
    die("%s", msg ? msg : "out of memory");
    free(msg);
    return 1;
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

/* "1,28,28": whole numbers >= 1, at most NN_MAX_DIMS - 1 (the batch takes one). */
static int parse_shape(const char *s, nn_shape *out)
{
    nn_shape sh = {0, {0}};
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long long v = isdigit((unsigned char)*p) ? strtoll(p, &end, 10) : 0;
        if (v < 1 || errno || (*end && *end != ',') || sh.ndim == NN_MAX_DIMS - 1)
            return die("--input-shape expects 1 to %d whole numbers >= 1 separated by commas "
                       "(1,28,28), got '%s'", NN_MAX_DIMS - 1, s);
        sh.dim[sh.ndim++] = v;
        if (!*end) break;
        p = end + 1;
    }
    *out = sh;
    return 0;
}

/* Applies one option; value may be NULL when the option takes none. */
static int set_option(options *o, const char *name, const char *value)
{
    while (*name == '-') name++;
    int known = 0;
    for (size_t i = 0; i < sizeof with_value / sizeof *with_value; i++)
        if (!strcmp(name, with_value[i])) {
            known = 1;
            o->given |= 1u << i;
        }
    const char *dashes = where[0] ? "" : "--"; /* a spec file line has none */
    if (!known) return die("unknown option '%s%s' (see nnrun --help)", dashes, name);
    if (!value) return die("option %s%s needs a value", dashes, name);
    int64_t v;
    if (!strcmp(name, "data")) o->data = (char *)value;
    else if (!strcmp(name, "model")) o->model = (char *)value;
    else if (!strcmp(name, "loss")) o->loss = (char *)value;
    else if (!strcmp(name, "optim")) o->optim = (char *)value;
    else if (!strcmp(name, "device")) o->device = (char *)value;
    else if (!strcmp(name, "save")) o->save = (char *)value;
    else if (!strcmp(name, "info")) o->info = (char *)value;
    else if (!strcmp(name, "resume")) o->resume = (char *)value;
    else if (!strcmp(name, "val")) o->val = (char *)value;
    else if (!strcmp(name, "metrics")) o->metrics = (char *)value;
    else if (!strcmp(name, "progress")) {
        if (progress_mode_parse(value, &o->progress))
            return die("--progress expects never, auto or always, got '%s'", value);
    }
    else if (!strcmp(name, "plot-history")) o->plot_history = (char *)value;
    else if (!strcmp(name, "dist")) {
        const char *why;
        if (dist_check(value, &why)) return die("%s", why);
        o->dist = (char *)value;
    }
    else if (!strcmp(name, "val-split")) {
        char *end;
        errno = 0;
        o->val_split = strtod(value, &end);
        if (!*value || *end || errno || !(o->val_split > 0 && o->val_split < 1))
            return die("--val-split expects a fraction between 0 and 1 (exclusive), got '%s'",
                       value);
    }
    else if (!strcmp(name, "schedule") || !strcmp(name, "lr-schedule")) {
        const char *why;
        if (schedule_opt_add(&o->sched, name[0] == 'l', value, &why)) return die("%s", why);
    }
    else if (!strcmp(name, "save-every")) {
        if (parse_count("--save-every", value, 1, &o->save_every)) return 1;
    }
    else if (!strcmp(name, "shuffle")) {
        if (strcmp(value, "none") && strcmp(value, "epoch") && strcmp(value, "sample"))
            return die("--shuffle expects none, epoch or sample, got '%s'", value);
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
    } else if (!strcmp(name, "input-shape")) {
        if (parse_shape(value, &o->input_shape)) return 1;
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

/* --clip-grad-norm X: a finite number above 0. */
static int parse_clip(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v > 0) || isinf(v))
        return die("--clip-grad-norm expects a number above 0, got '%s'", s);
    *out = v;
    return 0;
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
        } else if (!strcmp(a, "--drop-last")) {
            o->drop_last = 1;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--detect-anomaly")) {
            o->detect_anomaly = 1;
        } else if (!strncmp(a, "--clip-grad-norm", 16) && (!a[16] || a[16] == '=')) {
            if (!a[16] && i + 1 == argc) return die("--clip-grad-norm needs a value");
            if (parse_clip(a[16] ? a + 17 : argv[++i], &o->clip)) return 1;
        } else if (!strcmp(a, "--show-input")) {
            o->show_input = 1;
        } else if (!strcmp(a, "--hierarchical")) {
            o->hierarchical = 1;
        } else if (!strcmp(a, "--values")) {
            o->values = 1;
        } else if (!strcmp(a, "--targets")) {
            o->targets = 1;
        } else if (!strcmp(a, "-o")) {
            if (i + 1 == argc) return die("-o needs a file name");
            o->out = argv[++i];
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

/* The core searches absolute paths only: each --plugin-path is resolved
 * here, against the current directory, and one that cannot be searched is
 * skipped with a warning that says why. */
static nn_status open_registry(const options *o, nn_registry **reg, char **err)
{
    char *dirs[MAX_PATHS];
    int n = 0;
    for (int i = 0; i < o->npaths; i++) {
        const char *p = o->paths[i];
        char *real = realpath(p, NULL);
        struct stat sb;
        char why_buf[128];
        const char *why = NULL;
        if (!real) {
            why = errno == ENOENT ? "no such directory" : strerror(errno);
        } else if (stat(real, &sb) || !S_ISDIR(sb.st_mode)) {
            why = "not a directory";
        } else if (access(real, R_OK | X_OK)) {
            snprintf(why_buf, sizeof why_buf, "cannot be read: %s", strerror(errno));
            why = why_buf;
        }
        if (why) {
            warn("--plugin-path '%s' skipped: %s", p, why);
            free(real);
            continue;
        }
        dirs[n++] = real;
    }
    nn_registry_opts ro = {(const char *const *)dirs, n, 0};
    nn_status st = nn_registry_open(&ro, reg, err);
    for (int i = 0; i < n; i++) free(dirs[i]);
    return st;
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

/* Everything a training run holds; freed in one place. */
typedef struct {
    nn_registry *reg;
    nn_ctx *ctx;
    nn_dataset *data;
    nn_dataset *val, *whole; /* --val data; --val-split: data and val are views of whole */
    nn_module *model;
    nn_loss *loss;
    nn_optim *optim;
    nn_checkpoint *ck;
    int64_t *order;
    nn_schedule *sched;
    char *data_spec; /* the data spec with what the data taught its dataset */
    nn_comm *comm;   /* --dist: the job's communicator, or NULL */
} run_state;

static void run_free(run_state *r)
{
    nn_optim_free(r->optim);
    nn_loss_free(r->loss);
    nn_module_free(r->model);
    nn_dataset_free(r->data);
    nn_dataset_free(r->val);
    nn_dataset_free(r->whole);
    nn_ctx_free(r->ctx);
    nn_comm_free(r->comm);
    nn_registry_free(r->reg);
    nn_checkpoint_free(r->ck);
    free(r->order);
    nn_schedule_free(r->sched);
    free(r->data_spec);
}

typedef struct {
    const options *o;
    run_state *r;
    nn_status st; /* a failed periodic save stops training */
    char *err;
    history hist;  /* every epoch's figures */
    double t_last; /* when the epoch now ending began */
    progress bar;  /* --progress: cleared before each line */
} epoch_state;

static void print_stats(const char *label, const nn_epoch_stats *s, const nn_epoch_stats *val)
{
    /* A loss without an accuracy (mse, l1) has NaN there: the loss alone. */
    printf("%s%sloss: %.4f", label, *label ? " " : "", s->loss);
    if (!isnan(s->accuracy)) printf(" accuracy: %.4f", s->accuracy);
    if (val) printf(" val_loss: %.4f", val->loss);
    if (val && !isnan(val->accuracy)) printf(" val_accuracy: %.4f", val->accuracy);
    printf("\n");
}

/* The validation figures of the model as it stands (eval mode, no grad). */
static nn_status eval_val(const options *o, run_state *r, nn_epoch_stats *out, char **err)
{
    nn_status st = nn_fit_epoch_comm(r->model, r->loss, NULL, r->val, o->batch, NULL, r->comm, out,
                                     err);
    if (st && err && *err) {
        char *why = *err;
        *err = NULL;
        nn_fail(err, st, "validation data: %s", why);
        nn_free(why);
    }
    return st;
}

static nn_shuffle shuffle_mode(const char *s)
{
    return !strcmp(s, "epoch") ? NN_SHUFFLE_EPOCH : !strcmp(s, "sample") ? NN_SHUFFLE_SAMPLE
                                                                        : NN_SHUFFLE_NONE;
}

static nn_status save_run(const options *o, run_state *r, int64_t epochs_done, char **err)
{
    nn_train_state ts = {
        .epoch = epochs_done,
        .step = r->optim ? nn_optim_steps(r->optim) : 0,
        .batch = o->batch,
        .shuffle = shuffle_mode(o->shuffle),
        .seed = o->seed,
        .rng = *nn_ctx_rng(r->ctx),
        .data = o->data,
        .loss = o->loss,
        .device = nn_ctx_device_name(r->ctx),
        .order = r->order,
        .norder = nn_dataset_len(r->data),
    };
    nn_save_opts so = {.info = o->info, .model = r->model, .optim = r->optim, .train = &ts};
    char *sched = nn_schedule_count(r->sched) ? nn_schedule_text(r->sched) : NULL;
    const char *meta[12], *learned = nn_dataset_learned(r->whole ? r->whole : r->data);
    char split[32];
    int nm = 0;
    if (sched) meta[nm++] = SCHEDULE_KEY, meta[nm++] = sched;
    if (*learned) /* for eval --data: other data treated as the training data */
        meta[nm++] = DATA_LEARNED_KEY, meta[nm++] = learned;
    if (o->drop_last) meta[nm++] = DROP_LAST_KEY, meta[nm++] = "1";
    char clip[32];
    if (o->clip > 0) { /* --resume keeps clipping */
        snprintf(clip, sizeof clip, "%.17g", o->clip);
        meta[nm++] = CLIP_KEY, meta[nm++] = clip;
    }
    if (o->val) meta[nm++] = "val", meta[nm++] = o->val; /* --resume keeps validating */
    if (o->val_split > 0) { /* and rebuilds the split from it and the seed */
        snprintf(split, sizeof split, "%.17g", o->val_split);
        meta[nm++] = "val-split", meta[nm++] = split;
    }
    if (nm) so.metadata = meta, so.nmetadata = nm / 2;
    nn_status st = nn_checkpoint_save(o->save, &so, err);
    nn_free(sched);
    return st;
}

/* Validation on every epoch, not only the logged ones, when the history
 * goes to a file: its rows are then complete. */
static bool history_wants_val(const options *o)
{
    return o->metrics != NULL || o->plot_history != NULL;
}

static int on_batch(const nn_batch_stats *s, void *user)
{
    return progress_batch(&((epoch_state *)user)->bar, s);
}

static int on_epoch(const nn_epoch_stats *s, void *user)
{
    epoch_state *es = user;
    const options *o = es->o;
    history_row row = {s->epoch, s->loss, s->accuracy, NAN, NAN, NAN, now() - es->t_last};
    if (nn_optim_get(es->r->optim, "lr", &row.lr)) row.lr = NAN;
    bool logged = !o->quiet && (s->epoch % o->log_every == 0 || s->epoch == o->epochs - 1);
    bool val = es->r->val && (logged || history_wants_val(o));
    nn_epoch_stats vs;
    if (val && (es->st = eval_val(o, es->r, &vs, &es->err))) return 1;
    if (val) row.val_loss = vs.loss, row.val_accuracy = vs.accuracy;
    if (logged) {
        char label[32];
        snprintf(label, sizeof label, "epoch: %5lld", (long long)s->epoch);
        progress_clear(&es->bar);
        print_stats(label, s, val ? &vs : NULL);
        fflush(stdout);
    }
    if (history_push(&es->hist, &row)) {
        es->st = nn_fail(&es->err, NN_NO_MEMORY, "out of memory");
        return 1;
    }
    if (o->save && o->save_every && (s->epoch + 1) % o->save_every == 0 &&
        s->epoch != o->epochs - 1) { /* the last epoch is saved once, after the loop */
        es->st = save_run(o, es->r, s->epoch + 1, &es->err);
        if (!es->st && o->metrics) /* the figures up to the checkpoint */
            es->st = metrics_write(o->metrics, &es->hist, &es->err);
    }
    es->t_last = now(); /* the next epoch's time leaves out validation and saving */
    return es->st != NN_OK;
}

/* "name k=v k=v" into the name and the words. */
#define OPEN_SPEC(fn, ctx, spec, out, err)                                                   \
    do {                                                                                     \
        char name_[64];                                                                      \
        const char *w_ = spec_words(spec, name_, sizeof name_);                              \
        st = fn(ctx, name_, w_, out, err);                                                   \
    } while (0)

/* --data, and --val or the --val-split views of it: the split is a seeded
 * permutation (--seed, a stream of its own), so a resumed run rebuilds it. */
static nn_status open_data(const options *o, run_state *r, char **err)
{
    nn_status st;
    OPEN_SPEC(nn_dataset_open, r->ctx, o->data, &r->data, err);
    if (!st && o->val) OPEN_SPEC(nn_dataset_open, r->ctx, o->val, &r->val, err);
    if (st || !(o->val_split > 0)) return st;
    if (o->val) return nn_fail(err, NN_INVALID, "--val and --val-split exclude each other");
    int64_t n = nn_dataset_len(r->data), nval = (int64_t)(o->val_split * (double)n + 0.5);
    if (nval < 1 || nval >= n)
        return nn_fail(err, NN_INVALID, "--val-split %g of %lld samples leaves %s", o->val_split,
                       (long long)n, nval < 1 ? "no validation sample" : "no training sample");
    int64_t *perm = malloc((size_t)n * sizeof *perm), *idx = malloc((size_t)n * sizeof *idx);
    char *held = calloc((size_t)n, 1);
    if (!perm || !idx || !held) st = nn_fail(err, NN_NO_MEMORY, "out of memory");
    if (!st) {
        nn_rng rng;
        nn_rng_seed(&rng, o->seed, 0x76616c73706c6974ULL); /* "valsplit" */
        nn_rng_permutation(&rng, perm, n);
        for (int64_t k = 0; k < nval; k++) held[perm[k]] = 1;
        int64_t ntrain = 0, nv = 0; /* each part in the data's own order */
        for (int64_t i = 0; i < n; i++)
            if (!held[i]) idx[ntrain++] = i;
        for (int64_t i = 0; i < n; i++)
            if (held[i]) idx[ntrain + nv++] = i;
        r->whole = r->data;
        r->data = NULL;
        st = nn_dataset_subset(r->whole, idx, ntrain, &r->data, err);
        if (!st) st = nn_dataset_subset(r->whole, idx + ntrain, nval, &r->val, err);
    }
    free(perm);
    free(idx);
    free(held);
    return st;
}

/* --resume: the run's own data, model, loss, optimizer, RNG and data order. */
static nn_status resume_run(options *o, run_state *r, int64_t *first_epoch, char **err)
{
    nn_status st = nn_checkpoint_load(o->resume, &r->ck, err);
    if (st) return st;
    nn_train_state ts;
    if (nn_checkpoint_train_state(r->ck, &ts))
        return nn_fail(err, NN_INVALID, "'%s' holds no training state to resume", o->resume);
    static const int fixed[] = {OPT_DATA, OPT_LOSS, OPT_OPTIM, OPT_BATCH, OPT_SHUFFLE, OPT_SEED};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (GIVEN(o, fixed[i]))
            return nn_fail(err, NN_INVALID, "--%s cannot change a resumed run; it comes from '%s'",
                           with_value[fixed[i]], o->resume);
    const char *split = nn_checkpoint_metadata(r->ck, "val-split");
    if (o->val_split > 0)
        return nn_fail(err, NN_INVALID, "--val-split cannot change a resumed run; it comes from "
                       "'%s'", o->resume);
    if (split && o->val)
        return nn_fail(err, NN_INVALID, "--val cannot change a resumed run; '%s' validates on "
                       "its --val-split %s", o->resume, split);
    o->val_split = split ? strtod(split, NULL) : 0;
    if (split && !(o->val_split > 0 && o->val_split < 1))
        return nn_fail(err, NN_FORMAT, "'%s': its val-split '%s' is not a fraction between 0 and 1",
                       o->resume, split);
    if (!o->val && !split) o->val = (char *)nn_checkpoint_metadata(r->ck, "val");
    o->data = (char *)ts.data;
    o->loss = (char *)ts.loss;
    o->batch = ts.batch;
    o->shuffle = ts.shuffle == NN_SHUFFLE_EPOCH    ? "epoch"
                 : ts.shuffle == NN_SHUFFLE_SAMPLE ? "sample"
                                                   : "none";
    if (o->drop_last && !nn_checkpoint_metadata(r->ck, DROP_LAST_KEY))
        return nn_fail(err, NN_INVALID, "--drop-last cannot change a resumed run; it comes from '%s'",
                       o->resume);
    o->drop_last = nn_checkpoint_metadata(r->ck, DROP_LAST_KEY) != NULL;
    const char *clip = nn_checkpoint_metadata(r->ck, CLIP_KEY);
    if (clip && !(o->clip > 0)) {
        char *end;
        o->clip = strtod(clip, &end);
        if (*end || !(o->clip > 0) || isinf(o->clip))
            return nn_fail(err, NN_FORMAT, "'%s': its %s '%s' is no number above 0", o->resume,
                           CLIP_KEY, clip);
    }
    o->seed = ts.seed;
    if (!o->device && ts.device && *ts.device) o->device = (char *)ts.device;
    if ((st = nn_ctx_open(r->reg, DEVICE(o), o->seed, &r->ctx, err))) return st;
    if ((st = open_data(o, r, err))) return st;
    if ((st = nn_checkpoint_build_model(r->ck, r->ctx, &r->model, err))) return st;
    if (GIVEN(o, OPT_MODEL) && (st = resume_model_check(r->reg, DEVICE(o), r->ck, o->resume, r->model,
                                                        o->model, nn_dataset_input_shape(r->data), err)))
        return st;
    OPEN_SPEC(nn_loss_create, r->ctx, o->loss, &r->loss, err);
    if (st) return st;
    if ((st = nn_checkpoint_build_optim(r->ck, r->model, &r->optim, err))) return st;
    int64_t n = nn_dataset_len(r->data);
    if (ts.norder != n)
        return nn_fail(err, NN_FORMAT, "'%s': its data order has %lld entries, the data %lld",
                       o->resume, (long long)ts.norder, (long long)n);
    if (!(r->order = malloc((size_t)n * sizeof *r->order)))
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    memcpy(r->order, ts.order, (size_t)n * sizeof *r->order);
    *nn_ctx_rng(r->ctx) = ts.rng; /* after the model's initialisation drew from it */
    *first_epoch = ts.epoch;
    return NN_OK;
}

/* --model FILE.pb: a saved network with its weights, trained on from there
 * (an imported ONNX model, fine-tuning); any other --model is a chain. */
static nn_status model_of(const options *o, run_state *r, char **err)
{
    const nn_shape *in = nn_dataset_input_shape(r->data);
    size_t n = strlen(o->model);
    if (n < 4 || strcmp(o->model + n - 3, ".pb") || strpbrk(o->model, " \t!"))
        return nn_module_from_chain(r->ctx, o->model, in, &r->model, err);
    nn_checkpoint *ck;
    nn_status st = nn_checkpoint_load(o->model, &ck, err);
    if (!st) st = nn_checkpoint_build_model(ck, r->ctx, &r->model, err);
    nn_checkpoint_free(ck);
    const nn_shape *want = st ? NULL : nn_module_in_shape(r->model);
    bool same = want && want->ndim == in->ndim &&
                !memcmp(want->dim, in->dim, sizeof in->dim[0] * (size_t)in->ndim);
    if (!st && !same) {
        char s1[64], s2[64];
        nn_shape_format(want, 0, s1, sizeof s1);
        nn_shape_format(in, 0, s2, sizeof s2);
        st = nn_fail(err, NN_SHAPE, "--model %s takes samples of shape %s, the data has %s",
                     o->model, s1, s2);
    }
    return st;
}

static nn_status new_run(options *o, run_state *r, char **err)
{
    nn_status st;
    if ((st = nn_ctx_open(r->reg, DEVICE(o), o->seed, &r->ctx, err))) return st;
    if ((st = open_data(o, r, err))) return st;
    const char *learned = nn_dataset_learned(r->whole ? r->whole : r->data);
    if (*learned) { /* saved with the spec: eval reopens it the same way */
        if (!(r->data_spec = dataspec_with_learned(o->data, learned)))
            return nn_fail(err, NN_NO_MEMORY, "out of memory");
        o->data = r->data_spec;
    }
    if ((st = model_of(o, r, err))) return st;
    OPEN_SPEC(nn_loss_create, r->ctx, o->loss, &r->loss, err);
    if (st) return st;
    char name[64];
    const char *w = spec_words(o->optim, name, sizeof name);
    if ((st = nn_optim_create(r->ctx, name, w, r->model, &r->optim, err))) return st;
    int64_t n = nn_dataset_len(r->data);
    if (!(r->order = malloc((size_t)n * sizeof *r->order)))
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < n; i++) r->order[i] = i;
    return NN_OK;
}

static int cmd_train(options *o, int argc, char **argv)
{
    const char *pos[1];
    int npos;
    plot_opts po; /* --plot-history's --size and --values */
    char *pwhy = plot_take_args(&argc, argv, &po);
    if (pwhy) return die_free(pwhy);
    /* The spec file is read first so that command-line options override it. */
    for (int i = 0; i < argc; i++)
        if (argv[i][0] != '-' && (i == 0 || argv[i - 1][0] != '-' || strchr(argv[i - 1], '=') ||
                                  !strcmp(argv[i - 1], "-v"))) {
            if (read_spec(o, argv[i])) return 1;
            break;
        }
    if (parse_args(o, argc, argv, pos, 1, &npos)) return 1;
    if (o->save_every && !o->save) return die("--save-every needs --save FILE");
    if (o->input_shape.ndim) return die("--input-shape is for print, summary, params, graph and "
                                        "check; train takes the shape from --data");
    if (o->save || o->metrics) { /* fail now, not after the training, when a target cannot take it */
        char *why = o->save ? save_target_problem(o->save) : NULL;
        if (!why && o->metrics) why = metrics_target_problem(o->metrics, o->save);
        if (why) {
            die("%s", why);
            free(why);
            return 1;
        }
    }
    if ((pwhy = plot_train_check(o->plot_history, &po))) /* now, not after the training */
        return die_free(pwhy);

    run_state r = {0};
    char *err = NULL;
    int64_t first = 0;
    int plot_rc = 0; /* --plot-history: 1 failed (reported at once), -1 drawn */
    nn_status st = open_registry(o, &r.reg, &err);
    if (!st) st = dist_open(r.reg, o->dist, &r.comm, &err);
    if (!st && nn_comm_rank(r.comm) != 0) /* only rank 0 writes files */
        o->save = NULL, o->metrics = NULL, o->plot_history = NULL;
    if (!st) st = o->resume ? resume_run(o, &r, &first, &err) : new_run(o, &r, &err);
    if (!st) st = dist_start(r.comm, r.model, &err);
    if (r.reg) note_shadows(r.reg);
    if (!st) st = schedule_build(&o->sched, r.ck, r.optim, first, o->epochs, &r.sched, &err);
    if (!st && o->drop_last && o->batch > nn_dataset_len(r.data))
        st = nn_fail(&err, NN_INVALID, "--drop-last with --batch %lld leaves no batch of the %lld samples",
                     (long long)o->batch, (long long)nn_dataset_len(r.data));
    nn_epoch_stats before, vbefore;
    if (!st)
        st = nn_fit_epoch_comm(r.model, r.loss, NULL, r.data, o->batch, NULL, r.comm, &before, &err);
    if (!st && r.val) st = eval_val(o, &r, &vbefore, &err);
    if (st) goto out;
    if (r.val && !o->quiet)
        printf("samples:     %lld train, %lld validation\n", (long long)nn_dataset_len(r.data),
               (long long)nn_dataset_len(r.val));
    if (!o->quiet) print_stats("before:     ", &before, r.val ? &vbefore : NULL);
    if (o->detect_anomaly) nn_ctx_set_detect_anomaly(r.ctx, 1);
    epoch_state es = {o, &r, NN_OK, NULL, {0}, 0.0, {0}};
    /* Under mpirun, a rank's stdout is a pseudo-terminal of mpirun's, whatever
     * the user's is: auto draws no bar there. */
    bool bar = !o->quiet && (r.comm ? o->progress == PROGRESS_ALWAYS
                                    : progress_wanted(o->progress, stdout));
    nn_fit_opts fo = {.epochs = o->epochs, .batch = o->batch, .shuffle = shuffle_mode(o->shuffle),
                      .on_epoch = on_epoch, .user = &es, .first_epoch = first, .order = r.order,
                      .schedule = r.sched, .drop_last = o->drop_last, .clip_grad_norm = o->clip,
                      .on_batch = bar ? on_batch : NULL, /* none: the loop as fast as without */
                      .comm = r.comm};
    double t0 = now();
    es.t_last = t0;
    if (bar) progress_start(&es.bar, stdout, o->epochs);
    st = nn_fit(r.model, r.loss, r.optim, r.data, &fo, &err);
    double dt = now() - t0;
    progress_clear(&es.bar);
    if (!st && es.st) {
        st = es.st;
        err = es.err;
        es.err = NULL;
    }
    free(es.err);
    if (o->metrics) { /* also after an error: the epochs that were trained */
        char *merr = NULL;
        nn_status mst = metrics_write(o->metrics, &es.hist, &merr);
        if (mst && !st) st = mst, err = merr, merr = NULL;
        nn_free(merr);
    }
    if (!st && o->plot_history) { /* a picture that fails still lets the run be saved */
        char *perr = NULL;
        nn_status pst = plot_history(&es.hist, o->plot_history, &po, &perr);
        plot_rc = pst ? die_err(perr, pst) : -1;
    }
    history_free(&es.hist);
    if (st) goto out;
    int64_t done = o->epochs > first ? o->epochs - first : 0;
    int64_t n = nn_dataset_len(r.data);
    int64_t samples = done * (o->drop_last ? n / o->batch * o->batch : n);
    printf("time: %.3f s for %lld epochs, %.0f samples/s on %s\n", dt, (long long)done,
           dt > 0 ? (double)samples / dt : 0.0, nn_ctx_device_name(r.ctx));
    if (o->save && (st = save_run(o, &r, first > o->epochs ? first : o->epochs, &err))) goto out;
    if (o->save) printf("saved: %s\n", o->save);
    if (plot_rc < 0) printf("plotted: %s\n", o->plot_history);
out:
    if (st) dist_end(r.comm, 1, err ? err : nn_strerror(st)); /* stops every rank */
    run_free(&r);
    return st ? die_err(err, st) : plot_rc > 0;
}

/* Weights of a diverged run give no figures: NaN or Inf is refused by name. */
static nn_status refuse_nonfinite(const char *file, nn_module *m, char **err)
{
    const char *name;
    float v;
    nn_status st = nn_module_check_finite(m, &name, &v);
    if (st == NN_INVALID && name)
        return nn_fail(err, NN_FORMAT, "checkpoint %s: parameter %s holds %s", file, name,
                       isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf");
    return st ? nn_fail(err, st, "checkpoint %s: %s", file, nn_strerror(st)) : NN_OK;
}

/* A checkpoint's model on its own data, with its own loss and batch unless
 * the options give others (eval, predict, plot). The loss is made unless
 * loss_optional and neither the checkpoint nor --loss names one. */
static nn_status open_checkpoint(options *o, const char *file, run_state *r, bool loss_optional,
                                 char **err)
{
    nn_train_state ts = {0};
    nn_status st = open_registry(o, &r->reg, err);
    if (!st) st = nn_checkpoint_load(file, &r->ck, err);
    if (st) return st;
    bool has_ts = nn_checkpoint_train_state(r->ck, &ts) == NN_OK;
    if (!GIVEN(o, OPT_DATA) && !has_ts)
        return nn_fail(err, NN_INVALID, "'%s' names no data; give --data SPEC", file);
    if (has_ts) {
        if (!GIVEN(o, OPT_DATA)) o->data = (char *)ts.data;
        if (!GIVEN(o, OPT_LOSS)) o->loss = (char *)ts.loss;
        const char *learned = nn_checkpoint_metadata(r->ck, DATA_LEARNED_KEY);
        if (GIVEN(o, OPT_DATA) && learned && dataspec_same_name(o->data, ts.data)) {
            /* the training data's statistics, unless the spec gives its own */
            if (!(r->data_spec = dataspec_with_learned(o->data, learned)))
                return nn_fail(err, NN_NO_MEMORY, "out of memory");
            o->data = r->data_spec;
        }
        if (!GIVEN(o, OPT_BATCH) && ts.batch > 0) o->batch = ts.batch;
        if (!o->device && ts.device && *ts.device) o->device = (char *)ts.device;
    }
    if ((st = nn_ctx_open(r->reg, DEVICE(o), o->seed, &r->ctx, err))) return st;
    OPEN_SPEC(nn_dataset_open, r->ctx, o->data, &r->data, err);
    if (st) return st;
    if ((st = nn_checkpoint_build_model(r->ck, r->ctx, &r->model, err))) return st;
    if ((st = refuse_nonfinite(file, r->model, err))) return st;
    if (!loss_optional || has_ts || GIVEN(o, OPT_LOSS)) /* predict: a class rule only from a loss */
        OPEN_SPEC(nn_loss_create, r->ctx, o->loss, &r->loss, err);
    return st;
}

/* eval prints the checkpoint's figures, predict writes its outputs (tools/predict.c). */
static int cmd_eval(options *o, int argc, char **argv, bool predict)
{
    const char *pos[1];
    int npos;
    if (parse_args(o, argc, argv, pos, 1, &npos)) return 1;
    if (npos != 1) return die("%s expects a checkpoint file", predict ? "predict" : "eval");
    if (o->input_shape.ndim) return die("--input-shape is for print, summary, params, graph and "
                                        "check; %s takes the shape from the data",
                                        predict ? "predict" : "eval");
    run_state r = {0};
    char *err = NULL;
    nn_status st = open_checkpoint(o, pos[0], &r, predict, &err);
    if (st) goto out;
    nn_epoch_stats s;
    if (predict) {
        int64_t rows;
        st = predict_write(r.model, r.loss, r.data, o->batch, o->targets, o->out, &rows, &err);
        if (st) goto out;
        if (o->out) printf("wrote %lld rows to %s\n", (long long)rows, o->out);
    } else {
        if ((st = nn_fit_epoch(r.model, r.loss, NULL, r.data, o->batch, NULL, &s, &err))) goto out;
        print_stats("", &s, NULL);
    }
out:
    run_free(&r);
    return st ? die_err(err, st) : 0;
}

/* plot: a picture of the data (--data SPEC) or of what a checkpoint
 * predicts over the plane, with its data on top (tools/plot.c). */
static int cmd_plot(options *o, int argc, char **argv)
{
    plot_opts po;
    char *why = plot_take_args(&argc, argv, &po);
    if (why) return die_free(why);
    const char *pos[1];
    int npos;
    if (parse_args(o, argc, argv, pos, 1, &npos)) return 1;
    if (!npos && !GIVEN(o, OPT_DATA)) return die("plot expects a checkpoint FILE or --data SPEC");
    if (!o->out) return die("plot needs -o FILE.png or -o FILE.svg");
    if ((why = plot_check(o->out, &po))) return die_free(why);
    run_state r = {0};
    char *err = NULL;
    nn_status st;
    if (npos) {
        const char *base = strrchr(pos[0], '/');
        st = open_checkpoint(o, pos[0], &r, false, &err);
        if (!st) st = plot_boundary(r.model, r.loss, r.data, base ? base + 1 : pos[0], &po, o->out,
                                    &err);
    } else {
        st = open_registry(o, &r.reg, &err);
        if (!st) st = nn_ctx_open(r.reg, DEVICE(o), o->seed, &r.ctx, &err);
        if (!st) OPEN_SPEC(nn_dataset_open, r.ctx, o->data, &r.data, &err);
        if (!st) st = plot_data(r.ctx, r.data, o->data, &po, o->out, &err);
    }
    if (!st) printf("wrote %s\n", o->out);
    run_free(&r);
    return st ? die_err(err, st) : 0;
}

static int inspect_checkpoint(const char *path)
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

/* print, summary, params and graph look at a checkpoint FILE, or at
 * --model CHAIN (input width from in= or --data), or at the default net. */
static nn_status view_model(options *o, const char *file, run_state *r, char **err)
{
    nn_status st = open_registry(o, &r->reg, err);
    if (!st) st = nn_ctx_open(r->reg, DEVICE(o), o->seed, &r->ctx, err);
    if (st) return st;
    if (file) {
        if (o->input_shape.ndim)
            return nn_fail(err, NN_INVALID, "--input-shape goes with --model CHAIN; a checkpoint "
                           "knows its input shape");
        if ((st = nn_checkpoint_load(file, &r->ck, err))) return st;
        return nn_checkpoint_build_model(r->ck, r->ctx, &r->model, err);
    }
    nn_shape in = {1, {-1}}; /* unknown until in= resolves it */
    if (o->input_shape.ndim) {
        if (GIVEN(o, OPT_DATA) || !GIVEN(o, OPT_MODEL))
            return nn_fail(err, NN_INVALID, "--input-shape goes with --model CHAIN and no --data "
                           "(the data gives its own shape)");
        in = o->input_shape;
    } else if (GIVEN(o, OPT_DATA) || !GIVEN(o, OPT_MODEL)) {
        OPEN_SPEC(nn_dataset_open, r->ctx, o->data, &r->data, err);
        if (st) return st;
        in = *nn_dataset_input_shape(r->data);
    }
    return nn_module_from_chain(r->ctx, o->model, &in, &r->model, err);
}

/* mkstemp makes 0600 files; give outputs the mode open() would (0666 & ~umask). */
static void default_mode(int fd)
{
    mode_t u = umask(0);
    umask(u);
    fchmod(fd, 0666 & ~u);
}

/* Writes data to path through a temporary file, so no half-written file is left. */
/* Creates "PATH.tmp.XXXXXX" beside path with the usual mode; *tmp is the
 * name (caller frees). Returns the descriptor, or -1 with *err set. */
static int temp_beside(const char *path, char **tmp, char **err)
{
    if (!(*tmp = malloc(strlen(path) + 16))) {
        nn_fail(err, NN_NO_MEMORY, "out of memory");
        return -1;
    }
    sprintf(*tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        nn_fail(err, NN_IO, "cannot create '%s': %s", *tmp, strerror(errno));
        free(*tmp);
        *tmp = NULL;
        return -1;
    }
    default_mode(fd);
    return fd;
}

static nn_status write_file(const char *path, const char *data, size_t n, char **err)
{
    char *tmp;
    int fd = temp_beside(path, &tmp, err);
    if (fd < 0) return NN_IO;
    nn_status st = NN_OK;
    FILE *f = fdopen(fd, "w");
    bool ok = f && fwrite(data, 1, n, f) == n;
    if (f ? fclose(f) != 0 : close(fd) != 0) ok = false;
    if (!ok || rename(tmp, path))
        st = nn_fail(err, NN_IO, "cannot write '%s': %s", path, strerror(errno));
    if (st) unlink(tmp);
    free(tmp);
    return st;
}

/* Renders DOT with Graphviz's dot program into path (format from its suffix). */
static nn_status render_dot(const char *dot, const char *path, const char *fmt, char **err)
{
    char *tmp;
    int fd = temp_beside(path, &tmp, err);
    if (fd < 0) return NN_IO;
    close(fd);
    /* The arguments are ours (a fixed format and a mkstemp name), quoted for sh. */
    char *cmd = malloc(strlen(tmp) + 64);
    if (!cmd) {
        unlink(tmp);
        free(tmp);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    sprintf(cmd, "dot -T%s -o '%s' 2>/dev/null", fmt, tmp);
    nn_status st = NN_OK;
    /* dot (or sh, when dot is missing) may exit without reading: take EPIPE,
     * not a SIGPIPE that would end nnrun with the temporary file left. */
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    FILE *p = strchr(tmp, '\'') ? NULL : popen(cmd, "w");
    if (!p) {
        st = nn_fail(err, NN_UNSUPPORTED, "cannot run Graphviz's dot");
    } else {
        fputs(dot, p);
        int rc = pclose(p);
        if (rc == 127 << 8 || (rc != 0 && rc != -1 && WEXITSTATUS(rc) == 127))
            st = nn_fail(err, NN_UNSUPPORTED,
                         "rendering .%s needs Graphviz's dot program (apt-get install graphviz); "
                         "-o FILE.dot writes DOT without it", fmt);
        else if (rc != 0)
            st = nn_fail(err, NN_IO, "Graphviz's dot failed to render '%s'", path);
        else if (rename(tmp, path))
            st = nn_fail(err, NN_IO, "cannot write '%s': %s", path, strerror(errno));
    }
    signal(SIGPIPE, old_pipe);
    if (st) unlink(tmp);
    free(cmd);
    free(tmp);
    return st;
}

static nn_status graph(options *o, run_state *r, char **err)
{
    const char *dotp = o->out ? strrchr(o->out, '.') : NULL;
    const char *fmt = dotp ? dotp + 1 : "";
    if (!o->out || (strcmp(fmt, "dot") && strcmp(fmt, "gv") && strcmp(fmt, "svg") &&
                    strcmp(fmt, "png") && strcmp(fmt, "pdf")))
        return nn_fail(err, NN_INVALID, "graph needs -o FILE ending in .dot, .svg, .png or .pdf");
    const nn_shape *in = nn_module_in_shape(r->model);
    if (in->ndim > NN_MAX_DIMS - 1)
        return nn_fail(err, NN_INVALID, "an input of %d dimensions leaves none for the batch",
                       in->ndim);
    nn_shape bs = {in->ndim + 1, {o->batch}};
    memcpy(bs.dim + 1, in->dim, (size_t)in->ndim * sizeof in->dim[0]);
    nn_tensor *x = nn_tensor_scratch(r->ctx, &bs);
    if (x) nn_tensor_zero_(x);
    nn_tensor *y = nn_module_forward(r->model, x);
    const char *msg;
    nn_status st = nn_ctx_error(r->ctx, &msg);
    if (st) return nn_fail(err, st, "forward pass: %s", msg);
    if (!y) return nn_fail(err, NN_INTERNAL, "forward pass: no output and no error recorded");
    char *dot;
    if ((st = nn_graph_dot(y, r->model, &dot, err))) return st;
    if (!strcmp(fmt, "dot") || !strcmp(fmt, "gv"))
        st = write_file(o->out, dot, strlen(dot), err);
    else
        st = render_dot(dot, o->out, fmt, err);
    nn_free(dot);
    return st;
}

static int cmd_view(options *o, const char *what, int argc, char **argv)
{
    const char *pos[1];
    int npos;
    if (parse_args(o, argc, argv, pos, 1, &npos)) return 1;
    run_state r = {0};
    char *err = NULL, *text = NULL;
    nn_status st = view_model(o, npos ? pos[0] : NULL, &r, &err);
    if (st) goto out;
    if (!strcmp(what, "print")) {
        text = nn_module_repr(r.model);
    } else if (!strcmp(what, "summary")) {
        nn_summary_opts so = {o->show_input, o->hierarchical};
        text = nn_module_summary(r.model, &so);
    } else if (!strcmp(what, "params")) {
        text = nn_module_params_text(r.model, o->values);
    } else if ((st = graph(o, &r, &err)) == NN_OK) {
        printf("wrote %s\n", o->out);
    }
    if (!st && strcmp(what, "graph")) {
        if (!text) st = nn_fail(&err, NN_NO_MEMORY, "out of memory");
        else fput_escaped(text, stdout, 1);
    }
out:
    nn_free(text);
    run_free(&r);
    return st ? die_err(err, st) : 0;
}

/* check NAME [key=value ...]: conformance of a plugin's component. */
static int cmd_check(options *o, int argc, char **argv)
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

static int cmd_inspect(options *o, int argc, char **argv)
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

/* export FILE -o OUT [--opset N], import FILE -o OUT (tools/onnx_*.c). */
static int cmd_onnx(options *o, int argc, char **argv, bool export)
{
    int64_t opset = NN_ONNX_OPSET_DEFAULT;
    char **rest = malloc(sizeof *rest * (size_t)(argc + 1));
    int nrest = 0;
    if (!rest) return die("out of memory");
    for (int i = 0; i < argc; i++) { /* --opset is export's own */
        const char *a = argv[i];
        int bad = 0;
        if (export && !strcmp(a, "--opset"))
            bad = i + 1 == argc ? die("--opset needs a number") : parse_count(a, argv[++i], 1, &opset);
        else if (export && !strncmp(a, "--opset=", 8))
            bad = parse_count("--opset", a + 8, 1, &opset);
        else
            rest[nrest++] = argv[i];
        if (bad) {
            free(rest);
            return 1;
        }
    }
    const char *pos[1];
    int npos;
    int bad = parse_args(o, nrest, rest, pos, 1, &npos);
    free(rest);
    if (bad) return 1;
    if (npos != 1 || !o->out)
        return die("%s expects a file and -o OUT (see nnrun --help)", export ? "export" : "import");
    nn_registry *reg = NULL;
    char *err = NULL;
    nn_status st = open_registry(o, &reg, &err);
    if (!st) st = export ? onnx_export(reg, pos[0], o->out, (int)opset, &err)
                         : onnx_import(reg, pos[0], o->out, o->info, &err);
    if (!st) printf("wrote %s\n", o->out);
    nn_registry_free(reg);
    return st ? die_err(err, st) : 0;
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
        .seed = 1,
    };
    int rc;
    /* A save cut short by a file size limit must fail with EFBIG and clean up,
     * not kill the process half-way. */
    signal(SIGXFSZ, SIG_IGN);
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
        printf("nnrun %s (libnn %s, plugin ABI %d.%d)\n", NN_VERSION_STRING, nn_version_string(),
               NN_ABI_MAJOR, NN_ABI_MINOR);
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
    else if (!strcmp(cmd, "eval"))
        rc = cmd_eval(&o, argc - 2, argv + 2, false);
    else if (!strcmp(cmd, "predict"))
        rc = cmd_eval(&o, argc - 2, argv + 2, true);
    else if (!strcmp(cmd, "check"))
        rc = cmd_check(&o, argc - 2, argv + 2);
    else if (!strcmp(cmd, "plot"))
        rc = cmd_plot(&o, argc - 2, argv + 2);
    else if (!strcmp(cmd, "export"))
        rc = cmd_onnx(&o, argc - 2, argv + 2, true);
    else if (!strcmp(cmd, "import"))
        rc = cmd_onnx(&o, argc - 2, argv + 2, false);
    else if (!strcmp(cmd, "print") || !strcmp(cmd, "summary") || !strcmp(cmd, "params") ||
             !strcmp(cmd, "graph"))
        rc = cmd_view(&o, cmd, argc - 2, argv + 2);
    else
        rc = die("unknown command '%s' (see nnrun --help)", cmd);
    for (int i = 0; i < o.nowned; i++) free(o.owned[i]);
    return rc;
}
