#!/bin/sh
# csv.sh - the csv dataset: decoding, normalization statistics (checked
# against awk), the statistics kept in a checkpoint and applied by eval to
# other files, training on unscaled features, and every refusal.
. "$top_srcdir/tests/lib.sh"

# err_is TEXT: stderr is exactly "nnrun: TEXT".
err_is() { [ "$(cat "$tmp/err")" = "nnrun: $1" ]; }

# The value of KEY= in the "data:" line of nnrun inspect's output.
data_word() {
    awk -v k="$1=" '$1 == "data:" { for (i = 2; i <= NF; i++)
        if (index($i, k) == 1) print substr($i, length(k) + 1) }' "$tmp/out"
}

# Population mean and std of columns 1 and 2 of a CSV (header line skipped),
# as "mean1,mean2 std1,std2".
awk_stats() {
    awk -F, 'NR > 1 { n++; for (j = 1; j <= 2; j++) { s[j] += $j; v[j, n] = $j } }
        END { for (j = 1; j <= 2; j++) { m[j] = s[j] / n; q = 0
                  for (i = 1; i <= n; i++) q += (v[j, i] - m[j]) ^ 2
                  sd[j] = sqrt(q / n) }
              printf "%.17g,%.17g %.17g,%.17g\n", m[1], m[2], sd[1], sd[2] }' "$1"
}

# close_lists A B: comma-separated numbers equal within 1e-6 relative.
close_lists() {
    awk -v a="$1" -v b="$2" 'BEGIN { na = split(a, x, ","); nb = split(b, y, ",")
        if (na != nb || na == 0) exit 1
        for (i = 1; i <= na; i++) { d = x[i] - y[i]; if (d < 0) d = -d
            t = y[i] < 0 ? -y[i] : y[i]; if (d > 1e-6 * t + 1e-12) exit 1 }
        exit 0 }'
}

# gen FILE SEED ROWS: a header line, then 2 classes: feature 1 of scale ~100,
# feature 2 of scale ~0.01; the class shifts both a little.
gen() {
    awk -v seed="$2" -v n="$3" 'BEGIN { srand(seed); print "big,small,label"
        for (i = 0; i < n; i++) { c = i % 2; s = c ? 1 : -1
            printf "%.2f,%.6f,%d\n", 100 + s * 8 + 10 * (rand() - 0.5), \
                0.01 * s + 0.01 * (rand() - 0.5), c } }' >"$1"
}

# ---- decoding and the learned words
printf '1,2,0\n3,4,1\n5,7.5,1\n' >"$tmp/a.csv"
run train --data "csv path=$tmp/a.csv normalize=standard" --model 'linear out=2' \
    --loss cross_entropy --epochs 1 --batch 3 --save "$tmp/a.nn"
check "train on a 3-row csv" status_is 0
run inspect "$tmp/a.nn"
check "the checkpoint's data spec carries the statistics and the classes" \
    out_has "^data: *csv path=$tmp/a.csv normalize=standard classes=2 mean=3,4.5 std=1.63299316185545[0-9]*,2.27303028283097[0-9]*$"

# normalize=minmax on a file with a header, the target first, ';' between cells
printf 'y;a;b\n1;-2;10\n0;4;10\n1;1;30\n' >"$tmp/m.csv"
run train --data "csv path=$tmp/m.csv header=1 target=0 delimiter=; normalize=minmax" \
    --model 'linear out=2' --loss cross_entropy --epochs 1 --batch 3 --save "$tmp/m.nn"
check "train with header=1 target=0 delimiter=; normalize=minmax" status_is 0
run inspect "$tmp/m.nn"
check "minmax statistics: min=-2,10 max=4,30" out_has "delimiter=; normalize=minmax classes=2 min=-2,10 max=4,30$"

# a regression target: not whole numbers, so no classes
printf '1,0.5\n2,1.5\n3,2.25\n' >"$tmp/r.csv"
run train --data "csv path=$tmp/r.csv" --model 'linear out=1' --loss mse --epochs 1 --batch 3 \
    --save "$tmp/r.nn"
