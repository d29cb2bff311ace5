/* savepath.h - nnrun train --save: the target checked before any training. */
#ifndef NNRUN_SAVEPATH_H
#define NNRUN_SAVEPATH_H

/* NULL when a checkpoint can be saved at path, else a one-line message to
 * free: a folder or other non-file is there, the path or its name is too
 * long (with room for the temporary name beside it), or its folder cannot
 * be written to. */
char *save_target_problem(const char *path);

#endif
