#!/bin/sh
# data.sh - the loader's batches through nnrun: --shuffle sample (training
# quality, exact resume), the last partial batch (kept for evaluation, kept
# or dropped for training), batches larger than the data, and class-index
# targets. Run by make check (the harness is tests/lib.sh).
. "$top_srcdir/tests/lib.sh"

# The value of "KEY: value" in nnrun inspect's output ($tmp/out).
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' "$tmp/out"; }
# The "epoch: N ..." lines of FILE with N >= FROM.
epochs_from() { awk -v f="$2" '$1 == "epoch:" && $2 + 0 >= f + 0' "$1"; }
# "loss: L accuracy: A" of an eval in $tmp/out: the loss, the accuracy.
eval_loss() { awk '$1 == "loss:" { print $2; exit }' "$tmp/out"; }
eval_acc() { awk '$1 == "loss:" { print $4; exit }' "$tmp/out"; }
# near A B TOL: |A - B| <= TOL
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t) }'; }

# ---- --shuffle sample ------------------------------------------------------

run train --shuffle sample
check "--shuffle sample trains the default network to accuracy >= 0.95 at epoch 999" eval \
    'status_is 0 && awk '\''/^epoch:/ { e = $2; a = $NF } END { exit !(e == "999" && a + 0 >= 0.95) }'\'' "$tmp/out"'
cp "$tmp/out" "$tmp/sample"
run train --shuffle epoch
check "--shuffle sample trains on other batches than --shuffle epoch (its epoch 0 line differs)" eval \
    '[ -n "$(epochs_from "$tmp/sample" 0 | head -n 1)" ] &&
     [ "$(epochs_from "$tmp/sample" 0 | head -n 1)" != "$(epochs_from "$tmp/out" 0 | head -n 1)" ]'

run train --shuffle sample --epochs 60 --log-every 1
cp "$tmp/out" "$tmp/s60"
run train --shuffle sample --epochs 23 --save "$tmp/s23.pb"
check "--shuffle sample --save after 23 epochs exits 0" status_is 0
run inspect "$tmp/s23.pb"
check "--shuffle sample is saved as such" eval 'status_is 0 && [ "$(field shuffle)" = sample ]'
run train --resume "$tmp/s23.pb" --epochs 60 --log-every 1
epochs_from "$tmp/s60" 23 >"$tmp/want"
epochs_from "$tmp/out" 0 >"$tmp/got"
check "--shuffle sample: resume at 23 of 60 gives the same epoch lines 23..59 as the straight run" eval \
    'status_is 0 && [ "$(wc -l <"$tmp/want")" -eq 37 ] && cmp -s "$tmp/want" "$tmp/got"'
check "--shuffle sample: the resumed run's final line equals the straight run's" eval \
    '[ "$(tail -n 1 "$tmp/want")" = "$(tail -n 1 "$tmp/got")" ]'

user_error "--shuffle random is refused in one line" train --shuffle random
check "the refusal names the modes" err_has "none, epoch or sample"

# ---- the last partial batch --------------------------------------------------

# 143 samples in batches of 100: two steps an epoch, or one with --drop-last.
run train --data "circle n=143" --epochs 3 --save "$tmp/p.pb"
run inspect "$tmp/p.pb"
check "143 samples at batch 100 train 2 batches an epoch: 6 steps in 3 epochs" eval \
    'status_is 0 && [ "$(field step)" = 6 ]'
run train --data "circle n=143" --epochs 3 --drop-last --save "$tmp/d.pb"
check "--drop-last trains and reports the samples it used" eval \
    'status_is 0 && out_has "^time: .* for 3 epochs"'
run inspect "$tmp/d.pb"
check "--drop-last at 143 samples, batch 100: 1 step an epoch, 3 in 3 epochs" eval \
    'status_is 0 && [ "$(field step)" = 3 ]'
run train --resume "$tmp/d.pb" --epochs 5 --save "$tmp/d5.pb"
run inspect "$tmp/d5.pb"
check "a resumed --drop-last run keeps dropping: 5 steps after 5 epochs" eval \
    'status_is 0 && [ "$(field step)" = 5 ]'
user_error "--drop-last cannot be added to a resumed run" train --resume "$tmp/p.pb" --epochs 5 --drop-last
user_error "--drop-last with a batch larger than the data is refused in one line" \
    train --data "circle n=143" --batch 500 --drop-last --epochs 2
check "and it says why before training" eval '! out_has "^epoch:" && err_has "drop.last"'

run train --data "circle n=143" --batch 500 --epochs 4 --save "$tmp/big.pb"
check "--batch 500 on 143 samples trains in one batch an epoch" status_is 0
run inspect "$tmp/big.pb"
check "--batch 500 on 143 samples: 4 steps in 4 epochs" eval 'status_is 0 && [ "$(field step)" = 4 ]'

# ---- eval scores every sample --------------------------------------------------

run train --data "circle n=143" --epochs 300 --save "$tmp/e.pb"
check "a network trained on 143 samples is saved" status_is 0
run eval "$tmp/e.pb" --batch 143
l143=$(eval_loss)
a143=$(eval_acc)
check "eval in one batch of 143 gives a loss" eval 'status_is 0 && [ -n "$l143" ]'
check "its accuracy counts 143 samples (accuracy * 143 is a whole number)" \
    awk -v a="$a143" 'BEGIN { c = a * 143; r = int(c + 0.5); d = c - r; if (d < 0) d = -d; exit !(a != "" && d < 0.01) }'
for b in 100 50 7 1000; do
    run eval "$tmp/e.pb" --batch "$b"
    check "eval of 143 samples at batch $b gives the one-batch loss $l143 and accuracy $a143" eval \
        'status_is 0 && near "$(eval_loss)" "$l143" 0.00011 && [ "$(eval_acc)" = "$a143" ]'
done
run eval "$tmp/e.pb"
check "eval at the checkpoint's batch (100) scores all 143 samples as one batch does" eval \
    'status_is 0 && near "$(eval_loss)" "$l143" 0.00011 && [ "$(eval_acc)" = "$a143" ]'

# ---- class-index targets ---------------------------------------------------------

# circle's target is one float holding the class (0 or 1): cross_entropy over
# two scores takes it as a class index.
run train --data "circle n=143" --model "linear out=8 ! relu ! linear out=2" --loss cross_entropy \
    --epochs 300 --save "$tmp/ce.pb"
check "cross_entropy on class-index targets trains past accuracy 0.9" eval \
    'status_is 0 && awk '\''/^epoch:/ { a = $NF } END { exit !(a + 0 >= 0.9) }'\'' "$tmp/out"'
run eval "$tmp/ce.pb" --batch 143
lce=$(eval_loss)
ace=$(eval_acc)
run eval "$tmp/ce.pb" --batch 100
check "cross_entropy eval at batch 100 equals one batch of 143" eval \
    'status_is 0 && [ -n "$lce" ] && near "$(eval_loss)" "$lce" 0.00011 && [ "$(eval_acc)" = "$ace" ]'

finish
