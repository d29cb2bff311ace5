/* cmd_train.c - nnrun train: a run from the options or a checkpoint, its epochs
 * and their lines, the metrics, the pictures and the saves. */
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

typedef struct {
    const options *o;
    run_state *r;
    nn_status st; /* a failed periodic save stops training */
    char *err;
    history hist;  /* every epoch's figures */
    double t_last; /* when the epoch now ending began */
    progress bar;  /* --progress: cleared before each line */
} epoch_state;

void print_stats(const char *label, const nn_epoch_stats *s, const nn_epoch_stats *val)
{
    /* A loss without an accuracy (mse, l1) has NaN there: the loss alone. */
    printf("%s%sloss: %.4f", label, *label ? " " : "", s->loss);
    if (!isnan(s->accuracy)) printf(" accuracy: %.4f", s->accuracy);
    if (val) printf(" val_loss: %.4f", val->loss);
    if (val && !isnan(val->accuracy)) printf(" val_accuracy: %.4f", val->accuracy);
    printf("\n");
}

/* The figures of the model as it stands on data (eval mode, no grad), a
 * failure's message led by what the data is. */
static nn_status eval_on(const options *o, run_state *r, nn_dataset *data, const char *what,
                         nn_epoch_stats *out, char **err)
{
    nn_status st = nn_fit_epoch_comm(r->model, r->loss, NULL, data, o->batch, NULL, r->comm, out,
                                     err);
    if (st && err && *err) {
        char *why = *err;
        *err = NULL;
        nn_fail(err, st, "%s: %s", what, why);
        nn_free(why);
    }
    return st;
}

static nn_status eval_val(const options *o, run_state *r, nn_epoch_stats *out, char **err)
{
    return eval_on(o, r, r->val, "validation data", out, err);
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

static bool shape_is(const nn_shape *a, const nn_shape *b)
{
    return a->ndim == b->ndim && !memcmp(a->dim, b->dim, sizeof a->dim[0] * (size_t)a->ndim);
}

/* Data to evaluate the model on, its samples shaped as the training data's
 * (checked before training, not found wrong after it). */
static nn_status same_shapes(nn_dataset *data, nn_dataset *other, const char *opt, char **err)
{
    const nn_shape *s[2][2] = {{nn_dataset_input_shape(data), nn_dataset_target_shape(data)},
                               {nn_dataset_input_shape(other), nn_dataset_target_shape(other)}};
    for (int k = 0; k < 2; k++) {
        if (shape_is(s[0][k], s[1][k])) continue;
        char a[64], b[64];
        nn_shape_format(s[0][k], 0, a, sizeof a);
        nn_shape_format(s[1][k], 0, b, sizeof b);
        return nn_fail(err, NN_SHAPE, "%s data's %s are %s, the training data's %s", opt,
                       k ? "targets" : "samples", b, a);
    }
    return NN_OK;
}

/* --data, and --val or the --val-split views of it: the split is a seeded
 * permutation (--seed, a stream of its own), so a resumed run rebuilds it. */
static nn_status open_data(const options *o, run_state *r, char **err)
{
    nn_status st;
    OPEN_SPEC(nn_dataset_open, r->ctx, o->data, &r->data, err);
    if (!st && o->val) OPEN_SPEC(nn_dataset_open, r->ctx, o->val, &r->val, err);
    if (!st && o->test) {
        OPEN_SPEC(nn_dataset_open, r->ctx, o->test, &r->test, err);
        if (!st) st = same_shapes(r->data, r->test, "--test", err);
    }
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
    if (!st && !(want && shape_is(want, in))) {
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

int cmd_train(options *o, int argc, char **argv)
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
    /* The before: line's pass over the data (eval mode: it changes nothing),
     * not made when nothing prints it. */
    nn_epoch_stats before, vbefore;
    if (!st && !o->quiet)
        st = nn_fit_epoch_comm(r.model, r.loss, NULL, r.data, o->batch, NULL, r.comm, &before, &err);
    if (!st && !o->quiet && r.val) st = eval_val(o, &r, &vbefore, &err);
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
    if (r.test) {
        nn_epoch_stats ts;
        if ((st = eval_on(o, &r, r.test, "test data", &ts, &err))) goto out;
        print_stats("test:", &ts, NULL);
    }
    if (o->save && (st = save_run(o, &r, first > o->epochs ? first : o->epochs, &err))) goto out;
    if (o->save) printf("saved: %s\n", o->save);
    if (plot_rc < 0) printf("plotted: %s\n", o->plot_history);
out:
    if (st) dist_end(r.comm, 1, err ? err : nn_strerror(st)); /* stops every rank */
    run_free(&r);
    return st ? die_err(err, st) : plot_rc > 0;
}
