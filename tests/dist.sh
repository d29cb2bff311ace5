#!/bin/sh
# dist.sh - data-parallel training over the mpi communicator: the
# collectives under mpirun with 1 to 3 ranks, an abort that stops every
# rank, and nnrun train --dist mpi on 2 and 4 ranks against one process with
# the same global batch: the same epoch figures and weights up to the order
# of the sums, checkpoints that resume across rank counts, and a rank that
# cannot open its data stopping the whole job with its number. Without MPI,
# the registry's refusal of a malformed communicator and the core's device
# path for a communicator that takes a device's memory.
. "$top_srcdir/tests/lib.sh"

skip() {
    echo "SKIP: $1"
    exit 77
}
# A communicator without its required slots is refused when it loads,
# with or without MPI.
mkdir "$tmp/badcomm" && cp "$top_builddir/tests/bad/.libs/badcomm.so" "$tmp/badcomm/" ||
    echo "# cannot copy badcomm.so"
run plugins -v --plugin-path "$tmp/badcomm"
check "a communicator without allreduce_sum is refused, the slots named" \
    out_has "badcomm.so: communicator 'badcomm' is malformed (it needs open, rank, size, broadcast, allreduce_sum, barrier and abort)"
run train --plugin-path "$tmp/badcomm" --dist badcomm --epochs 1
check "--dist badcomm: refused, not used" eval '[ "$rc" -eq 1 ] && err_has "no communicator named .badcomm."'

# The device path, with or without MPI: loopcomm (tests/plugins), one rank,
# takes hostdev's memory and refuses host memory.
mkdir "$tmp/loop" && for p in hostdev hostdev_kernels loopcomm; do
    cp "$top_builddir/tests/plugins/.libs/$p.so" "$tmp/loop/" || echo "# cannot copy $p.so"
done
run train --plugin-path "$tmp/loop" --device hostdev --epochs 30 --log-every 1
grep '^\(before\|epoch\)' "$tmp/out" >"$tmp/hostdev.txt"
run train --plugin-path "$tmp/loop" --device hostdev --dist loopcomm --epochs 30 --log-every 1
grep '^\(before\|epoch\)' "$tmp/out" >"$tmp/loop.txt"
check "a communicator that takes the device's memory gets the gradients there" \
    eval '[ "$rc" -eq 0 ] && [ -s "$tmp/loop.txt" ] && cmp -s "$tmp/hostdev.txt" "$tmp/loop.txt"'
run train --plugin-path "$tmp/loop" --dist loopcomm --epochs 1
check "on cpu, whose memory is host memory, they go through the host" \
    eval '[ "$rc" -eq 1 ] && err_has "loopcomm was given host memory"'

command -v mpirun >/dev/null 2>&1 || skip "no mpirun (Debian: apt-get install openmpi-bin libopenmpi-dev)"
mpirun --version 2>/dev/null | grep -q 'Open MPI' || skip "mpirun is not Open MPI's"
"$NNRUN" plugins | grep -q '^communicator  *mpi ' ||
    skip "no mpi communicator plugin (configure found no mpicc, or was given --without-mpi)"

