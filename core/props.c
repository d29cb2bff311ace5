/* props.c - typed key=value properties, parsed against a component's table. */
#include "nn-impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>

typedef union {
    int64_t i;
    double f;
    int b;
    char *s; /* STRING and ENUM */
    struct {
        double *v;
        int n;
    } fl; /* FLOATS */
} prop_value;

struct nn_props {
    const nn_prop_def *defs;
    int n;
    const char *owner; /* component name, for messages */
    prop_value *v;
};

static bool is_text(nn_prop_type t) { return t == NN_PROP_STRING || t == NN_PROP_ENUM; }

static const char *type_name(nn_prop_type t)
{
    switch (t) {
    case NN_PROP_INT: return "int";
    case NN_PROP_FLOAT: return "float";
    case NN_PROP_BOOL: return "bool";
    case NN_PROP_STRING: return "string";
    case NN_PROP_ENUM: return "enum";
    case NN_PROP_FLOATS: return "floats";
    }
    return "?";
}

static bool enum_has(const char *choices, const char *word)
{
    size_t n = strlen(word);
    for (const char *c = choices; c && *c;) {
        size_t len = strcspn(c, "|");
        if (len == n && strncmp(c, word, n) == 0) return true;
        c += len + (c[len] == '|');
    }
    return false;
}

static bool has_range(const nn_prop_def *d) { return d->min <= d->max; }

/* FLOATS: the number of comma-separated items of text ("0.9,0.999": 2). */
static int count_items(const char *text)
{
    int n = 1;
    for (; *text; text++) n += *text == ',';
    return n;
}

/* FLOATS: "a,b,..." with as many numbers as the default has (any number
 * without a default), each finite and in range. */
static nn_status parse_floats(const char *owner, const nn_prop_def *d, const char *text,
                              prop_value *out, char **err)
{
    int n = count_items(text), want = d->def ? count_items(d->def) : n;
    if (n != want)
        return nn_fail(err, NN_INVALID, "%s: %s=%s needs %d comma-separated numbers", owner,
                       d->name, text, want);
    double *v = malloc(sizeof *v * (size_t)n);
    if (!v) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    const char *s = text;
    for (int k = 0; k < n; k++) {
        char *end = NULL;
        errno = 0;
        v[k] = strtod(s, &end);
        if (end == s || (*end && *end != ',') || errno || !isfinite(v[k]) ||
            isspace((unsigned char)*s)) {
            free(v);
            return nn_fail(err, NN_INVALID, "%s: %s=%s is not a list of %d finite numbers", owner,
                           d->name, text, n);
        }
        if (has_range(d) && (v[k] < d->min || v[k] > d->max)) {
            double bad = v[k];
            free(v);
            return nn_fail(err, NN_INVALID, "%s: %s=%s: %g is out of range [%g, %g]", owner,
                           d->name, text, bad, d->min, d->max);
        }
        s = end + (*end == ',');
    }
    out->fl.v = v;
    out->fl.n = n;
    return NN_OK;
}

/* Parses text into a value of d's type; a message in *err on failure. */
static nn_status parse_value(const char *owner, const nn_prop_def *d, const char *text,
                             prop_value *out, char **err)
{
    char *end = NULL;
    errno = 0;
    switch (d->type) {
    case NN_PROP_INT: {
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno)
            return nn_fail(err, NN_INVALID, "%s: %s=%s is not an integer", owner, d->name, text);
        if (has_range(d) && (v < d->min || v > d->max))
            return nn_fail(err, NN_INVALID, "%s: %s=%s is out of range [%.17g, %.17g]", owner,
                           d->name, text, d->min, d->max);
        out->i = v;
        return NN_OK;
    }
    case NN_PROP_FLOAT: {
        double v = strtod(text, &end);
        if (!*text || *end || errno || !isfinite(v))
            return nn_fail(err, NN_INVALID, "%s: %s=%s is not a finite number", owner, d->name,
                           text);
        if (has_range(d) && (v < d->min || v > d->max))
            return nn_fail(err, NN_INVALID, "%s: %s=%s is out of range [%g, %g]", owner, d->name,
                           text, d->min, d->max);
        out->f = v;
        return NN_OK;
    }
    case NN_PROP_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "yes"))
            out->b = 1;
        else if (!strcmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "no"))
            out->b = 0;
        else
            return nn_fail(err, NN_INVALID, "%s: %s=%s is not a boolean (true or false)", owner,
                           d->name, text);
        return NN_OK;
    case NN_PROP_ENUM:
        if (!enum_has(d->choices, text))
            return nn_fail(err, NN_INVALID, "%s: %s=%s is not one of %s", owner, d->name, text,
                           d->choices ? d->choices : "(none)");
        /* fall through */
    case NN_PROP_STRING:
        out->s = nn_strdup(text);
        return out->s ? NN_OK : nn_fail(err, NN_NO_MEMORY, "out of memory");
    case NN_PROP_FLOATS: return parse_floats(owner, d, text, out, err);
    }
    return nn_fail(err, NN_INTERNAL, "%s: property %s has an unknown type", owner, d->name);
}

