#!/bin/sh
# onnx_import.sh - nnrun import, run by make check (the harness is
# tests/lib.sh). Models exported by PyTorch (tests/onnx/torch_models.py,
# Debian python3-torch) import and give PyTorch's outputs to 1e-5 in nnrun
# predict; the imported CNN trains on; nnrun's own exports import back to
# the same outputs. Checks whose tool is absent are skipped and say so.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/onnx/lib.sh"

# A build without onnx.proto: import says so, and that is all there is to test.
run import "$tmp/none.onnx" -o "$tmp/none.pb"
if err_has "built without ONNX"; then
    user_error_result "import in a build without ONNX is refused with one message"
    check "the message says what to install" err_has "libonnx-dev"
    finish
fi

# outs CSV: nnrun predict's out columns of CSV, without a class column.
outs() {
    awk -F, 'NR == 1 { for (k = 1; k <= NF; k++) if ($k ~ /^out/) w = k }
             { for (k = 1; k <= w; k++) printf "%s%s", $k, k < w ? "," : "\n" }' "$1"
}
# same_outs A.csv B.csv: the same out columns, byte for byte.
same_outs() { outs "$1" >"$tmp/a.outs" && outs "$2" >"$tmp/b.outs" && cmp -s "$tmp/a.outs" "$tmp/b.outs"; }

points "$tmp/pts.csv"
images fm 48 3
FM="idx images=$tmp/fm-im labels=$tmp/fm-lb"

# ---- nnrun's own exports come back ------------------------------------------------

run train --epochs 30 --save "$tmp/seed.pb"
check "train --save seed.pb" status_is 0
run export "$tmp/seed.pb" -o "$tmp/seed.onnx"
run import "$tmp/seed.onnx" -o "$tmp/seed2.pb"
check "export, then import of seed.onnx" eval 'status_is 0 && out_has "^wrote $tmp/seed2.pb$"'
run predict "$tmp/seed.pb" --data "csv path=$tmp/pts.csv" -o "$tmp/a.csv"
run predict "$tmp/seed2.pb" --data "csv path=$tmp/pts.csv" -o "$tmp/b.csv"
check "the seed network round trip predicts what the original does, bit for bit" \
    same_outs "$tmp/a.csv" "$tmp/b.csv"
run inspect "$tmp/seed2.pb"
check "the imported chain is linear ! sigmoid ! linear ! sigmoid, info names its source" eval \
    'out_has "^model: *linear .*out=5 .* ! sigmoid ! linear .*out=1 .* ! sigmoid$" && out_has "^info: *imported from $tmp/seed.onnx$"'

CNN='conv2d out=4 kernel=3 padding=1 stride=2 ! leaky_relu negative_slope=0.2 ! max_pool2d kernel=2 ! avg_pool2d kernel=2 padding=1 count_include_pad=false ! flatten ! linear out=16 bias=false ! batchnorm1d ! relu ! linear out=12 ! tanh ! linear out=10 ! log_softmax'
run train --data "$FM" --model "$CNN" --loss cross_entropy --epochs 1 --batch 16 --save "$tmp/c.pb"
check "train a small CNN" status_is 0
run export "$tmp/c.pb" -o "$tmp/c.onnx"
run import "$tmp/c.onnx" -o "$tmp/c2.pb" --info "back from ONNX"
check "export, then import of a CNN" status_is 0
run predict "$tmp/c.pb" -o "$tmp/a.csv"
run predict "$tmp/c2.pb" --data "$FM" -o "$tmp/b.csv"
check "the CNN round trip predicts what the original does, bit for bit" \
    same_outs "$tmp/a.csv" "$tmp/b.csv"

# ---- refusals: nothing is written --------------------------------------------------

user_error "train --model FILE.pb of another input shape is refused" \
    train --model "$tmp/seed2.pb" --data "$FM" --epochs 1
check "the message names both shapes" err_has "takes samples of shape \[2\], the data has \[1, 28, 28\]"
user_error "train --model of a missing FILE.pb is refused" train --model "$tmp/nosuch.pb" --epochs 1

user_error "import of a file that is no ONNX model is refused" import "$tmp/pts.csv" -o "$tmp/x.pb"
check "the message says so; no file" eval 'err_has "is not an ONNX model" && [ ! -e "$tmp/x.pb" ]'
user_error "import of a missing file is refused" import "$tmp/nosuch.onnx" -o "$tmp/x.pb"
user_error "import without -o is refused" import "$tmp/seed.onnx"
run_env NN_PLUGIN_PATH="$EXAMPLES" train --model 'linear out=5 ! softplus ! linear out=1 ! sigmoid' \
    --epochs 2 --save "$tmp/sp.pb"
