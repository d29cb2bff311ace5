/* cmd_eval.c - the commands on a checkpoint: eval, predict, plot, export and
 * import. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#include "nnrun.h"

#include <nn/onnx.h>

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

/* Weights of a diverged run give no figures: NaN or Inf is refused by name. */
nn_status refuse_nonfinite(const char *file, nn_module *m, char **err)
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
nn_status open_checkpoint(options *o, const char *file, run_state *r, bool loss_optional,
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
int cmd_eval(options *o, int argc, char **argv, bool predict)
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
int cmd_plot(options *o, int argc, char **argv)
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

/* export FILE -o OUT [--opset N], import FILE -o OUT (tools/onnx_*.c). */
int cmd_onnx(options *o, int argc, char **argv, bool export)
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
