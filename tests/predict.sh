#!/bin/sh
# predict.sh - command-line tests of validation (nnrun train --val,
# --val-split), of the test after training (--test) and of nnrun predict,
# run by make check.
. "$top_srcdir/tests/lib.sh"

VAL='circle n=300 seed=9'

# The figures "loss: X accuracy: Y" of the last epoch line's validation, as
# eval prints its own.
last_val() {
    awk '$1 == "epoch:" { l = $0 } END {
        n = split(l, w, " ")
        for (i = 1; i < n; i++) {
            if (w[i] == "val_loss:") vl = w[i + 1]
            if (w[i] == "val_accuracy:") va = w[i + 1]
        }
        print "loss: " vl " accuracy: " va }' "$1"
}

# ---- --val --------------------------------------------------------------

run train --epochs 250 --val "$VAL" --save "$tmp/v.pb"
cp "$tmp/out" "$tmp/val.out"
check "train --val: exit status 0" status_is 0
logged=$(grep -c '^epoch:' "$tmp/val.out")
with_val=$(grep -c '^epoch: .* accuracy: [0-9.]* val_loss: [0-9.]* val_accuracy: [0-9.]*$' "$tmp/val.out")
check "train --val: every logged epoch line (0, 100, 200, 249) shows val_loss and val_accuracy" \
    [ "$logged" -eq 4 ] && [ "$with_val" -eq 4 ]
check "train --val: the line before training shows them too" \
    grep -q '^before: .* val_loss: [0-9.]* val_accuracy: [0-9.]*$' "$tmp/val.out"
check "train --val: one line gives the sizes (1200 train, 300 validation)" \
    grep -qx 'samples:     1200 train, 300 validation' "$tmp/val.out"
run eval "$tmp/v.pb" --data "$VAL"
want=$(last_val "$tmp/val.out")
check "the last epoch's val figures equal nnrun eval on the same data ($want)" \
    [ "$(cat "$tmp/out")" = "$want" ]

# Validation must not change the training: the train figures are those of
# the same run without --val.
run train --epochs 250
grep '^epoch:' "$tmp/out" >"$tmp/plain.ep"
sed 's/ val_loss:.*//' "$tmp/val.out" | grep '^epoch:' >"$tmp/val.ep"
check "train --val: the training figures are those of the run without it" \
    cmp -s "$tmp/plain.ep" "$tmp/val.ep"
check "train without --val prints no val figures and no sizes line" \
    sh -c '! grep -q "val_\|^samples:" "$1"' sh "$tmp/out"

# A loss without an accuracy shows val_loss alone.
run train --epochs 2 --loss mse --val "$VAL"
check "train --loss mse --val: val_loss without val_accuracy" \
    sh -c 'grep -q "^epoch: .* val_loss: [0-9.]*$" "$1" && ! grep -q val_accuracy "$1"' sh "$tmp/out"

# ---- --test ---------------------------------------------------------------

# One evaluation after training: the figures nnrun eval gives for the saved
# network on the same data; printed with --quiet too, after time:.
run train --epochs 60 --log-every 20 --test "$VAL" --save "$tmp/t.pb"
cp "$tmp/out" "$tmp/test.out"
check "train --test: exit status 0" status_is 0
run eval "$tmp/t.pb" --data "$VAL"
check "train --test: its test: figures equal nnrun eval on the same data ($(cat "$tmp/out"))" \
    grep -qx "test: $(cat "$tmp/out")" "$tmp/test.out"
check "train --test: one test: line, after time: and before saved:" \
    sh -c '[ "$(grep -c "^test:" "$1")" = 1 ] &&
        [ "$(grep -n -e "^time:" -e "^test:" -e "^saved:" "$1" | cut -d: -f2 | tr "\n" " ")" = "time test saved " ]' \
    sh "$tmp/test.out"
run train --epochs 60 --log-every 20
grep -v -e '^time:' -e '^test:' -e '^saved:' "$tmp/test.out" >"$tmp/a"
grep -v '^time:' "$tmp/out" >"$tmp/b"
check "train --test: the training figures are those of the run without it" cmp -s "$tmp/a" "$tmp/b"
run train --epochs 60 --test "$VAL" --quiet
check "train --test --quiet: the time: and test: lines only" \
    sh -c '[ "$(cut -d: -f1 "$1" | tr "\n" " ")" = "time test " ] && grep -qx "$2" "$1"' \
    sh "$tmp/out" "$(grep '^test:' "$tmp/test.out")"
