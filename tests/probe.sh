#!/bin/sh
# probe.sh - crafted, well-framed checkpoints that probe the loader's limits:
# each must give one "nnrun:" line and exit status 1, never a crash.
. "$top_srcdir/tests/lib.sh"

MKCK=$top_builddir/tests/mkck

# mk KIND [N]: $tmp/KIND.pb
# mkck is a test tool that exits without freeing what it built: no leak check.
mk() { ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" "$MKCK" "$1" "$tmp/$1.pb" ${2:+"$2"}; }

# 1. 8 input dimensions (9 with the batch): refused at load.
mk dims8
for cmd in graph summary; do
    run "$cmd" "$tmp/dims8.pb" -o "$tmp/g.dot"
    [ "$cmd" = summary ] && run summary "$tmp/dims8.pb"
    user_error_result "$cmd: an input shape of 8 dimensions is refused"
    check "$cmd: the message names the dimensions" err_has 'model input: 8 dimensions (at most 7'
done

# 2. A chain over the cap is refused at load; one at the cap draws its graph.
mk chain 400000
run graph "$tmp/chain.pb" -o "$tmp/g.dot"
user_error_result "graph: a chain of 400000 elements is refused"
check "the message names the chain's length and the cap" \
    err_has 'a chain of 400000 elements (at most 100000)'
ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" "$MKCK" chain "$tmp/c100k.pb" 100000
run graph "$tmp/c100k.pb" -o "$tmp/g.dot"
check "graph: a chain of 100000 elements draws its graph" status_is 0
check "the graph has the 100000 nodes" eval \
    '[ "$(grep -c "label=\"SigmoidBackward0\"" "$tmp/g.dot")" = 99999 ]'

# 3. A hundred bytes that imply 4 GB of parameters: refused before allocating
# (under a 2 GB address-space limit, so that trying shows as another error).
mk huge
# limited CMD ARGS...: run under the limit ($rc read back from the subshell).
# The sanitizers reserve terabytes of address space for their shadow memory,
# so a sanitized build runs without the limit (ASan itself then reports an
# allocation of that size).
limited() {
    if [ -n "${SAN_CFLAGS:-}" ]; then
        run "$@"
        return
    fi
    (ulimit -v 2000000 && run "$@" && echo "$rc" >"$tmp/rc")
    rc=$(cat "$tmp/rc")
}
for cmd in print summary params eval; do
    if [ "$cmd" = eval ]; then
        limited eval "$tmp/huge.pb" --data 'circle n=100'
    else
        limited "$cmd" "$tmp/huge.pb"
    fi
    user_error_result "$cmd: a model larger than the checkpoint's tensors is refused"
    check "$cmd: the message says so" err_has "larger than the checkpoint's tensors"
done
limited graph "$tmp/huge.pb" -o "$tmp/g.dot"
user_error_result "graph: a model larger than the checkpoint's tensors is refused"
check "graph: the message says so" err_has "larger than the checkpoint's tensors"

# 4. 100000 tensors or optimizer states: names are checked for duplicates
# without comparing every pair (strcmp calls counted by tests/shim.so, which
# ends the run with status 3 past the limit; n^2/2 would be 5e9).
SHIM=$top_builddir/tests/.libs/shim.so
mk tensors 100000
mk states 100000
# A preloaded shim cannot come before the sanitizers' runtime: the count is
# taken in the normal build only.
if [ -z "${SAN_CFLAGS:-}" ]; then
    for kind in tensors states; do
        sh_run env LD_PRELOAD="$SHIM" NN_SHIM_STRCMP_MAX=20000000 "$NNRUN" summary "$tmp/$kind.pb"
        check "$kind: 100000 names are checked with fewer than 2e7 comparisons" \
            eval '! grep -q "too many strcmp" "$tmp/err"'
    done
fi
run summary "$tmp/tensors.pb"
user_error_result "summary: 99998 tensors that have no place in the model are refused"
check "the message names one" err_has "the checkpoint's tensor 'extra0' has no place in the model"
run inspect "$tmp/states.pb"
check "inspect: 100000 optimizer states for other parameters load" status_is 0

# 5. A 3 GB sparse file is refused from its head and trailer, not read whole
# (under the 2 GB limit, reading it would fail as out of memory).
printf '\n\rnn.Checkpoint' >"$tmp/sparse.pb"
truncate -s 3G "$tmp/sparse.pb"
limited inspect "$tmp/sparse.pb"
user_error_result "inspect: a 3 GB file whose trailer is zeros is refused"
check "the message names the length check" err_has 'truncated or damaged (length check failed)'
truncate -s 0 "$tmp/sparse.pb"
truncate -s 3G "$tmp/sparse.pb"
limited eval "$tmp/sparse.pb" --data 'circle n=100'
user_error_result "eval: a 3 GB file of zeros is refused"
check "the message says it is no checkpoint" err_has 'is not an nn checkpoint'
rm -f "$tmp/sparse.pb"

# 6. Step counters at INT64_MAX cannot advance: refused at load.
mk steps
run train --resume "$tmp/steps.pb" --epochs 3
user_error_result "train --resume: an optimizer step count of INT64_MAX is refused"
check "the message names the count" err_has "step count 9223372036854775807 cannot advance"
run inspect "$tmp/steps.pb"
user_error_result "inspect: the same file is refused"
mk epochs
run train --resume "$tmp/epochs.pb" --epochs 3
user_error_result "train --resume: an epoch count of INT64_MAX is refused"
check "the message names the counters" err_has "counters (epoch 9223372036854775807, step 0) cannot advance"

# 7. Text from a checkpoint reaches the terminal escaped; invalid UTF-8 is
# refused at load.
mk ctlinfo
ctl=$(printf '\r\013\014\033')
run inspect "$tmp/ctlinfo.pb"
check "inspect: an info text with control characters prints" status_is 0
check "inspect: the info's ESC and form feed are escaped" \
    out_has '^info: *\\x1b\[31mred\\x1b\[0m\\fx$'
check "inspect: no raw control character is printed" \
    eval '! grep -q "[$ctl]" "$tmp/out"'
mk ctlname
for cmd in inspect summary; do
    run $cmd "$tmp/ctlname.pb"
    user_error_result "$cmd: a property holding \\r, \\v and ESC is refused at load, in one line"
    check "$cmd: no raw \\r, \\v, \\f or ESC on stderr" eval '! grep -q "[$ctl]" "$tmp/err"'
done
mk badutf8
run inspect "$tmp/badutf8.pb"
user_error_result "inspect: an info text that is not UTF-8 is refused"
check "the message says so" err_has 'is not UTF-8'

# 8. Sizes that properties allow but no machine holds: refused by a cap
# (2^31 - 1 elements a tensor, the same for a batch), with the size named.
limited summary --model 'linear out=1073741824' --input-shape 2
user_error_result "summary: linear out=1073741824 (2^31 weights) is refused"
check "the message names the shape and the cap" \
    err_has 'shape \[1073741824, 2\] would hold 2147483648 elements, more than nn allows'
limited graph --batch 1099511627776 -o "$tmp/g.dot"
user_error_result "graph: --batch 1099511627776 is refused"
check "the message names the batch's tensor" err_has 'shape \[1099511627776, 2\] would hold'
limited train --batch 1099511627776 --epochs 1
user_error_result "train: --batch 1099511627776 is refused"
check "the message names the batch size" err_has 'batch size 1099511627776 is more than nn allows'
check "train: no epoch ran" eval '! grep -q "^epoch:" "$tmp/out"'

finish
