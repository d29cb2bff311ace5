#!/bin/sh
# isa.sh - the builds for each instruction set give the same training: the
# tutorial's run on this CPU as it is, then told by glibc's tunables that it
# lacks AVX-512 (the x86-64-v3 builds, OpenBLAS for every product) and also
# AVX2 and FMA (the baseline builds). The vector loops pick their build from
# what glibc knows of the CPU (plugins/devices/clones.h), so this runs each
# one on a single machine. Skipped where the CPU itself lacks AVX-512.
. "$top_srcdir/tests/lib.sh"

if ! grep -q '^flags.* avx512f' /proc/cpuinfo 2>/dev/null; then
    echo "0 passed, 0 failed (skipped: this CPU has no AVX-512 to take away)"
    exit 77
fi

run_env LD_DEBUG=files train --epochs 40 --log-every 5
check "the run on this CPU (AVX-512): its products by small_gemm, OpenBLAS never loaded" \
    eval 'status_is 0 && last_epoch_is 39 && ! err_has "file=.*openblas"'
grep '^epoch' "$tmp/out" >"$tmp/v4"

# same_epochs FILE: epoch lines as in v4, each loss and accuracy within 2e-4
same_epochs() {
    grep '^epoch' "$tmp/out" | paste - "$tmp/v4" | awk '
        { n++; if ($2 != $8 || d($4, $10) > 2e-4 || d($6, $12) > 2e-4) bad = 1 }
        function d(a, b) { return a > b ? a - b : b - a }
        END { exit bad || n != 9 }'
}

# LD_DEBUG=files: the dynamic loader names each library it loads
env GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F LD_DEBUG=files "$NNRUN" train --epochs 40 \
    --log-every 5 >"$tmp/out" 2>"$tmp/err"
rc=$?
check "without AVX-512 (x86-64-v3 builds, OpenBLAS for the products): the same epochs" \
    eval 'status_is 0 && same_epochs && err_has "file=.*openblas"'
run_env GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA train --epochs 40 --log-every 5
check "without AVX-512, AVX2 and FMA (baseline builds): the same epochs" \
    eval 'status_is 0 && same_epochs'
run_env GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA train --epochs 3 \
    --model 'linear out=8 ! relu ! linear out=8 ! tanh ! linear out=1' --loss bce_with_logits \
    --optim 'adam lr=0.01'
check "and the other loops (relu, tanh, adam) run there" eval 'status_is 0 && last_epoch_is 2'

finish
