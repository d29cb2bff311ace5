/* schedule.h - nnrun's --schedule and --lr-schedule: built from the options
 * or from a resumed checkpoint, kept in a checkpoint's metadata. */
#ifndef NNRUN_SCHEDULE_H
#define NNRUN_SCHEDULE_H

#include <nn/nn.h>

/* The metadata key that holds the schedule's text (nn_schedule_text). */
#define SCHEDULE_KEY "schedule"

#define SCHEDULE_MAX 32

/* The --schedule and --lr-schedule options in the order given. */
typedef struct {
    const char *text[SCHEDULE_MAX];
    int lr[SCHEDULE_MAX]; /* 1: --lr-schedule */
    int n;
} schedule_opts;

/* Records one option; 1 (and *why set) when there are too many. */
int schedule_opt_add(schedule_opts *so, int lr, const char *text, const char **why);

/* The run's schedule: the options when any are given, else the one saved in
 * ck (may be NULL), checked against o for epochs first .. end-1. *out is NULL
 * when there is none. */
nn_status schedule_build(const schedule_opts *so, const nn_checkpoint *ck, const nn_optim *o,
                         int64_t first, int64_t end, nn_schedule **out, char **err);

/* inspect FILE: one line per saved rule, "schedule:  RULE" or "lr-schedule: SPEC". */
void schedule_print(const nn_checkpoint *ck);

#endif
