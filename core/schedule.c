/* schedule.c - an optimizer's hyper-parameters changed at the start of
 * epochs: set or multiplied by rules ("E: k=v", "E+: k*=F"), and learning
 * rates stepped once per epoch as PyTorch's lr_scheduler computes them. */
#include "nn-impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>

enum { R_AT, R_FROM, R_STEP, R_EXPONENTIAL, R_COSINE };

typedef struct {
    char *key, *value; /* value: text for '=', NULL for '*=' */
    double factor;
} change;

typedef struct {
    int kind;
    char *text;      /* the rule as given, trimmed: for messages */
    int64_t epoch;   /* R_AT, R_FROM */
    change *ch;
    int nch;
    int64_t period;  /* step_size, T_max */
    double gamma, eta_min, base_lr;
    bool has_base;   /* base_lr given, or taken when the rule first ran */
} rule;

struct nn_schedule {
    rule *r;
    int n;
};

nn_schedule *nn_schedule_new(void) { return calloc(1, sizeof(nn_schedule)); }

static void rule_free(rule *r)
{
    for (int i = 0; i < r->nch; i++) {
        free(r->ch[i].key);
        free(r->ch[i].value);
    }
    free(r->ch);
    free(r->text);
}

void nn_schedule_free(nn_schedule *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) rule_free(&s->r[i]);
    free(s->r);
    free(s);
}

int nn_schedule_count(const nn_schedule *s) { return s ? s->n : 0; }

/* The shortest text that reads back as the same double. */
static void fmt_double(char *t, size_t len, double v)
{
    snprintf(t, len, "%.15g", v);
    if (strtod(t, NULL) != v) snprintf(t, len, "%.17g", v);
}

static char *trimmed(const char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char *t = malloc(n + 1);
    if (t) {
        memcpy(t, s, n);
        t[n] = 0;
    }
    return t;
}

static bool parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

static bool parse_whole(const char *s, int64_t min, int64_t *out)
{
    if (!isdigit((unsigned char)*s)) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < min) return false;
    *out = v;
    return true;
}

