/* test_loader.c - the plugin registry: discovery, refusals, search order.
 *
 * The fixture is a temporary directory that holds links to the real plugins
 * of the build tree, the deliberately broken plugins of tests/bad and a
 * "junk.so" that is plain text:
 *
 *   ROOT/plugins/  bce circle cpu linear sgd sigmoid .so (links),
 *                  nodesc.so abimajor.so abiminor.so (links), junk.so (text)
 *   ROOT/extra/    dupname.so (a second "sigmoid", plus an incomplete device)
 *   ROOT/sys/      linear.so sigmoid.so (links)
 *   ROOT/both/     dupname.so sigmoid.so (links)
 *
 * The paths come from the environment variable top_builddir, which make
 * check exports; nothing about this machine is compiled in.
 *
 * A duplicate component name once crashed the loader, which would take the
 * whole test program down with it. Every registry is therefore opened once
 * in a child process first (open_reg), so that a crash becomes one failed
 * assertion and the other tests still run.
 */
#define _XOPEN_SOURCE 700
#include <nn/plugin.h>

#include <CUnit/CUnit.h>

#include <errno.h>
#include <pthread.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

void register_loader_tests(void);

/* ---- helpers ------------------------------------------------------------ */

/* CU_ASSERT with a formatted message (CUnit copies the text). */
#define CHECKF(cond, ...) check_((cond) ? 1 : 0, __LINE__, __VA_ARGS__)

static int check_(int ok, unsigned line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, __FILE__, "", CU_FALSE);
    return ok;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static char root[64];      /* ROOT, empty when the fixture is not built */
static char dir_plugins[128], dir_extra[128], dir_sys[128], dir_both[128], dir_cache[128];
static const char *fixture_error; /* why there is no fixture */

static const struct {
    const char *sub, *name;
} real_plugins[] = {
    {"devices", "cpu"},       {"modules", "linear"},    {"modules", "sigmoid"},
    {"losses", "bce"},        {"optimizers", "sgd"},    {"datasets", "circle"},
};

static const char *const bad_plugins[] = {"nodesc", "abimajor", "abiminor", "abiold"};

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Links dir/NAME.so to src, which must exist. */
static int link_plugin(const char *dir, const char *name, const char *src)
{
    char dst[512];
    struct stat st;
    if (stat(src, &st) != 0) {
        fprintf(stderr, "test_loader: missing %s (was it built?)\n", src);
        return -1;
    }
    snprintf(dst, sizeof dst, "%s/%s.so", dir, name);
    return symlink(src, dst);
}

static int link_real(const char *top, const char *dir, const char *name)
{
    for (size_t i = 0; i < sizeof real_plugins / sizeof real_plugins[0]; i++) {
        if (strcmp(real_plugins[i].name, name)) continue;
        char src[1024];
        snprintf(src, sizeof src, "%s/plugins/%s/.libs/%s.so", top, real_plugins[i].sub, name);
        return link_plugin(dir, name, src);
    }
    return -1;
}

