# lib.sh - what tests/onnx.sh and tests/onnx_import.sh share; sourced after
# tests/lib.sh. Which of the outside tools are here (python3-onnx's checker,
# onnxruntime-node through NN_ONNXRUNTIME_DIR), and the data both use.

PY=/usr/bin/python3
EXAMPLES=$top_builddir/examples/plugins/.libs
TESTPLUGINS=$top_builddir/tests/plugins/.libs
skip() { pass "$1 # SKIP $2"; }

have_checker=no
"$PY" -c 'import onnx' 2>/dev/null && have_checker=yes
have_ort=no
if [ -n "${NN_ONNXRUNTIME_DIR:-}" ] && command -v node >/dev/null 2>&1 &&
    NODE_PATH="$NN_ONNXRUNTIME_DIR/node_modules" node -e 'require("onnxruntime-node")' 2>/dev/null; then
    have_ort=yes
fi
[ $have_checker = yes ] || echo "# python3-onnx is absent: onnx.checker checks are skipped"
[ $have_ort = yes ] || echo "# onnxruntime-node is absent (set NN_ONNXRUNTIME_DIR): onnxruntime checks are skipped"

checker_max=0
[ $have_checker = no ] || checker_max=$("$PY" -c 'import onnx.defs; print(onnx.defs.onnx_opset_version())')

# checked FILE [OPSET]: onnx.checker accepts FILE (full check, with shape
# inference), when it knows OPSET (default 17).
checked() {
    if [ $have_checker = no ]; then
        skip "onnx.checker accepts $(basename "$1")" "no python3-onnx"
        return
    fi
    if [ "${2:-17}" -gt "$checker_max" ]; then
        skip "onnx.checker accepts $(basename "$1")" "python3-onnx knows opsets up to $checker_max"
        return
    fi
    sh_run "$PY" -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)' "$1"
    check "onnx.checker accepts $(basename "$1")" status_is 0
}

# close_to DESC PRED.csv OTHER.csv: the out columns of nnrun predict's PRED
# (header first) equal the rows of OTHER to 1e-5, row for row.
close_to() {
    awk -F, 'NR == FNR { if (FNR > 1) { n++; for (k = 1; k <= NF; k++) p[n, k] = $k }
                         else for (k = 1; k <= NF; k++) if ($k ~ /^out/) w = k
                         next }
             { m++; if (NF != w) bad = 1
               for (k = 1; k <= NF; k++) { d = $k - p[m, k]; if (d < 0) d = -d; if (d > max) max = d } }
             END { printf "rows %d %d, columns %d, largest difference %g\n", n, m, w, max
                   exit !(n == m && n > 0 && !bad && max <= 1e-5) }' "$2" "$3" >"$tmp/out"
    check "$1" test $? -eq 0 || sed 's/^/#   /' "$tmp/out"
}

# same_outputs DESC MODEL.onnx PRED.csv csv|idx FILE: onnxruntime's outputs of
# MODEL on FILE equal nnrun predict's (the out columns of PRED) to 1e-5.
same_outputs() {
    if [ $have_ort = no ]; then
        skip "$1" "no onnxruntime-node"
        return
    fi
    NODE_PATH="$NN_ONNXRUNTIME_DIR/node_modules" node "$top_srcdir/tests/onnx/run.js" "$2" "$4" "$5" \
        >"$tmp/ort.csv" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 0 ]; then
        fail "$1" "onnxruntime failed"
        return
    fi
    close_to "$1" "$3" "$tmp/ort.csv"
}

# points FILE: 64 rows "x,y,target" in [-2, 2], as the circle data.
points() {
    awk 'BEGIN { srand(7); for (i = 0; i < 64; i++) {
                   x = 4 * rand() - 2; y = 4 * rand() - 2
                   printf "%.6f,%.6f,%d\n", x, y, x * x + y * y < 1.5 } }' >"$1"
}

# images NAME N SEED: IDX files NAME-im and NAME-lb of N random 28x28 images
# and labels 0..9, the shape of Fashion-MNIST.
images() {
    awk -v n="$2" -v seed="$3" 'BEGIN {
        srand(seed)
        printf "\\000\\000\\010\\003\\000\\000\\000\\%03o\\000\\000\\000\\034\\000\\000\\000\\034", n
        for (i = 0; i < n * 784; i++) printf "\\%03o", int(rand() * 256) }' >"$tmp/fmt"
    printf "$(cat "$tmp/fmt")" >"$tmp/$1-im"
    awk -v n="$2" -v seed="$3" 'BEGIN {
        srand(seed + 1)
        printf "\\000\\000\\010\\001\\000\\000\\000\\%03o", n
        for (i = 0; i < n; i++) printf "\\%03o", int(rand() * 10) }' >"$tmp/fmt"
    printf "$(cat "$tmp/fmt")" >"$tmp/$1-lb"
}
