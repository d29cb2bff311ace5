/* registry.c - plugin discovery and loading through libltdl.
 *
 * Search order: --plugin-path directories, then NN_PLUGIN_PATH (a colon
 * list), then the system directory: the build tree's plugins when libnn
 * itself runs from the build tree, else the installed plugin directory;
 * NN_PLUGIN_SYSTEM_PATH replaces the system directory. Only absolute paths
 * are searched; the current directory never is. */
#define _GNU_SOURCE
#include "nn-impl.h"

#include <dirent.h>
#include <errno.h>
#include <dlfcn.h>
#include <link.h>
#include <ltdl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct nn_plugin {
    char *path;
    lt_dlhandle h;
    const nn_plugin_desc *desc; /* NULL while pending */
    bool pending;               /* registered from a cache, not loaded yet */
} nn_plugin;

typedef struct refusal {
    char *path, *reason;
} refusal;

/* Plugins and components are allocated one by one, so the pointers that
 * modules and optimizers keep stay valid when more are registered. */
struct nn_registry {
    char **dirs;
    int ndirs;
    nn_plugin **plugins;
    int nplugins;
    nn_component **comps;
    int ncomps;
    refusal *refused;
    int nrefused;
    int npending;             /* plugins registered from a cache, not loaded yet */
    nn_plugin_cache **caches; /* what those plugins' components' names point into */
    int ncaches;
    /* Held by every look-up, which may load a plugin: a registry may be
     * shared by threads, as when nothing was loaded on demand. */
    pthread_mutex_t lock;
};

#define LOCK(r) pthread_mutex_lock((pthread_mutex_t *)&(r)->lock)
#define UNLOCK(r) pthread_mutex_unlock((pthread_mutex_t *)&(r)->lock)

static const char *const kind_names[NN_KIND_COUNT_] = {"module", "loss",   "optimizer", "dataset",
                                                       "device", "op",     "kernel",
                                                       "communicator"};

const char *nn_kind_name(nn_kind k) { return (unsigned)k < NN_KIND_COUNT_ ? kind_names[k] : "?"; }

int nn_kind_parse(const char *s)
{
    for (int k = 0; k < NN_KIND_COUNT_; k++)
        if (!strcmp(kind_names[k], s)) return k;
    return -1;
}

static bool push(void **arr, int *n, size_t elem, const void *item)
{
    void *p = realloc(*arr, (size_t)(*n + 1) * elem);
    if (!p) return false;
    memcpy((char *)p + (size_t)*n * elem, item, elem);
    *arr = p;
    (*n)++;
    return true;
}

static void refuse(nn_registry *r, const char *path, const char *fmt, ...) NN_PRINTF(3, 4);
static void refuse(nn_registry *r, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    refusal f = {nn_strdup(path), nn_vformat(fmt, ap)};
    va_end(ap);
    if (!push((void **)&r->refused, &r->nrefused, sizeof f, &f)) {
        free(f.path);
        free(f.reason);
    }
    nn_log_msg(NN_LOG_WARN, "plugin %s refused: %s", path, f.reason ? f.reason : "?");
}

static void add_dir(nn_registry *r, const char *dir, const char *origin)
{
    if (!*dir) return;
    if (dir[0] != '/') {
        refuse(r, dir, "not an absolute path (from %s); only absolute paths are searched", origin);
        return;
    }
    for (int i = 0; i < r->ndirs; i++)
        if (!strcmp(r->dirs[i], dir)) return;
    char *d = nn_strdup(dir);
    if (d && !push((void **)&r->dirs, &r->ndirs, sizeof d, &d)) free(d);
}