run train --epochs 60 --test 'synthetic n=30 shape=3 classes=2'
check "train --test with samples of another shape: refused before training" \
    eval 'status_is 1 && err_has "^nnrun: --test data.s samples are \[3\], the training data.s \[2\]" &&
        ! grep -q "^time:" "$tmp/out"'
run train --epochs 60 --test 'circle n=0'
check "train --test with a bad spec: refused before training, with a message" \
    eval 'status_is 1 && [ -s "$tmp/err" ] && ! grep -q "^time:" "$tmp/out"'

# ---- --val-split ----------------------------------------------------------

run train --data 'circle n=1000' --epochs 30 --log-every 10 --val-split 0.2 --seed 5
cp "$tmp/out" "$tmp/split1.out"
check "train --val-split 0.2: holds out 200 of 1000 samples" \
    grep -qx 'samples:     800 train, 200 validation' "$tmp/split1.out"
run train --data 'circle n=1000' --epochs 30 --log-every 10 --val-split 0.2 --seed 5
grep -v '^time:' "$tmp/split1.out" >"$tmp/a"
grep -v '^time:' "$tmp/out" >"$tmp/b"
check "train --val-split: the same seed gives the same split and run" cmp -s "$tmp/a" "$tmp/b"
run train --data 'circle n=1000' --epochs 1 --val-split 0.25
check "train --val-split 0.25: 750 train, 250 validation" \
    grep -qx 'samples:     750 train, 250 validation' "$tmp/out"

# --resume rebuilds the same split from the saved seed and fraction.
run train --data 'circle n=1000' --epochs 20 --log-every 5 --val-split 0.2 --seed 5 --save "$tmp/h.pb"
check "train --val-split --save: exit status 0" status_is 0
run train --resume "$tmp/h.pb" --epochs 30 --log-every 5
awk '$1 == "epoch:" && $2 + 0 >= 20' "$tmp/out" >"$tmp/resumed"
run train --data 'circle n=1000' --epochs 30 --log-every 5 --val-split 0.2 --seed 5
awk '$1 == "epoch:" && $2 + 0 >= 20' "$tmp/out" >"$tmp/straight"
check "--resume continues with the same split: epochs 20..29 and their val figures match" \
    sh -c '[ -s "$1" ] && grep -q val_loss "$1" && cmp -s "$1" "$2"' sh "$tmp/resumed" "$tmp/straight"

# ---- predict ------------------------------------------------------------

run predict "$tmp/v.pb" --data "$VAL" --targets -o "$tmp/p.csv"
check "predict -o: exit status 0" status_is 0
check "predict: a header and one row per sample (301 lines)" \
    [ "$(wc -l <"$tmp/p.csv")" -eq 301 ]
check "predict: the header is out0,target0,class" [ "$(head -n 1 "$tmp/p.csv")" = out0,target0,class ]
# bce: class 1 exactly when p > 0.5
check "predict (bce): the class is out0 > 0.5 on every row" \
    awk -F, 'NR > 1 { if (($1 > 0.5) != $3) bad++; n++ } END { exit !(n == 300 && !bad) }' "$tmp/p.csv"
# Labels computed independently: an identity model passes circle's points
# through (out0, out1), and circle.c's rule, (x-0.5)^2 + (y-0.5)^2 < 0.1,
# gives each point's class; --targets must agree with it.
run train --data "$VAL" --model identity --loss cross_entropy --epochs 0 --save "$tmp/id.pb"
run predict "$tmp/id.pb" --targets -o "$tmp/pts.csv"
check "predict of an identity model: the points, and targets that follow circle's rule" \
    awk -F, 'NR > 1 { d = ($1 - 0.5) ^ 2 + ($2 - 0.5) ^ 2; if ((d < 0.1) != $3) bad++; n++ }
             END { exit !(n == 300 && !bad) }' "$tmp/pts.csv"
sed 1d "$tmp/pts.csv" | awk -F, '{ print (($1 - 0.5) ^ 2 + ($2 - 0.5) ^ 2 < 0.1) }' >"$tmp/labels"
sed 1d "$tmp/p.csv" | cut -d, -f3 >"$tmp/classes"
acc=$(paste -d, "$tmp/labels" "$tmp/classes" |
      awk -F, '{ c += ($1 == $2); n++ } END { printf "%.4f", c / n }')
run eval "$tmp/v.pb" --data "$VAL"
check "predict: the accuracy of its classes against those labels ($acc) is what eval prints" \
    [ "$(awk '{ print $4 }' "$tmp/out")" = "$acc" ]

run predict "$tmp/v.pb" --data "$VAL" --batch 128
check "predict to stdout, batch 128 (a last batch of 44): 301 lines" \
    [ "$(wc -l <"$tmp/out")" -eq 301 ]
