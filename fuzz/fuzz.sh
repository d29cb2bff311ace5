#!/bin/sh
# fuzz/fuzz.sh SRCDIR BUILDDIR SECONDS - builds the libFuzzer targets with
# clang (-fsanitize=fuzzer,address,undefined) in BUILDDIR/fuzz/build, from the
# core's and the plugins' sources (each plugin's descriptor renamed so that
# all fit in one program), then runs each target for SECONDS on a copy of its
# seed corpus (fuzz/corpus/TARGET). Fails on any finding; the input that
# triggered it is kept in BUILDDIR/fuzz/findings.
# Needs clang and libclang-rt-14-dev; the normal build does not.
# NN_CBLAS_SONAME: the file the cpu device loads OpenBLAS from (make fuzz
# passes configure's finding).
set -eu
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
seconds=${3:-10}
CLANG=${CLANG:-clang}
out=$build/fuzz/build
mkdir -p "$out/obj" "$build/fuzz/findings"

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: $CLANG not found; on Debian: apt-get install clang libclang-rt-14-dev" >&2
    exit 1
fi
[ -f "$build/proto/nn.pb-c.c" ] || { echo "fuzz: run make first" >&2; exit 1; }

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-g -O1 -fno-omit-frame-pointer $SAN -Wall -Wextra -Wno-unused-parameter"
CPPFLAGS="-I$src/sdk/include -I$build/proto $(pkg-config --cflags libprotobuf-c openblas zlib 2>/dev/null || true)"
LIBS="$(pkg-config --libs libprotobuf-c) -lltdl -lopenblas -lz -lm"
# the idx plugin's libdeflate path, as the build has it where it is installed
if pkg-config --exists libdeflate 2>/dev/null; then
    CPPFLAGS="$CPPFLAGS -DNN_HAVE_LIBDEFLATE=1 $(pkg-config --cflags libdeflate)"
    LIBS="$LIBS $(pkg-config --libs libdeflate)"
fi
cblas=${NN_CBLAS_SONAME:-libopenblas.so.0}

plugins=""
objs=""
jobs=$out/jobs
: >"$jobs"
for f in "$src"/core/*.c "$build/proto/nn.pb-c.c"; do
    o=$out/obj/core-$(basename "$f" .c).o
    echo "$CLANG $CFLAGS -fsanitize=fuzzer-no-link $CPPFLAGS -I$src/core -DNN_BUILD_DIR='\"$build\"' -DNN_SYSTEM_PLUGIN_DIR='\"/nonexistent\"' -c $f -o $o" >>"$jobs"
    objs="$objs $o"
done
for f in "$src"/plugins/*/*.c; do
    n=$(basename "$f" .c)
    o=$out/obj/plugin-$n.o
    echo "$CLANG $CFLAGS -fsanitize=fuzzer-no-link $CPPFLAGS -Dnn_plugin_descriptor=nn_plugin_descriptor_$n -DNN_CBLAS_SONAME='\"$cblas\"' -c $f -o $o" >>"$jobs"
    objs="$objs $o"
    plugins="$plugins X($n)"
done
echo "fuzz: compiling $(wc -l <"$jobs") files with $CLANG"
tr '\n' '\0' <"$jobs" | xargs -0 -n1 -P"${FUZZ_JOBS:-2}" sh -c 'eval "$0"'

targets=""
for f in "$src"/fuzz/*.c; do
    t=$(basename "$f" .c)
    extra=""
    # @TOOLS@: every file of nnrun but its main, which the target includes itself.
    tools=$(ls "$src"/tools/*.c | grep -v '/nnrun\.c$' | tr '\n' ' ')
    [ ! -f "$src/fuzz/$t.extra" ] ||
        extra=$(sed -e "s|@TOOLS@|$tools|g" -e "s|@SRC@|$src|g" "$src/fuzz/$t.extra")
    $CLANG $CFLAGS -fsanitize=fuzzer $CPPFLAGS -I$src/fuzz -I$src/tools \
        "-DFUZZ_PLUGINS(X)=$plugins" "$f" $extra $objs $LIBS -o "$out/$t"
    targets="$targets $t"
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in $targets; do
    work=$build/fuzz/work/$t
    rm -rf "$work"
    mkdir -p "$work"
    [ ! -d "$src/fuzz/corpus/$t" ] || cp "$src/fuzz/corpus/$t"/* "$work"/ 2>/dev/null || true
    echo "fuzz: $t for ${seconds}s ($(ls "$work" | wc -l) seeds)"
    if ! (cd "$build/fuzz/work" && "$out/$t" -max_total_time="$seconds" -timeout=20 \
            -rss_limit_mb=2048 -print_final_stats=0 \
            -artifact_prefix="$build/fuzz/findings/$t-" "$work" >"$work.log" 2>&1); then
        tail -n 60 "$work.log" >&2
        echo "fuzz: $t FAILED; the input is in $build/fuzz/findings" >&2
        status=1
    else
        grep -E '^Done [0-9]+ runs' "$work.log" | tail -n 1 || true
    fi
done
exit $status
