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
#include <sys/stat.h>
#include <unistd.h>

typedef struct nn_plugin {
    char *path;
    lt_dlhandle h;
    const nn_plugin_desc *desc;
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
};

static const char *const kind_names[NN_KIND_COUNT_] = {"module", "loss",   "optimizer", "dataset",
                                                       "device", "op",     "kernel",
                                                       "communicator"};

const char *nn_kind_name(nn_kind k) { return (unsigned)k < NN_KIND_COUNT_ ? kind_names[k] : "?"; }

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

static const nn_component *find(const nn_registry *r, nn_kind kind, const char *name)
{
    for (int i = 0; i < r->ncomps; i++)
        if (r->comps[i]->kind == kind && !strcmp(r->comps[i]->def->name, name)) return r->comps[i];
    return NULL;
}

/* Do two definitions of one kind and name clash? Kernels of one op clash
 * only on the same device. */
static bool clash(const nn_component_def *a, const nn_component_def *b)
{
    if (a->kind != b->kind || strcmp(a->name, b->name)) return false;
    if (a->kind != NN_KIND_KERNEL) return true;
    return !strcmp(((const nn_kernel_def *)a->vt)->device, ((const nn_kernel_def *)b->vt)->device);
}

static const nn_component *find_clash(const nn_registry *r, const nn_component_def *c)
{
    for (int i = 0; i < r->ncomps; i++)
        if (clash(r->comps[i]->def, c)) return r->comps[i];
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

/* Checks a descriptor before any component is registered; NULL if fine. */
static char *check_desc(const nn_registry *r, const nn_plugin_desc *d, const nn_component **clash_out)
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
        const char *dev = c->kind == NN_KIND_KERNEL ? ((const nn_kernel_def *)c->vt)->device : NULL;
        const nn_component *dup = find_clash(r, c);
        if (dup && clash_out) *clash_out = dup;
        if (dup)
            return nn_format("%s '%s'%s%s is already provided by %s", kind_names[c->kind], c->name,
                             dev ? " for device " : "", dev ? dev : "", dup->plugin->path);
        for (int j = 0; j < i; j++)
            if (clash(&d->components[j], c))
                return nn_format("%s '%s' is registered twice", kind_names[c->kind], c->name);
        if (c->nprops < 0 || (c->nprops && !c->props))
            return nn_format("%s '%s' has a malformed property table", kind_names[c->kind],
                             c->name);
    }
    return NULL;
}