cut -d, -f1,3 "$tmp/p.csv" | sed 1d | cut -d, -f2 >"$tmp/c1"
sed 1d "$tmp/out" | cut -d, -f2 >"$tmp/c2"
check "predict: the classes do not depend on the batch size" cmp -s "$tmp/c1" "$tmp/c2"

run predict "$tmp/v.pb" --targets
check "predict: --data defaults to the checkpoint's (1200 samples)" \
    [ "$(wc -l <"$tmp/out")" -eq 1201 ]

# A loss over class indices: the class is the highest score.
run train --model 'linear out=8 ! tanh ! linear out=2' --loss cross_entropy \
    --optim 'adam lr=0.05' --epochs 100 --save "$tmp/ce.pb"
run predict "$tmp/ce.pb" --data "$VAL" -o "$tmp/ce.csv"
check "predict (cross_entropy): header out0,out1,class" [ "$(head -n 1 "$tmp/ce.csv")" = out0,out1,class ]
check "predict (cross_entropy): the class is the highest score" \
    awk -F, 'NR > 1 { if ((($2 > $1) ? 1 : 0) != $3) bad++; n++ } END { exit !(n == 300 && !bad) }' "$tmp/ce.csv"
run eval "$tmp/ce.pb" --data "$VAL"
ce_acc=$(awk '{ print $4 }' "$tmp/out")
run predict "$tmp/ce.pb" --data "$VAL" --targets
check "predict (cross_entropy): accuracy from its classes and targets equals eval ($ce_acc)" \
    [ "$(awk -F, 'NR > 1 { c += ($3 == $4); n++ } END { printf "%.4f", c / n }' "$tmp/out")" = "$ce_acc" ]

# bce_with_logits: class 1 exactly when the logit is > 0.
run train --model 'linear out=5 ! sigmoid ! linear out=1' --loss bce_with_logits --epochs 50 \
    --save "$tmp/bl.pb"
run predict "$tmp/bl.pb" --data "$VAL"
check "predict (bce_with_logits): the class is out0 > 0 on every row" \
    awk -F, 'NR == 1 { ok = ($0 == "out0,class") } NR > 1 { if (($1 > 0) != $2) bad++; n++ }
             END { exit !(ok && n == 300 && !bad) }' "$tmp/out"
# A loss without classes (mse): the outputs alone.
run train --loss mse --epochs 5 --save "$tmp/mse.pb"
run predict "$tmp/mse.pb" --data "$VAL"
check "predict (mse): no class column" [ "$(head -n 1 "$tmp/out")" = out0 ]

# ---- bad input -------------------------------------------------------------

user_error "train --val-split 1.5 is refused" train --val-split 1.5
user_error "train --val-split 0 is refused" train --val-split 0
user_error "train --val-split abc is refused" train --val-split abc
user_error "train --val with --val-split is refused" train --val "$VAL" --val-split 0.2
user_error "train --val-split leaving no validation sample is refused" \
    train --data 'circle n=3' --batch 1 --val-split 0.1
# A validation set smaller than the batch is scored whole, in one partial batch.
run train --val 'circle n=50' --epochs 1 --save "$tmp/small.pb"
vl=$(sed -n 's/^epoch: *0 .*val_loss: \([0-9.]*\) val_accuracy: \([0-9.]*\)$/loss: \1 accuracy: \2/p' "$tmp/out")
run eval "$tmp/small.pb" --data 'circle n=50'
check "train --val with a batch larger than its data scores all of it, as eval does" \
    eval 'status_is 0 && test -n "$vl" && out_has "^$vl\$"'
user_error "train --resume with --val-split is refused" train --resume "$tmp/h.pb" --val-split 0.3
user_error "train --resume with --val of a run that holds out a split is refused" \
    train --resume "$tmp/h.pb" --val "$VAL"
user_error "predict without a checkpoint is refused" predict
user_error "predict -o into a missing folder is refused" predict "$tmp/v.pb" -o "$tmp/missing/p.csv"
check "predict -o into a missing folder leaves nothing behind" [ ! -e "$tmp/missing" ]
cp "$tmp/p.csv" "$tmp/keep.csv"
user_error "predict with bad data is refused" predict "$tmp/v.pb" --data 'circle n=0' -o "$tmp/p.csv"
check "a failed predict leaves the previous file as it was" cmp -s "$tmp/p.csv" "$tmp/keep.csv"
check "a failed predict leaves no temporary file" \
    sh -c '! ls "$1" | grep -q tmp' sh "$tmp"

finish