static void add_list(nn_registry *r, const char *list, const char *origin)
{
    char *copy = nn_strdup(list);
    if (!copy) return;
    for (char *save = NULL, *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
        add_dir(r, tok, origin);
    free(copy);
}

/* Is this libnn the one in the build tree (not installed)? */
static bool in_build_tree(void)
{
    Dl_info info;
    if (!dladdr((void *)nn_registry_open, &info) || !info.dli_fname) return false;
    char *real = realpath(info.dli_fname, NULL);
    char *want = realpath(NN_BUILD_DIR "/core/.libs", NULL);
    bool yes = real && want && !strncmp(real, want, strlen(want)) && real[strlen(want)] == '/';
    free(real);
    free(want);
    return yes;
}

static void add_system_dirs(nn_registry *r)
{
    static const char *const sub[] = {"devices", "modules", "losses", "optimizers", "datasets",
                                      "comm"};
    const char *env = getenv("NN_PLUGIN_SYSTEM_PATH");
    if (env) {
        add_list(r, env, "NN_PLUGIN_SYSTEM_PATH");
        return;
    }
    if (!in_build_tree()) {
        add_dir(r, NN_SYSTEM_PLUGIN_DIR, "the system directory");
        return;
    }
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        char *d = nn_format("%s/plugins/%s/.libs", NN_BUILD_DIR, sub[i]);
        if (d) add_dir(r, d, "the build tree");
        free(d);
    }
}

static const char *def_device(const nn_component_def *c)
{
    return c->kind == NN_KIND_KERNEL ? ((const nn_kernel_def *)c->vt)->device : NULL;
}

static const nn_component *find(const nn_registry *r, nn_kind kind, const char *name)
{
    for (int i = 0; i < r->ncomps; i++)
        if (r->comps[i]->kind == kind && !strcmp(r->comps[i]->name, name)) return r->comps[i];
    return NULL;
}

/* Do two components clash (kind, name and a kernel's device)? Kernels of
 * one op clash only on the same device. */
static bool clash(nn_kind ka, const char *na, const char *da, nn_kind kb, const char *nb,
                  const char *db)
{
    if (ka != kb || strcmp(na, nb)) return false;
    return ka != NN_KIND_KERNEL || !strcmp(da, db);
}

/* Why a component (kind, name, device) cannot be registered because an
 * earlier file provides it already (that file's component in *winner), or
 * NULL. */
static char *clash_msg(const nn_registry *r, nn_kind k, const char *name, const char *dev,
                       const nn_component **winner)
{
    for (int i = 0; i < r->ncomps; i++) {
        const nn_component *c = r->comps[i];
        if (!clash(c->kind, c->name, c->device, k, name, dev)) continue;
        if (winner) *winner = c;
        return nn_format("%s '%s'%s%s is already provided by %s", kind_names[k], name,
                         dev ? " for device " : "", dev ? dev : "", c->plugin->path);
    }
    return NULL;
}

static bool args_ok(const nn_op_arg *a, int n)
{
    for (int i = 0; i < n; i++)
        if (!a[i].name) return false;
    return true;
}

/* The parts of an op, kernel or communicator definition the core relies on;
 * NULL if fine. */
static char *check_op(const nn_component_def *c)
{
    if (c->kind == NN_KIND_OP) {
        const nn_op_def *d = c->vt;
        if (d->struct_size < offsetof(nn_op_def, shape) || d->nin < 1 || d->nin > NN_OP_MAX_IN ||
            d->nout < 0 || d->nout > NN_OP_MAX_OUT || d->nattr < 0 || d->nattr > NN_OP_MAX_ATTR ||
            !d->in || !args_ok(d->in, d->nin) || (d->nout && (!d->out || !args_ok(d->out, d->nout))) ||
            (d->nattr && !d->attr))
            return nn_format("op '%s' is malformed (1 to %d inputs, 0 to %d outputs, 0 to %d "
                             "attributes, each named)",
                             c->name, NN_OP_MAX_IN, NN_OP_MAX_OUT, NN_OP_MAX_ATTR);
        for (int i = 0; i < d->nattr; i++)
            if (!d->attr[i].name) return nn_format("op '%s': attribute %d has no name", c->name, i);
        if (d->node_name && !d->nout)
            return nn_format("op '%s' has a gradient (%s) but no output", c->name, d->node_name);
    } else if (c->kind == NN_KIND_COMM) {
        const nn_comm_vt *v = c->vt;
        /* A table of ABI 2.2 or later holds every required slot. */
        if (v->struct_size < offsetof(nn_comm_vt, flags) || !v->open || !v->rank || !v->size ||
            !v->broadcast || !v->allreduce_sum || !v->barrier || !v->abort)
            return nn_format("communicator '%s' is malformed (it needs open, rank, size, "
                             "broadcast, allreduce_sum, barrier and abort)", c->name);
        if ((v->flags & NN_COMM_DEVICE_MEMORY) && (!v->device || !*v->device))
            return nn_format("communicator '%s' takes device memory but names no device", c->name);
    } else if (c->kind == NN_KIND_KERNEL) {
        const nn_kernel_def *k = c->vt;
        if (k->struct_size < offsetof(nn_kernel_def, backward) || !k->device || !*k->device ||
            !k->forward)
            return nn_format("kernel '%s' is malformed (it needs a device and a forward)", c->name);
    }
    return NULL;
}

