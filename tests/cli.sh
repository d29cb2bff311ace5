#!/bin/sh
# cli.sh - command-line tests of nnrun, run by make check.
#
# make exports top_builddir and top_srcdir as absolute paths. Each check
# prints "ok N - what" or "not ok N - what" (with the evidence as "#" lines);
# the last line is "P passed, F failed" and the exit status is 1 if any check
# failed. POSIX sh only (dash is /bin/sh).

if [ -z "$top_builddir" ]; then
    echo "not ok 1 - top_builddir is set (run this through make check)"
    echo "0 passed, 1 failed"
    exit 1
fi

NNRUN=$top_builddir/tools/nnrun
# The plugin search must not depend on the caller's environment.
unset NN_PLUGIN_PATH NN_PLUGIN_SYSTEM_PATH
# A crash must show as an exit status, not leave core files behind.
ulimit -c 0 2>/dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nn-cli.XXXXXX") || {
    echo "not ok 1 - mktemp -d"
    echo "0 passed, 1 failed"
    exit 1
}
trap 'rm -rf "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

n=0
passed=0
failed=0

pass() {
    n=$((n + 1))
    passed=$((passed + 1))
    echo "ok $n - $1"
}

# fail DESC [NOTE]: also shows the last command's status and output.
fail() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    [ -n "$2" ] && echo "#   $2"
    echo "#   exit status: $rc"
    sed -n '1,8s/^/#   stdout: /p' "$tmp/out" 2>/dev/null
    sed -n '1,8s/^/#   stderr: /p' "$tmp/err" 2>/dev/null
}

