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
#include "nnrun.h"

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


const char *const with_value[] = {"data",        "model",     "loss",   "optim",
                                         "epochs",      "batch",     "shuffle", "seed",
                                         "log-every",   "device",    "plugin-path", "save",
                                         "save-every",  "info",      "resume",
                                         "schedule",    "lr-schedule", "input-shape",
                                         "val",         "val-split", "metrics", "progress",
                                         "plot-history", "dist", "write-cache", "test"};

static const char usage[] =
    "usage: nnrun COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  train [FILE.nn]   train a network (with no options: the tutorial's circle net)\n"
    "  plugins [-v]      list every component found (-v: search path, the devices\n"
    "                    with kernels for each op, refused files)\n"
    "  plugins --write-cache DIR  write DIR/plugins.cache, what each plugin in DIR\n"
    "                    provides, so that a run loads only the plugins it uses\n"
    "                    (make install writes the system folder's)\n"
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
    "  graph [FILE] -o OUT  the autograd graph of one forward pass: OUT.dot, .svg or .png\n"
    "                    (print, summary, params, graph take a checkpoint FILE or\n"
    "                    --model CHAIN with in=N, --input-shape or --data SPEC)\n"
    "  plot --data SPEC -o OUT  the samples as points coloured by class, OUT.png or .svg\n"
    "                    (--dims i,j: the two features drawn, 0,1)\n"
    "  plot FILE -o OUT  what a checkpoint of 2 inputs predicts over the plane: P(class 1)\n"
    "                    and its 0.5 contour, or the class regions; its data on top (or\n"
    "                    --data). Both: --size WxH (600x600); --values OUT.csv: the\n"
    "                    numbers drawn\n"
    "  export FILE -o OUT.onnx [--opset N]  the network as an ONNX model, traced in\n"
    "                    eval mode (opsets 13 to 20, default 17; docs/onnx.md)\n"
    "  import FILE.onnx -o OUT.pb [--info TEXT]  an ONNX chain (a PyTorch\n"
    "                    nn.Sequential) as a checkpoint; train on with --model OUT.pb\n"
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
    "  --test SPEC       a test dataset, evaluated once after training (eval\n"
    "                    mode): a test: line with its loss and accuracy\n"
    "  --metrics FILE    write each epoch's figures as CSV (epoch,loss,accuracy,\n"
    "                    val_loss,val_accuracy,lr,seconds; with validation, every\n"
    "                    epoch is validated); after --resume, this run's epochs\n"
    "  --progress WHEN   auto | always | never        (auto)\n"
    "                    a bar during each epoch; auto: when stdout is a terminal\n"
    "                    and training is not distributed (--dist)\n"
    "  --quiet           no bar, no before: or epoch lines (and no pass over the\n"
    "                    data for the before: line); errors, the time:,\n"
    "                    test: and saved: lines stay\n"
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

int die(const char *fmt, ...)
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

void warn(const char *fmt, ...) NN_PRINTF(1, 2);
void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nnrun: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int die_err(char *err, nn_status st)
{
    int r = die("%s", err ? err : nn_strerror(st));
    nn_free(err);
    return r;
}

int die_free(char *msg)
{
    die("%s", msg ? msg : "out of memory");
    free(msg);
    return 1;
}

int parse_count(const char *opt, const char *s, int64_t min, int64_t *out)
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
    else if (!strcmp(name, "test")) o->test = (char *)value;
    else if (!strcmp(name, "metrics")) o->metrics = (char *)value;
    else if (!strcmp(name, "write-cache")) o->write_cache = (char *)value;
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
int read_spec(options *o, const char *path)
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
int parse_args(options *o, int argc, char **argv, const char **pos, int max_pos,
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
nn_status open_registry(const options *o, nn_registry **reg, char **err)
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
const char *spec_words(const char *spec, char *name, size_t len)
{
    while (isspace((unsigned char)*spec)) spec++;
    size_t n = strcspn(spec, " \t");
    snprintf(name, len, "%.*s", (int)n, spec);
    return spec + n;
}

double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void run_free(run_state *r)
{
    nn_optim_free(r->optim);
    nn_loss_free(r->loss);
    nn_module_free(r->model);
    nn_dataset_free(r->data);
    nn_dataset_free(r->val);
    nn_dataset_free(r->test);
    nn_dataset_free(r->whole);
    nn_ctx_free(r->ctx);
    nn_comm_free(r->comm);
    nn_registry_free(r->reg);
    nn_checkpoint_free(r->ck);
    free(r->order);
    nn_schedule_free(r->sched);
    free(r->data_spec);
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