static void value_free(const nn_prop_def *d, prop_value *v)
{
    if (is_text(d->type)) {
        free(v->s);
        v->s = NULL;
    } else if (d->type == NN_PROP_FLOATS) {
        free(v->fl.v);
        v->fl.v = NULL;
    }
}

void nn_props_free(nn_props *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) value_free(&p->defs[i], &p->v[i]);
    free(p->v);
    free(p);
}

static nn_status props_defaults(const char *owner, const nn_prop_def *defs, int n, nn_props **out,
                                char **err)
{
    nn_props *p = calloc(1, sizeof *p);
    if (!p || !(p->v = calloc((size_t)(n ? n : 1), sizeof *p->v))) {
        free(p);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    p->defs = defs;
    p->n = n;
    p->owner = owner;
    for (int i = 0; i < n; i++) {
        if (!defs[i].def) { /* required: no default; parse_argv insists on a value */
            if (is_text(defs[i].type) && !(p->v[i].s = nn_strdup(""))) {
                nn_props_free(p);
                return nn_fail(err, NN_NO_MEMORY, "out of memory");
            }
            continue;
        }
        /* A default that fails its own table is the plugin's bug: say so. */
        nn_status st = parse_value(owner, &defs[i], defs[i].def, &p->v[i], err);
        if (st) {
            char *why = err ? *err : NULL;
            if (err) *err = NULL;
            nn_fail(err, NN_INVALID, "%s: bad default for '%s' in the plugin's table (%s)", owner,
                    defs[i].name, why ? why : "invalid");
            free(why);
            nn_props_free(p);
            return NN_INVALID;
        }
    }
    *out = p;
    return NN_OK;
}

int nn_props_index(const nn_props *p, const char *key)
{
    for (int i = 0; p && i < p->n; i++)
        if (!strcmp(p->defs[i].name, key)) return i;
    return -1;
}

static nn_status unknown_key(const nn_props *p, const char *key, char **err)
{
    nn_buf b = {0};
    for (int i = 0; i < p->n; i++) nn_buf_addf(&b, "%s%s", i ? ", " : "", p->defs[i].name);
    char *valid = nn_buf_take(&b);
    nn_fail(err, NN_INVALID, "%s: unknown property '%s'; valid: %s", p->owner, key,
            p->n ? valid : "(none)");
    free(valid);
    return NN_INVALID;
}

nn_status nn_props_set(nn_props *p, const char *key, const char *value, char **err)
{
    int i = nn_props_index(p, key);
    if (i < 0) return unknown_key(p, key, err);
    prop_value v;
    nn_status st = parse_value(p->owner, &p->defs[i], value, &v, err);
    if (st) return st;
    value_free(&p->defs[i], &p->v[i]);
    p->v[i] = v;
    return NN_OK;
}

nn_status nn_props_parse_argv(const nn_component *c, int argc, const char *const *argv,
                              nn_props **out, char **err)
{
    *out = NULL;
    nn_props *p;
    nn_status st = props_defaults(c->def->name, c->def->props, c->def->props ? c->def->nprops : 0,
                                  &p, err);
    if (st) return st;
    for (int k = 0; k < argc; k++) {
        const char *eq = strchr(argv[k], '=');
        if (!eq || eq == argv[k]) {
            nn_props_free(p);
            return nn_fail(err, NN_INVALID, "%s: expected key=value, got '%s'", c->def->name,
                           argv[k]);
        }
        char key[64];
        size_t kl = (size_t)(eq - argv[k]);
        if (kl >= sizeof key) kl = sizeof key - 1;
        memcpy(key, argv[k], kl);
        key[kl] = 0;
        for (int j = 0; j < k; j++)
            if (!strncmp(argv[j], argv[k], kl + 1)) {
                nn_props_free(p);
                return nn_fail(err, NN_INVALID, "%s: property '%s' given twice", c->def->name, key);
            }
        if ((st = nn_props_set(p, key, eq + 1, err))) {
            nn_props_free(p);
            return st;
        }
    }
    for (int i = 0; i < p->n; i++) {
        if (p->defs[i].def) continue;
        size_t kl = strlen(p->defs[i].name);
        bool given = false;
        for (int k = 0; k < argc && !given; k++)
            given = !strncmp(argv[k], p->defs[i].name, kl) && argv[k][kl] == '=';
        if (!given) {
            nn_props_free(p);
            return nn_fail(err, NN_INVALID, "%s: property '%s' is required (%s)", c->def->name,
                           c->def->props[i].name, c->def->props[i].doc ? c->def->props[i].doc : "");
        }
    }
    *out = p;
    return NN_OK;
}

nn_status nn_props_parse(const nn_component *c, const char *words, nn_props **out, char **err)
{
    /* Split on white space; at most as many words as there are characters. */
    size_t len = words ? strlen(words) : 0;
    char *copy = malloc(len + 1);
    const char **argv = malloc((len / 2 + 1) * sizeof *argv);
    if (!copy || !argv) {
        free(copy);
        free(argv);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    if (len) memcpy(copy, words, len);
    copy[len] = 0;
    int argc = 0;
    for (char *s = copy; *s;) {
        while (isspace((unsigned char)*s)) *s++ = 0;
        if (!*s) break;
        argv[argc++] = s;
        while (*s && !isspace((unsigned char)*s)) s++;
    }
    nn_status st = nn_props_parse_argv(c, argc, argv, out, err);
    free(argv);
    free(copy);
    return st;
}

nn_props *nn_props_clone(const nn_props *p)
{
    nn_props *c;
    if (props_defaults(p->owner, p->defs, p->n, &c, NULL)) return NULL;
    for (int i = 0; i < p->n; i++) {
        value_free(&p->defs[i], &c->v[i]);
        c->v[i] = p->v[i];
        if (is_text(p->defs[i].type) && !(c->v[i].s = nn_strdup(p->v[i].s))) {
            nn_props_free(c);
            return NULL;
        }
        if (p->defs[i].type == NN_PROP_FLOATS && p->v[i].fl.v) {
            size_t bytes = sizeof(double) * (size_t)p->v[i].fl.n;
            if (!(c->v[i].fl.v = malloc(bytes))) {
                nn_props_free(c);
                return NULL;
            }
            memcpy(c->v[i].fl.v, p->v[i].fl.v, bytes);
        }
    }
    return c;
}

int64_t nn_props_int(const nn_props *p, int i)
{
    NN_ASSERT(i >= 0 && i < p->n && p->defs[i].type == NN_PROP_INT);
    return p->v[i].i;
}

double nn_props_float(const nn_props *p, int i)
{
    NN_ASSERT(i >= 0 && i < p->n);
    if (p->defs[i].type == NN_PROP_INT) return (double)p->v[i].i;
    NN_ASSERT(p->defs[i].type == NN_PROP_FLOAT);
    return p->v[i].f;
}

int nn_props_bool(const nn_props *p, int i)
{
    NN_ASSERT(i >= 0 && i < p->n && p->defs[i].type == NN_PROP_BOOL);
    return p->v[i].b;
}

const char *nn_props_string(const nn_props *p, int i)
{
    NN_ASSERT(i >= 0 && i < p->n && is_text(p->defs[i].type));
    return p->v[i].s;
}

const double *nn_props_floats(const nn_props *p, int i, int *count)
{
    NN_ASSERT(i >= 0 && i < p->n && p->defs[i].type == NN_PROP_FLOATS);
    if (count) *count = p->v[i].fl.n;
    return p->v[i].fl.v;
}

/* The shortest text that reads back as the same double. */
static void format_double(nn_buf *b, double f)
{
    char t[32];
    snprintf(t, sizeof t, "%.15g", f);
    if (strtod(t, NULL) != f) snprintf(t, sizeof t, "%.17g", f);
    nn_buf_addf(b, "%s", t);
}

static void format_value(nn_buf *b, const nn_prop_def *d, const prop_value *v)
{
    switch (d->type) {
    case NN_PROP_INT: nn_buf_addf(b, "%lld", (long long)v->i); break;
    case NN_PROP_FLOAT: format_double(b, v->f); break;
    case NN_PROP_FLOATS:
        for (int k = 0; k < v->fl.n; k++) {
            if (k) nn_buf_addf(b, ",");
            format_double(b, v->fl.v[k]);
        }
        break;
    case NN_PROP_BOOL: nn_buf_addf(b, "%s", v->b ? "true" : "false"); break;
    default: nn_buf_addf(b, "%s", v->s); break;
    }
}

static bool is_default(const nn_prop_def *d, const prop_value *v)
{
    prop_value def;
    if (!d->def || parse_value("", d, d->def, &def, NULL)) return false;
    bool same;
    switch (d->type) {
    case NN_PROP_INT: same = def.i == v->i; break;
    case NN_PROP_FLOAT: same = def.f == v->f; break;
    case NN_PROP_BOOL: same = def.b == v->b; break;
    case NN_PROP_FLOATS:
        same = def.fl.n == v->fl.n &&
               (!v->fl.n || !memcmp(def.fl.v, v->fl.v, sizeof(double) * (size_t)v->fl.n));
        break;
    default: same = !strcmp(def.s, v->s); break;
    }
    value_free(d, &def);
    return same;
}

int nn_props_count(const nn_props *p) { return p->n; }
const char *nn_props_key(const nn_props *p, int i) { return p->defs[i].name; }

char *nn_props_text(const nn_props *p, int i)
{
    nn_buf b = {0};
    format_value(&b, &p->defs[i], &p->v[i]);
    return nn_buf_take(&b);
}

char *nn_props_format(const nn_props *p, int nondefault_only)
{
    nn_buf b = {0};
    for (int i = 0; i < p->n; i++) {
        if (nondefault_only && is_default(&p->defs[i], &p->v[i])) continue;
        nn_buf_addf(&b, "%s%s=", b.len ? " " : "", p->defs[i].name);
        format_value(&b, &p->defs[i], &p->v[i]);
    }
    return nn_buf_take(&b);
}

const char *nn_prop_type_name(nn_prop_type t) { return type_name(t); }
