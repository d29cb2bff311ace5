#!/bin/sh
# failalloc.sh - allocation failure in load, save and training: the Nth
# allocation made inside nn_checkpoint_load, nn_checkpoint_save, nn_fit or
# nn_fit_epoch fails (tests/failalloc.c, preloaded), for N = 1, 2, 3, ...
# until the run succeeds. Each run must end cleanly: status 1 with one
# "nnrun:" line that says memory ran out, or status 0; never a crash.
. "$top_srcdir/tests/lib.sh"

# The fault shim is preloaded, and a preloaded library cannot come before the
# sanitizers' runtime: these tests run in the normal build only.
if [ -n "${SAN_CFLAGS:-}" ]; then
    echo "0 passed, 0 failed (skipped: failed allocations need a build without --enable-sanitizers)"
    exit 77
fi

SHIM=$top_builddir/tests/.libs/failalloc.so
SMALL='linear out=2 ! sigmoid ! linear out=1 ! sigmoid'
run train --model "$SMALL" --epochs 2 --optim 'adam lr=0.01' --save "$tmp/ck.pb"
check "a small checkpoint to load" status_is 0

# sweep DESC ARGS...: nnrun ARGS with allocation N failed, N = 1, 2, ...
sweep() {
    desc=$1
    shift
    k=1
    bad=""
    while [ "$k" -le 5000 ]; do
        rm -f "$tmp/reached" "$tmp/out.pb"
        env LD_PRELOAD="$SHIM" NN_FAIL_ALLOC=$k NN_FAIL_ALLOC_LOG="$tmp/reached" \
            "$NNRUN" "$@" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        [ -f "$tmp/reached" ] || break # the run made fewer than k allocations
        lines=$(($(wc -l <"$tmp/err")))
        if [ "$rc" -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q '^nnrun: .*memory' "$tmp/err"; then
            bad="allocation $k: exit status $rc, stderr: $(head -c 300 "$tmp/err")"
            break
        fi
        k=$((k + 1))
    done
    if [ -n "$bad" ]; then
        fail "$desc" "$bad"
    elif [ "$rc" -ne 0 ] || [ "$k" -lt 2 ]; then
        fail "$desc" "the run without a failed allocation did not succeed after $k runs"
    else
        pass "$desc ($((k - 1)) allocations failed one by one)"
    fi
}

sweep "load: inspect survives each failed allocation" inspect "$tmp/ck.pb"
sweep "load and build: eval survives each failed allocation" eval "$tmp/ck.pb"
sweep "training and save: train --save survives each failed allocation" \
    train --model "$SMALL" --epochs 2 --batch 600 --save "$tmp/out.pb"
sweep "resume: train --resume survives each failed allocation" \
    train --resume "$tmp/ck.pb" --epochs 3 --save "$tmp/out.pb"
check "no temporary file is left beside the checkpoints" \
    eval '[ -z "$(ls "$tmp" | grep "\.tmp\.")" ]'

finish
