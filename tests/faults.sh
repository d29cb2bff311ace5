#!/bin/sh
# faults.sh - a checkpoint save that fails at each of its steps (creating the
# temporary file, writing, fsync, close, rename), with ENOSPC or EIO made by
# the LD_PRELOAD shim tests/faults/shim.c, or a process killed mid-save;
# stale temporary files; save targets refused before training. Run by make
# check.
. "$top_srcdir/tests/lib.sh"

# The fault shim is preloaded, and a preloaded library cannot come before the
# sanitizers' runtime: these tests run in the normal build only.
if [ -n "${SAN_CFLAGS:-}" ]; then
    echo "0 passed, 0 failed (skipped: injected save faults need a build without --enable-sanitizers)"
    exit 77
fi

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

# What two checkpoints hold, but for their file names and save dates (to
# the second, so two saves a moment apart may differ there): the size, the
# header, the parameters' values.
contents() {
    wc -c <"$1"
    "$NNRUN" inspect "$1" | grep -v -e '^file:' -e '^date:'
    "$NNRUN" params "$1" --values
}
same_checkpoint() {
    contents "$1" >"$tmp/c1" && contents "$2" >"$tmp/c2" && cmp -s "$tmp/c1" "$tmp/c2"
}

run train --epochs 2 --save "$tmp/old.pb"
check "the shim does nothing without NN_FAULT" eval \
    'env LD_PRELOAD="$SHIM" "$NNRUN" train --epochs 2 --save "$tmp/x.pb" >"$tmp/out" 2>"$tmp/err" &&
     same_checkpoint "$tmp/x.pb" "$tmp/old.pb"'

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

# ---- a save killed at each step, and the temporary files it leaves ------------------

# A dead process's pid: a child that has exited and been waited for.
sh -c : &
dead=$!
wait "$dead"

for at in write:1 write:2 fsync close rename; do
    cp "$tmp/old.pb" "$tmp/k.pb"
    fault "$at:KILL" train --epochs 3 --save "$tmp/k.pb"
    check "a save killed at $at dies of SIGKILL" status_is 137
    check "... leaving the old checkpoint byte for byte" cmp -s "$tmp/k.pb" "$tmp/old.pb"
    check "... and its temporary file, named with its pid" eval \
        '[ "$(ls -A "$tmp" | grep -c "^k\.pb\.tmp\.[0-9][0-9]*\.......$")" = 1 ]'
    run train --epochs 3 --save "$tmp/k.pb"
    check "the next save to k.pb works" status_is 0
    check "... and removes the killed save's temporary file" no_tmp k.pb
done

# Only nn's own names for that exact target, of processes that are gone.
run train --epochs 2 --save "$tmp/m.pb"
for f in "m.pb.tmp.$dead.AbC123" "m.pb.tmp.$$.AbC123" "m.pb.tmp.$dead.AbC12" \
    "m.pb.tmp.x$dead.AbC123" "m.pb.tmp.AbC123" "n.pb.tmp.$dead.AbC123" \
    "xm.pb.tmp.$dead.AbC123" "m.pb.tmp.$dead.AbC123.keep"; do
    echo stale >"$tmp/$f"
done
run train --epochs 2 --save "$tmp/m.pb"
check "a save removes a temporary file of its target left by a dead process" eval \
    'status_is 0 && [ ! -e "$tmp/m.pb.tmp.$dead.AbC123" ]'
check "... but not one of a live process" test -e "$tmp/m.pb.tmp.$$.AbC123"
check "... nor names that only look like its own" eval \
    'for f in "m.pb.tmp.$dead.AbC12" "m.pb.tmp.x$dead.AbC123" "m.pb.tmp.AbC123" \
        "m.pb.tmp.$dead.AbC123.keep"; do [ -e "$tmp/$f" ] || exit 1; done'
check "... nor those of another target" eval \
    '[ -e "$tmp/n.pb.tmp.$dead.AbC123" ] && [ -e "$tmp/xm.pb.tmp.$dead.AbC123" ]'