/* Checks a descriptor on its own (ABI, shape of every table, no name twice
 * in it); NULL if fine. */
static char *check_desc(const nn_plugin_desc *d)
{
    if (d->abi_major != NN_ABI_MAJOR || d->abi_minor > NN_ABI_MINOR)
        return nn_format("built for plugin ABI %u.%u, this libnn has %u.%u", d->abi_major,
                         d->abi_minor, NN_ABI_MAJOR, NN_ABI_MINOR);
    if (d->struct_size < sizeof(nn_plugin_desc) || !d->name || !d->version || !d->components ||
        d->ncomponents < 1 || d->ncomponents > 1024)
        return nn_format("malformed descriptor");
    for (int i = 0; i < d->ncomponents; i++) {
        const nn_component_def *c = &d->components[i];
        if ((unsigned)c->kind >= NN_KIND_COUNT_ || !c->name || !*c->name || !c->vt)
            return nn_format("component %d is malformed", i);
        uint32_t abi = *(const uint32_t *)c->vt;
        if ((abi >> 16) != NN_ABI_MAJOR || (abi & 0xffff) > NN_ABI_MINOR)
            return nn_format("%s '%s' has interface ABI %u.%u, this libnn has %u.%u",
                             kind_names[c->kind], c->name, abi >> 16, abi & 0xffff, NN_ABI_MAJOR,
                             NN_ABI_MINOR);
        char *bad = check_op(c);
        if (bad) return bad;
        for (int j = 0; j < i; j++) {
            const nn_component_def *o = &d->components[j];
            if (clash(o->kind, o->name, def_device(o), c->kind, c->name, def_device(c)))
                return nn_format("%s '%s' is registered twice", kind_names[c->kind], c->name);
        }
        if (c->nprops < 0 || (c->nprops && !c->props))
            return nn_format("%s '%s' has a malformed property table", kind_names[c->kind],
                             c->name);
    }
    return NULL;
}

/* A checked descriptor's components against those registered; NULL if
 * none is provided already. */
static char *check_clashes(const nn_registry *r, const nn_plugin_desc *d,
                           const nn_component **winner)
{
    char *why = NULL;
    for (int i = 0; i < d->ncomponents && !why; i++)
        why = clash_msg(r, d->components[i].kind, d->components[i].name,
                        def_device(&d->components[i]), winner);
    return why;
}

/* Registers a plugin's components: a loaded plugin's (d) or, from a cache
 * entry (e), those of a plugin not loaded yet. 1 when out of memory. */
static int add_plugin(nn_registry *r, const char *path, lt_dlhandle h, const nn_plugin_desc *d,
                      const nn_cache_entry *e)
{
    int n = d ? d->ncomponents : e->ncomps;
    nn_plugin *p = malloc(sizeof *p);
    nn_component **cs = malloc(sizeof *cs * (size_t)n);
    int added = 0;
    if (!p || !cs || !(p->path = nn_strdup(path))) goto fail;
    p->h = h;
    p->desc = d;
    p->pending = !d;
    for (; added < n; added++) {
        if (!(cs[added] = malloc(sizeof **cs))) goto fail;
        if (d) {
            const nn_component_def *c = &d->components[added];
            *cs[added] = (nn_component){c->kind, c->name, def_device(c), c, p, NULL, false};
        } else {
            const nn_cache_comp *c = &e->comps[added];
            *cs[added] = (nn_component){c->kind, c->name, c->device, NULL, p, NULL, false};
        }
    }
    nn_component **nc = realloc(r->comps, sizeof *nc * (size_t)(r->ncomps + n));
    if (nc) r->comps = nc;
    if (!nc || !push((void **)&r->plugins, &r->nplugins, sizeof p, &p)) goto fail;
    memcpy(r->comps + r->ncomps, cs, sizeof *cs * (size_t)n);
    r->ncomps += n;
    r->npending += p->pending;
    free(cs);
    return 0;
fail:
    while (added > 0) free(cs[--added]);
    free(cs);
    if (p) free(p->path);
    free(p);
    return 1;
}

