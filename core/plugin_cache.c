/* plugin_cache.c - a folder's plugins.cache: what each of its plugins
 * provides, so that the registry can name every component on the search
 * path and load a plugin only when one of its components is used.
 *
 * Loading a plugin costs 50 to 80 us (mapping, relocations, page faults);
 * a run of the tutorial's network uses 6 of the 30 standard plugins. The
 * cache is written by `nnrun plugins --write-cache DIR` (make install does
 * it for the system folder), as gio-querymodules writes giomodule.cache. It
 * is a text file, a header and then one record a plugin:
 *
 *     nn-plugin-cache <TAB> 1 <TAB> ABI_MAJOR.ABI_MINOR
 *     plugin <TAB> FILE <TAB> SIZE <TAB> MTIME_NS <TAB> N
 *     KIND <TAB> NAME [<TAB> DEVICE]          (N lines, the components)
 *
 * A record is used only while the file's size and modification time (to
 * the nanosecond) are the ones recorded, which a package manager keeps when
 * it installs the files elsewhere; any other file of the folder (new, changed, or left
 * out of the cache because it was refused) is loaded at once, as without a
 * cache. A cache written for another plugin ABI is not read. The cache is
 * trusted as a plugin is: it must be a regular file owned by root or the
 * user and writable by no one else. */
#include "nn-impl.h"

#include <errno.h>
#include <sys/stat.h>

#define CACHE_MAGIC "nn-plugin-cache"
#define CACHE_VERSION 1

void nn_plugin_cache_free(nn_plugin_cache *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        for (int k = 0; k < c->e[i].ncomps; k++) {
            free(c->e[i].comps[k].name);
            free(c->e[i].comps[k].device);
        }
        free(c->e[i].comps);
        free(c->e[i].file);
    }
    free(c->e);
    free(c);
}

/* Splits line at tabs into at most max fields; returns their count. */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line;;) {
        if (n == max) return max + 1;
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) return n;
        *t = 0;
        p = t + 1;
    }
}

static bool parse_ll(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 0) return false;
    *out = v;
    return true;
}

/* The reader's reason for a bad cache: a message, or oom_msg when even
 * that could not be made (never freed). */
static char oom_msg[] = "out of memory";

static char *reason(char *msg) { return msg ? msg : oom_msg; }

nn_status nn_plugin_cache_read(const char *dir, nn_plugin_cache **out, char **err)
{
    *out = NULL;
    char *path = nn_format("%s/%s", dir, NN_PLUGIN_CACHE_FILE);
    if (!path) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    struct stat st;
    if (stat(path, &st) && errno == ENOENT) {
        free(path);
        return NN_OK;
    }
    char *bad = nn_untrusted(path, false, &st);
    if (bad) {
        nn_fail(err, NN_LOAD, "%s", bad);
        free(bad);
        free(path);
        return NN_LOAD;
    }
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) return nn_fail(err, NN_IO, "cannot be read: %s", strerror(errno));
    nn_plugin_cache *c = calloc(1, sizeof *c);
    char *line = NULL, *why = NULL;
    size_t cap = 0;
    int lineno = 0, left = 0; /* components still to read for the last plugin */
    bool header = false, current = true;
    if (!c) why = oom_msg;
    for (ssize_t len; !why && (len = getline(&line, &cap, f)) >= 0;) {
        lineno++;
        if (len && line[len - 1] == '\n') line[--len] = 0;
        char *fld[6];
        int nf = split_tabs(line, fld, 5);
        if (!header) {
            unsigned maj, min;
            char extra;
            if (nf != 3 || strcmp(fld[0], CACHE_MAGIC) || strcmp(fld[1], "1") ||
                sscanf(fld[2], "%u.%u%c", &maj, &min, &extra) != 2) {
                why = reason(nn_format("line %d: not an nn plugin cache (version %d)", lineno,
                                       CACHE_VERSION));
                break;
            }
            header = true;
            current = maj == NN_ABI_MAJOR && min == NN_ABI_MINOR;
            if (!current) break; /* another libnn's: its plugins are loaded one by one */
            continue;
        }
        if (left) {
            nn_cache_entry *e = &c->e[c->n - 1];
            int kind = nf >= 2 ? nn_kind_parse(fld[0]) : -1;
            bool kernel = kind == NN_KIND_KERNEL;
            if (kind < 0 || nf != (kernel ? 3 : 2) || !nn_name_printable(fld[1]) ||
                (kernel && !nn_name_printable(fld[2]))) {
                why = reason(nn_format("line %d: expected a component of %s (KIND, NAME and "
                                       "a kernel's DEVICE)", lineno, e->file));
                break;
            }
            nn_cache_comp *k = &e->comps[e->ncomps];
            k->kind = (nn_kind)kind;
            k->name = nn_strdup(fld[1]);
            k->device = kernel ? nn_strdup(fld[2]) : NULL;
            e->ncomps++;
            left--;
            if (!k->name || (kernel && !k->device)) why = oom_msg;
            continue;
        }
        long long size, mtime, n;
        if (nf != 5 || strcmp(fld[0], "plugin") || !nn_name_printable(fld[1]) ||
            strchr(fld[1], '/') || !parse_ll(fld[2], &size) || !parse_ll(fld[3], &mtime) ||
            !parse_ll(fld[4], &n) || n < 1 || n > 1024) {
            why = reason(
                nn_format("line %d: expected 'plugin FILE SIZE MTIME_NS COUNT'", lineno));
            break;
        }
        nn_cache_entry *grown = realloc(c->e, sizeof *grown * (size_t)(c->n + 1));
        if (!grown) {
            why = oom_msg;
            break;
        }
        c->e = grown;
        nn_cache_entry *e = &c->e[c->n++];
        *e = (nn_cache_entry){nn_strdup(fld[1]), size, mtime, 0,
                              calloc((size_t)n, sizeof *e->comps)};
        left = (int)n;
        if (!e->file || !e->comps) why = oom_msg;
    }
    if (!why && ferror(f)) why = reason(nn_format("cannot be read: %s", strerror(errno)));
    if (!why && !header) why = reason(nn_format("empty"));
    if (!why && left)
        why = reason(nn_format("ends inside the record of %s", c->e[c->n - 1].file));
    free(line);
    fclose(f);
    if (why) {
        nn_status rc = why == oom_msg ? NN_NO_MEMORY : NN_FORMAT;
        nn_fail(err, rc, "%s", why);
        if (why != oom_msg) free(why);
        nn_plugin_cache_free(c);
        return rc;
    }
    if (!current) {
        nn_plugin_cache_free(c);
        return NN_OK;
    }
    *out = c;
    return NN_OK;
}

