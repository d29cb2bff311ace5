/* cmd_view.c - nnrun print, summary, params and graph: a network from a
 * checkpoint or a chain, shown as PyTorch shows it. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#include "nnrun.h"
#include "atomic.h"

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

/* print, summary, params and graph look at a checkpoint FILE, or at
 * --model CHAIN (input width from in= or --data), or at the default net. */
nn_status view_model(options *o, const char *file, run_state *r, char **err)
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

/* Renders DOT with Graphviz's dot program into path (format from its suffix). */
static nn_status render_dot(const char *dot, const char *path, const char *fmt, char **err)
{
    char *tmp;
    int fd = atomic_temp(path, &tmp, err);
    if (fd < 0) return NN_IO;
    close(fd); /* dot writes it by name */
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
        st = atomic_write(o->out, dot, strlen(dot), err);
    else
        st = render_dot(dot, o->out, fmt, err);
    nn_free(dot);
    return st;
}

int cmd_view(options *o, const char *what, int argc, char **argv)
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
