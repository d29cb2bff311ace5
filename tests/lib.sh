# lib.sh - the harness shared by the shell tests; sourced, not run.
#
# make exports top_builddir and top_srcdir as absolute paths. Each check
# prints "ok N - what" or "not ok N - what" (with the evidence as "#" lines);
# finish prints "P passed, F failed" and exits 1 if any check failed.
# POSIX sh only (dash is /bin/sh).

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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nn-test.XXXXXX") || {
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
rc=0
# How many lines of stdout fail shows; a script may raise it after sourcing.
stdout_lines=8

# pass and fail print with printf, so a backslash in DESC stays as written.
pass() {
    n=$((n + 1))
    passed=$((passed + 1))
    printf 'ok %d - %s\n' "$n" "$1"
}

# fail DESC [NOTE]: also shows the last command's status and output.
fail() {
    n=$((n + 1))
    failed=$((failed + 1))
    printf 'not ok %d - %s\n' "$n" "$1"
    [ -n "$2" ] && printf '#   %s\n' "$2"
    echo "#   exit status: $rc"
    sed -n "1,${stdout_lines}s/^/#   stdout: /p" "$tmp/out" 2>/dev/null
    sed -n '1,8s/^/#   stderr: /p' "$tmp/err" 2>/dev/null
}

# check DESC COMMAND...: passes when COMMAND succeeds (returns 1 when not, so
# "check ... || show more evidence" works).
check() {
    desc=$1
    shift
    if "$@"; then
        pass "$desc"
    else
        fail "$desc"
        return 1
    fi
}

# run ARGS...: nnrun with its output in $tmp/out and $tmp/err, status in $rc.
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

# sh_run CMD...: any command, captured the same way.
sh_run() {
    "$@" >"$tmp/out" 2>"$tmp/err"
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

# user_error_result DESC: exit status exactly 1 (not a crash) and exactly one
# line on stderr, starting "nnrun:".
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

# user_error DESC ARGS...
user_error() {
    desc=$1
    shift
    run "$@"
    user_error_result "$desc"
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
