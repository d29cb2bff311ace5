/* schedule.c - nnrun's --schedule and --lr-schedule (see schedule.h). */
#include "schedule.h"

#include "escape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int schedule_opt_add(schedule_opts *so, int lr, const char *text, const char **why)
{
    if (so->n == SCHEDULE_MAX) {
        *why = "too many --schedule and --lr-schedule options";
        return 1;
    }
    so->text[so->n] = text;
    so->lr[so->n++] = lr;
    return 0;
}

nn_status schedule_build(const schedule_opts *so, const nn_checkpoint *ck, const nn_optim *o,
                         int64_t first, int64_t end, nn_schedule **out, char **err)
{
    *out = NULL;
    const char *saved = ck && !so->n ? nn_checkpoint_metadata(ck, SCHEDULE_KEY) : NULL;
    if (!so->n && !saved) return NN_OK;
    nn_schedule *s = nn_schedule_new();
    if (!s) return nn_fail(err, NN_NO_MEMORY, "out of memory");
    nn_status st = NN_OK;
    for (int i = 0; i < so->n && !st; i++)
        st = so->lr[i] ? nn_schedule_add_lr(s, so->text[i], err)
                       : nn_schedule_add(s, so->text[i], err);
    if (!st && saved) st = nn_schedule_parse_text(s, saved, err);
    if (!st && !o)
        st = nn_fail(err, NN_INVALID, "a schedule needs an optimizer");
    if (!st) st = nn_schedule_check(s, o, first, end, err);
    if (st) {
        nn_schedule_free(s);
        return st;
    }
    *out = s;
    return NN_OK;
}

void schedule_print(const nn_checkpoint *ck)
{
    const char *text = nn_checkpoint_metadata(ck, SCHEDULE_KEY);
    while (text && *text) {
        size_t n = strcspn(text, "\n"), k = strcspn(text, " \n");
        if (n > k) /* "schedule RULE" as "schedule:  RULE", aligned with the other fields */
        {
            char *key = strndup(text, k), *rule = strndup(text + k + 1, n - k - 1);
            printf("%s:%*s%s\n", esc(key), k < 10 ? (int)(10 - k) : 1, "", esc(rule));
            free(key);
            free(rule);
        }
        text += n + (text[n] == '\n');
    }
}
