#!/bin/sh
# schedule.sh - command-line tests of --schedule and --lr-schedule: the
# values they leave (as nnrun inspect prints them), resuming a scheduled run,
# PyTorch's lr sequences (tests/golden/lr_schedules.txt) and malformed rules.
. "$top_srcdir/tests/lib.sh"

LR_DATA=$top_srcdir/tests/golden/lr_schedules.txt

# The value of "KEY: value" in nnrun inspect's output ($tmp/out).
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' "$tmp/out"; }
# The value of property KEY in the optimizer field.
hparam() { field optimizer | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# The "epoch: N ..." lines of FILE with N >= FROM.
epochs_from() { awk -v f="$2" '$1 == "epoch:" && $2 + 0 >= f + 0' "$1"; }

# fmt X: awk's double X as nn prints a float property: %.15g when it reads
# back as the same double, else %.17g.
fmt='function fmt(x,  t) { t = sprintf("%.15g", x); if (t + 0 != x) t = sprintf("%.17g", x); return t }'

# ---- rules: 1000: momentum=0.3, 1000+: lr*=0.9999 -----------------------------------

S1='1000: momentum=0.3'
S2='1000+: lr*=0.9999'
run train --epochs 1100 --schedule "$S1" --schedule "$S2" --save "$tmp/s.nn"
check "train --epochs 1100 with two --schedule rules trains and saves" eval \
    'status_is 0 && last_epoch_is 1099 && out_has "^saved: "'
cp "$tmp/out" "$tmp/straight.out"
# 0.5 * 0.9999^100 as 100 multiplications in double, the way the rule runs.
want=$(awk "$fmt"' BEGIN { x = 0.5; for (i = 0; i < 100; i++) x *= 0.9999; print fmt(x) }')
run inspect "$tmp/s.nn"
check "inspect: lr is 0.5*0.9999^100 (100 epochs from 1000 to 1099) printed as $want" eval \
    '[ "$(hparam lr)" = "$want" ] && [ "$want" = 0.49502466934568606 ]'
check "inspect: momentum is 0.3, the other properties as given" eval \
    '[ "$(field optimizer)" = "sgd lr=$want momentum=0.3 dampening=0 weight_decay=0 nesterov=false" ]'
check "inspect: the schedules, in the order given" eval \
    '[ "$(grep "^schedule:" "$tmp/out")" = "schedule:  $S1
schedule:  $S2" ]'

if command -v protoc >/dev/null 2>&1; then
    protoc --decode=nn.Checkpoint -I "$top_srcdir/proto" "$top_srcdir/proto/nn.proto" \
        <"$tmp/s.nn" >"$tmp/decoded" 2>"$tmp/err"
    check "protoc: the schedules are the checkpoint's metadata entry 'schedule'" \
        grep -qF 'value: "schedule 1000: momentum=0.3\nschedule 1000+: lr*=0.9999\n"' "$tmp/decoded"
else
    pass "protoc: the schedules are the checkpoint's metadata entry 'schedule' # SKIP no protoc"
fi

# ---- resume -------------------------------------------------------------------------

run train --epochs 1050 --schedule "$S1" --schedule "$S2" --save "$tmp/r.nn"
check "the same run stopped at 1050 saves" status_is 0
run train --resume "$tmp/r.nn" --epochs 1100 --save "$tmp/r.nn"
check "resumed to 1100 without the options: the same final line as the straight run" eval \
    'status_is 0 && [ "$(grep "^epoch:  1099 " "$tmp/out")" = "$(grep "^epoch:  1099 " "$tmp/straight.out")" ] &&
     out_has "for 50 epochs"'
run inspect "$tmp/r.nn"
check "the resumed run's checkpoint: the same lr and momentum, the schedules kept" eval \
    '[ "$(hparam lr)" = "$want" ] && [ "$(hparam momentum)" = 0.3 ] &&
     [ "$(grep -c "^schedule:" "$tmp/out")" = 2 ]'

# Options given at resume replace the saved schedule.
run train --epochs 1050 --schedule "$S1" --schedule "$S2" --save "$tmp/x.nn"
run train --resume "$tmp/x.nn" --epochs 1100 --schedule '1060+: lr*=0.5' --save "$tmp/x.nn"
check "resume with --schedule '1060+: lr*=0.5' trains" status_is 0
want2=$(awk "$fmt"' BEGIN { x = 0.5; for (i = 0; i < 50; i++) x *= 0.9999;
                            for (i = 0; i < 40; i++) x *= 0.5; print fmt(x) }')
run inspect "$tmp/x.nn"
check "its lr: 0.5*0.9999^50 (saved) *0.5^40 (epochs 1060..1099) = $want2, the saved 0.9999 rule gone" eval \
    '[ "$(hparam lr)" = "$want2" ] && [ "$(hparam momentum)" = 0.3 ] &&
     [ "$(grep "^schedule:" "$tmp/out")" = "schedule:  1060+: lr*=0.5" ]'

# A spec file takes them as lines.
printf 'epochs 1100\nschedule %s\nschedule %s\nsave %s\n' "$S1" "$S2" "$tmp/f.nn" >"$tmp/spec"
run train "$tmp/spec"
check "a spec file's 'schedule RULE' lines give the same final line" eval \
    'status_is 0 && [ "$(grep "^epoch:  1099 " "$tmp/out")" = "$(grep "^epoch:  1099 " "$tmp/straight.out")" ]'

# ---- lr schedules against PyTorch ---------------------------------------------------

# lr_case NAME: "SPEC|OPTIM|EPOCHS|LAST" of the case, LAST the lr of its last epoch.
lr_case() {
    awk -F'|' -v n="$1" '$1 == n { k = split($4, v, " "); print $2 "|" $3 "|" k "|" v[k] }' "$LR_DATA"
}

for name in step3 step7 exp exp_up cos10 cos7 cos1; do
    c=$(lr_case $name)
    spec=${c%%|*}
    rest=${c#*|}
    optim=${rest%%|*}
    rest=${rest#*|}
    epochs=${rest%%|*}
    torch_lr=${rest#*|}
    run train --optim "$optim" --lr-schedule "$spec" --epochs "$epochs" --save "$tmp/l.nn"
    if status_is 0 && run inspect "$tmp/l.nn" && status_is 0; then
        got=$(hparam lr)
        check "--lr-schedule '$spec', $epochs epochs: lr $got, PyTorch's $torch_lr (1e-6 relative)" \
            awk -v g="$got" -v w="$torch_lr" 'BEGIN { d = g - w; if (d < 0) d = -d; a = w < 0 ? -w : w
                                                     exit !(g != "" && d <= 1e-6 * a + 1e-15) }'
    else
        fail "--lr-schedule '$spec' trains and saves"
    fi
done

run train --optim 'sgd lr=0.5' --lr-schedule 'cosine T_max=10 eta_min=0.01' --epochs 45 \
    --log-every 1 --save "$tmp/c.nn"
cp "$tmp/out" "$tmp/cos.out"
run inspect "$tmp/c.nn"
check "inspect shows the lr schedule with its base_lr" eval \
    '[ "$(field lr-schedule)" = "cosine T_max=10 eta_min=0.01 base_lr=0.5" ]'
lr_straight=$(hparam lr)
run train --optim 'sgd lr=0.5' --lr-schedule 'cosine T_max=10 eta_min=0.01' --epochs 17 \
    --save "$tmp/c2.nn"
run train --resume "$tmp/c2.nn" --epochs 45 --log-every 1 --save "$tmp/c2.nn"
check "cosine stopped at 17 and resumed to 45: the same epoch lines 17..44" eval \
    'status_is 0 && [ "$(epochs_from "$tmp/out" 17)" = "$(epochs_from "$tmp/cos.out" 17)" ] &&
     [ "$(grep -c "^epoch:" "$tmp/out")" = 28 ]'
run inspect "$tmp/c2.nn"
check "and the same final lr" eval '[ "$(hparam lr)" = "$lr_straight" ] && [ -n "$lr_straight" ]'

# ---- malformed rules are refused before training --------------------------------------

# refused DESC PART ARGS...: a one-line user error naming PART, before any epoch, nothing saved.
refused() {
    desc=$1
    part=$2
    shift 2
    rm -f "$tmp/bad.nn"
    run train --epochs 20 --save "$tmp/bad.nn" "$@"
    user_error_result "$desc"
    check "  ... before training, naming $part" eval \
        'err_has "$part" && ! out_has "^before:" && [ ! -e "$tmp/bad.nn" ]'
}

refused "--schedule 'x: lr=1'" "'x' is not an epoch" --schedule 'x: lr=1'
refused "--schedule '5: nosuch=1'" "unknown property 'nosuch'" --schedule '5: nosuch=1'
refused "--schedule '5+: momentum*=-1'" "momentum\*=-1 would take momentum out of its range" \
    --schedule '5+: momentum*=-1'
refused "--schedule '5: lr*='" "'lr\*=' has no factor" --schedule '5: lr*='
refused "--schedule '5: dampening=2'" "dampening=2 is out of range" --schedule '5: dampening=2'
refused "--schedule '1+: lr*=100' (lr leaves its range at epoch 5)" "at epoch 5" \
    --schedule '1+: lr*=100'
refused "--lr-schedule 'cosine eta_min=0'" "T_max is required" --lr-schedule 'cosine eta_min=0'
refused "--lr-schedule 'linear'" "unknown schedule 'linear'" --lr-schedule 'linear'
refused "a bad rule after a good one" "'5: nosuch=1'" --schedule '1: lr=0.1' --schedule '5: nosuch=1'
run train --resume "$tmp/s.nn" --epochs 1200 --schedule '1150: nosuch=2'
user_error_result "a bad --schedule at resume is refused too"

run --help
check "--help documents --schedule and --lr-schedule" eval \
    'out_has "--schedule '\''E: key=value" && out_has "--lr-schedule SPEC" && out_has "cosine T_max=N"'

finish