# Open MPI refuses root without --allow-run-as-root; a machine with fewer
# cores than ranks needs --oversubscribe. Leak reports of MPI's own
# allocations (sanitizer builds) are not this project's: no leak check in
# a process that starts MPI.
MPI_ASAN="${ASAN_OPTIONS:-}:detect_leaks=0"
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
DIST_CHECK=$top_builddir/tests/dist_check
# Every mpirun is bounded: a hang fails a check instead of the whole suite.
mpi() {
    np=$1
    shift
    ASAN_OPTIONS=$MPI_ASAN timeout 120 $MPIRUN -np "$np" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# 0. nnrun lists the plugin as a communicator, and its check passes alone.
run plugins
check "nnrun plugins lists mpi as a communicator" out_has '^communicator  *mpi  *1\.0 .*mpi\.so$'
run_env ASAN_OPTIONS="$MPI_ASAN" check mpi
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

# 3. Training: one process, then 2 and 4 ranks with the same global batch.
TRAIN="--epochs 30 --log-every 1"
run train $TRAIN --save "$tmp/p1.ck"
check "one process trains" status_is 0
grep '^\(before\|epoch\)' "$tmp/out" >"$tmp/p1.txt"

# same_figures A B: the epoch lines agree to a relative 1e-5, and to the
# last printed digit (a sum in another order may round the other way).
same_figures() {
    awk 'NR == FNR { a[FNR] = $0; n = FNR; next }
         { split(a[FNR], x); m = split($0, y)
           if (m != split(a[FNR], x)) bad = 1
           for (i = 1; i <= m; i++) {
               if (x[i] == y[i]) continue
               d = x[i] - y[i]; d = d < 0 ? -d : d; s = x[i] < 0 ? -x[i] : x[i]
               if (x[i] + 0 != x[i] || d > 1e-5 * s + 1e-4) bad = 1
           } }
         END { exit bad || FNR != n }' "$1" "$2"
}
# same_params A.ck B.ck: the numbers (the lines without a name) of every
# tensor; every weight agrees to 1e-5 of the largest one (a
# weight near 0 carries the rounding of the sums as the others do).
same_params() {
    "$NNRUN" params --values "$1" | grep -v : | tr -c '0-9.eE+\n-' ' ' >"$tmp/pa" &&
        "$NNRUN" params --values "$2" | grep -v : | tr -c '0-9.eE+\n-' ' ' >"$tmp/pb" &&
        awk 'NR == FNR { a[FNR] = $0; n = FNR
                         k = split($0, x); for (i = 1; i <= k; i++) {
                             s = x[i] < 0 ? -x[i] : x[i]; if (s > big) big = s }
                         next }
             { k = split(a[FNR], x); if (k != split($0, y)) bad = 1
               for (i = 1; i <= k; i++) {
                   d = x[i] - y[i]; d = d < 0 ? -d : d
                   if (d > 1e-5 * big) bad = 1
               } }
             END { exit bad || FNR != n || big == 0 }' "$tmp/pa" "$tmp/pb"
}

for np in 2 4; do
    mpi "$np" "$NNRUN" train --dist mpi $TRAIN --save "$tmp/p$np.ck"
    check "-np $np: trains" status_is 0
    grep '^\(before\|epoch\)' "$tmp/out" >"$tmp/p$np.txt"
    check "-np $np: only rank 0 prints" eval '[ "$(grep -c "^epoch:" "$tmp/out")" -eq 30 ]'
    check "-np $np: the epoch losses and accuracies of one process" \
        same_figures "$tmp/p1.txt" "$tmp/p$np.txt" || diff "$tmp/p1.txt" "$tmp/p$np.txt" | head -5
    check "-np $np: the weights of one process" \
        same_params "$tmp/p1.ck" "$tmp/p$np.ck"
done

# An uneven split (1200 samples, batch 70: slices of 18 and 17, a last
# batch of 10 over 4 ranks) and validation on 3 ranks.
run train $TRAIN --batch 70 --val "circle n=301 seed=9" --save "$tmp/u1.ck"
grep '^\(before\|epoch\)' "$tmp/out" >"$tmp/u1.txt"
mpi 4 "$NNRUN" train --dist mpi $TRAIN --batch 70 --val "circle n=301 seed=9" --save "$tmp/u4.ck"
grep '^\(before\|epoch\)' "$tmp/out" >"$tmp/u4.txt"
check "uneven slices: the figures of one process, validation too" \
    same_figures "$tmp/u1.txt" "$tmp/u4.txt"
check "uneven slices: the weights of one process" same_params "$tmp/u1.ck" "$tmp/u4.ck"

# 4. Resume across rank counts: 2 ranks then 1 process, 1 process then 2
# ranks, each against the uninterrupted run.
run train --epochs 20 --log-every 1 --save "$tmp/full.ck"
grep '^epoch' "$tmp/out" | sed -n '11,$p' >"$tmp/full.txt"
mpi 2 "$NNRUN" train --dist mpi --epochs 10 --save "$tmp/h2.ck"
run train --resume "$tmp/h2.ck" --epochs 20 --log-every 1 --save "$tmp/r1.ck"
grep '^epoch' "$tmp/out" >"$tmp/r1.txt"
check "2 ranks, then one process: the run goes on as if never stopped" \
    same_figures "$tmp/full.txt" "$tmp/r1.txt"
