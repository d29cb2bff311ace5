#!/bin/sh
# idx.sh - the datasets idx, fashion_mnist and synthetic through nnrun.
#
# Small IDX files are written here (printf, gzip), so the loading code is
# tested whether or not the Debian package dataset-fashion-mnist is
# installed; every bad file must be refused with exit status 1 and one
# line naming the file and the reason. With the package, a linear model
# trains one epoch on Fashion-MNIST and its checkpoint is evaluated on the
# test split. (The exact decoded values are checked in tests/test_idx.c.)
. "$top_srcdir/tests/lib.sh"

# idx_file FILE MAGIC_BYTE DIMS BODY: a raw IDX file; DIMS and BODY as
# printf escapes.
idx_file() {
    printf "\\000\\000\\010\\$2$3$4" >"$tmp/$1"
}
# 4 images of 2x2: pixel bytes 0, 255, 51, 102 ...; labels 3 1 0 2.
D4='\000\000\000\004'
D2='\000\000\000\002'
PIX='\000\377\063\146\146\063\377\000\001\002\003\004\200\200\200\200'
idx_file im 003 "$D4$D2$D2" "$PIX"
idx_file lb 001 "$D4" '\003\001\000\002'
gzip -c "$tmp/im" >"$tmp/im.gz"
gzip -c "$tmp/lb" >"$tmp/lb.gz"
check "the test wrote 16-byte headers and bodies" \
    [ "$(wc -c <"$tmp/im")" -eq 32 ] && [ "$(wc -c <"$tmp/lb")" -eq 12 ]

for ext in '' .gz; do
    run check idx "images=$tmp/im$ext" "labels=$tmp/lb$ext"
    check "check idx (${ext:-raw}): 4 samples, input [1, 2, 2], target [1]" \
        out_has "dataset idx: 4 samples, input \[1, 2, 2\], target \[1\]"
    check "check idx (${ext:-raw}) passes" status_is 0
    # flatten ! linear with in=4 weights from ... a model trains on it
    run train --data "idx images=$tmp/im$ext labels=$tmp/lb$ext" \
        --model 'flatten ! linear out=10' --loss cross_entropy --epochs 3 --batch 2
    check "train on idx (${ext:-raw}) runs" status_is 0
    grep '^epoch' "$tmp/out" >"$tmp/epochs$ext"
done
# the same bytes whichever way they were read: raw, gzip inflated whole
# (libdeflate, where built), and gzip of two members (read as a stream)
check "gzip gives the raw file's epochs" cmp -s "$tmp/epochs" "$tmp/epochs.gz"
head -c 20 "$tmp/im" | gzip -c >"$tmp/im2.gz"
tail -c +21 "$tmp/im" | gzip -c >>"$tmp/im2.gz"
run train --data "idx images=$tmp/im2.gz labels=$tmp/lb.gz" \
    --model 'flatten ! linear out=10' --loss cross_entropy --epochs 3 --batch 2
grep '^epoch' "$tmp/out" >"$tmp/epochs2"
check "a gzip file of two members: the raw file's epochs" \
    eval 'status_is 0 && cmp -s "$tmp/epochs" "$tmp/epochs2"'

# ---- refusals: exit status 1, one line, naming the file and the reason ------
refuse() { # DESC FILE REASON IMAGES LABELS
    run train --data "idx images=$4 labels=$5" --model 'flatten ! linear out=10' \
        --loss cross_entropy --epochs 1 --batch 2
    user_error_result "$1: exit 1 and one line"
    check "$1: names $(basename "$2") and says '$3'" err_has "$2.*$3"
}
for ext in '' .gz; do
    w=${ext:-raw}
    refuse "wrong magic ($w)" "$tmp/lb$ext" "wrong magic number 0x00000801" \
        "$tmp/lb$ext" "$tmp/lb$ext"
    idx_file lb3 001 '\000\000\000\003' '\003\001\000'
    [ -n "$ext" ] && gzip -f "$tmp/lb3"
    refuse "counts that disagree ($w)" "$tmp/lb3$ext" "has 3 labels" "$tmp/im$ext" "$tmp/lb3$ext"
    idx_file imt 003 "$D4$D2$D2" '\000\377\063\146\146\063\377\000\001\002\003\004\200\200\200'
    [ -n "$ext" ] && gzip -f "$tmp/imt"
    refuse "truncated body ($w)" "$tmp/imt$ext" "truncated: 15 of the 16 bytes" \
        "$tmp/imt$ext" "$tmp/lb$ext"
    idx_file imh 003 '\377\377\377\377\000\000\000\034\000\000\000\034' ''
    [ -n "$ext" ] && gzip -f "$tmp/imh"
    refuse "absurd count ($w)" "$tmp/imh$ext" "absurd size in the header: count 4294967295" \
        "$tmp/imh$ext" "$tmp/lb$ext"
    idx_file ime 003 '\000\000\000\000\000\000\000\034\000\000\000\034' ''
    idx_file lbe 001 '\000\000\000\000' ''
    [ -n "$ext" ] && gzip -f "$tmp/ime" "$tmp/lbe"
    refuse "empty dataset ($w)" "$tmp/ime$ext" "empty: the header says count 0" \
        "$tmp/ime$ext" "$tmp/lbe$ext"
    idx_file lbb 001 "$D4" '\003\001\014\002'
    [ -n "$ext" ] && gzip -f "$tmp/lbb"
    refuse "label outside the classes ($w)" "$tmp/lbb$ext" "row 2: label 12 outside the classes 0..9" \
        "$tmp/im$ext" "$tmp/lbb$ext"