static long long mtime_ns(const struct stat *st)
{
    return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

const nn_cache_entry *nn_plugin_cache_match(const nn_plugin_cache *c, const char *name,
                                            const struct stat *st)
{
    for (int i = 0; c && i < c->n; i++) {
        const nn_cache_entry *e = &c->e[i];
        if (strcmp(e->file, name)) continue;
        if (e->size == (long long)st->st_size && e->mtime_ns == mtime_ns(st)) return e;
        return NULL;
    }
    return NULL;
}

nn_status nn_plugin_cache_write(const char *dir, const nn_cache_entry *e, int n, char **err)
{
    nn_buf b = {0};
    nn_buf_addf(&b, "%s\t%d\t%u.%u\n", CACHE_MAGIC, CACHE_VERSION, NN_ABI_MAJOR, NN_ABI_MINOR);
    for (int i = 0; i < n; i++) {
        nn_buf_addf(&b, "plugin\t%s\t%lld\t%lld\t%d\n", e[i].file, e[i].size, e[i].mtime_ns,
                    e[i].ncomps);
        for (int k = 0; k < e[i].ncomps; k++) {
            const nn_cache_comp *c = &e[i].comps[k];
            nn_buf_addf(&b, "%s\t%s%s%s\n", nn_kind_name(c->kind), c->name, c->device ? "\t" : "",
                        c->device ? c->device : "");
        }
    }
    size_t len = b.len;
    char *text = nn_buf_take(&b);
    char *path = nn_format("%s/%s", dir, NN_PLUGIN_CACHE_FILE);
    nn_status st = !path || (len && !*text)
                       ? nn_fail(err, NN_NO_MEMORY, "out of memory")
                       /* 0644 whatever the umask: a cache group or others
                        * may write would be refused when read */
                       : nn_write_atomic(path, (const uint8_t *)text, len, NULL, 0, 0644, err);
    free(path);
    free(text);
    return st;
}

/* For the registry's writer: may this entry go into a cache? */
bool nn_plugin_cache_can_hold(const nn_cache_entry *e)
{
    if (!nn_name_printable(e->file) || strchr(e->file, '/')) return false;
    for (int k = 0; k < e->ncomps; k++)
        if (!nn_name_printable(e->comps[k].name) ||
            (e->comps[k].kind == NN_KIND_KERNEL && !nn_name_printable(e->comps[k].device)))
            return false;
    return true;
}

void nn_plugin_cache_key(const struct stat *st, nn_cache_entry *e)
{
    e->size = (long long)st->st_size;
    e->mtime_ns = mtime_ns(st);
}