static nn_status push(nn_schedule *s, rule *r, char **err)
{
    rule *grown = realloc(s->r, (size_t)(s->n + 1) * sizeof *grown);
    if (!grown) {
        rule_free(r);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    s->r = grown;
    s->r[s->n++] = *r;
    return NN_OK;
}

/* Splits r->text after skip characters into words; each is handed to fn. */
typedef nn_status (*word_fn)(rule *r, char *word, char **err);

static nn_status each_word(rule *r, size_t skip, word_fn fn, char **err)
{
    char *copy = nn_strdup(r->text + skip);
    if (!copy) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_status st = NN_OK;
    char *save = NULL;
    for (char *w = strtok_r(copy, " \t\n", &save); w && !st; w = strtok_r(NULL, " \t\n", &save))
        st = fn(r, w, err);
    free(copy);
    return st;
}

static nn_status add_change(rule *r, char *w, char **err)
{
    char *eq = strchr(w, '=');
    if (!eq || eq == w || (eq == w + 1 && w[0] == '*'))
        return nn_fail(err, NN_INVALID, "schedule '%s': expected key=value or key*=factor, got '%s'",
                       r->text, w);
    bool mul = eq[-1] == '*';
    change c = {0};
    if (mul && !parse_number(eq + 1, &c.factor))
        return nn_fail(err, NN_INVALID, "schedule '%s': '%s' %s", r->text, w,
                       eq[1] ? "has a factor that is not a finite number" : "has no factor");
    for (int i = 0; i < r->nch; i++)
        if (strlen(r->ch[i].key) == (size_t)(eq - w - mul) &&
            !strncmp(r->ch[i].key, w, (size_t)(eq - w - mul)))
            return nn_fail(err, NN_INVALID, "schedule '%s': '%s' changed twice", r->text,
                           r->ch[i].key);
    *(eq - mul) = 0;
    change *grown = realloc(r->ch, (size_t)(r->nch + 1) * sizeof *grown);
    if (!grown) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    r->ch = grown;
    c.key = nn_strdup(w);
    c.value = mul ? NULL : nn_strdup(eq + 1);
    if (!c.key || (!mul && !c.value)) {
        free(c.key);
        free(c.value);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    r->ch[r->nch++] = c;
    return NN_OK;
}

nn_status nn_schedule_add(nn_schedule *s, const char *text, char **err)
{
    rule r = {.kind = R_AT};
    if (!(r.text = trimmed(text))) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    size_t n = strcspn(r.text, ":");
    nn_status st = NN_OK;
    if (strpbrk(r.text, "\n\r")) {
        st = nn_fail(err, NN_INVALID, "schedule '%s': a rule is one line", r.text);
    } else if (!r.text[n]) {
        st = nn_fail(err, NN_INVALID, "schedule '%s': expected 'E: key=value ...' or "
                     "'E+: key=value key*=factor ...'", r.text);
    } else {
        char head[32];
        snprintf(head, sizeof head, "%.*s", (int)(n < sizeof head - 1 ? n : sizeof head - 1),
                 r.text);
        size_t hl = strlen(head);
        if (hl && head[hl - 1] == '+') {
            r.kind = R_FROM;
            head[--hl] = 0;
        }
        if (n >= sizeof head || !parse_whole(head, 0, &r.epoch))
            st = nn_fail(err, NN_INVALID, "schedule '%s': '%.*s' is not an epoch (a whole number "
                         "E >= 0, as 'E:' or 'E+:')", r.text, (int)n, r.text);
    }
    if (!st) st = each_word(&r, n + 1, add_change, err);
    if (!st && r.nch == 0)
        st = nn_fail(err, NN_INVALID, "schedule '%s': no key=value after the epoch", r.text);
    if (st) {
        rule_free(&r);
        return st;
    }
    return push(s, &r, err);
}

/* "key=value" of a named lr schedule. */
static nn_status lr_word(rule *r, char *w, char **err)
{
    char *eq = strchr(w, '=');
    const char *name = r->kind == R_STEP ? "step" : r->kind == R_EXPONENTIAL ? "exponential"
                                                                             : "cosine";
    if (!eq || eq == w)
        return nn_fail(err, NN_INVALID, "lr-schedule '%s': expected key=value, got '%s'", r->text, w);
    *eq = 0;
    const char *v = eq + 1;
    bool ok;
    if (r->kind == R_STEP && !strcmp(w, "step_size"))
        ok = parse_whole(v, 1, &r->period);
    else if (r->kind == R_COSINE && !strcmp(w, "T_max"))
        ok = parse_whole(v, 1, &r->period);
    else if (r->kind != R_COSINE && !strcmp(w, "gamma"))
        ok = parse_number(v, &r->gamma) && r->gamma > 0;
    else if (r->kind == R_COSINE && !strcmp(w, "eta_min"))
        ok = parse_number(v, &r->eta_min) && r->eta_min >= 0;
    else if (!strcmp(w, "base_lr"))
        ok = (r->has_base = parse_number(v, &r->base_lr)) && r->base_lr >= 0;
    else
        return nn_fail(err, NN_INVALID, "lr-schedule '%s': %s has no property '%s'; valid: %s",
                       r->text, name, w,
                       r->kind == R_STEP ? "step_size, gamma, base_lr"
                       : r->kind == R_EXPONENTIAL ? "gamma, base_lr"
                                                  : "T_max, eta_min, base_lr");
    if (!ok)
        return nn_fail(err, NN_INVALID, "lr-schedule '%s': %s=%s is not %s", r->text, w, v,
                       !strcmp(w, "step_size") || !strcmp(w, "T_max") ? "a whole number >= 1"
                       : !strcmp(w, "gamma") ? "a finite number > 0"
                                             : "a finite number >= 0");
    return NN_OK;
}

nn_status nn_schedule_add_lr(nn_schedule *s, const char *spec, char **err)
{
    rule r = {.gamma = NAN};
    if (!(r.text = trimmed(spec))) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    size_t n = strcspn(r.text, " \t\n\r");
    nn_status st = NN_OK;
    if (strpbrk(r.text, "\n\r")) {
        st = nn_fail(err, NN_INVALID, "lr-schedule '%s': a schedule is one line", r.text);
    } else if (n == 4 && !strncmp(r.text, "step", 4)) {
        r.kind = R_STEP;
        r.gamma = 0.1; /* StepLR's default */
    } else if (n == 11 && !strncmp(r.text, "exponential", 11)) {
        r.kind = R_EXPONENTIAL;
    } else if (n == 6 && !strncmp(r.text, "cosine", 6)) {
        r.kind = R_COSINE;
    } else {
        st = nn_fail(err, NN_INVALID, "lr-schedule '%s': unknown schedule '%.*s'; valid: step, "
                     "exponential, cosine", r.text, (int)n, r.text);
    }
    if (!st) st = each_word(&r, n, lr_word, err);
    if (!st && (r.kind == R_EXPONENTIAL ? isnan(r.gamma) : r.period == 0))
        st = nn_fail(err, NN_INVALID, "lr-schedule '%s': %s is required", r.text,
                     r.kind == R_STEP ? "step_size" : r.kind == R_COSINE ? "T_max" : "gamma");
    if (st) {
        rule_free(&r);
        return st;
    }
    return push(s, &r, err);
}

nn_status nn_schedule_parse_text(nn_schedule *s, const char *text, char **err)
{
    char *copy = nn_strdup(text ? text : "");
    if (!copy) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_status st = NN_OK;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && !st; line = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*line)) line++;
        if (!*line) continue;
        if (!strncmp(line, "schedule ", 9))
            st = nn_schedule_add(s, line + 9, err);
        else if (!strncmp(line, "lr-schedule ", 12))
            st = nn_schedule_add_lr(s, line + 12, err);
        else
            st = nn_fail(err, NN_FORMAT, "schedule text: '%s' is neither 'schedule RULE' nor "
                         "'lr-schedule SPEC'", line);
    }
    free(copy);
    return st;
}

