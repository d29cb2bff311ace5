/* onnx_cli.h - nnrun export and import: a checkpoint to an ONNX model and
 * back (tools/onnx_export.c, tools/onnx_import.c; tools/onnx_none.c when
 * nnrun was built without onnx.proto). */
#ifndef NNRUN_ONNX_CLI_H
#define NNRUN_ONNX_CLI_H

#include <nn/nn.h>

/* Traces the checkpoint's model (nn/onnx.h) and writes it to out as an ONNX
 * model of that opset, through a temporary file beside out: a refusal
 * writes nothing. */
nn_status onnx_export(nn_registry *reg, const char *ckpt, const char *out, int opset,
                      char **err);

/* Reads an ONNX model whose graph is a chain of supported nodes and saves
 * the equivalent nn model, its weights from the initializers, as the
 * checkpoint out (atomically). */
nn_status onnx_import(nn_registry *reg, const char *onnx, const char *out, const char *info,
                      char **err);

#endif