check "train a regression on a csv" status_is 0
run inspect "$tmp/r.nn"
check "a regression target learns no classes (nothing added to the spec)" \
    out_has "^data: *csv path=$tmp/r.csv$"

# decoded values exact: linear out=1 with mse on y = x: the loss of a model is
# the same for a file and for the same numbers written another way
printf '0.25,1e1,1\n-3,2.5E-1,0\n' >"$tmp/d1.csv"
printf '  0.250 ;10; 1\r\n-3.0;0.25;0\r\n\n' >"$tmp/d2.csv"
run train --data "csv path=$tmp/d1.csv" --model 'linear out=1' --loss mse --epochs 3 --batch 2 \
    --save "$tmp/d.nn"
check "train on d1.csv" status_is 0
run eval "$tmp/d.nn"
l1=$(cat "$tmp/out")
run eval "$tmp/d.nn" --data "csv path=$tmp/d2.csv delimiter=;"
check "the same numbers written with spaces, CRLF and ';' decode the same" \
    [ "$rc" -eq 0 -a -n "$l1" -a "$(cat "$tmp/out")" = "$l1" ]

printf '0.25\t10\t1\n-3\t0.25\t0\n' >"$tmp/d3.csv"
run eval "$tmp/d.nn" --data "csv path=$tmp/d3.csv delimiter=tab"
check "delimiter=tab decodes the same numbers" [ "$rc" -eq 0 -a "$(cat "$tmp/out")" = "$l1" ]

# ---- statistics of a real file against awk, kept and reused by eval
gen "$tmp/train.csv" 7 300
gen "$tmp/test.csv" 11 200
# the test file's own statistics differ: shift feature 1 by 50
awk -F, -v OFS=, 'NR == 1 { print; next } { $1 = $1 + 50; print }' "$tmp/test.csv" >"$tmp/shifted.csv"
run train --data "csv path=$tmp/train.csv header=1 normalize=standard" \
    --model 'linear out=2' --loss cross_entropy --optim 'sgd lr=0.1' --epochs 100 --batch 30 \
    --save "$tmp/t.nn"
check "train on 300 rows of unscaled features with normalize=standard" status_is 0
acc=$(awk '/^epoch:/ { a = $NF } END { print a }' "$tmp/out")
check "training reaches accuracy >= 0.95 (got $acc)" awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }'
run train --data "csv path=$tmp/train.csv header=1" \
    --model 'linear out=2' --loss cross_entropy --optim 'sgd lr=0.1' --epochs 100 --batch 30
raw=$(awk '/^epoch:/ { a = $NF } END { print a }' "$tmp/out")
check "the same run without normalize stays near chance (got $raw)" \
    awk -v a="$raw" 'BEGIN { exit !(a != "" && a < 0.8) }'
run inspect "$tmp/t.nn"
set -- $(awk_stats "$tmp/train.csv")
check "mean= equals awk's means of the training file ($1)" close_lists "$(data_word mean)" "$1"
check "std= equals awk's population stds of the training file ($2)" close_lists "$(data_word std)" "$2"
mean=$(data_word mean)
std=$(data_word std)
run eval "$tmp/t.nn" --data "csv path=$tmp/test.csv header=1"
acc=$(awk '{ print $NF }' "$tmp/out")
check "eval on another file with the training statistics: accuracy >= 0.95 (got $acc)" \
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }'
run eval "$tmp/t.nn" --data "csv path=$tmp/shifted.csv header=1"
applied=$(cat "$tmp/out")
run eval "$tmp/t.nn" --data "csv path=$tmp/shifted.csv header=1 normalize=standard mean=$mean std=$std"
check "eval --data applies the checkpoint's statistics (as if given by hand)" \
    [ -n "$applied" -a "$(cat "$tmp/out")" = "$applied" ]
set -- $(awk_stats "$tmp/shifted.csv")
run eval "$tmp/t.nn" --data "csv path=$tmp/shifted.csv header=1 mean=$1 std=$2"
check "the file's own statistics (given) give another result" \
    [ "$rc" -eq 0 -a -n "$applied" -a "$(cat "$tmp/out")" != "$applied" ]