/* Registers a checked descriptor's components; 1 when out of memory. */
static int add_plugin(nn_registry *r, const char *path, lt_dlhandle h, const nn_plugin_desc *d)
{
    nn_plugin *p = malloc(sizeof *p);
    nn_component **cs = malloc(sizeof *cs * (size_t)d->ncomponents);
    int added = 0;
    if (!p || !cs || !(p->path = nn_strdup(path))) goto fail;
    p->h = h;
    p->desc = d;
    for (; added < d->ncomponents; added++) {
        if (!(cs[added] = malloc(sizeof **cs))) goto fail;
        *cs[added] = (nn_component){d->components[added].kind, &d->components[added], p, NULL, false};
    }
    nn_component **nc = realloc(r->comps, sizeof *nc * (size_t)(r->ncomps + d->ncomponents));
    if (nc) r->comps = nc;
    if (!nc || !push((void **)&r->plugins, &r->nplugins, sizeof p, &p)) goto fail;
    memcpy(r->comps + r->ncomps, cs, sizeof *cs * (size_t)d->ncomponents);
    r->ncomps += d->ncomponents;
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
static char *untrusted(const char *path, bool folder)
{
    struct stat st;
    if (stat(path, &st)) return nn_format("cannot be read: %s", strerror(errno));
    if (folder ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return nn_format("not a %s", folder ? "folder" : "regular file");
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return nn_format("owned by another user (uid %u)", (unsigned)st.st_uid);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return nn_format("writable by %s (mode 0%03o)", st.st_mode & S_IWOTH ? "others" : "group",
                         (unsigned)(st.st_mode & 07777));
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

static void load_file(nn_registry *r, const char *path)
{
    char *bad = untrusted(path, false);
    if (bad) {
        refuse(r, path, "%s", bad);
        free(bad);
        return;
    }
    /* Bind every symbol now: a plugin that lacks one is refused here with the
     * system loader's reason ("undefined symbol: sqrtf", "invalid ELF
     * header"), instead of stopping the process at its first call. libltdl
     * then shares this mapping. */
    void *now = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!now) {
        const char *why = dlerror();
        refuse(r, path, "cannot be loaded: %s", why ? why : "unknown reason");
        return;
    }
    lt_dladvise adv;
    lt_dlhandle h = NULL;
    if (!lt_dladvise_init(&adv) && !lt_dladvise_local(&adv)) h = lt_dlopenadvise(path, adv);
    lt_dladvise_destroy(&adv);
    /* The descriptor through the system loader's handle: the same symbol of
     * the same mapping, without libltdl's look-ups of prefixed names first
     * (about 5,000 instructions a plugin). The mapping outlives
     * this handle, since libltdl's holds it too. */
    const nn_plugin_desc *d = h ? dlsym(now, NN_PLUGIN_SYMBOL_NAME) : NULL;
    dlclose(now);
    if (!h) {
        const char *why = lt_dlerror();
        refuse(r, path, "cannot be loaded: %s", why ? why : "unknown reason");
        return;
    }
    if (!d) {
        refuse(r, path, "no '%s' symbol: not an nn plugin", NN_PLUGIN_SYMBOL_NAME);
        lt_dlclose(h);
        return;
    }
    /* Read no field past the symbol's end: the ABI numbers first, then the
     * rest once the symbol is known to hold all of it. */
    size_t size = symbol_size(d);
    const nn_component *winner = NULL;
    char *why = NULL;
    if (size < offsetof(nn_plugin_desc, struct_size) ||
        (d->abi_major == NN_ABI_MAJOR && d->abi_minor <= NN_ABI_MINOR &&
         size < sizeof(nn_plugin_desc)))
        why = nn_format("descriptor too small (%zu bytes, want %zu)", size, sizeof(nn_plugin_desc));
    else
        why = check_desc(r, d, &winner);
    if (why) {
        refuse(r, path, "%s", why);
        free(why);
        lt_dlclose(h);
        /* An earlier folder's component of this name wins: remember what
         * it hides, so that a program can say so when it is used. */
        nn_component *w = (nn_component *)winner;
        if (w && !w->shadows && r->nrefused && r->refused[r->nrefused - 1].path)
            w->shadows = r->refused[r->nrefused - 1].path;
        return;
    }
    if (add_plugin(r, path, h, d)) {
        lt_dlclose(h);
        refuse(r, path, "out of memory");
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_dir(nn_registry *r, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) && errno == ENOENT) return; /* a missing directory on the path is normal */
    char *bad = untrusted(dir, true);
    if (bad) {
        refuse(r, dir, "folder %s; none of its plugins is loaded", bad);
        free(bad);
        return;
    }
    DIR *dp = opendir(dir);
    if (!dp) return; /* a missing directory on the path is normal */
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
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_str); /* a stable order, so "first wins" means something */
    for (int i = 0; i < n; i++) {
        char *path = nn_format("%s/%s", dir, names[i]);
        if (path) load_file(r, path);
        free(path);
        free(names[i]);
    }
    free(names);
}

nn_status nn_registry_open(const nn_registry_opts *opts, nn_registry **out, char **err)
{
    *out = NULL;
    if (lt_dlinit()) return nn_fail(err, NN_LOAD, "libltdl failed to start: %s", lt_dlerror());
    nn_registry *r = calloc(1, sizeof *r);
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
    for (int i = 0; i < r->ndirs; i++) scan_dir(r, r->dirs[i]);
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
    free(r->dirs);
    free(r->plugins);
    free(r->comps);
    free(r->refused);
    free(r);
    lt_dlexit();
}

int nn_registry_search_path(const nn_registry *r, const char *const **dirs)
{
    *dirs = (const char *const *)r->dirs;
    return r->ndirs;
}

int nn_registry_refused_count(const nn_registry *r) { return r->nrefused; }

void nn_registry_refused(const nn_registry *r, int i, const char **path, const char **reason)
{
    NN_ASSERT(i >= 0 && i < r->nrefused);
    *path = r->refused[i].path;
    *reason = r->refused[i].reason ? r->refused[i].reason : "?";
}

int nn_registry_count(const nn_registry *r) { return r->ncomps; }

const nn_component *nn_registry_at(const nn_registry *r, int i)
{
    return i >= 0 && i < r->ncomps ? r->comps[i] : NULL;
}

nn_status nn_registry_find(const nn_registry *r, nn_kind kind, const char *name,
                           const nn_component **out, char **err)
{
    *out = find(r, kind, name);
    if (*out) {
        ((nn_component *)*out)->used = true;
        return NN_OK;
    }
    nn_buf known = {0}, where = {0};
    for (int i = 0; i < r->ncomps; i++)
        if (r->comps[i]->kind == kind)
            nn_buf_addf(&known, "%s%s", known.len ? ", " : "", r->comps[i]->def->name);
    for (int i = 0; i < r->ndirs; i++) nn_buf_addf(&where, "%s%s", i ? ":" : "", r->dirs[i]);
    char *k = nn_buf_take(&known), *w = nn_buf_take(&where);
    nn_fail(err, NN_NOT_FOUND, "no %s named '%s'; known: %s; searched: %s", kind_names[kind], name,
            *k ? k : "(none)", *w ? w : "(no directories)");
    free(k);
    free(w);
    return NN_NOT_FOUND;
}

nn_status nn_registry_add(nn_registry *r, const nn_plugin_desc *desc, char **err)
{
    char *why = check_desc(r, desc, NULL);
    if (why) {
        nn_fail(err, NN_INVALID, "plugin '%s' refused: %s", desc->name ? desc->name : "?", why);
        free(why);
        return NN_INVALID;
    }
    if (add_plugin(r, "(built into the program)", NULL, desc))
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    return NN_OK;
}

nn_kind nn_component_kind(const nn_component *c) { return c->kind; }
const char *nn_component_name(const nn_component *c) { return c->def->name; }
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