/* Why a plugin file or folder must not be trusted, or NULL: it is not what
 * it should be (a regular file, a folder), someone other than root or this
 * user owns it, or group or others may write it, as OpenPAM checks its
 * modules. stat() follows a symbolic link and judges its target. Checked
 * before dlopen, since a constructor in the file runs at load. What is left
 * between this check and dlopen is a swap of the file, and the folder's own
 * check leaves that to its owner or root, who could change the file anyway;
 * the folders above the plugin folder are not checked. */
char *nn_untrusted(const char *path, bool folder, struct stat *st)
{
    if (stat(path, st)) return nn_format("cannot be read: %s", strerror(errno));
    if (folder ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
        return nn_format("not a %s", folder ? "folder" : "regular file");
    if (st->st_uid != 0 && st->st_uid != geteuid())
        return nn_format("owned by another user (uid %u)", (unsigned)st->st_uid);
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return nn_format("writable by %s (mode 0%03o)", st->st_mode & S_IWOTH ? "others" : "group",
                         (unsigned)(st->st_mode & 07777));
    return NULL;
}

/* The size of the descriptor symbol at d as the plugin's ELF symbol table
 * says, or (size_t)-1 when unknown. */
static size_t symbol_size(const void *d)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!dladdr1(d, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym) return (size_t)-1;
    return (size_t)sym->st_size;
}

/* Loads the plugin file at path and checks its descriptor on its own: NULL
 * with *h and *d set, or why not (nothing stays loaded). */
static char *open_plugin(const char *path, lt_dlhandle *h, const nn_plugin_desc **d)
{
    *h = NULL;
    *d = NULL;
    struct stat st;
    char *bad = nn_untrusted(path, false, &st);
    if (bad) return bad;
    /* Bind every symbol now: a plugin that lacks one is refused here with the
     * system loader's reason ("undefined symbol: sqrtf", "invalid ELF
     * header"), instead of stopping the process at its first call. libltdl
     * then shares this mapping. */
    void *now = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!now) {
        const char *why = dlerror();
        return nn_format("cannot be loaded: %s", why ? why : "unknown reason");
    }
    lt_dladvise adv;
    if (!lt_dladvise_init(&adv) && !lt_dladvise_local(&adv)) *h = lt_dlopenadvise(path, adv);
    lt_dladvise_destroy(&adv);
    /* The descriptor through the system loader's handle: the same symbol of
     * the same mapping, without libltdl's look-ups of prefixed names first
     * (about 5,000 instructions a plugin). The mapping outlives
     * this handle, since libltdl's holds it too. */
    const nn_plugin_desc *desc = *h ? dlsym(now, NN_PLUGIN_SYMBOL_NAME) : NULL;
    dlclose(now);
    if (!*h) {
        const char *why = lt_dlerror();
        return nn_format("cannot be loaded: %s", why ? why : "unknown reason");
    }
    char *why = NULL;
    if (!desc) {
        why = nn_format("no '%s' symbol: not an nn plugin", NN_PLUGIN_SYMBOL_NAME);
    } else {
        /* Read no field past the symbol's end: the ABI numbers first, then
         * the rest once the symbol is known to hold all of it. */
        size_t size = symbol_size(desc);
        if (size < offsetof(nn_plugin_desc, struct_size) ||
            (desc->abi_major == NN_ABI_MAJOR && desc->abi_minor <= NN_ABI_MINOR &&
             size < sizeof(nn_plugin_desc)))
            why = nn_format("descriptor too small (%zu bytes, want %zu)", size,
                            sizeof(nn_plugin_desc));
        else
            why = check_desc(desc);
    }
    if (why) {
        lt_dlclose(*h);
        *h = NULL;
        return why;
    }
    *d = desc;
    return NULL;
}

