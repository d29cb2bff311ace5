#!/bin/sh
# losses.sh - the standard losses from the command line (mse, l1, smooth_l1,
# cross_entropy, nll, bce_with_logits), run by make check (the harness is
# tests/lib.sh).
. "$top_srcdir/tests/lib.sh"

# Every line of "before:" and "epoch:" has a loss and no accuracy.
loss_only() {
    out_has "^epoch:     2 loss: [0-9.]*\$" && ! out_has "accuracy"
}

run plugins
for name in mse l1 smooth_l1 cross_entropy nll bce_with_logits; do
    check "nnrun plugins lists the loss $name" eval \
        'status_is 0 && awk -v m="$name" '\''$1 == "loss" && $2 == m { f = 1 } END { exit !f }'\'' "$tmp/out"'
done

# ---- regression losses: no accuracy -------------------------------------------

for spec in mse l1 'smooth_l1 beta=0.5'; do
    run train --loss "$spec" --epochs 3 --log-every 1
    check "train --loss '$spec' prints only loss lines, no accuracy" eval 'status_is 0 && loss_only'
done
check "before: shows the loss alone" out_has "^before:      loss: [0-9.]*\$"

run train --loss mse --epochs 3 --save "$tmp/mse.pb"
run eval "$tmp/mse.pb"
check "eval of a run trained with mse prints 'loss: X' alone" eval \
    'status_is 0 && out_has "loss: [0-9.]*\$" && ! out_has "accuracy"'

# ---- losses over classes on the circle (two classes, target 0 or 1) -----------

run train --model 'linear out=5 ! sigmoid ! linear out=2' --loss cross_entropy
check "train --loss cross_entropy with two logits reaches accuracy >= 0.97" eval \
    'status_is 0 && trained_well'
run train --model 'linear out=5 ! sigmoid ! linear out=2' \
    --loss 'cross_entropy label_smoothing=0.1 weight=1,1.5 reduction=sum' --epochs 3
check "train --loss cross_entropy with every property runs and prints the accuracy" eval \
    'status_is 0 && out_has "^epoch:     2 loss: [0-9.]* accuracy: [0-9.]*\$"'
run train --model 'linear out=5 ! sigmoid ! linear out=1' --loss 'bce_with_logits pos_weight=2'
check "train --loss bce_with_logits on logits reaches accuracy >= 0.9" eval \
    'status_is 0 && awk '\''/^epoch:/ { e = $2; a = $NF }
                       END { exit !(e == "999" && a + 0 >= 0.9) }'\'' "$tmp/out"'

user_error "an invalid weight list is refused" \
    train --model 'linear out=2' --loss 'cross_entropy weight=1,x'
check "the message names the property and what it expects" \
    err_has "weight='1,x' is not a comma-separated list of numbers"
user_error "a weight list of the wrong length is refused" \
    train --model 'linear out=2' --loss 'cross_entropy weight=1,2,3'
check "the message gives both lengths" \
    err_has "weight= has 3 values, but the input has 2 classes"
user_error "a pos_weight list that is no list of numbers is refused" \
    train --model 'linear out=1' --loss 'bce_with_logits pos_weight=a'
user_error "a label_smoothing above 1 is refused" \
    train --model 'linear out=2' --loss 'cross_entropy label_smoothing=2'
user_error "a target that is no class index is refused" \
    train --loss cross_entropy --epochs 1
check "the message says which target and the classes" err_has "is not a class index 0 .. 0"

# ---- nnrun check: gradients against central differences, loss and its op --------

for spec in mse l1 smooth_l1 'smooth_l1 beta=0.3' 'smooth_l1 beta=0' cross_entropy \
    'cross_entropy label_smoothing=0.2 weight=1,2,0.5,1 ignore_index=1 reduction=sum' nll \
    'nll weight=0.5,1,2,3 ignore_index=3' bce_with_logits 'bce_with_logits pos_weight=3' \
    'bce_with_logits pos_weight=1,2,3,4 reduction=sum'; do
    # shellcheck disable=SC2086
    run check $spec
    check "nnrun check $spec passes" eval 'status_is 0 && out_has "^check .*: all [0-9]* checks passed"'
done
run check cross_entropy
check "nnrun check cross_entropy draws class indices" out_has "class indices (4)"
check "nnrun check cross_entropy also checks its op" out_has "^op cross_entropy: "
for op in cross_entropy nll_loss binary_cross_entropy_with_logits; do
    run check $op
    check "nnrun check $op passes with and without its optional input" eval \
        'status_is 0 && out_has "(optional inputs absent)"'
done

finish
