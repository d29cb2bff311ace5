#!/bin/sh
# plot.sh - nnrun plot and train --plot-history: the pictures decode as PNG
# (or parse as SVG) of the size asked for, on a white background with the
# classes' colours; the numbers drawn (--values) are the data's points, the
# predictions of nnrun predict on the same grid, and the epoch lines; every
# bad input is one clear message, status 1 and no file. Skipped (77) in a
# build without PLplot, after checking that plot says so.
. "$top_srcdir/tests/lib.sh"

pics=$tmp/pics
mkdir "$pics"
# In a sanitized build: what PLplot keeps until the process ends is no leak
# of nn's (tests/plot.supp says what).
LSAN_OPTIONS="suppressions=$top_srcdir/tests/plot.supp:print_suppressions=0\
${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

if ! grep -q '^#define HAVE_PLPLOT 1' "$top_builddir/config.h"; then
    run plot --data circle -o "$pics/d.png"
    check "built without PLplot, plot says to install libplplot-dev and plplot-driver-cairo" \
        err_has 'built without PLplot: install libplplot-dev and plplot-driver-cairo'
    user_error_result "built without PLplot, plot is a user error"
    run train --epochs 1 --plot-history "$pics/h.png"
    check "built without PLplot, train --plot-history fails before training" \
        sh -c '[ "$1" -eq 1 ] && ! grep -q "^epoch:" "$2"' sh "$rc" "$tmp/out"
    [ "$failed" -eq 0 ] || finish
    echo "$passed passed, 0 failed (skipped the pictures: nnrun was built without PLplot)"
    exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "0 passed, 0 failed (skipped: python3 is needed to decode the pictures)"
    exit 77
fi

# picture FILE W H [R,G,B ...]: tests/pngcheck.py accepts it.
picture() { python3 "$top_srcdir/tests/pngcheck.py" "$@" 2>"$tmp/why"; }
BLUE=31,119,180 # class 0
ORANGE=255,127,14 # class 1
GREEN=44,160,44 # class 2

# no_file: nothing was left in $pics, not even a temporary file.
no_file() { [ -z "$(ls -A "$pics")" ]; }

# close_csv A B COLA COLB TOL: column COLA of CSV A and column COLB of CSV B
# (headers skipped) have the same rows, equal within TOL.
close_csv() {
    awk -F, -v ca="$3" -v cb="$4" -v tol="$5" '
        FNR == 1 { next }
        NR == FNR { a[FNR] = $ca; na = FNR; next }
        { d = a[FNR] - $cb; if (d < 0) d = -d; if (d > tol) { bad++; if (bad < 4)
              printf "# row %d: %s vs %s\n", FNR, a[FNR], $cb } ; nb = FNR }
        END { exit !(bad == 0 && na == nb && na > 1) }' "$1" "$2"
}

# ---- the data ----------------------------------------------------------------

run plot --data circle -o "$pics/data.png" --values "$tmp/data.csv"
check "plot --data circle -o data.png: exit status 0, 'wrote'" \
    sh -c '[ "$1" -eq 0 ] && grep -qx "wrote $2" "$3"' sh "$rc" "$pics/data.png" "$tmp/out"
check "data.png is a whole 600x600 PNG, white background, class 0 blue and class 1 orange" \
    picture "$pics/data.png" 600 600 $BLUE $ORANGE || cat "$tmp/why"
check "--values: one row per sample of circle (1200)" \
    [ "$(($(wc -l <"$tmp/data.csv")))" -eq 1201 ]
# The circle's own rule, recomputed: class 1 inside (x-0.5)^2 + (y-0.5)^2 < 0.1.
check "--values: each point's class is the circle's (class 1 inside the circle)" \
    awk -F, 'NR > 1 { d = ($1 - 0.5) ^ 2 + ($2 - 0.5) ^ 2 - 0.1
        if (d * d > 1e-12 && (d < 0) != ($3 == 1)) bad++ } END { exit bad > 0 }' "$tmp/data.csv"

# A CSV of known points: the values are those points, the classes their labels.
awk 'BEGIN { print "a,b,c,label"; for (i = 0; i < 60; i++)
    printf "%.3f,%d,%.2f,%d\n", i / 7, i % 9, -i / 3, i % 3 }' >"$tmp/known.csv"
