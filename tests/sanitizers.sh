#!/bin/sh
# sanitizers.sh - in a build configured with --enable-sanitizers, a bug in a
# plugin that the sanitized nnrun dlopens is caught: a heap overflow (ASan),
# undefined behaviour (UBSan) and a leak (LeakSanitizer) each stop nnrun with
# status 99 and a report that says what and where. Skipped (77) in a
# normal build.
. "$top_srcdir/tests/lib.sh"

if [ -z "${SAN_CFLAGS:-}" ]; then
    echo "0 passed, 0 failed (skipped: not a sanitized build, see ./configure --enable-sanitizers)"
    exit 77
fi
CC=${CC:-cc}

# bug NAME BODY: a plugin with no components whose constructor runs BODY.
bug() {
    mkdir "$tmp/$1"
    cat >"$tmp/$1/$1.c" <<CEOF
#include <nn/plugin.h>
#include <limits.h>
#include <stdlib.h>
volatile int sink;
volatile int big = INT_MAX;
__attribute__((constructor)) static void $1_bug(void) { $2 }
static const nn_component_def comps[] = {{NN_KIND_MODULE, "none", "", NULL, NULL, 0}};
NN_PLUGIN_DEFINE("$1", "1.0", comps)
CEOF
    sh_run $CC -shared -fPIC $SAN_CFLAGS -I"$top_srcdir/sdk/include" \
        "$tmp/$1/$1.c" -o "$tmp/$1/$1.so"
    check "a plugin with a $1 bug builds with the sanitizers" status_is 0
}

# caught NAME WHAT WHERE: nnrun plugins on it exits 99 with WHAT and WHERE
# in the report.
caught() {
    what=$2 fn=$3
    rm -f "$tmp/report".*
    run_env ASAN_OPTIONS="detect_leaks=1:exitcode=99:log_path=$tmp/report" \
        plugins --plugin-path "$tmp/$1"
    check "loading it stops nnrun with status 99 and a report: $what, $fn" \
        eval 'status_is 99 && cat "$tmp/report".* 2>/dev/null | grep -qF "$what" &&
              cat "$tmp/report".* | grep -qF "$fn"'
}

bug overflow 'int *p = malloc(4 * sizeof *p); sink = p[4]; free(p);'
caught overflow "AddressSanitizer: heap-buffer-overflow" "in overflow_bug "
bug leak 'int *p = malloc(64); sink = p != NULL; p = NULL;'
# The plugin is unloaded by the time of the leak check: no function name.
caught leak "LeakSanitizer: detected memory leaks" "Direct leak of 64 byte(s) in 1 object(s)"
bug signed 'sink = big + 1;'
# gcc's UBSan, beside ASan, writes its report to stderr whatever log_path says.
run_env UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99" \
    plugins --plugin-path "$tmp/signed"
check "loading it stops nnrun with status 99 and UBSan's report of the overflow in signed_bug" \
    eval 'status_is 99 && err_has "signed.c:6:.*runtime error: signed integer overflow" &&
          err_has "in signed_bug "'

# The same plugin without the bug loads cleanly: status 0, no report.
bug none 'sink = 1;'
rm -f "$tmp/report".*
run_env ASAN_OPTIONS="detect_leaks=1:exitcode=99:log_path=$tmp/report" \
    plugins --plugin-path "$tmp/none"
check "without a bug nnrun exits 0 and no report is written" \
    eval 'status_is 0 && ! ls "$tmp/report".* >/dev/null 2>&1'

finish