static int link_bad(const char *top, const char *dir, const char *name)
{
    char src[1024];
    snprintf(src, sizeof src, "%s/tests/bad/.libs/%s.so", top, name);
    return link_plugin(dir, name, src);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void remove_tree(const char *dir)
{
    if (*dir) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int make_fixture(void)
{
    const char *top = getenv("top_builddir");
    if (!top || !*top) {
        fixture_error = "top_builddir is not set (run the tests through make check)";
        return -1;
    }
    if (top[0] != '/') {
        fixture_error = "top_builddir is not an absolute path";
        return -1;
    }
    snprintf(root, sizeof root, "/tmp/nn-loader-XXXXXX");
    if (!mkdtemp(root)) {
        root[0] = 0;
        fixture_error = "mkdtemp failed";
        return -1;
    }
    snprintf(dir_plugins, sizeof dir_plugins, "%s/plugins", root);
    snprintf(dir_extra, sizeof dir_extra, "%s/extra", root);
    snprintf(dir_sys, sizeof dir_sys, "%s/sys", root);
    snprintf(dir_both, sizeof dir_both, "%s/both", root);
    snprintf(dir_cache, sizeof dir_cache, "%s/cache", root);
    fixture_error = "cannot build the plugin directories (see stderr)";
    if (mkdir(dir_plugins, 0700) || mkdir(dir_extra, 0700) || mkdir(dir_sys, 0700) ||
        mkdir(dir_both, 0700) || mkdir(dir_cache, 0700))
        return -1;
    for (size_t i = 0; i < sizeof real_plugins / sizeof real_plugins[0]; i++)
        if (link_real(top, dir_plugins, real_plugins[i].name) ||
            link_real(top, dir_cache, real_plugins[i].name))
            return -1;
    for (size_t i = 0; i < sizeof bad_plugins / sizeof bad_plugins[0]; i++)
        if (link_bad(top, dir_plugins, bad_plugins[i])) return -1;
    char *junk = path_join(dir_plugins, "junk.so");
    FILE *f = junk ? fopen(junk, "w") : NULL;
    free(junk);
    if (!f) return -1;
    fputs("This is plain text, not a shared object.\n", f);
    if (fclose(f)) return -1;
    if (link_bad(top, dir_extra, "dupname") || link_real(top, dir_sys, "linear") ||
        link_real(top, dir_sys, "sigmoid") || link_real(top, dir_both, "sigmoid") ||
        link_bad(top, dir_both, "dupname"))
        return -1;
    fixture_error = NULL;
    return 0;
}

static int suite_init(void)
{
    if (make_fixture()) {
        fprintf(stderr, "test_loader: %s\n", fixture_error);
        /* The tests report it as a failure; the suite itself still runs. */
    }
    return 0;
}

static int suite_cleanup(void)
{
    remove_tree(root);
    root[0] = 0;
    return 0;
}

/* Every test starts with this: a missing fixture is a failure, not a pass. */
#define NEED_FIXTURE()                                                         \
    do {                                                                       \
        if (fixture_error) {                                                   \
            CHECKF(0, "no loader fixture: %s", fixture_error);                 \
            return;                                                            \
        }                                                                      \
    } while (0)

/* Opens a registry; a crash of the loader is caught in a child process first
 * and reported as a failure (then *reg stays NULL). */
static nn_status open_reg(const nn_registry_opts *opts, nn_registry **reg, char **err,
                          const char *what)
{
    *reg = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        nn_registry *r = NULL;
        if (nn_registry_open(opts, &r, NULL) == NN_OK) nn_registry_free(r);
        _exit(0);
    }
    if (pid > 0) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) continue;
        if (!CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                    "nn_registry_open (%s) crashed: %s %d", what,
                    WIFSIGNALED(status) ? "signal" : "exit status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status)))
            return NN_INTERNAL;
    }
    nn_status st = nn_registry_open(opts, reg, err);
    CHECKF(st == NN_OK && *reg, "nn_registry_open (%s): %s", what,
           err && *err ? *err : nn_strerror(st));
    return st;
}

static nn_registry *open_dirs(const char *const *dirs, int n, const char *what)
{
    nn_registry_opts o = {dirs, n, 1};
    nn_registry *reg = NULL;
    char *err = NULL;
    open_reg(&o, &reg, &err, what);
    nn_free(err);
    return reg;
}

/* The main registry: ROOT/plugins only (the duplicate has its own tests, so
 * a problem with duplicates does not hide everything else). */
static nn_registry *open_main(void)
{
    const char *dirs[] = {dir_plugins};
    return open_dirs(dirs, 1, "fixture plugins");
}

/* ROOT/plugins, then ROOT/extra: the duplicate comes after the real sigmoid,
 * so the real one must win. */
static nn_registry *open_with_dup(void)
{
    const char *dirs[] = {dir_plugins, dir_extra};
    return open_dirs(dirs, 2, "fixture plugins + extra/dupname.so");
}

