#!/bin/sh
# threads.sh - the cpu device's threads change how fast a run goes, never its
# numbers: its products (plugins/devices/tiled_gemm.h) and the parts of the
# optimizers' updates it runs on them (nn_kernel_parallel) give every
# element from one fixed sum, whoever computes it. The same training on 1, 2
# and 3 threads (NN_NUM_THREADS) must print the same epochs and save the
# same weights.
. "$top_srcdir/tests/lib.sh"

# wide enough for the threaded products (784 x 300 at batch 64) and a
# threaded update (235,200 weights)
spec='synthetic n=640 shape=784 classes=10'
train_with() { # THREADS
    run_env NN_NUM_THREADS=$1 train --data "$spec" --model 'linear out=300 ! relu ! linear out=10' \
        --loss cross_entropy --optim 'sgd lr=0.05 momentum=0.9' --batch 64 --epochs 3 \
        --log-every 1 --save "$tmp/t$1.pb"
    grep -e '^before' -e '^epoch' "$tmp/out" >"$tmp/epochs$1"
    "$NNRUN" params "$tmp/t$1.pb" --values >"$tmp/values$1" 2>&1
}

train_with 1
check "1 thread: trains and saves" eval 'status_is 0 && last_epoch_is 2 && [ -s "$tmp/values1" ]'
for t in 2 3; do
    train_with $t
    check "$t threads: the epochs and the saved weights of 1 thread" \
        eval 'status_is 0 && cmp -s "$tmp/epochs1" "$tmp/epochs'$t'" && cmp -s "$tmp/values1" "$tmp/values'$t'"'
done

# the other optimizers' updates are split among the threads too (from 32K
# elements)
for opt in 'adam lr=0.001' 'adamw lr=0.001' 'rmsprop lr=0.001 momentum=0.5 centered=true' \
    'adagrad lr=0.01'; do
    name=${opt%% *}
    for t in 1 2; do
        run_env NN_NUM_THREADS=$t train --data "$spec" --model 'linear out=300 ! relu ! linear out=10' \
            --loss cross_entropy --optim "$opt" --batch 64 --epochs 2 --log-every 1 \
            --save "$tmp/$name$t.pb"
        grep -e '^before' -e '^epoch' "$tmp/out" >"$tmp/${name}_epochs$t"
        "$NNRUN" params "$tmp/$name$t.pb" --values >"$tmp/${name}_values$t" 2>&1
    done
    check "$name on 2 threads: the epochs and the saved weights of 1 thread" \
        eval 'status_is 0 && [ -s "$tmp/${name}_values1" ] && cmp -s "$tmp/${name}_epochs1" "$tmp/${name}_epochs2" && cmp -s "$tmp/${name}_values1" "$tmp/${name}_values2"'
done

# a dataset that allows it (idx) has its batches gathered on the threads
fm=/usr/share/datasets/fashion-mnist
if [ -r "$fm/t10k-images-idx3-ubyte.gz" ]; then
    for t in 1 2; do
        run_env NN_NUM_THREADS=$t train --data "fashion_mnist split=test root=$fm" \
            --model 'flatten ! linear out=10' --loss cross_entropy --batch 64 --epochs 1 \
            --shuffle epoch --save "$tmp/fm$t.pb"
        grep -e '^before' -e '^epoch' "$tmp/out" >"$tmp/fm_epochs$t"
        "$NNRUN" params "$tmp/fm$t.pb" --values >"$tmp/fm_values$t" 2>&1
    done
    check "fashion_mnist's batches on 2 threads: the epochs and the saved weights of 1 thread" \
        eval 'status_is 0 && [ -s "$tmp/fm_values1" ] && cmp -s "$tmp/fm_epochs1" "$tmp/fm_epochs2" && cmp -s "$tmp/fm_values1" "$tmp/fm_values2"'
    # and on 2 threads each next batch is gathered while the one before
    # trains, also from a subset (--val-split), in evaluation (the val and
    # test figures) and with a last partial batch (8000 of 10000 by 48)
    for t in 1 2; do
        run_env NN_NUM_THREADS=$t train --data "fashion_mnist split=test root=$fm" \
            --model 'flatten ! linear out=32 ! relu ! linear out=10' --loss cross_entropy \
            --batch 48 --epochs 2 --log-every 1 --val-split 0.2 --seed 3 \
            --test "fashion_mnist split=test root=$fm" --save "$tmp/fv$t.pb"
        grep -e '^before' -e '^epoch' -e '^test' "$tmp/out" >"$tmp/fv_epochs$t"
        "$NNRUN" params "$tmp/fv$t.pb" --values >"$tmp/fv_values$t" 2>&1
    done
    check "fashion_mnist with --val-split and --test on 2 threads: the figures and weights of 1" \
        eval 'status_is 0 && grep -q "^test:" "$tmp/fv_epochs2" && cmp -s "$tmp/fv_epochs1" "$tmp/fv_epochs2" && cmp -s "$tmp/fv_values1" "$tmp/fv_values2"'
fi

# OPENBLAS_NUM_THREADS serves when NN_NUM_THREADS is not set
run_env OPENBLAS_NUM_THREADS=2 train --data "$spec" --model 'linear out=300 ! relu ! linear out=10' \
    --loss cross_entropy --optim 'sgd lr=0.05 momentum=0.9' --batch 64 --epochs 3 --log-every 1
grep -e '^before' -e '^epoch' "$tmp/out" >"$tmp/epochs_ob"
check "OPENBLAS_NUM_THREADS=2: the same epochs" eval 'status_is 0 && cmp -s "$tmp/epochs1" "$tmp/epochs_ob"'

# a count that is not one is named, and the default used
for bad in abc 0 -2 2x; do
    run_env NN_NUM_THREADS=$bad train --data "$spec" --model 'linear out=300 ! relu ! linear out=10' \
        --loss cross_entropy --optim 'sgd lr=0.05 momentum=0.9' --batch 64 --epochs 3 --log-every 1
    grep -e '^before' -e '^epoch' "$tmp/out" >"$tmp/epochs_bad"
    check "NN_NUM_THREADS=$bad: refused on stderr, the run goes on with the same epochs" \
        eval 'status_is 0 && err_has "NN_NUM_THREADS=$bad is not a thread count" && cmp -s "$tmp/epochs1" "$tmp/epochs_bad"'
done

finish