/* Refuses the file at path for why (freed here). When an earlier folder's
 * component (winner) provides one of its components, the winner remembers
 * what it hides, so that a program can say so when it is used. */
static void refuse_file(nn_registry *r, const char *path, char *why, const nn_component *winner)
{
    refuse(r, path, "%s", why);
    free(why);
    nn_component *w = (nn_component *)winner;
    if (w && !w->shadows && r->nrefused && r->refused[r->nrefused - 1].path)
        w->shadows = r->refused[r->nrefused - 1].path;
}

static void load_file(nn_registry *r, const char *path)
{
    lt_dlhandle h;
    const nn_plugin_desc *d;
    const nn_component *winner = NULL;
    char *why = open_plugin(path, &h, &d);
    if (!why && (why = check_clashes(r, d, &winner))) lt_dlclose(h);
    if (why) {
        refuse_file(r, path, why, winner);
        return;
    }
    if (add_plugin(r, path, h, d, NULL)) {
        lt_dlclose(h);
        refuse(r, path, "out of memory");
    }
}

/* A plugin a cache describes, registered without loading it; refused as
 * load_file would refuse it when an earlier file has one of its components. */
static void add_cached(nn_registry *r, const char *path, const nn_cache_entry *e)
{
    const nn_component *winner = NULL;
    char *why = NULL;
    for (int i = 0; i < e->ncomps && !why; i++)
        why = clash_msg(r, e->comps[i].kind, e->comps[i].name, e->comps[i].device, &winner);
    if (why) {
        refuse_file(r, path, why, winner);
        return;
    }
    if (add_plugin(r, path, NULL, NULL, e)) refuse(r, path, "out of memory");
}

/* Loads a plugin registered from a cache. Its components must be the ones
 * the cache named, in order; else (or if it cannot be loaded) it is
 * refused and its components leave the registry. */
static nn_status load_pending(nn_registry *r, nn_plugin *p, char **err)
{
    lt_dlhandle h;
    const nn_plugin_desc *d;
    char *why = open_plugin(p->path, &h, &d);
    int k = 0;
    bool same = true;
    for (int i = 0; i < r->ncomps && !why && same; i++) {
        const nn_component *c = r->comps[i];
        if (c->plugin != p) continue;
        const nn_component_def *def = k < d->ncomponents ? &d->components[k++] : NULL;
        same = def && clash(def->kind, def->name, def_device(def), c->kind, c->name, c->device);
    }
    if (!why && (!same || k != d->ncomponents))
        why = nn_format("its components are not the ones %s names (run nnrun plugins "
                        "--write-cache on its folder)", NN_PLUGIN_CACHE_FILE);
    p->pending = false;
    r->npending--;
    if (why) {
        if (h) lt_dlclose(h);
        refuse(r, p->path, "%s", why);
        nn_fail(err, NN_LOAD, "plugin %s refused: %s", p->path, why);
        free(why);
        int n = 0;
        for (int i = 0; i < r->ncomps; i++) {
            if (r->comps[i]->plugin == p)
                free(r->comps[i]);
            else
                r->comps[n++] = r->comps[i];
        }
        r->ncomps = n;
        return NN_LOAD;
    }
    p->h = h;
    p->desc = d;
    k = 0;
    for (int i = 0; i < r->ncomps; i++)
        if (r->comps[i]->plugin == p) {
            nn_component *c = r->comps[i];
            c->def = &d->components[k++];
            c->name = c->def->name;
            c->device = def_device(c->def);
        }
    return NN_OK;
}

