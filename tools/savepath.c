/* savepath.c - nnrun train --save: the target checked before any training,
 * so that a save that cannot work fails at once, not after hours. */
#include "savepath.h"
#include "strfmt.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What checkpoint.c adds to the name for its temporary file:
 * ".tmp." PID (at most 10 digits) "." and 6 random characters. */
#define TMP_SUFFIX_MAX (5 + 10 + 1 + 6)


char *save_target_problem(const char *path)
{
    size_t len = strlen(path);
    if (len + TMP_SUFFIX_MAX >= PATH_MAX)
        return strfmt("cannot save '%.40s...': the path is %zu bytes, over the %d a path "
                         "can have (with its temporary name)",
                         path, len, PATH_MAX - TMP_SUFFIX_MAX - 1);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = slash ? strfmt("%.*s", (int)(slash == path ? 1 : slash - path), path)
                      : strfmt(".");
    if (!dir) return strdup("out of memory");
    char *msg = NULL;
    struct stat st;
    if (!*base || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        msg = strfmt("cannot save '%s': it is a folder", path);
        goto out;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        msg = strfmt("cannot save '%s': it is not a regular file", path);
        goto out;
    }
    long name_max = pathconf(dir, _PC_NAME_MAX);
    if (name_max <= 0) name_max = NAME_MAX;
    if (strlen(base) + TMP_SUFFIX_MAX > (size_t)name_max) {
        msg = strfmt("cannot save '%s': the name is %zu bytes, over the %ld a file name can "
                        "have here (with its temporary name)",
                        path, strlen(base), name_max - TMP_SUFFIX_MAX);
        goto out;
    }
    if (access(dir, W_OK | X_OK))
        msg = strfmt("cannot save '%s' into '%s': %s", path, dir, strerror(errno));
out:
    free(dir);
    return msg;
}
