#!/bin/sh
# check.sh - the benchmark harness is whole: its scripts parse, its C helpers
# build and report, its options are checked. Times nothing (make check runs it).
. "$top_srcdir/tests/lib.sh"

b=$top_srcdir/bench
for f in run fashion_mnist.sh check.sh; do
    sh_run sh -n "$b/$f"
    check "bench/$f parses" status_is 0
done
if [ -x /usr/bin/python3 ]; then
    for f in seed mlp fmnist; do
        sh_run /usr/bin/python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' "$b/torch/$f.py"
        check "bench/torch/$f.py parses" status_is 0
    done
fi

CC=${CC:-cc}
blas_cflags=$(sed -n 's/^OPENBLAS_CFLAGS = //p' "$top_builddir/Makefile")
blas_libs=$(sed -n 's/^OPENBLAS_LIBS = //p' "$top_builddir/Makefile")
sh_run $CC -O2 -std=c11 -Wall -Wextra -Werror -o "$tmp/measure" "$b/measure.c"
check "bench/measure.c builds" status_is 0
sh_run $CC -O2 -std=c11 -Wall -Wextra -Werror $blas_cflags -o "$tmp/sgemm" "$b/sgemm.c" $blas_libs
check "bench/sgemm.c builds against OpenBLAS" status_is 0

sh_run "$tmp/measure" "$tmp/m" sh -c 'echo hello; exit 3'
check "measure passes the command's output and exit status through" \
    eval 'status_is 3 && out_has "^hello$"'
check "measure writes its line: wall time, peak RSS, status" \
    grep -q '^wall_s [0-9.]* maxrss_kb [1-9][0-9]* status 3$' "$tmp/m"
sh_run "$tmp/measure" "$tmp/m" "$tmp/no-such-program"
check "measure: a command that cannot start is status 127, with a message" \
    eval 'status_is 127 && err_has "cannot run"'

sh_run "$tmp/measure" -k 0.2 "$tmp/m" sleep 5
check "measure -k stops a command that runs too long: status 124" status_is 124
sh_run "$tmp/measure" -k 0 "$tmp/m" true
check "measure -k 0 sets no limit" status_is 0
sh_run "$tmp/measure" -k x "$tmp/m" true
check "measure refuses a bad -k" eval 'status_is 2 && err_has "wants a number of seconds"'

sh_run "$tmp/sgemm" -t 0.01 3,4,5,N,T 4,3,2,T,N
check "sgemm reports each shape and the total" \
    eval 'status_is 0 && out_has "^openblas .* threads [0-9]" && out_has "^shape 3,4,5,N,T us [0-9.]* gflops" && out_has "^total flop 168 us "'
sh_run "$tmp/sgemm" 3,4,X,N,T
check "sgemm refuses a bad shape with a message" eval 'status_is 2 && err_has "not M,N,K,TA,TB"'

# and built as nn's: nn_mm on the cpu device, through the build tree's libnn
# (with a sanitized build's flags, SAN_CFLAGS, as tests/sdk.sh builds)
sh_run $CC ${SAN_CFLAGS:+$SAN_CFLAGS} -O2 -std=c11 -Wall -Wextra -Werror -DNN_MM -I"$top_srcdir/sdk/include" -o "$tmp/nnmm" \
    "$b/sgemm.c" -L"$top_builddir/core/.libs" -lnn
check "bench/sgemm.c builds against libnn (-DNN_MM)" status_is 0
sh_run env LD_LIBRARY_PATH="$top_builddir/core/.libs" "$tmp/nnmm" -t 0.01 3,4,5,N,T 40,50,60,T,N
check "sgemm -DNN_MM reports each shape and the total, through nn_mm" \
    eval 'status_is 0 && out_has "^nn [0-9.]* cpu$" && out_has "^shape 40,50,60,T,N us [0-9.]* gflops" && out_has "^total flop 240120 us "'

sh_run "$b/run" --help
check "bench/run --help prints its usage" eval 'status_is 0 && out_has "--quick"'
sh_run "$b/run" --no-such-option
check "bench/run refuses an unknown argument (status 2)" eval 'status_is 2 && err_has "unknown argument"'
sh_run "$b/run" --runs 0 seed
check "bench/run refuses --runs 0 (status 2)" status_is 2
sh_run "$b/run" --build "$tmp/nowhere" seed
check "bench/run without a build says so (status 1)" eval 'status_is 1 && err_has "no Makefile"'
finish