run plot --data "csv path=$tmp/known.csv header=1" --dims 2,0 -o "$pics/k.png" \
    --values "$tmp/k.csv"
check "plot --dims 2,0: exit status 0" status_is 0
awk -F, 'NR > 1 { printf "%.6g,%.6g,%d\n", $3, $1, $4 }' "$tmp/known.csv" >"$tmp/k.want"
awk -F, 'NR > 1 { printf "%.6g,%.6g,%d\n", $1, $2, $3 }' "$tmp/k.csv" >"$tmp/k.got"
check "--dims 2,0 --values: the points are features 2 and 0 of the file, the classes its labels" \
    cmp -s "$tmp/k.want" "$tmp/k.got"
check "three classes: blue, orange and green points" \
    picture "$pics/k.png" 600 600 $BLUE $ORANGE $GREEN || cat "$tmp/why"
rm -f "$pics"/*

# ---- training history ----------------------------------------------------------

run train --epochs 300 --save "$tmp/s.pb" --plot-history "$pics/hist.png"
check "train --epochs 300 --save s.pb --plot-history hist.png: exit status 0, 'plotted'" \
    sh -c '[ "$1" -eq 0 ] && grep -qx "plotted: $2" "$3"' sh "$rc" "$pics/hist.png" "$tmp/out"
grep '^epoch:' "$tmp/out" >"$tmp/hist.ep"
check "hist.png is a whole 600x600 PNG with the training curves (blue)" \
    picture "$pics/hist.png" 600 600 $BLUE || cat "$tmp/why"
run train --epochs 300
grep '^epoch:' "$tmp/out" >"$tmp/plain.ep"
check "--plot-history leaves the epoch lines as they are without it" \
    cmp -s "$tmp/hist.ep" "$tmp/plain.ep"

# Every epoch logged, with validation on some: the values are the lines'.
run train --data 'circle n=500' --epochs 40 --log-every 1 --val-split 0.2 \
    --plot-history "$pics/h.svg" --values "$tmp/h.csv" --size 800x500
check "train --plot-history h.svg --size 800x500: exit status 0" status_is 0
check "h.svg is SVG of 800x500" picture "$pics/h.svg" 800 500 || cat "$tmp/why"
check "--values: a header and one row per epoch (40)" \
    sh -c '[ "$(head -n 1 "$1")" = epoch,loss,accuracy,val_loss,val_accuracy ] &&
           [ "$(($(wc -l <"$1")))" -eq 41 ]' sh "$tmp/h.csv"
# Each epoch line's figures are its row's, as the line rounds them (%.4f).
history_matches() {
    awk 'NR == FNR { if (FNR > 1) { split($0, f, ","); row[f[1]] = $0 }; next }
        $1 == "epoch:" { split(row[$2], r, ",")
            for (i = 3; i < NF; i += 2) {
                col = $i == "loss:" ? 2 : $i == "accuracy:" ? 3 : $i == "val_loss:" ? 4 : 5
                if (r[col] == "" || sprintf("%.4f", r[col]) != $(i + 1)) bad++
            }
            lines++ }
        END { exit !(bad == 0 && lines == n) }' n="$2" "$1" "$tmp/out"
}
check "--values: every epoch line's loss, accuracy, val_loss and val_accuracy are its row's" \
    history_matches "$tmp/h.csv" 40
check "--values: validation figures only where validation ran (its rows have all four)" \
    awk -F, 'NR > 1 && ($4 == "") != ($5 == "") { bad++ } NR > 1 && $4 != "" { v++ }
        END { exit !(bad == 0 && v >= 1) }' "$tmp/h.csv"

# A loss without accuracy: one panel, no accuracy columns.
run train --data 'circle n=200' --loss mse --epochs 5 --log-every 1 \
    --plot-history "$pics/m.png" --values "$tmp/m.csv"
check "train --loss mse --plot-history: exit status 0, a 600x600 PNG" \
    sh -c '[ "$1" -eq 0 ] && python3 "$2" "$3" 600 600' sh "$rc" \
    "$top_srcdir/tests/pngcheck.py" "$pics/m.png"
check "--loss mse --values: epoch,loss,val_loss, the losses of the epoch lines" \
    sh -c '[ "$(head -n 1 "$1")" = epoch,loss,val_loss ]' sh "$tmp/m.csv"
rm -f "$pics"/*

# ---- the decision boundary -------------------------------------------------------

run plot "$tmp/s.pb" -o "$pics/boundary.png" --values "$tmp/grid.csv"
check "plot s.pb -o boundary.png: exit status 0, 'wrote'" \
    sh -c '[ "$1" -eq 0 ] && grep -qx "wrote $2" "$3"' sh "$rc" "$pics/boundary.png" "$tmp/out"
check "boundary.png is a whole 600x600 PNG with both classes' points" \
    picture "$pics/boundary.png" 600 600 $BLUE $ORANGE || cat "$tmp/why"
run plot "$tmp/s.pb" -o "$pics/boundary.svg"
check "plot s.pb -o boundary.svg: SVG of 600x600" \
    sh -c '[ "$1" -eq 0 ] && python3 "$2" "$3" 600 600' sh "$rc" \
    "$top_srcdir/tests/pngcheck.py" "$pics/boundary.svg"
run plot "$tmp/s.pb" -o "$pics/small.png" --size 400x300
check "--size 400x300: a 400x300 PNG" picture "$pics/small.png" 400 300 || cat "$tmp/why"

# The grid's probabilities are nnrun predict's outputs on the same points.
check "--values: x,y,probability for a 200x200 grid" \
    sh -c '[ "$(head -n 1 "$1")" = x,y,probability ] && [ "$(($(wc -l <"$1")))" -eq 40001 ]' \
    sh "$tmp/grid.csv"
awk -F, 'NR > 1 { print $1 "," $2 ",0" }' "$tmp/grid.csv" >"$tmp/gridpts.csv"
run predict "$tmp/s.pb" --data "csv path=$tmp/gridpts.csv" -o "$tmp/pred.csv"
check "nnrun predict on the grid's points: exit status 0" status_is 0
check "bce: each grid probability is predict's output there (within 1e-6)" \
    close_csv "$tmp/grid.csv" "$tmp/pred.csv" 3 1 1e-6
check "the grid holds both classes' probabilities (some below 0.5, some above)" \
    awk -F, 'NR > 1 { if ($3 < 0.5) lo++; else hi++ } END { exit !(lo > 100 && hi > 100) }' \
    "$tmp/grid.csv"

# bce_with_logits: the network gives logits, the picture their sigmoid.
run train --data 'circle n=400' --model 'linear out=6 ! tanh ! linear out=1' \
    --loss bce_with_logits --optim 'adam lr=0.05' --epochs 60 --save "$tmp/l.pb"
run plot "$tmp/l.pb" -o "$pics/l.png" --values "$tmp/lgrid.csv"
check "a bce_with_logits checkpoint: exit status 0" status_is 0
awk -F, 'NR > 1 { print $1 "," $2 ",0" }' "$tmp/lgrid.csv" >"$tmp/lpts.csv"
run predict "$tmp/l.pb" --data "csv path=$tmp/lpts.csv" -o "$tmp/lpred.csv"
awk -F, 'NR == 1 { print "p"; next } { printf "%.9g\n", 1 / (1 + exp(-$1)) }' \
    "$tmp/lpred.csv" >"$tmp/lsig.csv"
check "bce_with_logits: each grid probability is the sigmoid of predict's logit" \
    close_csv "$tmp/lgrid.csv" "$tmp/lsig.csv" 3 1 1e-6

# Three classes (cross_entropy): class regions; the values are predict's
# classes and the softmax of its scores.
awk 'BEGIN { print "x,y,label"; for (i = 0; i < 15; i++) for (j = 0; j < 15; j++)
    print i / 5 "," j / 5 "," (i < 5 ? 0 : j < 7 ? 1 : 2) }' >"$tmp/three.csv"
run train --data "csv path=$tmp/three.csv header=1" --model 'linear out=12 ! relu ! linear out=3' \
    --loss cross_entropy --optim 'adam lr=0.05' --epochs 150 --save "$tmp/c.pb"
run plot "$tmp/c.pb" -o "$pics/c.png" --values "$tmp/cgrid.csv"
check "a cross_entropy checkpoint of 3 classes: exit status 0" status_is 0
check "its picture has the 3 classes' points" \
    picture "$pics/c.png" 600 600 $BLUE $ORANGE $GREEN || cat "$tmp/why"
check "--values: x,y,class,p0,p1,p2" [ "$(head -n 1 "$tmp/cgrid.csv")" = x,y,class,p0,p1,p2 ]
awk -F, 'NR > 1 { print $1 "," $2 ",0" }' "$tmp/cgrid.csv" >"$tmp/cpts.csv"
run predict "$tmp/c.pb" --data "csv path=$tmp/cpts.csv" -o "$tmp/cpred.csv"
awk -F, 'NR == 1 { print "class,p0,p1,p2"; next } { m = $1; if ($2 > m) m = $2; if ($3 > m) m = $3
    s = exp($1 - m) + exp($2 - m) + exp($3 - m)
    printf "%d,%.9g,%.9g,%.9g\n", $4, exp($1 - m) / s, exp($2 - m) / s, exp($3 - m) / s }' \
    "$tmp/cpred.csv" >"$tmp/csoft.csv"
check "cross_entropy: each grid point's class is predict's" \
    close_csv "$tmp/cgrid.csv" "$tmp/csoft.csv" 3 1 0
softmax_matches() {
    for k in 1 2 3; do
        close_csv "$tmp/cgrid.csv" "$tmp/csoft.csv" $((k + 3)) $((k + 1)) 1e-6 || return 1
    done
}
check "cross_entropy: P(class k) is the softmax of predict's scores (within 1e-6)" softmax_matches
rm -f "$pics"/*

# ---- the README's pictures --------------------------------------------------------

# Its commands, as shown, each picture a 600x600 PNG; the committed pictures too.
awk '/^## Pictures/ { f = 1 } f && /^```/ { if (inb) exit; inb = 1; next } f && inb' \
    "$top_srcdir/README.md" | sed "s|^nnrun |\"\$NNRUN\" |" >"$tmp/readme.sh"
(cd "$pics" && NNRUN=$NNRUN sh -e "$tmp/readme.sh") >"$tmp/out" 2>"$tmp/err"
rc=$?
check "the README's picture commands run as shown" \
    sh -c '[ "$1" -eq 0 ] && [ "$(grep -c "^nnrun\|\$NNRUN" "$2")" -eq 3 ] && [ ! -s "$3" ]' \
    sh "$rc" "$tmp/readme.sh" "$tmp/err"
for f in data hist boundary; do
    check "the README's $f.png is made and is a 600x600 PNG" \
        picture "$pics/$f.png" 600 600 $BLUE || cat "$tmp/why"
    check "docs/img/$f.png, which the README shows, is a 600x600 PNG" \
        picture "$top_srcdir/docs/img/$f.png" 600 600 $BLUE || cat "$tmp/why"
done
rm -f "$pics"/*

# ---- refusals: one message, status 1, no file ------------------------------------

# refused DESC TEXT ARGS...: status 1, one line on stderr containing TEXT,
# and nothing left in $pics.
refused() {
    desc=$1 text=$2
    shift 2
    run "$@"
    user_error_result "$desc"
    check "$desc: the message says '$text'" err_has "$text" || true
    check "$desc: no file is left" no_file || ls -A "$pics" | sed 's/^/#   left: /'
    rm -f "$pics"/* "$pics"/.[!.]* 2>/dev/null
}

echo "x" >"$tmp/afile"
printf 'f,label\n1,0\n2,1\n3,0\n' >"$tmp/one.csv"
printf 'a,b,c,label\n1,2,3,0\n2,3,1,1\n3,1,2,0\n4,4,4,1\n' >"$tmp/wide.csv"
printf 'a,b,t\n1,2,0.5\n2,3,1.5\n' >"$tmp/reg.csv"
run train --data "csv path=$tmp/wide.csv header=1" --epochs 2 --save "$tmp/w.pb"
run train --data 'circle n=100' --loss mse --epochs 2 --save "$tmp/m.pb"

refused "an unknown extension" "must end in .png or .svg" plot --data circle -o "$pics/d.jpg"
refused "no extension" "must end in .png or .svg" plot --data circle -o "$pics/d"
refused "a folder that does not exist" "cannot save" plot --data circle -o "$pics/no/d.png"
refused "a folder that is a file" "cannot save" plot --data circle -o "$tmp/afile/d.png"
if [ "$(id -u)" -ne 0 ]; then # root writes into any folder
    mkdir "$tmp/ro"
    chmod 555 "$tmp/ro"
    run plot --data circle -o "$tmp/ro/d.png"
    user_error_result "a folder that cannot be written"
    check "a folder that cannot be written: the message says so, no file" \
        sh -c 'grep -q "cannot save" "$1" && [ -z "$(ls -A "$2")" ]' sh "$tmp/err" "$tmp/ro"
    chmod 755 "$tmp/ro"
fi
mkdir "$tmp/dir.png"
refused "a picture over a folder" "it is a folder" plot --data circle -o "$tmp/dir.png"
refused "--values into a missing folder" "cannot save" \
    plot --data circle -o "$pics/d.png" --values "$pics/no/v.csv"
refused "1-D data" "1 feature per sample" plot --data "csv path=$tmp/one.csv header=1" \
    -o "$pics/d.png"
refused "--dims beyond the features" "--dims 0,5: the data has 2 features" \
    plot --data circle --dims 0,5 -o "$pics/d.png"
refused "--dims of one feature twice" "two different feature indices" \
    plot --data circle --dims 1,1 -o "$pics/d.png"
refused "--dims that are not numbers" "two different feature indices" \
    plot --data circle --dims a,b -o "$pics/d.png"
refused "targets that are no class" "is no class index" \
    plot --data "csv path=$tmp/reg.csv header=1" -o "$pics/d.png"
refused "a network of 3 inputs" "takes input of shape \\[3\\]" plot "$tmp/w.pb" -o "$pics/b.png"
refused "a loss without classes" "defines no classes" plot "$tmp/m.pb" -o "$pics/b.png"
refused "--dims with a checkpoint" "--dims is for --data" \
    plot "$tmp/s.pb" --dims 1,0 -o "$pics/b.png"
refused "--size too small" "--size expects" plot --data circle --size 10x10 -o "$pics/d.png"
refused "--size without a height" "--size expects" plot --data circle --size 600 -o "$pics/d.png"
refused "plot without -o" "plot needs -o" plot --data circle
refused "plot without data or checkpoint" "plot expects a checkpoint FILE or --data" \
    plot -o "$pics/d.png"
refused "--size without --plot-history" "go with --plot-history" train --epochs 1 --size 400x400
refused "train --dims" "--dims is for nnrun plot" train --epochs 1 --plot-history "$pics/h.png" \
    --dims 0,1

# train refuses a bad --plot-history before training: no epoch line.
for bad in "$pics/h.jpg" "$pics/no/h.png"; do
    run train --epochs 5 --plot-history "$bad"
    user_error_result "train --plot-history $(basename "$bad"): refused"
    check "train --plot-history $(basename "$bad"): before any training" \
        sh -c '! grep -q "^epoch:\|^before:" "$1"' sh "$tmp/out"
    check "train --plot-history $(basename "$bad"): no file" no_file
done
run train --epochs 0 --plot-history "$pics/h.png"
user_error_result "train --epochs 0 --plot-history: no epoch to draw is an error"
check "train --epochs 0 --plot-history: the message says so, no file" \
    sh -c 'grep -q "no epoch was trained" "$1" && [ -z "$(ls -A "$2")" ]' sh "$tmp/err" "$pics"

# PLplot without its cairo driver (its driver folder emptied): the message
# names the package, and nothing is written.
mkdir "$tmp/nodrivers"
run_env PLPLOT_DRV_DIR="$tmp/nodrivers" plot --data circle -o "$pics/d.png"
if [ "$rc" -eq 0 ]; then
    rm -f "$pics"/*
    pass "(PLplot's drivers are built into it here: no driver folder to empty)"
else
    user_error_result "no cairo driver: a user error"
    check "no cairo driver: the message says to install plplot-driver-cairo, no file" \
        sh -c 'grep -q "install plplot-driver-cairo" "$1" && [ -z "$(ls -A "$2")" ]' sh \
        "$tmp/err" "$pics"
fi

finish
