/* spec.c - fuzz target: nnrun's spec-file parser (read_spec in
 * tools/nnrun.c, compiled into this program with nnrun's main renamed) on
 * the bytes of a spec file. A refusal must be one line on stderr and status
 * 1, an accepted file nothing on stderr. FUZZ_VERBOSE=1 leaves stderr alone
 * (to read a finding's report). */
#define main nnrun_main
#include "../tools/nnrun.c"
#undef main

#include "harness.h"

#include <fcntl.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[48];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!*dir) {
        strcpy(dir, "/tmp/nn-fuzz-spec-XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    char path[64], errpath[64];
    snprintf(path, sizeof path, "%s/run.nn", dir);
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f)) abort();
    options o = {.data = "circle n=1200", .model = "linear out=5 ! sigmoid", .loss = "bce",
                 .optim = "sgd", .shuffle = "epoch", .epochs = 1000, .batch = 100,
                 .log_every = 100, .seed = 1};
    bool quiet = !getenv("FUZZ_VERBOSE");
    int saved = -1, efd = -1;
    if (quiet) {
        fflush(stderr);
        saved = dup(2);
        efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (saved < 0 || efd < 0 || dup2(efd, 2) < 0) abort();
    }
    int rc = read_spec(&o, path);
    if (quiet) {
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        close(efd);
        char msg[8192];
        FILE *e = fopen(errpath, "rb");
        if (!e) abort();
        size_t n = fread(msg, 1, sizeof msg - 1, e);
        fclose(e);
        msg[n] = 0;
        char *nl = strchr(msg, '\n');
        if (rc != 0 && rc != 1) abort();
        if (rc ? (strncmp(msg, "nnrun: ", 7) || !nl || nl[1]) : n != 0) {
            fprintf(stderr, "spec: status %d with stderr [%s]\n", rc, msg);
            abort();
        }
    }
    for (int i = 0; i < o.nowned; i++) free(o.owned[i]);
    return 0;
}