static const nn_component *find(const nn_registry *reg, nn_kind kind, const char *name)
{
    const nn_component *c = NULL;
    char *err = NULL;
    if (nn_registry_find(reg, kind, name, &c, &err) != NN_OK) c = NULL;
    nn_free(err);
    return c;
}

/* Index of the refusal whose path ends in "/NAME.so", or -1. */
static int refused_index(const nn_registry *reg, const char *name)
{
    char suffix[128];
    snprintf(suffix, sizeof suffix, "/%s.so", name);
    for (int i = 0; i < nn_registry_refused_count(reg); i++) {
        const char *path, *why;
        nn_registry_refused(reg, i, &path, &why);
        if (ends_with(path, suffix)) return i;
    }
    return -1;
}

static const char *refused_reason(const nn_registry *reg, const char *name)
{
    int i = refused_index(reg, name);
    if (i < 0) return NULL;
    const char *path, *why;
    nn_registry_refused(reg, i, &path, &why);
    return why;
}

static void save_env(const char *name, char **saved)
{
    const char *v = getenv(name);
    *saved = v ? strdup(v) : NULL;
}

static void restore_env(const char *name, char *saved)
{
    if (saved)
        setenv(name, saved, 1);
    else
        unsetenv(name);
    free(saved);
}

/* ---- tests -------------------------------------------------------------- */