char *nn_schedule_text(const nn_schedule *s)
{
    nn_buf b = {0};
    for (int i = 0; s && i < s->n; i++) {
        const rule *r = &s->r[i];
        char g[32], e[32], base[48] = "";
        fmt_double(g, sizeof g, r->gamma);
        fmt_double(e, sizeof e, r->eta_min);
        if (r->has_base) {
            strcpy(base, " base_lr=");
            fmt_double(base + 9, sizeof base - 9, r->base_lr);
        }
        switch (r->kind) {
        case R_AT:
        case R_FROM: nn_buf_addf(&b, "schedule %s\n", r->text); break;
        case R_STEP:
            nn_buf_addf(&b, "lr-schedule step step_size=%lld gamma=%s%s\n", (long long)r->period,
                        g, base);
            break;
        case R_EXPONENTIAL: nn_buf_addf(&b, "lr-schedule exponential gamma=%s%s\n", g, base); break;
        case R_COSINE:
            nn_buf_addf(&b, "lr-schedule cosine T_max=%lld eta_min=%s%s\n", (long long)r->period,
                        e, base);
            break;
        }
    }
    return nn_buf_take(&b);
}

/* The property key of o, or NULL. */
static const nn_prop_def *prop_of(const nn_optim *o, const char *key)
{
    int i = nn_props_index(o->props, key);
    return i < 0 ? NULL : &o->comp->def->props[i];
}

static nn_status set_number(nn_optim *o, const rule *r, const char *key, double v, int64_t epoch,
                            char **err)
{
    char t[32];
    fmt_double(t, sizeof t, v);
    nn_status st = nn_optim_set(o, key, t, err);
    if (st)
        nn_fail_context(err, st, "%sschedule '%s' at epoch %lld", r->kind >= R_STEP ? "lr-" : "",
                        r->text, (long long)epoch);
    return st;
}

/* lr for epoch e >= 1 from the lr of epoch e-1, as torch.optim.lr_scheduler
 * (1.13) steps it: the recursive ("chainable") forms of get_lr(). */
static double next_lr(const rule *r, double lr, int64_t e)
{
    const double pi = 3.141592653589793; /* math.pi */
    switch (r->kind) {
    case R_STEP: return e % r->period == 0 ? lr * r->gamma : lr;
    case R_EXPONENTIAL: return lr * r->gamma;
    default: {
        double T = (double)r->period;
        if ((e - 1 - r->period) % (2 * r->period) == 0)
            return lr + (r->base_lr - r->eta_min) * (1 - cos(pi / T)) / 2;
        return (1 + cos(pi * (double)e / T)) / (1 + cos(pi * (double)(e - 1) / T)) *
                   (lr - r->eta_min) + r->eta_min;
    }
    }
}

