/* atomic.h - nnrun's output files, whole or not at all: each is written to
 * a temporary file beside its target ("PATH.tmp.XXXXXX") and renamed over
 * it once complete, so that a failure leaves no half-written file. */
#ifndef NNRUN_ATOMIC_H
#define NNRUN_ATOMIC_H

#include <nn/nn.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Creates the temporary file beside path, with the mode open() would give a
 * new file (0666 & ~umask, where mkstemp gives 0600). Returns its
 * descriptor and *tmp, its name (to free); -1 with *err set ("cannot write
 * 'PATH': ...") when the folder cannot take it. */
int atomic_temp(const char *path, char **tmp, char **err);
/* atomic_temp as a stream for writing; NULL with *err set. */
FILE *atomic_open(const char *path, char **tmp, char **err);
/* Ends what atomic_open began: flushes, syncs and closes f, then renames
 * tmp over path when ok (the caller's writing went well) and all of that
 * worked; otherwise removes tmp. Frees tmp. NN_IO with *err set when the
 * file could not be completed; NN_OK without a message when !ok (the
 * caller has its own). */
nn_status atomic_close(FILE *f, char *tmp, const char *path, bool ok, char **err);
/* n bytes of data as the file path. */
nn_status atomic_write(const char *path, const void *data, size_t n, char **err);

#endif