static void test_finds_real_plugins(void)
{
    NEED_FIXTURE();
    nn_registry *reg = open_main();
    if (!reg) return;
    static const struct {
        nn_kind kind;
        const char *name;
    } want[] = {
        {NN_KIND_MODULE, "linear"}, {NN_KIND_MODULE, "sigmoid"},  {NN_KIND_LOSS, "bce"},
        {NN_KIND_OPTIMIZER, "sgd"}, {NN_KIND_DATASET, "circle"}, {NN_KIND_DEVICE, "cpu"},
        {NN_KIND_OP, "binary_cross_entropy"}, {NN_KIND_KERNEL, "binary_cross_entropy"},
        {NN_KIND_OP, "sgd_update"},           {NN_KIND_KERNEL, "sgd_update"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const nn_component *c = find(reg, want[i].kind, want[i].name);
        if (!CHECKF(c != NULL, "%s '%s' is found", nn_kind_name(want[i].kind), want[i].name))
            continue;
        CHECKF(!strcmp(nn_component_name(c), want[i].name), "component name is '%s'",
               want[i].name);
        CHECKF(nn_component_kind(c) == want[i].kind, "'%s' has kind %s", want[i].name,
               nn_kind_name(want[i].kind));
        CHECKF(!strncmp(nn_component_file(c), dir_plugins, strlen(dir_plugins)),
               "'%s' comes from the fixture directory (file %s)", want[i].name,
               nn_component_file(c));
        CHECKF(nn_component_version(c) && *nn_component_version(c), "'%s' has a version",
               want[i].name);
    }
    /* Exactly the directory given: no_env keeps the rest out. */
    const char *const *dirs;
    int n = nn_registry_search_path(reg, &dirs);
    CHECKF(n == 1 && !strcmp(dirs[0], dir_plugins),
           "search path is the given directory only (got %d, first %s)", n, n ? dirs[0] : "-");
    /* Six good plugins, bce and sgd with their op and its cpu kernel besides,
     * nothing from the bad ones. */
    CHECKF(nn_registry_count(reg) == 10, "10 components registered (got %d)",
           nn_registry_count(reg));
    CHECKF(nn_registry_refused_count(reg) == 5, "5 files refused (got %d)",
           nn_registry_refused_count(reg));
    nn_registry_free(reg);
}

static void test_refuses_bad_plugins(void)
{
    NEED_FIXTURE();
    nn_registry *reg = open_main();
    if (!reg) return;
    char newer[32];
    snprintf(newer, sizeof newer, "%d.%d", NN_ABI_MAJOR, NN_ABI_MINOR + 1);
    char major[32];
    snprintf(major, sizeof major, "%d.%d", NN_ABI_MAJOR + 1, NN_ABI_MINOR);
    static const struct {
        const char *file, *word;
    } want[] = {
        {"nodesc", "nn_plugin_descriptor"},
        {"abimajor", "ABI"},
        {"abiminor", "ABI"},
        {"junk", "cannot be loaded"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *why = refused_reason(reg, want[i].file);
        if (!CHECKF(why != NULL, "%s.so is in the refused list", want[i].file)) continue;
        CHECKF(strstr(why, want[i].word) != NULL, "%s.so refused for '%s' (reason: %s)",
               want[i].file, want[i].word, why);
    }
    const char *why = refused_reason(reg, "abimajor");
    if (why) CHECKF(strstr(why, major) != NULL, "abimajor reason names ABI %s: %s", major, why);
    /* A plugin of the first ABI, before ops left the Device interface. */
    char old[96];
    snprintf(old, sizeof old, "built for plugin ABI 1.0, this libnn has %d.%d", NN_ABI_MAJOR,
             NN_ABI_MINOR);
    why = refused_reason(reg, "abiold");
    if (CHECKF(why != NULL, "abiold.so is in the refused list"))
        CHECKF(strstr(why, old) != NULL, "abiold reason is '%s': %s", old, why);
    why = refused_reason(reg, "abiminor");
    if (why) CHECKF(strstr(why, newer) != NULL, "abiminor reason names ABI %s: %s", newer, why);
    /* libltdl says "file not found" for any file that no loader accepts; the
     * reason must tell a broken file from a missing one. */
    why = refused_reason(reg, "junk");
    if (why)
        CHECKF(strstr(why, "not found") == NULL,
               "junk.so exists: its reason must not say 'not found' (reason: %s)", why);

    /* Nothing of a refused plugin is registered. */
    CHECKF(find(reg, NN_KIND_MODULE, "abimajor") == NULL, "module abimajor is not registered");
    CHECKF(find(reg, NN_KIND_MODULE, "abiminor") == NULL, "module abiminor is not registered");
    nn_registry_free(reg);
}

static void test_real_sigmoid_wins(void)
{
    NEED_FIXTURE();
    nn_registry *reg = open_with_dup();
    if (!reg) return;
    const char *why = refused_reason(reg, "dupname");
    if (CHECKF(why != NULL, "dupname.so is in the refused list")) {
        CHECKF(strstr(why, "already provided") != NULL, "refused as a duplicate: %s", why);
        CHECKF(strstr(why, "sigmoid") != NULL, "the reason names 'sigmoid': %s", why);
        CHECKF(strstr(why, "/sigmoid.so") != NULL, "the reason names the first provider: %s",
               why);
    }
    CHECKF(nn_registry_refused_count(reg) == 6, "6 files refused (got %d)",
           nn_registry_refused_count(reg));
    CHECKF(find(reg, NN_KIND_DEVICE, "halfdev") == NULL,
           "device halfdev of the refused dupname.so is not registered");
    const nn_component *c = find(reg, NN_KIND_MODULE, "sigmoid");
    if (CHECKF(c != NULL, "sigmoid is found")) {
        const char *file = nn_component_file(c);
        CHECKF(!ends_with(file, "dupname.so"), "sigmoid is not the duplicate (file %s)", file);
        CHECKF(ends_with(file, "/sigmoid.so"), "sigmoid comes from sigmoid.so (file %s)", file);
        CHECKF(!strcmp(nn_component_plugin(c), "sigmoid"), "plugin name is sigmoid (got %s)",
               nn_component_plugin(c));
    }
    int n = 0;
    for (int i = 0; i < nn_registry_count(reg); i++)
        n += !strcmp(nn_component_name(nn_registry_at(reg, i)), "sigmoid");
    CHECKF(n == 1, "exactly one sigmoid registered (got %d)", n);
    nn_registry_free(reg);
}

/* Within one directory files load in name order: the first loaded wins, the
 * second is refused; either way there is one sigmoid and one refusal. */
static void test_duplicate_in_one_directory(void)
{
    NEED_FIXTURE();
    const char *dirs[] = {dir_both};
    nn_registry *reg = open_dirs(dirs, 1, "dupname.so and sigmoid.so in one directory");
    if (!reg) return;
    int n = 0;
    for (int i = 0; i < nn_registry_count(reg); i++)
        n += !strcmp(nn_component_name(nn_registry_at(reg, i)), "sigmoid");
    CHECKF(n == 1, "exactly one sigmoid registered (got %d)", n);
    CHECKF(nn_registry_refused_count(reg) == 1, "one file refused (got %d)",
           nn_registry_refused_count(reg));
    const nn_component *c = find(reg, NN_KIND_MODULE, "sigmoid");
    if (c && nn_registry_refused_count(reg) == 1) {
        const char *path, *why;
        nn_registry_refused(reg, 0, &path, &why);
        CHECKF(strcmp(path, nn_component_file(c)) != 0,
               "the refused file is not the one providing sigmoid (%s)", path);
        CHECKF(strstr(why, "already provided") != NULL, "refused as a duplicate: %s", why);
        CHECKF(strstr(why, nn_component_file(c)) != NULL,
               "the reason names the file that won (%s): %s", nn_component_file(c), why);
    }
    nn_registry_free(reg);
}

static void test_relative_path_refused(void)
{
    NEED_FIXTURE();
    char cwd[4096];
    if (!CHECKF(getcwd(cwd, sizeof cwd) != NULL, "getcwd")) return;
    if (!CHECKF(chdir(root) == 0, "chdir to the fixture root %s", root)) return;
    /* "extra" exists relative to ROOT and holds dupname.so: were it searched,
     * its sigmoid and halfdev would show up. */
    const char *dirs[] = {"extra", dir_sys};
    nn_registry *reg = open_dirs(dirs, 2, "a relative path");
    if (chdir(cwd) != 0) CHECKF(0, "chdir back to %s", cwd);
    if (!reg) return;
    const char *const *sp;
    int n = nn_registry_search_path(reg, &sp);
    CHECKF(n == 1, "only the absolute directory is searched (got %d)", n);
    for (int i = 0; i < n; i++)
        CHECKF(sp[i][0] == '/', "search path entry %d is absolute: %s", i, sp[i]);
    int found = 0;
    for (int i = 0; i < nn_registry_refused_count(reg); i++) {
        const char *path, *why;
        nn_registry_refused(reg, i, &path, &why);
        if (strcmp(path, "extra")) continue;
        found = 1;
        CHECKF(strstr(why, "absolute") != NULL, "the reason says why: %s", why);
    }
    CHECKF(found, "the relative path 'extra' is in the refused list");
    CHECKF(find(reg, NN_KIND_DEVICE, "halfdev") == NULL,
           "nothing from the relative directory is loaded");
    const nn_component *c = find(reg, NN_KIND_MODULE, "sigmoid");
    CHECKF(c && !ends_with(nn_component_file(c), "dupname.so"),
           "sigmoid comes from the absolute directory");
    nn_registry_free(reg);
}

static void test_find_unknown(void)
{
    NEED_FIXTURE();
    nn_registry *reg = open_main();
    if (!reg) return;
    const nn_component *c = (const nn_component *)&c; /* must be reset */
    char *err = NULL;
    nn_status st = nn_registry_find(reg, NN_KIND_MODULE, "nosuch", &c, &err);
    CHECKF(st == NN_NOT_FOUND, "unknown name gives NN_NOT_FOUND (got %s)", nn_status_name(st));
    CHECKF(c == NULL, "*out is NULL on failure");
    if (CHECKF(err != NULL, "a message is stored")) {
        CHECKF(strstr(err, "nosuch") != NULL, "message names the missing one: %s", err);
        CHECKF(strstr(err, "linear") && strstr(err, "sigmoid"),
               "message lists the known modules: %s", err);
        CHECKF(strstr(err, "bce") == NULL, "message lists modules only, not losses: %s", err);
        CHECKF(strstr(err, dir_plugins) != NULL, "message names the searched directory %s: %s",
               dir_plugins, err);
    }
    nn_free(err);
    /* The kind matters: there is a module "linear" but no loss "linear". */
    err = NULL;
    st = nn_registry_find(reg, NN_KIND_LOSS, "linear", &c, &err);
    CHECKF(st == NN_NOT_FOUND, "loss 'linear' is not found (got %s)", nn_status_name(st));
    nn_free(err);
    /* A NULL err is allowed. */
    st = nn_registry_find(reg, NN_KIND_DEVICE, "nosuch", &c, NULL);
    CHECKF(st == NN_NOT_FOUND, "NULL err: still NN_NOT_FOUND (got %s)", nn_status_name(st));
    nn_registry_free(reg);
}

static void test_system_path_env(void)
{
    NEED_FIXTURE();
    char *old_path, *old_sys;
    save_env("NN_PLUGIN_PATH", &old_path);
    save_env("NN_PLUGIN_SYSTEM_PATH", &old_sys);
    unsetenv("NN_PLUGIN_PATH");
    setenv("NN_PLUGIN_SYSTEM_PATH", dir_sys, 1);
    nn_registry *reg = NULL;
    char *err = NULL;
    open_reg(NULL, &reg, &err, "NN_PLUGIN_SYSTEM_PATH");
    nn_free(err);
    restore_env("NN_PLUGIN_PATH", old_path);
    restore_env("NN_PLUGIN_SYSTEM_PATH", old_sys);
    if (!reg) return;
    const char *const *dirs;
    int n = nn_registry_search_path(reg, &dirs);
    CHECKF(n == 1 && !strcmp(dirs[0], dir_sys),
           "NN_PLUGIN_SYSTEM_PATH replaces the system directory (got %d dirs, first %s)", n,
           n ? dirs[0] : "-");
    CHECKF(find(reg, NN_KIND_MODULE, "linear") != NULL, "linear is found in %s", dir_sys);
    CHECKF(find(reg, NN_KIND_MODULE, "sigmoid") != NULL, "sigmoid is found in %s", dir_sys);
    CHECKF(find(reg, NN_KIND_DEVICE, "cpu") == NULL,
           "cpu is not found: the build tree is not searched");
    CHECKF(nn_registry_count(reg) == 2, "2 components (got %d)", nn_registry_count(reg));
    nn_registry_free(reg);
}

static void test_plugin_path_env_first(void)
{
    NEED_FIXTURE();
    char *old_path, *old_sys;
    save_env("NN_PLUGIN_PATH", &old_path);
    save_env("NN_PLUGIN_SYSTEM_PATH", &old_sys);
    /* An empty entry and a relative one are skipped, not searched. */
    char list[512];
    snprintf(list, sizeof list, "%s::relative/dir", dir_extra);
    setenv("NN_PLUGIN_PATH", list, 1);
    setenv("NN_PLUGIN_SYSTEM_PATH", dir_sys, 1);
    nn_registry *reg = NULL, *noenv = NULL;
    char *err = NULL;
    open_reg(NULL, &reg, &err, "NN_PLUGIN_PATH and NN_PLUGIN_SYSTEM_PATH");
    nn_free(err);
    /* no_env = 1 ignores both variables. */
    const char *dirs1[] = {dir_plugins};
    noenv = open_dirs(dirs1, 1, "no_env with the variables set");
    restore_env("NN_PLUGIN_PATH", old_path);
    restore_env("NN_PLUGIN_SYSTEM_PATH", old_sys);

    if (reg) {
        const char *const *dirs;
        int n = nn_registry_search_path(reg, &dirs);
        CHECKF(n == 2, "2 directories searched (got %d)", n);
        if (n == 2) {
            CHECKF(!strcmp(dirs[0], dir_extra), "NN_PLUGIN_PATH first: %s", dirs[0]);
            CHECKF(!strcmp(dirs[1], dir_sys), "then NN_PLUGIN_SYSTEM_PATH: %s", dirs[1]);
        }
        /* Searched first, so its sigmoid (dupname.so) wins over the system one. */
        const nn_component *c = find(reg, NN_KIND_MODULE, "sigmoid");
        if (CHECKF(c != NULL, "sigmoid is found"))
            CHECKF(ends_with(nn_component_file(c), "/dupname.so"),
                   "sigmoid comes from NN_PLUGIN_PATH (file %s)", nn_component_file(c));
        const char *why = refused_reason(reg, "sigmoid");
        CHECKF(why && strstr(why, "already provided"),
               "the system sigmoid.so is refused as a duplicate (%s)", why ? why : "not refused");
        CHECKF(find(reg, NN_KIND_MODULE, "linear") != NULL, "linear from the system directory");
        int rel = 0;
        for (int i = 0; i < nn_registry_refused_count(reg); i++) {
            const char *path, *r;
            nn_registry_refused(reg, i, &path, &r);
            rel += !strcmp(path, "relative/dir") && strstr(r, "NN_PLUGIN_PATH") != NULL;
        }
        CHECKF(rel == 1, "relative entry of NN_PLUGIN_PATH refused, naming the variable");
        nn_registry_free(reg);
    }
    if (noenv) {
        const char *const *dirs;
        int n = nn_registry_search_path(noenv, &dirs);
        CHECKF(n == 1 && !strcmp(dirs[0], dir_plugins),
               "no_env: only the given directory is searched (got %d, first %s)", n,
               n ? dirs[0] : "-");
        nn_registry_free(noenv);
    }
}

static void test_incomplete_device(void)
{
    NEED_FIXTURE();
    const char *dirs[] = {dir_extra};
    nn_registry *reg = open_dirs(dirs, 1, "dupname.so alone");
    if (!reg) return;
    CHECKF(find(reg, NN_KIND_DEVICE, "halfdev") != NULL, "halfdev is registered");
    nn_ctx *ctx = (nn_ctx *)&ctx;
    char *err = NULL;
    nn_status st = nn_ctx_open(reg, "halfdev", 0, &ctx, &err);
    CHECKF(st != NN_OK, "a device without kernels is refused (got %s)", nn_status_name(st));
    CHECKF(ctx == NULL, "*out is NULL on failure");
    if (st != NN_OK && CHECKF(err != NULL, "a message is stored")) {
        CHECKF(strstr(err, "halfdev") != NULL, "message names the device: %s", err);
        CHECKF(strstr(err, "to_device") != NULL, "message names the missing kernel: %s", err);
    }
    nn_free(err);
    if (st == NN_OK && ctx) nn_ctx_free(ctx);
    nn_registry_free(reg);

    /* The real cpu device opens. */
    reg = open_main();
    if (!reg) return;
    err = NULL;
    st = nn_ctx_open(reg, "cpu", 1, &ctx, &err);
    CHECKF(st == NN_OK, "cpu opens: %s", err ? err : "");
    nn_free(err);
    if (st == NN_OK) {
        CHECKF(!strcmp(nn_ctx_device_name(ctx), "cpu"), "device name is cpu");
        nn_ctx_free(ctx);
    }
    nn_registry_free(reg);
}

/* Threads that look components up by name at once, in a folder whose
 * plugins.cache leaves every plugin to be loaded on its first look-up. */
static const struct {
    nn_kind kind;
    const char *name;
} cached_names[] = {{NN_KIND_MODULE, "linear"}, {NN_KIND_MODULE, "sigmoid"},
                    {NN_KIND_LOSS, "bce"},      {NN_KIND_OPTIMIZER, "sgd"},
                    {NN_KIND_DEVICE, "cpu"},    {NN_KIND_DATASET, "circle"}};
enum { NCACHED = sizeof cached_names / sizeof cached_names[0], NTHREADS = 4 };

typedef struct {
    const nn_registry *reg;
    int start, found;
    const nn_component *got[NCACHED];
} finder;

static void *find_all(void *arg)
{
    finder *f = arg;
    for (int k = 0; k < NCACHED; k++) { /* each thread in another order */
        int i = (f->start + k) % NCACHED;
        f->got[i] = find(f->reg, cached_names[i].kind, cached_names[i].name);
        f->found += f->got[i] != NULL;
    }
    return NULL;
}

static void test_cache_lazy_threads(void)
{
    NEED_FIXTURE();
    const char *dirs[] = {dir_cache};
    nn_registry *eager = open_dirs(dirs, 1, "the cache folder before its cache");
    if (!eager) return;
    char *err = NULL;
    int written = -1, refused = -1;
    nn_status st = nn_registry_write_cache(dir_cache, &written, &refused, &err);
    CHECKF(st == NN_OK && written == NCACHED && refused == 0,
           "nn_registry_write_cache: %s, %d written, %d refused", err ? err : "ok", written,
           refused);
    nn_free(err);
    nn_registry *reg = open_dirs(dirs, 1, "the cache folder with its cache");
    if (reg) {
        CU_ASSERT_PTR_NULL(nn_registry_used(reg, 0)); /* nothing looked up yet */
        finder f[NTHREADS];
        pthread_t th[NTHREADS];
        int started = 0;
        for (int t = 0; t < NTHREADS; t++) {
            f[t] = (finder){reg, t, 0, {0}};
            started += !pthread_create(&th[t], NULL, find_all, &f[t]);
        }
        CU_ASSERT_EQUAL(started, NTHREADS);
        for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
        for (int t = 0; t < started; t++) {
            CHECKF(f[t].found == NCACHED, "thread %d found %d of %d", t, f[t].found, NCACHED);
            for (int i = 0; i < NCACHED && f[t].found == NCACHED; i++)
                CU_ASSERT_PTR_EQUAL(f[t].got[i], f[0].got[i]); /* one component each */
        }
        int used = 0;
        while (nn_registry_used(reg, used)) used++;
        CHECKF(used == NCACHED, "%d components used, want %d", used, NCACHED);
        /* the whole list, now loaded, is the one of the registry without a cache */
        int n = nn_registry_count(reg), ne = nn_registry_count(eager);
        CHECKF(n == ne, "%d components with the cache, %d without", n, ne);
        for (int i = 0; i < n && n == ne; i++) {
            const nn_component *a = nn_registry_at(reg, i), *b = nn_registry_at(eager, i);
            CHECKF(nn_component_kind(a) == nn_component_kind(b) &&
                       !strcmp(nn_component_name(a), nn_component_name(b)) &&
                       nn_component_vt(a) == nn_component_vt(b),
                   "component %d: %s with the cache, %s without", i, nn_component_name(a),
                   nn_component_name(b));
        }
        CU_ASSERT_EQUAL(nn_registry_refused_count(reg), 0);
        nn_registry_free(reg);
    }
    nn_registry_free(eager);
}

void register_loader_tests(void)
{
    CU_pSuite s = CU_add_suite("loader", suite_init, suite_cleanup);
    if (!s) return;
    CU_add_test(s, "finds the real plugins", test_finds_real_plugins);
    CU_add_test(s, "refuses bad plugins with a reason", test_refuses_bad_plugins);
    CU_add_test(s, "the real sigmoid wins over a later duplicate", test_real_sigmoid_wins);
    CU_add_test(s, "duplicate within one directory", test_duplicate_in_one_directory);
    CU_add_test(s, "relative paths are refused, not searched", test_relative_path_refused);
    CU_add_test(s, "find of an unknown name", test_find_unknown);
    CU_add_test(s, "NN_PLUGIN_SYSTEM_PATH replaces the system dir", test_system_path_env);
    CU_add_test(s, "NN_PLUGIN_PATH is searched first", test_plugin_path_env_first);
    CU_add_test(s, "a device with a missing kernel is refused", test_incomplete_device);
    CU_add_test(s, "a cached folder, looked up from threads at once", test_cache_lazy_threads);
}