/* Loads every plugin registered from a cache and not loaded yet. */
static void load_all(const nn_registry *cr)
{
    nn_registry *r = (nn_registry *)cr; /* loading is not a change the caller sees */
    for (int i = 0; r->npending && i < r->nplugins; i++)
        if (r->plugins[i]->pending) load_pending(r, r->plugins[i], NULL);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of dir's plugin files, sorted (a stable order, so that "first
 * wins" means something); NULL when there are none. */
static char **list_plugins(const char *dir, int *count)
{
    *count = 0;
    DIR *dp = opendir(dir);
    if (!dp) return NULL; /* a missing directory on the path is normal */
    char **names = NULL;
    int n = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        size_t len = strlen(e->d_name);
        if (len > 3 && !strcmp(e->d_name + len - 3, ".so")) {
            char *s = nn_strdup(e->d_name);
            if (s && !push((void **)&names, &n, sizeof s, &s)) free(s);
        }
    }
    closedir(dp);
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_str);
    *count = n;
    return names;
}

static void scan_dir(nn_registry *r, const char *dir, bool use_cache)
{
    struct stat st;
    if (stat(dir, &st) && errno == ENOENT) return; /* a missing directory on the path is normal */
    char *bad = nn_untrusted(dir, true, &st);
    if (bad) {
        refuse(r, dir, "folder %s; none of its plugins is loaded", bad);
        free(bad);
        return;
    }
    int n;
    char **names = list_plugins(dir, &n);
    nn_plugin_cache *cache = NULL;
    char *why = NULL;
    if (n && use_cache && nn_plugin_cache_read(dir, &cache, &why)) {
        char *path = nn_format("%s/%s", dir, NN_PLUGIN_CACHE_FILE);
        refuse(r, path ? path : dir, "%s; every plugin of the folder is loaded to see what it "
               "provides", why ? why : "?");
        free(path);
    }
    free(why);
    if (cache && !push((void **)&r->caches, &r->ncaches, sizeof cache, &cache)) {
        nn_plugin_cache_free(cache); /* out of memory: every file is loaded */
        cache = NULL;
    }
    for (int i = 0; i < n; i++) {
        char *path = nn_format("%s/%s", dir, names[i]);
        /* A cached file is judged as load_file judges one, now: a chmod
         * leaves its record matching. */
        char *untrusted = path && cache ? nn_untrusted(path, false, &st) : NULL;
        const nn_cache_entry *e = path && cache && !untrusted
                                      ? nn_plugin_cache_match(cache, names[i], &st)
                                      : NULL;
        if (untrusted)
            refuse(r, path, "%s", untrusted);
        else if (e)
            add_cached(r, path, e);
        else if (path)
            load_file(r, path);
        free(untrusted);
        free(path);
        free(names[i]);
    }
    free(names);
}

static nn_registry *new_registry(void)
{
    nn_registry *r = calloc(1, sizeof *r);
    if (r && pthread_mutex_init(&r->lock, NULL)) {
        free(r);
        r = NULL;
    }
    return r;
}

