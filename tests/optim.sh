#!/bin/sh
# optim.sh - command-line tests of the standard optimizers (adam, adamw,
# rmsprop, adagrad): training, `nnrun check`, `nnrun inspect` and the
# refusal of bad hyper-parameters, run by make check. The harness is
# tests/lib.sh.
. "$top_srcdir/tests/lib.sh"

# accuracy_at_least A: the last epoch line is epoch 999 with accuracy >= A.
accuracy_at_least() {
    awk -v a="$1" '/^epoch:/ { e = $2; acc = $NF }
                   END { exit !(e == "999" && acc + 0 >= a + 0) }' "$tmp/out"
}

# ---- training the circle ------------------------------------------------------------

run train --optim 'adam lr=0.01' --epochs 1000
check "train --optim 'adam lr=0.01' reaches accuracy >= 0.95 in 1000 epochs" eval \
    'status_is 0 && accuracy_at_least 0.95'
for spec in 'adamw lr=0.01' 'adam lr=0.01 amsgrad=true' 'rmsprop' 'rmsprop centered=true momentum=0.5 lr=0.005' \
    'adagrad lr=0.1'; do
    run train --optim "$spec" --epochs 1000
    check "train --optim '$spec' reaches accuracy >= 0.95 in 1000 epochs" eval \
        'status_is 0 && accuracy_at_least 0.95'
done
run train --optim 'adam lr=0.01' --epochs 1000
cp "$tmp/out" "$tmp/a1"
run train --optim 'adam lr=0.01' --epochs 1000
check "two adam runs with the same seed print the same lines but the time" eval \
    'status_is 0 && grep "^epoch:" "$tmp/a1" >"$tmp/l1" && grep "^epoch:" "$tmp/out" >"$tmp/l2" &&
     [ -s "$tmp/l1" ] && cmp -s "$tmp/l1" "$tmp/l2"'
run train --optim 'adam lr=0.01 betas=0.3,0.999' --epochs 1000
check "betas=0.3,0.999 changes the run" eval \
    'status_is 0 && grep "^epoch:" "$tmp/out" >"$tmp/l2" && ! cmp -s "$tmp/l1" "$tmp/l2"'

# ---- nnrun check: descent, and each update op ---------------------------------------

for name in adam adamw rmsprop adagrad; do
    run check "$name"
    check "check $name passes, descent and its op included" eval \
        'status_is 0 && out_has "^ok   loss after 200 steps / loss before" &&
         out_has "^op ${name}_update: " && out_has "^check $name: all [0-9]* checks passed$"'
    run check "${name}_update"
    check "check ${name}_update passes" eval 'status_is 0 && out_has "^check ${name}_update: all"'
done
run check adam amsgrad=true weight_decay=0.1
check "check 'adam amsgrad=true weight_decay=0.1' passes" eval 'status_is 0 && out_has "checks passed$"'
run check rmsprop centered=true momentum=0.9
check "check 'rmsprop centered=true momentum=0.9' passes" eval 'status_is 0 && out_has "checks passed$"'

# ---- inspect: the list property ------------------------------------------------------

run inspect adam
check "inspect adam shows betas as floats with its default and range" eval \
    'status_is 0 && out_has "^  betas  *floats  *default: 0\.9,0\.999  *range: \[0, 1\]$"'
check "inspect adam shows PyTorch's defaults" eval \
    'out_has "^  lr  *float  *default: 0\.001 " && out_has "^  eps  *float  *default: 1e-8 " &&
     out_has "^  amsgrad  *bool  *default: false"'
run inspect adamw
check "inspect adamw: weight_decay defaults to 0.01" out_has "^  weight_decay  *float  *default: 0\.01 "
run inspect rmsprop
check "inspect rmsprop: lr 0.01, alpha 0.99, centered false" eval \
    'status_is 0 && out_has "^  lr  *float  *default: 0\.01 " && out_has "^  alpha  *float  *default: 0\.99 " &&
     out_has "^  centered  *bool  *default: false"'
run inspect adagrad
check "inspect adagrad: eps 1e-10, initial_accumulator_value 0" eval \
    'status_is 0 && out_has "^  eps  *float  *default: 1e-10 " &&
     out_has "^  initial_accumulator_value  *float  *default: 0 "'
run inspect adam_update
check "inspect adam_update: no gradient, max_exp_avg_sq optional" eval \
    'status_is 0 && out_has "^backward: no gradient$" && out_has "max_exp_avg_sq"'
run plugins
check "plugins lists adam, adamw, rmsprop and adagrad as optimizers" eval \
    'status_is 0 && out_has "^optimizer  *adam " && out_has "^optimizer  *adamw " &&
     out_has "^optimizer  *rmsprop " && out_has "^optimizer  *adagrad "'

# ---- bad hyper-parameters: one line, exit status 1 ------------------------------------

user_error "--optim 'adam betas=0.9' (one number)" train --optim 'adam betas=0.9'
check "the message says two numbers are needed" err_has "betas=0.9 needs 2 comma-separated numbers"
user_error "--optim 'adam betas=0.9,0.999,0.5' (three)" train --optim 'adam betas=0.9,0.999,0.5'
check "the message says two numbers are needed" err_has "needs 2 comma-separated numbers"
user_error "--optim 'adam betas=0.9,x'" train --optim 'adam betas=0.9,x'
check "the message says it is not a list of numbers" err_has "is not a list of 2 finite numbers"
user_error "--optim 'adam betas=0.9,'" train --optim 'adam betas=0.9,'
user_error "--optim 'adam betas=1.5,0.9' (out of range)" train --optim 'adam betas=1.5,0.9'
check "the message gives the range" err_has "1.5 is out of range \[0, 1\]"
user_error "--optim 'adam betas=0.9,1' (beta2 = 1)" train --optim 'adam betas=0.9,1'
check "the message says beta2 must be below 1" err_has "beta2 = 1 is not below 1"
user_error "--optim 'adamw betas=1,0.9' (beta1 = 1)" train --optim 'adamw betas=1,0.9'
check "the message says beta1 must be below 1" err_has "adamw: betas: beta1 = 1 is not below 1"
user_error "--optim 'adam lr=-0.1'" train --optim 'adam lr=-0.1'
user_error "--optim 'rmsprop momentum=-1'" train --optim 'rmsprop momentum=-1'
user_error "--optim 'adagrad initial_accumulator_value=-1'" train --optim 'adagrad initial_accumulator_value=-1'
user_error "--optim 'adam momentum=0.9' (not an adam property)" train --optim 'adam momentum=0.9'
check "the message lists adam's properties" err_has "valid: lr, betas, eps, weight_decay, amsgrad, maximize"

finish