check "2 ranks, then one process: the weights of the whole run" \
    same_params "$tmp/full.ck" "$tmp/r1.ck"
run train --epochs 10 --save "$tmp/h1.ck"
mpi 2 "$NNRUN" train --dist mpi --resume "$tmp/h1.ck" --epochs 20 --log-every 1 \
    --save "$tmp/r2.ck"
grep '^epoch' "$tmp/out" >"$tmp/r2.txt"
check "one process, then 2 ranks: the run goes on as if never stopped" \
    same_figures "$tmp/full.txt" "$tmp/r2.txt"
check "one process, then 2 ranks: the weights of the whole run" \
    same_params "$tmp/full.ck" "$tmp/r2.ck"

# 5. Rank 1 cannot open its data: every rank stops, rank 1 named, no save.
cat >"$tmp/rank.sh" <<EOS
#!/bin/sh
data="circle n=1200"
[ "\$OMPI_COMM_WORLD_RANK" = 1 ] && data="csv path=$tmp/missing.csv"
exec "$NNRUN" train --dist mpi --epochs 5 --data "\$data" --save "$tmp/bad.ck"
EOS
mpi 3 sh "$tmp/rank.sh"
check "a rank without its data: the job fails" eval '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]'
check "the message names the rank and the file" err_has "rank 1 of 3: nnrun: .*missing.csv"
check "no rank trains on, nothing is saved" eval '! out_has "^epoch" && [ ! -e "$tmp/bad.ck" ]'

# A batch too small to give each rank a sample is refused on every rank.
mpi 3 "$NNRUN" train --dist mpi --batch 2 --epochs 1
check "--batch 2 on 3 ranks: refused" eval '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]'
# Every rank finds the same fault, but the first abort may end the others
# before they print (MPI_Abort kills the job): one message at least.
check "the message says why" \
    eval '[ "$(grep -c "of 3: nnrun: a batch of 2 samples leaves some of the 3 ranks none" "$tmp/err")" -ge 1 ]'
mpi 3 "$NNRUN" train --dist mpi --batch 599 --epochs 1
check "a last batch of 2 on 3 ranks: refused, --drop-last suggested" \
    eval '[ "$rc" -ne 0 ] && err_has "a batch of 2 samples .*drop it with --drop-last"'

# 6. Rank 1 dies in the middle of training (killed): mpirun stops the
# others and names it; nobody waits in the allreduce.
cat >"$tmp/die.sh" <<EOS
#!/bin/sh
[ "\$OMPI_COMM_WORLD_RANK" = 1 ] && (sleep 1; kill -9 \$\$) &
exec "$NNRUN" train --dist mpi --epochs 1000000 --log-every 1000 --save "$tmp/died.ck"
EOS
mpi 2 sh "$tmp/die.sh"
check "a rank killed mid-training: the job fails instead of hanging" \
    eval '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]'
check "mpirun names the rank that died" err_has "rank 1 .*exited on signal 9"
check "nothing is saved" eval '[ ! -e "$tmp/died.ck" ]'

# 7. --dist: auto runs alone outside mpirun; a bad value is refused.
run train --dist auto --epochs 30 --log-every 1
grep '^\(before\|epoch\)' "$tmp/out" >"$tmp/auto.txt"
check "--dist auto without mpirun: one process, the same figures" cmp -s "$tmp/p1.txt" "$tmp/auto.txt"
mpi 2 "$NNRUN" train --dist auto $TRAIN
grep '^\(before\|epoch\)' "$tmp/out" >"$tmp/auto2.txt"
check "--dist auto under mpirun: data-parallel, the figures of one process" \
    same_figures "$tmp/p1.txt" "$tmp/auto2.txt"
run train --dist nccl --epochs 1
user_error_result "--dist with an unknown communicator is refused"
check "the message lists the communicators" err_has "no communicator named 'nccl'; known: mpi"

finish