done
refuse "missing file" "$tmp/absent" "No such file or directory" "$tmp/absent" "$tmp/lb"
head -c $(($(wc -c <"$tmp/im.gz") - 12)) "$tmp/im.gz" >"$tmp/cut.gz"
refuse "gzip stream cut short" "$tmp/cut.gz" "truncated" "$tmp/cut.gz" "$tmp/lb"
printf 'hello, world, this is not IDX' >"$tmp/text"
refuse "a text file" "$tmp/text" "wrong magic number" "$tmp/text" "$tmp/lb"
user_error "idx without labels= is refused" train --data "idx images=$tmp/im"

run train --data "idx images=$tmp/im labels=$tmp/lbb.gz classes=0" --model 'flatten ! linear out=13' \
    --loss cross_entropy --epochs 1 --batch 2
check "classes=0 takes the largest label + 1: label 12 trains with 13 outputs" status_is 0

# ---- synthetic ------------------------------------------------------------------
run train --data 'synthetic n=200 shape=1,6,6 classes=3 seed=5' \
    --model 'conv2d out=2 kernel=3 ! relu ! flatten ! linear out=3' --loss cross_entropy \
    --epochs 2 --batch 20
check "train on synthetic 1,6,6 with a conv2d runs" status_is 0
cp "$tmp/out" "$tmp/syn1"
run train --data 'synthetic n=200 shape=1,6,6 classes=3 seed=5' \
    --model 'conv2d out=2 kernel=3 ! relu ! flatten ! linear out=3' --loss cross_entropy \
    --epochs 2 --batch 20
check "the same seed gives the same run" sh_run cmp "$tmp/syn1" "$tmp/out" ||
    check "(apart from the time line)" [ "$(grep -v '^time:' "$tmp/syn1")" = "$(grep -v '^time:' "$tmp/out")" ]
run summary --data 'synthetic shape=20' --model 'linear out=5'
check "synthetic shape=20 gives the input width: summary shows [-1, 5]" out_has "\[-1, 5\]"
user_error "synthetic shape=1,x is refused" train --data 'synthetic shape=1,x'
check "... saying why" err_has "shape '1,x' is not a list of sizes"
user_error "synthetic shape=0 is refused" train --data 'synthetic shape=0'
user_error "synthetic with too many values is refused" train --data 'synthetic n=100000000 shape=1,28,28'

# ---- Fashion-MNIST, when the Debian package is installed -------------------------
user_error "fashion_mnist with an empty root is refused" train --data "fashion_mnist root=$tmp"
check "... naming the file and the package" \
    err_has "train-images-idx3-ubyte.gz: not found (on Debian: apt-get install dataset-fashion-mnist)"
if [ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    run train --data 'fashion_mnist split=train' --model 'flatten ! linear out=10' \
        --loss cross_entropy --optim 'sgd lr=0.1' --epochs 1 --batch 64 --save "$tmp/f.pb"
    check "fashion_mnist: one epoch of a linear model trains" status_is 0
    check "... to train accuracy >= 0.75" \
        awk '/^epoch:/ { a = $NF } END { exit !(a + 0 >= 0.75) }' "$tmp/out"
    run eval "$tmp/f.pb" --data 'fashion_mnist split=test'
    check "eval on the test split: accuracy >= 0.75" \
        awk '/accuracy:/ { a = $NF } END { exit !(NR == 1 && a + 0 >= 0.75) }' "$tmp/out"
    run check fashion_mnist split=test
    check "check fashion_mnist split=test: 10000 samples of [1, 28, 28]" \
        out_has "dataset fashion_mnist: 10000 samples, input \[1, 28, 28\], target \[1\]"
else
    echo "# skipped the Fashion-MNIST runs: no /usr/share/datasets/fashion-mnist" \
        "(apt-get install dataset-fashion-mnist)"
fi

finish