# ---- SIGKILL at varied moments of --save-every 1 training -------------------------------

# 30 runs, each resumed from the last and killed after a delay drawn with a
# fixed seed: the file always loads, and a run resumes from it.
run train --epochs 1 --save "$tmp/r.pb"
delays=$(awk 'BEGIN { srand(7); for (i = 0; i < 30; i++) printf "%.3f ", 0.02 + rand() * 0.4 }')
bad=0
last=1
for d in $delays; do
    "$NNRUN" train --resume "$tmp/r.pb" --epochs 100000000 --log-every 100000000 \
        --save-every 1 --save "$tmp/r.pb" >/dev/null 2>"$tmp/kerr" &
    pid=$!
    sleep "$d"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid"
    run inspect "$tmp/r.pb"
    e=$(field epoch)
    if ! status_is 0 || [ -z "$e" ] || [ "$e" -lt "$last" ]; then
        bad=$((bad + 1))
        cp "$tmp/err" "$tmp/bad.err"
    else
        last=$e
    fi
done
check "after 30 runs killed mid-training the checkpoint always loads, its epoch never going back" \
    eval '[ "$bad" = 0 ] || { cat "$tmp/bad.err"; false; }'
run train --resume "$tmp/r.pb" --epochs $((last + 2)) --save "$tmp/r.pb"
check "... a run resumes from it" eval 'status_is 0 && grep -q "^saved:" "$tmp/out"'
run inspect "$tmp/r.pb"
check "... to the epoch asked for" eval '[ "$(field epoch)" = $((last + 2)) ]'
check "... and its save leaves no temporary file of the killed runs" no_tmp r.pb

# ---- targets refused before training -------------------------------------------------

# refused DESC ARGS...: train refuses the target with one message, before
# its first line of output, and writes nothing.
refused() {
    desc=$1
    shift
    ls -A "$tmp" >"$tmp/before"
    run train "$@"
    user_error_result "$desc"
    check "... before any training" eval '[ ! -s "$tmp/out" ]'
    ls -A "$tmp" | grep -v '^out$\|^err$\|^before$\|^after$' >"$tmp/after"
    check "... creating no file" eval 'grep -v "^out$\|^err$\|^before$\|^after$" "$tmp/before" | cmp -s - "$tmp/after"'
}
mkdir "$tmp/folder"
refused "--save onto a folder is refused" --save "$tmp/folder"
check "... saying so" err_has "is a folder"
refused "--save onto a folder with a trailing slash is refused" --save "$tmp/folder/"
mkfifo "$tmp/fifo.pb"
refused "--save onto a fifo is refused" --save "$tmp/fifo.pb"
check "... saying it is not a regular file" err_has "not a regular file"
long=$(awk 'BEGIN { while (n++ < 300) printf "n" }')
refused "--save with a name over NAME_MAX is refused" --save "$tmp/$long"
check "... saying the name is too long" err_has "the name is 300 bytes"
# Short enough alone, too long for the temporary file beside it.
long=$(awk 'BEGIN { while (n++ < 250) printf "n" }')
refused "--save with a name that leaves no room for its temporary name is refused" \
    --save "$tmp/$long"
deep=$(awk 'BEGIN { while (n++ < 500) printf "deepname/" }')
refused "--save with a path over PATH_MAX is refused" --save "$tmp/$deep/x.pb"
check "... saying the path is too long" err_has "the path is"
mkdir "$tmp/ro"
if [ "$(id -u)" != 0 ]; then
    chmod 555 "$tmp/ro"
    refused "--save into a read-only folder is refused" --save "$tmp/ro/x.pb"
    check "... saying why" err_has "Permission denied"
    chmod 755 "$tmp/ro"
elif chattr +i "$tmp/ro" 2>/dev/null; then # root writes anywhere but here
    refused "--save into a read-only (immutable) folder is refused" --save "$tmp/ro/x.pb"
    check "... saying why" err_has "Operation not permitted"
    chattr -i "$tmp/ro"
else
    skip "--save into a read-only folder is refused" "root, and chattr +i is not available"
fi

finish
