/* onnx_none.c - nnrun export and import in a build without onnx.proto. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "onnx_cli.h"

#ifndef NN_HAVE_ONNX
#define WITHOUT_ONNX                                                                        \
    "this nnrun was built without ONNX support (no onnx.proto at configure time); install " \
    "it (Debian: apt-get install libonnx-dev protobuf-c-compiler) and run configure again"

nn_status onnx_export(nn_registry *reg, const char *ckpt, const char *out, int opset, char **err)
{
    (void)reg, (void)ckpt, (void)out, (void)opset;
    return nn_fail(err, NN_UNSUPPORTED, "export: " WITHOUT_ONNX);
}

nn_status onnx_import(nn_registry *reg, const char *onnx, const char *out, const char *info,
                      char **err)
{
    (void)reg, (void)onnx, (void)out, (void)info;
    return nn_fail(err, NN_UNSUPPORTED, "import: " WITHOUT_ONNX);
}

#endif
