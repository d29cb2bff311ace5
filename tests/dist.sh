#!/bin/sh
# dist.sh - the mpi communicator under mpirun: the collectives with 1 to 3
# ranks, exact, and an abort that stops every rank.
. "$top_srcdir/tests/lib.sh"

skip() {
    echo "SKIP: $1"
    exit 77
}
command -v mpirun >/dev/null 2>&1 || skip "no mpirun (Debian: apt-get install openmpi-bin libopenmpi-dev)"
mpirun --version 2>/dev/null | grep -q 'Open MPI' || skip "mpirun is not Open MPI's"
"$NNRUN" plugins | grep -q '^communicator  *mpi ' ||
    skip "no mpi communicator plugin (configure found no mpicc)"

# Open MPI refuses root without --allow-run-as-root; a machine with fewer
# cores than ranks needs --oversubscribe. Leak reports of MPI's own
# allocations (sanitizer builds) are not this project's.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
export ASAN_OPTIONS
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
DIST_CHECK=$top_builddir/tests/dist_check
# Every mpirun is bounded: a hang fails a check instead of the whole suite.
mpi() {
    np=$1
    shift
    timeout 120 $MPIRUN -np "$np" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# 0. nnrun lists the plugin as a communicator, and its check passes alone.
run plugins
check "nnrun plugins lists mpi as a communicator" out_has '^communicator  *mpi  *1\.0 .*mpi\.so$'
run check mpi
check "nnrun check mpi: alone, a job of one" eval '[ "$rc" -eq 0 ] && out_has "rank 0 of 1" && out_has "all 6 checks passed"'
mpi 2 "$NNRUN" check mpi
check "nnrun check mpi on each of 2 ranks" eval '[ "$rc" -eq 0 ] && [ "$(grep -c "all 6 checks passed" "$tmp/out")" -eq 2 ]'

# 1. The collectives, exact, on every rank.
for np in 1 2 3; do
    mpi "$np" "$DIST_CHECK" mpi "$np"
    check "-np $np: rank, size, slices, broadcast, allreduce and barrier on every rank" \
        eval '[ "$rc" -eq 0 ] && [ "$(grep -c ": ok\$" "$tmp/out")" -eq "$np" ]' || cat "$tmp/out"
done

# 2. One rank aborts while the others wait in a barrier: all of them stop.
mpi 3 "$DIST_CHECK" mpi 3 abort
check "an abort ends the job with a failure status" eval '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]'
check "the message names the rank" err_has 'rank 2 of 3: deliberate abort'
check "no rank goes on past the barrier" eval '! out_has survived'

finish
