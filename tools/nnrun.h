/* nnrun.h - what nnrun's commands share: the options, a run's state, and
 * the helpers for messages, options and checkpoints. tools/nnrun.c holds
 * main, the options and these helpers; each command has a file of its own
 * (tools/cmd_*.c), as git's builtins do. */
#ifndef NNRUN_NNRUN_H
#define NNRUN_NNRUN_H

#include <nn/plugin.h>

#include "progress.h"
#include "schedule.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    char *test;      /* --test SPEC */
    double val_split; /* --val-split F (0: none) */
    char *metrics;    /* --metrics FILE.csv */
    int quiet;        /* --quiet */
    progress_mode progress; /* --progress */
    char *plot_history; /* --plot-history FILE */
    char *dist;       /* --dist none|auto|mpi */
    char *write_cache; /* plugins --write-cache DIR */
} options;

enum { OPT_DATA, OPT_MODEL, OPT_LOSS, OPT_OPTIM, OPT_EPOCHS, OPT_BATCH, OPT_SHUFFLE, OPT_SEED };
#define DROP_LAST_KEY "drop-last" /* checkpoint metadata of a run trained with --drop-last */
#define CLIP_KEY "clip-grad-norm"  /* and of one trained with --clip-grad-norm */
#define GIVEN(o, i) (((o)->given >> (i)) & 1u)
#define DEVICE(o) ((o)->device ? (o)->device : "cpu") /* nnrun's default, not the core's */

/* Everything a training run holds; freed in one place. */
typedef struct {
    nn_registry *reg;
    nn_ctx *ctx;
    nn_dataset *data;
    nn_dataset *val, *whole; /* --val data; --val-split: data and val are views of whole */
    nn_dataset *test;        /* --test data */
    nn_module *model;
    nn_loss *loss;
    nn_optim *optim;
    nn_checkpoint *ck;
    int64_t *order;
    nn_schedule *sched;
    char *data_spec; /* the data spec with what the data taught its dataset */
    nn_comm *comm;   /* --dist: the job's communicator, or NULL */
} run_state;

/* "name k=v k=v" into the name and the words. */
#define OPEN_SPEC(fn, ctx, spec, out, err)                                                   \
    do {                                                                                     \
        char name_[64];                                                                      \
        const char *w_ = spec_words(spec, name_, sizeof name_);                              \
        st = fn(ctx, name_, w_, out, err);                                                   \
    } while (0)

/* ---- tools/nnrun.c: messages, options, the registry ---- */

/* The options that take a value, without their dashes: OPT_* indexes it. */
extern const char *const with_value[];

/* "nnrun: " and the message on stderr (with the spec file's "FILE:LINE: "
 * while one is read); returns 1, the exit status of a user's error. */
int die(const char *fmt, ...) NN_PRINTF(1, 2);
void warn(const char *fmt, ...) NN_PRINTF(1, 2);
/* die with err (or st's text), which it frees. */
int die_err(char *err, nn_status st);
/* die with msg (NULL: out of memory), which it frees. */
int die_free(char *msg);
/* The options of argv into o, and up to max_pos positional arguments into
 * pos (*npos of them); 1 after a message for a bad one. */
int parse_args(options *o, int argc, char **argv, const char **pos, int max_pos, int *npos);
/* A whole number >= min for option opt into *out; 1 after a message. */
int parse_count(const char *opt, const char *s, int64_t min, int64_t *out);
/* A spec file: "option value" per line, applied to o; 1 after a message. */
int read_spec(options *o, const char *path);
nn_status open_registry(const options *o, nn_registry **reg, char **err);
/* The name of "name k=v ..." into name; returns the words after it. */
const char *spec_words(const char *spec, char *name, size_t len);
double now(void); /* CLOCK_MONOTONIC, in seconds */
void run_free(run_state *r);

/* ---- tools/cmd_train.c ---- */

/* "LABEL loss: X accuracy: Y[ val_loss: ... val_accuracy: ...]" (accuracy
 * left out where it is NaN). */
void print_stats(const char *label, const nn_epoch_stats *s, const nn_epoch_stats *val);

/* ---- tools/cmd_eval.c ---- */

nn_status refuse_nonfinite(const char *file, nn_module *m, char **err);
nn_status open_checkpoint(options *o, const char *file, run_state *r, bool loss_optional,
                          char **err);

/* ---- tools/cmd_view.c ---- */

nn_status view_model(options *o, const char *file, run_state *r, char **err);

/* ---- tools/cmd_info.c ---- */

int inspect_checkpoint(const char *path);

/* ---- the commands: the arguments after the command's name; the exit status ---- */

int cmd_train(options *o, int argc, char **argv);                  /* cmd_train.c */
int cmd_eval(options *o, int argc, char **argv, bool predict);    /* cmd_eval.c: eval, predict */
int cmd_plot(options *o, int argc, char **argv);                   /* cmd_eval.c */
int cmd_onnx(options *o, int argc, char **argv, bool export);     /* cmd_eval.c: export, import */
int cmd_view(options *o, const char *what, int argc, char **argv); /* cmd_view.c */
int cmd_check(options *o, int argc, char **argv);                  /* cmd_info.c */
int cmd_plugins(options *o, int argc, char **argv);                /* cmd_info.c */
int cmd_inspect(options *o, int argc, char **argv);                /* cmd_info.c */

#endif
