#!/bin/sh
# conv.sh - command-line tests of conv2d, max_pool2d and avg_pool2d, and of
# --input-shape, run by make check (the harness is tests/lib.sh).
. "$top_srcdir/tests/lib.sh"

stdout_lines=16
out_has_E() { grep -q -E -e "$1" "$tmp/out"; }
# The rows of a summary table: the lines between the two rules of '='.
rows() { awk '/^=+$/ { r++; next } r == 1' "$tmp/out"; }
row_is() { rows | sed -n "$1p" | grep -q -E -e "$2"; }

# ---- --input-shape with summary, print, params, graph ----

CHAIN='conv2d out=8 kernel=3 ! max_pool2d kernel=2'
run summary --model "$CHAIN" --input-shape 1,28,28
check "summary --input-shape 1,28,28 exits 0" status_is 0
check "summary row Conv2d-1 [-1, 8, 26, 26] 80" row_is 1 '^ *Conv2d-1 +\[-1, 8, 26, 26\] +80 *$'
check "summary row MaxPool2d-2 [-1, 8, 13, 13] 0" \
    row_is 2 '^ *MaxPool2d-2 +\[-1, 8, 13, 13\] +0 *$'
check "summary: Total params: 80" out_has '^Total params: 80$'

run summary --model "$CHAIN ! avg_pool2d kernel=3 stride=2 padding=1" --input-shape=3,20,31
check "summary --input-shape=3,20,31 (one word) exits 0" status_is 0
check "... Conv2d-1 [-1, 8, 18, 29] 224" row_is 1 '^ *Conv2d-1 +\[-1, 8, 18, 29\] +224 *$'
check "... MaxPool2d-2 [-1, 8, 9, 14]" row_is 2 '^ *MaxPool2d-2 +\[-1, 8, 9, 14\] +0 *$'
check "... AvgPool2d-3 [-1, 8, 5, 7]" row_is 3 '^ *AvgPool2d-3 +\[-1, 8, 5, 7\] +0 *$'

# The reprs as PyTorch 1.13 prints them (gen_conv.py prints the same ones).
run print --model 'conv2d out=8 kernel=3' --input-shape 1,28,28
check "print: Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))" eval \
    'status_is 0 && out_has "^Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))$"'
run print --model 'conv2d out=8 kernel=3 stride=2 padding=1 dilation=2 bias=false ! max_pool2d kernel=2 ! avg_pool2d kernel=3 stride=1 padding=1' \
    --input-shape 3,28,28
check "print: padding, dilation and bias=False as PyTorch's" out_has \
    '^  (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), bias=False)$'
check "print: MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)" \
    out_has '^  (1): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)$'
check "print: AvgPool2d(kernel_size=3, stride=1, padding=1)" \
    out_has '^  (2): AvgPool2d(kernel_size=3, stride=1, padding=1)$'

run params --model 'conv2d out=4 kernel=5' --input-shape 2,9,9
check "params: weight (4, 2, 5, 5) and bias (4,)" eval \
    'status_is 0 && out_has "^weight  *:  *200  shape: (4, 2, 5, 5)$" && out_has "^bias  *:  *4  shape: (4,)$"'

run graph --model "$CHAIN ! avg_pool2d kernel=2" --input-shape 1,8,8 -o "$tmp/g.dot"
check "graph --input-shape: PyTorch's backward node names" eval \
    'status_is 0 && grep -q ConvolutionBackward0 "$tmp/g.dot" && grep -q MaxPool2DWithIndicesBackward0 "$tmp/g.dot" && grep -q AvgPool2DBackward0 "$tmp/g.dot"'

# ---- refusals ----

for bad in 1,x 0,28,28 '' 1,,2 1,2,3,4,5,6,7,8 -1 '1, 2' 28a 1,28, ,1; do
    user_error "--input-shape '$bad' is refused" summary --model "$CHAIN" --input-shape "$bad"
    check "... saying what it expects" err_has "input-shape expects 1 to 7 whole numbers >= 1"
done
user_error "--input-shape with --data is refused" summary --model 'linear out=2' --data circle \
    --input-shape 2
check "... saying the data gives its shape" err_has "the data gives its own shape"
user_error "train refuses --input-shape" train --model 'linear out=1' --input-shape 2 --epochs 1
check "... naming the commands it is for" err_has "is for print, summary, params, graph and check"
run train --epochs 1 --save "$tmp/s.pb"
user_error "--input-shape with a checkpoint is refused" summary "$tmp/s.pb" --input-shape 2
check "... saying the checkpoint knows its shape" err_has "a checkpoint knows its input shape"
user_error "eval refuses --input-shape" eval "$tmp/s.pb" --input-shape 2
check "... naming the commands it is for" err_has "is for print, summary, params, graph and check"
user_error "conv2d without a shape is refused" summary --model "$CHAIN"
check "... suggesting --input-shape" err_has "give --input-shape C,H,W"
user_error "a kernel larger than the input is refused" summary --model 'conv2d out=2 kernel=5' \
    --input-shape 1,3,3
check "... saying it does not fit" err_has "does not fit"
user_error "max_pool2d padding above half the kernel is refused" summary \
    --model 'max_pool2d kernel=2 padding=2' --input-shape 1,8,8
check "... saying so" err_has "at most half"

# ---- nnrun check: gradients against finite differences ----

run check conv2d --input-shape 2,6,6 out=3 kernel=3
check "check conv2d --input-shape 2,6,6 passes, op and module" eval \
    'status_is 0 && out_has "^module conv2d: input \[3, 2, 6, 6\]" && out_has "^op conv2d: inputs" && out_has "^check conv2d: all [0-9]* checks passed$"'
run check conv2d --input-shape 3,7,8 out=2 kernel=3 stride=2 padding=1 dilation=2 bias=false
check "check conv2d with stride, padding, dilation, no bias passes" eval \
    'status_is 0 && out_has "^check conv2d: all [0-9]* checks passed$"'
# Rows of at least 8 outputs go by vectors: conv2d's rows of 19 here (the
# last vector overlapping), max_pool2d's of 18 windows with an odd row and
# column left over.
run check conv2d --input-shape 2,9,21 out=3 kernel=3 padding=1 dilation=2
check "check conv2d on rows of 19 outputs passes" eval \
    'status_is 0 && out_has "^check conv2d: all [0-9]* checks passed$"'
run check max_pool2d --input-shape 2,9,37 kernel=2
check "check max_pool2d on rows of 18 windows passes" eval \
    'status_is 0 && out_has "^check max_pool2d: all [0-9]* checks passed$"'
for p in max_pool2d avg_pool2d; do
    run check $p --input-shape 2,7,9 kernel=3 stride=2 padding=1
    check "check $p --input-shape 2,7,9 kernel=3 stride=2 padding=1 passes" eval \
        'status_is 0 && out_has "^check $p: all [0-9]* checks passed$"'
done
run check avg_pool2d --input-shape 1,6,6 kernel=2 stride=1 padding=1 count_include_pad=false
check "check avg_pool2d count_include_pad=false passes" status_is 0
user_error "check conv2d without --input-shape is refused" check conv2d
check "... suggesting --input-shape" err_has "give --input-shape C,H,W"

finish
