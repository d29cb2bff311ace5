/* harness.h - shared set-up of the fuzz targets: a registry holding the
 * plugins compiled into the target (fuzz/build.sh renames each plugin's
 * descriptor to nn_plugin_descriptor_NAME and defines FUZZ_PLUGINS), with no
 * plugin folder scanned, and a cpu context. */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include "nn/nn.h"
#include "nn/plugin.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_DECL(n) extern const nn_plugin_desc nn_plugin_descriptor_##n;
FUZZ_PLUGINS(FUZZ_DECL)
#define FUZZ_REF(n) &nn_plugin_descriptor_##n,

static nn_registry *fuzz_reg;
static nn_ctx *fuzz_ctx;

static inline void fuzz_die(const char *what, char *err)
{
    fprintf(stderr, "fuzz set-up: %s: %s\n", what, err ? err : "?");
    exit(2);
}

/* Called once: the registry (plugins compiled in, no folder) and a context. */
static inline void fuzz_setup(void)
{
    if (fuzz_reg) return;
    static const nn_plugin_desc *const descs[] = {FUZZ_PLUGINS(FUZZ_REF) NULL};
    char dir[] = "/tmp/nn-fuzz-XXXXXX";
    char *err = NULL;
    if (!mkdtemp(dir)) fuzz_die("mkdtemp", NULL);
    const char *paths[] = {dir};
    nn_registry_opts o = {paths, 1, 1};
    if (nn_registry_open(&o, &fuzz_reg, &err)) fuzz_die("registry", err);
    rmdir(dir);
    for (int i = 0; descs[i]; i++)
        if (nn_registry_add(fuzz_reg, descs[i], &err)) fuzz_die("plugin", err);
    if (nn_ctx_open(fuzz_reg, "cpu", 1, &fuzz_ctx, &err)) fuzz_die("context", err);
}

/* A NUL-terminated copy of the input (caller frees). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* A message must be one line. */
static inline void fuzz_check_msg(const char *err)
{
    if (!err || !*err || strchr(err, '\n')) {
        fprintf(stderr, "bad error message: [%s]\n", err ? err : "(null)");
        abort();
    }
}

#endif