static nn_status apply_rule(rule *r, nn_optim *o, int64_t epoch, char **err)
{
    nn_status st = NN_OK;
    if (r->kind == R_AT || r->kind == R_FROM) {
        if (r->kind == R_AT ? epoch != r->epoch : epoch < r->epoch) return NN_OK;
        for (int i = 0; i < r->nch && !st; i++) {
            const change *c = &r->ch[i];
            if (c->value) {
                if ((st = nn_optim_set(o, c->key, c->value, err)))
                    nn_fail_context(err, st, "schedule '%s' at epoch %lld", r->text,
                                    (long long)epoch);
            } else {
                double v;
                if (nn_optim_get(o, c->key, &v))
                    return nn_fail(err, NN_INVALID, "schedule '%s': %s has no number '%s'",
                                   r->text, nn_optim_name(o), c->key);
                st = set_number(o, r, c->key, v * c->factor, epoch, err);
            }
        }
        return st;
    }
    double lr;
    if (nn_optim_get(o, "lr", &lr))
        return nn_fail(err, NN_INVALID, "lr-schedule '%s': %s has no lr", r->text,
                       nn_optim_name(o));
    if (!r->has_base) { /* PyTorch's initial_lr: the lr when the schedule starts */
        r->base_lr = lr;
        r->has_base = true;
    }
    if (epoch == 0) return set_number(o, r, "lr", r->base_lr, epoch, err);
    return set_number(o, r, "lr", next_lr(r, lr, epoch), epoch, err);
}

nn_status nn_schedule_apply(nn_schedule *s, nn_optim *o, int64_t epoch, char **err)
{
    nn_status st = NN_OK;
    for (int i = 0; s && i < s->n && !st; i++) st = apply_rule(&s->r[i], o, epoch, err);
    return st;
}

/* What can be said of a rule without running it. */
static nn_status check_static(const rule *r, const nn_optim *o, char **err)
{
    const char *name = nn_optim_name(o);
    if (r->kind >= R_STEP) {
        const nn_prop_def *d = prop_of(o, "lr");
        if (!d || d->type != NN_PROP_FLOAT)
            return nn_fail(err, NN_INVALID, "lr-schedule '%s': %s has no float property 'lr'",
                           r->text, name);
        return NN_OK;
    }
    for (int i = 0; i < r->nch; i++) {
        const change *c = &r->ch[i];
        const nn_prop_def *d = prop_of(o, c->key);
        if (!d || c->value) { /* an unknown key, or a value of the wrong type or range */
            nn_props *tmp = nn_props_clone(o->props);
            nn_status st = tmp ? nn_props_set(tmp, c->key, c->value ? c->value : "", err)
                               : nn_fail(err, NN_NO_MEMORY, "out of memory");
            nn_props_free(tmp);
            if (st) return nn_fail_context(err, st, "schedule '%s'", r->text);
            continue;
        }
        if (d->type != NN_PROP_FLOAT)
            return nn_fail(err, NN_INVALID, "schedule '%s': '%s*=' multiplies float properties "
                           "only; %s's %s is %s", r->text, c->key, name, c->key,
                           nn_prop_type_name(d->type));
        if (c->factor < 0 && d->min <= d->max && (d->min >= 0 || d->max <= 0))
            return nn_fail(err, NN_INVALID, "schedule '%s': %s*=%g would take %s out of its range "
                           "[%g, %g]", r->text, c->key, c->factor, c->key, d->min, d->max);
    }
    return NN_OK;
}

nn_status nn_schedule_check(nn_schedule *s, const nn_optim *o, int64_t first, int64_t end,
                            char **err)
{
    if (!s || !s->n) return NN_OK;
    for (int i = 0; i < s->n; i++) {
        nn_status st = check_static(&s->r[i], o, err);
        if (st) return st;
    }
    /* A dry run on a copy of the hyper-parameters: every value the rules will
     * set is validated as nn_optim_set validates it. */
    nn_optim tmp = *o;
    if (!(tmp.props = nn_props_clone(o->props))) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    bool *had = calloc((size_t)s->n, sizeof *had);
    if (!had) {
        nn_props_free(tmp.props);
        return nn_fail(err, NN_NO_MEMORY, "out of memory");
    }
    for (int i = 0; i < s->n; i++) had[i] = s->r[i].has_base;
    nn_status st = NN_OK;
    for (int64_t e = first; e < end && !st; e++) st = nn_schedule_apply(s, &tmp, e, err);
    for (int i = 0; i < s->n; i++) s->r[i].has_base = had[i];
    free(had);
    nn_props_free(tmp.props);
    return st;
}