# check DESC COMMAND...: passes when COMMAND succeeds.
check() {
    desc=$1
    shift
    if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# run ARGS...: runs nnrun; sets rc, stdout in $tmp/out, stderr in $tmp/err.
run() {
    "$NNRUN" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# run_env VAR=VALUE ARGS...: run with one more environment variable.
run_env() {
    assign=$1
    shift
    env "$assign" "$NNRUN" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

out_has() { grep -q -e "$1" "$tmp/out"; }
err_has() { grep -q -e "$1" "$tmp/err"; }
status_is() { [ "$rc" -eq "$1" ]; }

# The number of the last "epoch:" line.
last_epoch() { awk '/^epoch:/ { e = $2 } END { print e }' "$tmp/out"; }

# last_epoch_is N
last_epoch_is() { [ "$(last_epoch)" = "$1" ]; }

# The run reached epoch 999 with accuracy >= 0.97.
trained_well() {
    awk '/^epoch:/ { e = $2; a = $NF }
         END { exit !(e == "999" && a + 0 >= 0.97) }' "$tmp/out"
}

# user_error DESC ARGS...: exit status exactly 1 (not a crash) and exactly one
# line on stderr, starting "nnrun:".
user_error() {
    desc=$1
    shift
    run "$@"
    user_error_result "$desc"
}

user_error_result() {
    lines=$(($(wc -l <"$tmp/err")))
    first=$(head -n 1 "$tmp/err")
    if [ "$rc" -ne 1 ]; then
        fail "$1" "expected exit status 1"
    elif [ "$lines" -ne 1 ]; then
        fail "$1" "expected exactly one line on stderr, got $lines"
    else
        case $first in
        nnrun:*) pass "$1" ;;
        *) fail "$1" "stderr does not start with 'nnrun:'" ;;
        esac
    fi
}

# ---- help and version ------------------------------------------------------

run --help
check "nnrun --help exits 0 and prints the usage" eval 'status_is 0 && out_has "^usage: nnrun"'
run --version
check "nnrun --version exits 0 and prints the version" eval 'status_is 0 && out_has "^nnrun [0-9]"'
run
check "nnrun without a command exits 1 with the usage on stderr" \
    eval 'status_is 1 && err_has "^usage: nnrun"'

# ---- plugins and inspect ---------------------------------------------------

run plugins
for kn in module:linear module:sigmoid loss:bce optimizer:sgd dataset:circle device:cpu; do
    kind=${kn%%:*}
    name=${kn#*:}
    check "nnrun plugins lists the $kind $name" eval \
        'status_is 0 && awk -v k="$kind" -v m="$name" '\''$1 == k && $2 == m { f = 1 } END { exit !f }'\'' "$tmp/out"'
done
run plugins -v
check "nnrun plugins -v shows the search path" eval 'status_is 0 && out_has "search path"'

run inspect linear
for prop in in out bias; do
    check "nnrun inspect linear shows the property '$prop'" eval \
        'status_is 0 && grep -q -E "^ +$prop +(int|bool|float|string|enum) " "$tmp/out"'
done
run inspect nosuch
check "nnrun inspect nosuch exits 1 with a message naming it" \
    eval 'status_is 1 && err_has "^nnrun:.*nosuch"'

# ---- train -----------------------------------------------------------------

run train --epochs 3 --log-every 1
check "train --epochs 3 --log-every 1 exits 0" status_is 0
check "train prints a 'before:' line" out_has "^before: "
check "train prints the line of epoch 0" out_has "^epoch:     0 "
check "train prints the line of epoch 2" out_has "^epoch:     2 "
check "train stops after epoch 2" last_epoch_is 2
check "train prints a 'time:' line" out_has "^time: "

run train
check "default train reaches epoch 999 with accuracy >= 0.97" eval 'status_is 0 && trained_well'

run train --data 'circle n=1200' --model 'linear out=5 ! sigmoid ! linear out=1 ! sigmoid' \
    --loss bce --optim 'sgd lr=0.5 momentum=0.8' --epochs 1000 --batch 100 --shuffle epoch
check "train with every option spelled out reaches accuracy >= 0.97" \
    eval 'status_is 0 && trained_well'

run train --epochs=2 --log-every=1
check "--option=value works as --option value" eval 'status_is 0 && last_epoch_is 1'

# ---- spec files --------------------------------------------------------------

cat >"$tmp/net.nn" <<'EOF'
# the tutorial's network, briefly
epochs 5

model linear out=5 ! sigmoid ! linear out=1 ! sigmoid
  # an indented comment
log-every 1
EOF
run train "$tmp/net.nn"
check "a spec file is honoured (epoch 4 is the last)" eval 'status_is 0 && last_epoch_is 4'
run train "$tmp/net.nn" --epochs 2
check "an option after the spec file overrides it" eval 'status_is 0 && last_epoch_is 1'
run train --epochs 2 "$tmp/net.nn"
check "an option before the spec file overrides it" eval 'status_is 0 && last_epoch_is 1'

cat >"$tmp/badmodel.nn" <<'EOF'
epochs 2
model linear out=5 ! sigmoid
EOF
run train "$tmp/badmodel.nn"
check "the model of a spec file is used (a wrong one is refused)" \
    eval 'status_is 1 && err_has "\[5\]"'
run train "$tmp/badmodel.nn" --model 'linear out=1 ! sigmoid'
check "--model overrides the model of the spec file" eval 'status_is 0 && last_epoch_is 1'

# ---- the plugin search path ----------------------------------------------

mkdir "$tmp/sys"
for p in devices/cpu modules/linear modules/sigmoid losses/bce optimizers/sgd datasets/circle; do
    cp "$top_builddir/plugins/${p%/*}/.libs/${p#*/}.so" "$tmp/sys/" || echo "# cannot copy $p"
done
run_env NN_PLUGIN_SYSTEM_PATH="$tmp/sys" train --epochs 2
check "train works with NN_PLUGIN_SYSTEM_PATH holding copies of the plugins" \
    eval 'status_is 0 && last_epoch_is 1'
run_env NN_PLUGIN_SYSTEM_PATH="$tmp/sys" plugins
check "nnrun plugins loads them from NN_PLUGIN_SYSTEM_PATH" \
    eval 'status_is 0 && out_has "$tmp/sys/sigmoid.so" && ! out_has "/.libs/"'
rm -f "$tmp/sys/sigmoid.so"
run_env NN_PLUGIN_SYSTEM_PATH="$tmp/sys" train --epochs 2
user_error_result "without sigmoid.so train is refused with one message"
check "the message names sigmoid and the folder searched" \
    eval 'err_has "sigmoid" && err_has "$tmp/sys"'

# Broken files on NN_PLUGIN_PATH are reported, not fatal.
mkdir "$tmp/bad"
for b in nodesc abimajor abiminor; do
    cp "$top_builddir/tests/bad/.libs/$b.so" "$tmp/bad/" || echo "# cannot copy $b.so"
done
echo "plain text, not a shared object" >"$tmp/bad/junk.so"
run_env NN_PLUGIN_PATH="$tmp/bad" plugins -v
check "nnrun plugins -v lists the broken files of NN_PLUGIN_PATH as refused" eval \
    'status_is 0 && out_has "^refused:" && out_has "nodesc.so" && out_has "abimajor.so" && out_has "abiminor.so" && out_has "junk.so"'
check "the real plugins are still listed next to broken ones" \
    eval 'status_is 0 && out_has "^module  *sigmoid "'
mkdir "$tmp/dup"
cp "$top_builddir/tests/bad/.libs/dupname.so" "$tmp/dup/" || echo "# cannot copy dupname.so"
run_env NN_PLUGIN_PATH="$tmp/dup" plugins -v
check "a second plugin named sigmoid is refused as a duplicate, no crash" \
    eval 'status_is 0 && out_has "already provided"'

# ---- user errors: exit 1, one line on stderr ----------------------------------

user_error "an unknown command" frobnicate
user_error "an unknown option" train --frobnicate 3
user_error "--epochs x" train --epochs x
user_error "--epochs -1" train --epochs -1
user_error "--batch 0" train --batch 0
user_error "--batch 5000 (bigger than the dataset)" train --batch 5000
user_error "--shuffle sometimes" train --shuffle sometimes
user_error "--model 'linear out=0'" train --model 'linear out=0'
user_error "--model 'linear in=3 out=5' (the input has 2 features)" train --model 'linear in=3 out=5'
user_error "--model nosuch" train --model nosuch
user_error "--model ''" train --model ''
user_error "--model 'linear out=5 ! ! sigmoid'" train --model 'linear out=5 ! ! sigmoid'
user_error "--optim 'sgd lr=abc'" train --optim 'sgd lr=abc'
user_error "--optim 'sgd nesterov=true' (without momentum)" train --optim 'sgd nesterov=true'
user_error "--loss nosuch" train --loss nosuch
user_error "--data 'circle n=0'" train --data 'circle n=0'
user_error "--device nosuch" train --device nosuch
user_error "a missing spec file" train "$tmp/missing.nn"
printf 'epochs 2\nfrobnicate 3\n' >"$tmp/unknown.nn"
user_error "a spec file with an unknown option" train "$tmp/unknown.nn"
check "the message names the spec file and its line" \
    eval 'err_has "unknown.nn" && err_has "2" && err_has "frobnicate"'
user_error "--model 'linear out=5 ! sigmoid' (output [5], target [1])" \
    train --model 'linear out=5 ! sigmoid'
check "the message is about the shapes [5] and [1]" eval 'err_has "\[5\]" && err_has "\[1\]"'
user_error "an option without its value" train --epochs
user_error "inspect without a name" inspect

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
