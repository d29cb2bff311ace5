#!/bin/sh
# faults.sh - a checkpoint save that fails at each of its steps (creating the
# temporary file, writing, fsync, close, rename), with ENOSPC or EIO made by
# the LD_PRELOAD shim tests/faults/shim.c, or a process killed mid-save;
# stale temporary files; save targets refused before training. Run by make
# check.
. "$top_srcdir/tests/lib.sh"

SHIM=$top_builddir/tests/faults/.libs/shim.so
skip() { pass "$1 # SKIP $2"; }
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' "$tmp/out"; }
# No temporary file of NAME in $tmp.
no_tmp() { ! ls -A "$tmp" | grep -q "^$1\.tmp\."; }

# fault SPEC ARGS...: nnrun ARGS with the shim failing the step SPEC.
fault() {
    spec=$1
    shift
    env LD_PRELOAD="$SHIM" NN_FAULT="$spec" "$NNRUN" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

run train --epochs 2 --save "$tmp/old.pb"
check "the shim does nothing without NN_FAULT" eval \
    'env LD_PRELOAD="$SHIM" "$NNRUN" train --epochs 2 --save "$tmp/x.pb" >"$tmp/out" 2>"$tmp/err" &&
     cmp -s "$tmp/x.pb" "$tmp/old.pb"'

# ---- each step fails, with and without an old checkpoint -----------------------------

# step SPEC WORD: the save whose step SPEC fails says WORD, the reason, and
# leaves the old file as it was (or none) and no temporary file.
step() {
    word=$2
    for err in ENOSPC EIO; do
        [ $err = ENOSPC ] && reason="No space left on device" || reason="Input/output error"
        cp "$tmp/old.pb" "$tmp/a.pb"
        fault "$1:$err" train --epochs 3 --save "$tmp/a.pb"
        user_error_result "$1 fails with $err: train --save exits 1 with one message"
        check "... naming the step ($2) and the reason" eval \
            'err_has "$word" && err_has "$reason" && err_has "a\.pb"'
        check "... the old checkpoint is unchanged byte for byte" cmp -s "$tmp/a.pb" "$tmp/old.pb"
        check "... and no temporary file is left" no_tmp a.pb
        rm -f "$tmp/b.pb"
        fault "$1:$err" train --epochs 3 --save "$tmp/b.pb"
        user_error_result "$1 fails with $err on a first save: exits 1"
        check "... and leaves neither b.pb nor a temporary file" eval \
            '[ ! -e "$tmp/b.pb" ] && no_tmp b.pb'
    done
}
step open "creating a temporary file"
step write:1 "writing"
step write:2 "writing"
step fsync "fsync"
step close "closing"
step rename "renaming over it"

# The case above, named: an fsync that fails must not be taken for a sync.
cp "$tmp/old.pb" "$tmp/s.pb"
fault fsync:EIO train --epochs 3 --save "$tmp/s.pb"
user_error_result "a save whose fsync fails exits 1"
run inspect "$tmp/s.pb"
check "... and leaves the old checkpoint loadable" eval 'status_is 0 && [ "$(field epoch)" = 2 ]'

# A periodic save that fails stops the training there, and the file keeps
# the last save that worked (the shim fails the third save's first write).
rm -f "$tmp/p.pb"
fault write:5:ENOSPC train --epochs 10 --log-every 1 --save-every 1 --save "$tmp/p.pb"
user_error_result "a failed --save-every save stops the run with exit 1"
check "... after the epoch whose save failed" eval \
    '! grep -q "^epoch: *3 " "$tmp/out" && grep -q "^epoch: *2 " "$tmp/out"'
run inspect "$tmp/p.pb"
check "... keeping the last good save" eval 'status_is 0 && [ "$(field epoch)" = 2 ]'
check "... and no temporary file" no_tmp p.pb

finish