nn_status nn_registry_open(const nn_registry_opts *opts, nn_registry **out, char **err)
{
    *out = NULL;
    if (lt_dlinit()) return nn_fail(err, NN_LOAD, "libltdl failed to start: %s", lt_dlerror());
    nn_registry *r = new_registry();
    if (!r) {
        lt_dlexit();
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    for (int i = 0; opts && i < opts->npaths; i++) add_dir(r, opts->paths[i], "--plugin-path");
    if (!opts || !opts->no_env) {
        const char *env = getenv("NN_PLUGIN_PATH");
        if (env) add_list(r, env, "NN_PLUGIN_PATH");
    }
    if (opts && opts->no_env) {
        if (!opts->npaths) add_dir(r, NN_SYSTEM_PLUGIN_DIR, "the system directory");
    } else {
        add_system_dirs(r);
    }
    for (int i = 0; i < r->ndirs; i++) scan_dir(r, r->dirs[i], true);
    *out = r;
    return NN_OK;
}

void nn_registry_free(nn_registry *r)
{
    if (!r) return;
    for (int i = 0; i < r->nplugins; i++) {
        if (r->plugins[i]->h) lt_dlclose(r->plugins[i]->h);
        free(r->plugins[i]->path);
        free(r->plugins[i]);
    }
    for (int i = 0; i < r->ncomps; i++) free(r->comps[i]);
    for (int i = 0; i < r->nrefused; i++) {
        free(r->refused[i].path);
        free(r->refused[i].reason);
    }
    for (int i = 0; i < r->ndirs; i++) free(r->dirs[i]);
    for (int i = 0; i < r->ncaches; i++) nn_plugin_cache_free(r->caches[i]);
    free(r->caches);
    free(r->dirs);
    free(r->plugins);
    free(r->comps);
    free(r->refused);
    pthread_mutex_destroy(&r->lock);
    free(r);
    lt_dlexit();
}

int nn_registry_search_path(const nn_registry *r, const char *const **dirs)
{
    *dirs = (const char *const *)r->dirs;
    return r->ndirs;
}

int nn_registry_refused_count(const nn_registry *r)
{
    LOCK(r);
    int n = r->nrefused;
    UNLOCK(r);
    return n;
}

void nn_registry_refused(const nn_registry *r, int i, const char **path, const char **reason)
{
    LOCK(r);
    NN_ASSERT(i >= 0 && i < r->nrefused);
    *path = r->refused[i].path;
    *reason = r->refused[i].reason ? r->refused[i].reason : "?";
    UNLOCK(r);
}

/* Listing the components loads every plugin not loaded yet, so that each
 * one listed can be used, and the count stays what it is while a caller
 * walks the list. */
int nn_registry_count(const nn_registry *r)
{
    LOCK(r);
    load_all(r);
    int n = r->ncomps;
    UNLOCK(r);
    return n;
}

const nn_component *nn_registry_at(const nn_registry *r, int i)
{
    LOCK(r);
    load_all(r);
    const nn_component *c = i >= 0 && i < r->ncomps ? r->comps[i] : NULL;
    UNLOCK(r);
    return c;
}

const nn_component *nn_registry_used(const nn_registry *r, int i)
{
    const nn_component *c = NULL;
    LOCK(r);
    for (int k = 0; k < r->ncomps && !c; k++)
        if (r->comps[k]->used && i-- == 0) c = r->comps[k];
    UNLOCK(r);
    return c;
}

/* Loads c's plugin if a cache registered it; c is freed when that fails. */
static nn_status ensure_loaded(const nn_registry *r, const nn_component *c, char **err)
{
    if (!c->plugin || !c->plugin->pending) return NN_OK;
    return load_pending((nn_registry *)r, c->plugin, err);
}

const nn_component *nn_registry_find_kernel(const nn_registry *r, const char *op, const char *dev)
{
    const nn_component *found = NULL;
    LOCK(r);
    for (int i = 0; i < r->ncomps; i++) {
        const nn_component *c = r->comps[i];
        if (c->kind == NN_KIND_KERNEL && !strcmp(c->name, op) && !strcmp(c->device, dev)) {
            found = ensure_loaded(r, c, NULL) ? NULL : c;
            break;
        }
    }
    UNLOCK(r);
    return found;
}

nn_status nn_registry_find(const nn_registry *r, nn_kind kind, const char *name,
                           const nn_component **out, char **err)
{
    LOCK(r);
    *out = find(r, kind, name);
    if (*out) {
        nn_status st = ensure_loaded(r, *out, err);
        if (st)
            *out = NULL;
        else
            ((nn_component *)*out)->used = true;
        UNLOCK(r);
        return st;
    }
    nn_buf known = {0}, where = {0};
    for (int i = 0; i < r->ncomps; i++)
        if (r->comps[i]->kind == kind)
            nn_buf_addf(&known, "%s%s", known.len ? ", " : "", r->comps[i]->name);
    for (int i = 0; i < r->ndirs; i++) nn_buf_addf(&where, "%s%s", i ? ":" : "", r->dirs[i]);
    char *k = nn_buf_take(&known), *w = nn_buf_take(&where);
    UNLOCK(r);
    nn_fail(err, NN_NOT_FOUND, "no %s named '%s'; known: %s; searched: %s", kind_names[kind], name,
            *k ? k : "(none)", *w ? w : "(no directories)");
    free(k);
    free(w);
    return NN_NOT_FOUND;
}

nn_status nn_registry_add(nn_registry *r, const nn_plugin_desc *desc, char **err)
{
    LOCK(r);
    char *why = check_desc(desc);
    if (!why) why = check_clashes(r, desc, NULL);
    int oom = !why && add_plugin(r, "(built into the program)", NULL, desc, NULL);
    UNLOCK(r);
    if (why) {
        nn_fail(err, NN_INVALID, "plugin '%s' refused: %s", desc->name ? desc->name : "?", why);
        free(why);
        return NN_INVALID;
    }
    return oom ? nn_fail(err, NN_NO_MEMORY, "out of memory") : NN_OK;
}

nn_kind nn_component_kind(const nn_component *c) { return c->kind; }
const char *nn_component_name(const nn_component *c) { return c->name; }
const char *nn_component_doc(const nn_component *c) { return c->def->doc ? c->def->doc : ""; }
const char *nn_component_version(const nn_component *c) { return c->plugin->desc->version; }
const char *nn_component_file(const nn_component *c) { return c->plugin->path; }
const char *nn_component_plugin(const nn_component *c) { return c->plugin->desc->name; }

const char *nn_component_shadows(const nn_component *c, int *used)
{
    if (used) *used = c->used;
    return c->shadows;
}

const void *nn_component_vt(const nn_component *c) { return c->def->vt; }

const nn_prop_def *nn_component_props(const nn_component *c, int *count)
{
    *count = c->def->props ? c->def->nprops : 0;
    return c->def->props;
}

nn_status nn_component_open(nn_registry *reg, nn_kind kind, const char *name, const char *words,
                            const nn_component **comp, nn_props **props, char **err)
{
    nn_status st = nn_registry_find(reg, kind, name, comp, err);
    if (st) return st;
    return nn_props_parse(*comp, words, props, err);
}

nn_status nn_registry_write_cache(const char *dir, int *written, int *refused, char **err)
{
    if (written) *written = 0;
    if (refused) *refused = 0;
    if (!dir || dir[0] != '/')
        return nn_fail(err, NN_INVALID,
                       "the plugin cache's folder must be an absolute path, got '%s'",
                       dir ? dir : "(null)");
    struct stat st;
    char *bad = nn_untrusted(dir, true, &st);
    if (bad) {
        nn_fail(err, NN_INVALID, "folder '%s' %s", dir, bad);
        free(bad);
        return NN_INVALID;
    }
    if (lt_dlinit()) return nn_fail(err, NN_LOAD, "libltdl failed to start: %s", lt_dlerror());
    nn_registry *r = new_registry();
    if (!r) {
        lt_dlexit();
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    add_dir(r, dir, "--write-cache");
    scan_dir(r, dir, false); /* every file loaded, whatever a cache there says */
    nn_cache_entry *e = calloc((size_t)r->nplugins + 1, sizeof *e);
    int n = 0;
    nn_status rc = e ? NN_OK : nn_fail(err, NN_NO_MEMORY, "out of memory");
    for (int i = 0; !rc && i < r->nplugins; i++) {
        const nn_plugin *p = r->plugins[i];
        const char *slash = strrchr(p->path, '/');
        nn_cache_entry *x = &e[n];
        x->file = (char *)(slash ? slash + 1 : p->path);
        x->ncomps = p->desc->ncomponents;
        if (!(x->comps = calloc((size_t)x->ncomps, sizeof *x->comps))) {
            rc = nn_fail(err, NN_NO_MEMORY, "out of memory");
            break;
        }
        for (int k = 0; k < x->ncomps; k++) {
            const nn_component_def *c = &p->desc->components[k];
            x->comps[k] = (nn_cache_comp){c->kind, (char *)c->name, (char *)def_device(c)};
        }
        if (stat(p->path, &st) || !nn_plugin_cache_can_hold(x)) { /* loaded at every start */
            free(x->comps);
            continue;
        }
        nn_plugin_cache_key(&st, x);
        n++;
    }
    if (!rc) rc = nn_plugin_cache_write(dir, e, n, err);
    if (!rc && written) *written = n;
    if (!rc && refused) *refused = r->nrefused;
    for (int i = 0; e && i < n; i++) free(e[i].comps);
    free(e);
    nn_registry_free(r);
    return rc;
}