run eval "$tmp/t.nn"
check "eval FILE reopens the training data with the same statistics" \
    awk '{ exit !($NF >= 0.95) }' "$tmp/out"
run inspect "$tmp/t.nn"
spec1=$(grep '^data:' "$tmp/out")
run train --resume "$tmp/t.nn" --epochs 102 --save "$tmp/t2.nn"
check "--resume of a normalized csv run" status_is 0
run inspect "$tmp/t2.nn"
check "the resumed run saves the same data spec, statistics once" \
    [ -n "$spec1" -a "$(grep '^data:' "$tmp/out")" = "$spec1" ]

# ---- refusals: one line, exit status 1
bad() { # bad DESC CONTENT SPEC-WORDS MESSAGE
    printf "$2" >"$tmp/bad.csv"
    user_error "$1" eval "$tmp/a.nn" --data "csv path=$tmp/bad.csv $3"
    check "  ... says: $4" err_is "$4" || sed 's/^/#   /' "$tmp/err"
}
B=$tmp/bad.csv
bad "a cell that is not a number" '1,2,0\n1,abc,1\n' "" "$B:2:2: 'abc' is not a number"
bad "a row with too many columns" '1,2,0\n1,2,3,0,1\n' "" "$B:2: 5 columns, expected 3"
bad "a row with too few columns" '1,2,0\n\n1,0\n' "" "$B:3: 2 columns, expected 3"
bad "a label outside the training classes" '1,2,0\n1,2,2\n' "" "$B:2: label 2 is not a class in 0..1"
bad "a label that is not whole with classes=3" '1,2,0.5\n' "classes=3" "$B:1: label 0.5 is not a class in 0..2"
bad "an empty file" '' "" "$B: no data rows"
bad "a file of a header only" 'a,b,c\n' "header=1" "$B: no data rows"
bad "a quoted cell" '1,"2",0\n' "" "$B:1:2: quoted cells are not supported"
bad "an infinite value" '1,inf,0\n' "" "$B:1:2: 'inf' is not a finite single-precision number"
bad "a value too large for a float" '1,1e39,0\n' "" "$B:1:2: '1e39' is not a finite single-precision number"
bad "an empty cell" '1,,0\n' "" "$B:1:2: '' is not a number"
bad "a target column outside the row" '1,2,0\n' "target=3" "csv: target=3 is outside the 3 columns of $B"
bad "one column" '1\n2\n' "" "$B:1: 1 column; a row needs features and a target"
bad "a bad delimiter" '1,2,0\n' "delimiter=." "csv: delimiter=.: give one character that is not part of a number, or 'tab'"
bad "mean= with the wrong count" '1,2,0\n' "mean=1 std=1" "csv: mean= has 1 numbers, the data 2 features"
bad "std= of zero" '1,2,0\n' "mean=1,1 std=1,0" "csv: std=1,0: item 2 is not a positive finite number"
bad "mean= without std=" '1,2,0\n' "normalize=standard std=" "csv: give both mean= and std=, or neither"
bad "min= with normalize=standard" '1,2,0\n' "min=1,1" "csv: normalize=standard takes mean= and std=, not min= or max="
bad "normalize=none against the checkpoint's statistics" '1,2,0\n' "normalize=none" \
    "csv: mean= is for normalize=standard, not normalize=none"
printf '1,2\0,0\n' >"$tmp/nul.csv"
user_error "a file with a NUL byte" eval "$tmp/a.nn" --data "csv path=$tmp/nul.csv"
check "  ... says so" err_is "$tmp/nul.csv: not a text file (it holds a NUL byte)"
user_error "a missing file" eval "$tmp/a.nn" --data "csv path=$tmp/nope.csv"
check "  ... gives the system's reason" err_is "$tmp/nope.csv: No such file or directory"
user_error "a directory" eval "$tmp/a.nn" --data "csv path=$tmp"
check "  ... gives the system's reason" err_has "$tmp"
user_error "a missing path=" train --data "csv" --epochs 1

finish