run_env NN_PLUGIN_PATH="$EXAMPLES" export "$tmp/sp.pb" -o "$tmp/sp.onnx"
user_error "import of a node nn does not take (Softplus) is refused" \
    import "$tmp/sp.onnx" -o "$tmp/x.pb"
check "the refusal names the node and its op type; no file" \
    eval 'err_has "node .Softplus_[0-9]*. (op type Softplus) cannot be imported" && [ ! -e "$tmp/x.pb" ]'

# ---- from PyTorch ----------------------------------------------------------------------

if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "# python3-torch is absent: the checks of models exported by PyTorch are skipped"
    skip "PyTorch's seed network and small CNN import with PyTorch's outputs" "no python3-torch"
    finish
fi
T=$tmp/torch
mkdir "$T"
sh_run "$PY" "$top_srcdir/tests/onnx/torch_models.py" "$T" "$tmp/pts.csv" "$tmp/fm-im"
check "torch.onnx.export writes the seed network, the small CNN and an ELU model" \
    eval 'status_is 0 && [ -s "$T/seed.out.csv" ] && [ -s "$T/cnn.out.csv" ] && [ -s "$T/elu.onnx" ]'

run import "$T/seed.onnx" -o "$tmp/ts.pb"
check "import PyTorch's seed network" status_is 0
run predict "$tmp/ts.pb" --data "csv path=$tmp/pts.csv" -o "$tmp/ts.csv"
check "predict with it" status_is 0
close_to "the imported seed network gives PyTorch's outputs" "$tmp/ts.csv" "$T/seed.out.csv"

run import "$T/cnn.onnx" -o "$tmp/tc.pb"
check "import PyTorch's small CNN" status_is 0
run inspect "$tmp/tc.pb"
check "its chain is conv2d ! relu ! max_pool2d ! flatten ! linear, input [1, 28, 28]" eval \
    'out_has "^model: *conv2d .*out=8 kernel=3 .* ! relu ! max_pool2d kernel=2 stride=2 .* ! flatten .* ! linear .*out=10 " && out_has "^input: *\[1, 28, 28\]$"'
run predict "$tmp/tc.pb" --data "$FM" -o "$tmp/tc.csv"
check "predict with it" status_is 0
close_to "the imported CNN gives PyTorch's outputs" "$tmp/tc.csv" "$T/cnn.out.csv"
run train --model "$tmp/tc.pb" --data "$FM" --loss cross_entropy --optim 'sgd lr=0.05' \
    --epochs 1 --batch 16 --save "$tmp/tc1.pb"
check "the imported CNN trains one more epoch and saves" \
    eval 'status_is 0 && out_has "^epoch: *0 loss:" && out_has "^saved: $tmp/tc1.pb$"'
run eval "$tmp/tc1.pb"
check "and the saved model evaluates" eval 'status_is 0 && out_has "^loss: .* accuracy: "'
run predict "$tmp/tc1.pb" -o "$tmp/tc1.csv"
check "its weights moved: other outputs than before the epoch" \
    eval 'status_is 0 && ! cmp -s "$tmp/tc.csv" "$tmp/tc1.csv"'

# On Fashion-MNIST itself when its Debian package is here (CI installs it).
run train --model "$tmp/tc.pb" --data 'fashion_mnist split=train' --loss cross_entropy \
    --optim 'sgd lr=0.05 momentum=0.9' --epochs 1 --batch 64 --save "$tmp/tf.pb"
if [ $rc -ne 0 ] && err_has "dataset-fashion-mnist"; then
    skip "the imported CNN trains an epoch of Fashion-MNIST" "no dataset-fashion-mnist"
else
    check "the imported CNN trains an epoch of Fashion-MNIST and saves" \
        eval 'status_is 0 && out_has "^saved: $tmp/tf.pb$"'
    run eval "$tmp/tf.pb" --data 'fashion_mnist split=test'
    check "and it learned: test accuracy >= 0.75" \
        eval 'status_is 0 && awk "/^loss:/ { exit !(\$4 >= 0.75) }" "$tmp/out"'
fi

user_error "import of PyTorch's ELU model is refused" import "$T/elu.onnx" -o "$tmp/te.pb"
check "the refusal names the node /1/Elu and its op type; no file" \
    eval 'err_has "node ./1/Elu. (op type Elu) cannot be imported" && [ ! -e "$tmp/te.pb" ]'

finish
