/* plugin_cache.c - fuzz target: a folder's plugins.cache (core/plugin_cache.c)
 * on the input's bytes. A cache that reads must give records that match
 * themselves, and that write and read back unchanged; one that does not
 * read must say why in one line. */
#include "harness.h"

#include "../core/nn-impl.h"

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static nn_plugin_cache *read_cache(void)
{
    nn_plugin_cache *c = NULL;
    char *err = NULL;
    if (nn_plugin_cache_read(dir, &c, &err)) {
        fuzz_check_msg(err);
        nn_free(err);
        return NULL;
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!*dir) {
        strcpy(dir, "/tmp/nn-fuzz-cache-XXXXXX");
        if (!mkdtemp(dir) || chmod(dir, 0755)) abort();
    }
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, NN_PLUGIN_CACHE_FILE);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) || chmod(path, 0644)) abort();
    nn_plugin_cache *c = read_cache();
    if (!c) return 0;
    for (int i = 0; i < c->n; i++) { /* a record matches a file of its own size and time */
        const nn_cache_entry *e = &c->e[i];
        struct stat st;
        memset(&st, 0, sizeof st);
        st.st_size = (off_t)e->size;
        st.st_mtim.tv_sec = (time_t)(e->mtime_ns / 1000000000);
        st.st_mtim.tv_nsec = (long)(e->mtime_ns % 1000000000);
        const nn_cache_entry *m = nn_plugin_cache_match(c, e->file, &st);
        int earlier = 0; /* a record of the same name before it is the one looked at */
        for (int j = 0; j < i; j++) earlier |= !strcmp(c->e[j].file, e->file);
        if ((!earlier && m != e) || (m && strcmp(m->file, e->file))) abort();
        if (!nn_plugin_cache_can_hold(e)) abort(); /* what was read can be written */
    }
    char *err = NULL;
    if (nn_plugin_cache_write(dir, c->e, c->n, &err)) abort();
    nn_plugin_cache *again = read_cache();
    if (!again || again->n != c->n) abort();
    for (int i = 0; i < c->n; i++) {
        const nn_cache_entry *a = &c->e[i], *b = &again->e[i];
        if (strcmp(a->file, b->file) || a->size != b->size || a->mtime_ns != b->mtime_ns ||
            a->ncomps != b->ncomps)
            abort();
        for (int k = 0; k < a->ncomps; k++)
            if (a->comps[k].kind != b->comps[k].kind ||
                strcmp(a->comps[k].name, b->comps[k].name) ||
                !a->comps[k].device != !b->comps[k].device ||
                (a->comps[k].device && strcmp(a->comps[k].device, b->comps[k].device)))
                abort();
    }
    nn_plugin_cache_free(again);
    nn_plugin_cache_free(c);
    return 0;
}
