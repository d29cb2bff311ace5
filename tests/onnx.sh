#!/bin/sh
# onnx.sh - nnrun export, run by make check (the harness is tests/lib.sh).
# Each exported model is checked by onnx.checker (Debian python3-onnx) and
# run in onnxruntime (npm onnxruntime-node, found through NN_ONNXRUNTIME_DIR,
# the folder that npm install --prefix filled) on the inputs that nnrun
# predict reads: their outputs agree to 1e-5. Checks whose tool is absent
# are skipped and say so.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/onnx/lib.sh"

# A build without onnx.proto: export says so, and that is all there is to test.
run export "$tmp/none.pb" -o "$tmp/none.onnx"
if err_has "built without ONNX"; then
    user_error_result "export in a build without ONNX is refused with one message"
    check "the message says what to install" err_has "libonnx-dev"
    finish
fi

points "$tmp/pts.csv"
images fm 48 3

# ---- the seed network --------------------------------------------------------------

run train --epochs 50 --save "$tmp/seed.pb" --info "the seed network"
check "train --save seed.pb" status_is 0
run export "$tmp/seed.pb" -o "$tmp/seed.onnx"
check "export seed.pb writes seed.onnx" \
    eval 'status_is 0 && out_has "^wrote $tmp/seed.onnx$" && [ -s "$tmp/seed.onnx" ]'
checked "$tmp/seed.onnx"
if [ $have_checker = yes ]; then
    sh_run "$PY" -c '
import onnx, sys
m = onnx.load(sys.argv[1])
g = m.graph
dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
meta = {p.key: p.value for p in m.metadata_props}
print("opset", m.opset_import[0].version)
print("input", g.input[0].name, dims(g.input[0]))
print("output", g.output[0].name, dims(g.output[0]))
print("initializers", sorted(i.name for i in g.initializer))
print("nodes", [n.op_type for n in g.node])
print("info", meta.get("info"))
print("date", bool(meta.get("date")))' "$tmp/seed.onnx"
    check "seed.onnx: opset 17, input (batch, 2), output (batch, 1)" eval \
        'out_has "^opset 17$" && out_has "^input input .'"'"'batch'"'"', 2\]$" && out_has "^output output .'"'"'batch'"'"', 1\]$"'
    check "seed.onnx: the parameters are initializers by their names" \
        out_has "^initializers \['0.bias', '0.weight', '2.bias', '2.weight'\]$"
    check "seed.onnx: Gemm, Sigmoid, Gemm, Sigmoid" \
        out_has "^nodes \['Gemm', 'Sigmoid', 'Gemm', 'Sigmoid'\]$"
    check "seed.onnx: the checkpoint's info and date are metadata" \
        eval 'out_has "^info the seed network$" && out_has "^date True$"'
else
    skip "seed.onnx: names, shapes, nodes and metadata" "no python3-onnx"
fi
run predict "$tmp/seed.pb" --data "csv path=$tmp/pts.csv" -o "$tmp/seed.csv"
check "predict seed.pb on 64 points" status_is 0
same_outputs "seed network: onnxruntime gives nnrun predict's outputs" \
    "$tmp/seed.onnx" "$tmp/seed.csv" csv "$tmp/pts.csv"

# ---- opsets ----------------------------------------------------------------------------

run export "$tmp/seed.pb" -o "$tmp/seed13.onnx" --opset 13
check "export --opset 13" status_is 0
checked "$tmp/seed13.onnx"
same_outputs "opset 13: onnxruntime gives nnrun predict's outputs" \
    "$tmp/seed13.onnx" "$tmp/seed.csv" csv "$tmp/pts.csv"
for bad in 12 21; do
    user_error "export --opset $bad is refused with one message" \
        export "$tmp/seed.pb" -o "$tmp/bad.onnx" --opset $bad
    check "the refusal names opset $bad and the supported 13 to 20; no file" \
        eval 'err_has "opset $bad is not supported" && err_has "13 to 20" && [ ! -e "$tmp/bad.onnx" ]'
done
user_error "export without -o is refused" export "$tmp/seed.pb"
user_error "export of a file that is no checkpoint is refused" \
    export "$tmp/pts.csv" -o "$tmp/bad.onnx"
check "no file is written" test ! -e "$tmp/bad.onnx"

# ---- Fashion-MNIST's MLP and the small CNN (bench/run's fmnist and cnn rows) ----------

FM="idx images=$tmp/fm-im labels=$tmp/fm-lb"
export_and_run() { # NAME MODEL: trains an epoch on fm, exports, compares
    name=$1
    run train --data "$FM" --model "$2" --loss cross_entropy --optim 'sgd lr=0.05 momentum=0.9' \
        --epochs 1 --batch 16 --save "$tmp/$1.pb"
    check "$1: train --epochs 1 --save" status_is 0
    run export "$tmp/$1.pb" -o "$tmp/$1.onnx"
    check "$1: export" eval 'status_is 0 && [ -s "$tmp/$name.onnx" ]'
    checked "$tmp/$1.onnx"
    run predict "$tmp/$1.pb" -o "$tmp/$1.csv"
    check "$1: predict" status_is 0
    same_outputs "$1: onnxruntime gives nnrun predict's outputs" \
        "$tmp/$1.onnx" "$tmp/$1.csv" idx "$tmp/fm-im"
}
export_and_run mlp 'flatten ! linear out=256 ! relu ! linear out=10'
export_and_run cnn 'conv2d out=8 kernel=3 ! relu ! max_pool2d kernel=2 ! flatten ! linear out=10'
# The rest of the standard set, in training mode while trained (dropout,
# batch statistics) and traced in eval mode.
export_and_run more 'conv2d out=4 kernel=3 padding=1 stride=2 ! leaky_relu negative_slope=0.2 ! avg_pool2d kernel=2 padding=1 count_include_pad=false ! flatten ! dropout p=0.3 ! linear out=16 ! batchnorm1d ! gelu ! linear out=12 ! tanh ! identity ! gelu approximate=tanh ! linear out=10 ! log_softmax'
if [ $have_checker = yes ]; then
    sh_run "$PY" -c 'import onnx, sys; print(" ".join(n.op_type for n in onnx.load(sys.argv[1]).graph.node))' "$tmp/more.onnx"
    check "more.onnx: Conv, LeakyRelu, AveragePool, Flatten, Gemm, BatchNormalization, Erf, Tanh, LogSoftmax" \
        eval 'out_has "^Conv LeakyRelu AveragePool Flatten Gemm BatchNormalization Mul Erf .* Tanh .* LogSoftmax$" && ! out_has "Dropout\|Identity\|Pow"'
fi
# Opset 20 has Gelu (and 18 the axes of every reduction as an input).
for opset in 18 20; do
    run export "$tmp/more.pb" -o "$tmp/more$opset.onnx" --opset $opset
    check "more: export --opset $opset" status_is 0
    checked "$tmp/more$opset.onnx" $opset
    same_outputs "more, opset $opset: onnxruntime gives nnrun predict's outputs" \
        "$tmp/more$opset.onnx" "$tmp/more.csv" idx "$tmp/fm-im"
done
if [ $have_checker = yes ]; then
    sh_run "$PY" -c 'import onnx, sys; print(" ".join(n.op_type for n in onnx.load(sys.argv[1]).graph.node))' "$tmp/more20.onnx"
    check "more20.onnx: two Gelu nodes, no Erf" eval 'out_has "Gelu .*Gelu" && ! out_has "Erf"'
fi
# batchnorm1d of (N, C, L) and without affine keep their arithmetic.
export_and_run sm 'avg_pool2d kernel=4 ! flatten start_dim=2 ! batchnorm1d ! flatten ! batchnorm1d affine=false ! sigmoid ! linear out=10 bias=false ! softmax'

# ---- a composite module: the tutorial's TwoLayersNet (examples/plugins) -------------

run_env NN_PLUGIN_PATH="$EXAMPLES" train --model 'two_layers_net nh=5 ny=1' --epochs 50 \
    --save "$tmp/two.pb"
check "two_layers_net: train --save" status_is 0
run_env NN_PLUGIN_PATH="$EXAMPLES" export "$tmp/two.pb" -o "$tmp/two.onnx"
check "two_layers_net: export" eval 'status_is 0 && [ -s "$tmp/two.onnx" ]'
checked "$tmp/two.onnx"
if [ $have_checker = yes ]; then
    sh_run "$PY" -c 'import onnx, sys; print(sorted(i.name for i in onnx.load(sys.argv[1]).graph.initializer))' "$tmp/two.onnx"
    check "two_layers_net: its initializers are fc1.* and fc2.*" \
        out_has "^\['fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight'\]$"
fi
run_env NN_PLUGIN_PATH="$EXAMPLES" predict "$tmp/two.pb" --data "csv path=$tmp/pts.csv" -o "$tmp/two.csv"
check "two_layers_net: predict" status_is 0
same_outputs "two_layers_net: onnxruntime gives nnrun predict's outputs" \
    "$tmp/two.onnx" "$tmp/two.csv" csv "$tmp/pts.csv"

# ---- ops of other plugins: softplus declares its lowering, twice does not ------------

run_env NN_PLUGIN_PATH="$EXAMPLES" train --model 'linear out=5 ! softplus ! linear out=1 ! sigmoid' \
    --epochs 20 --save "$tmp/sp.pb"
check "softplus: train --save" status_is 0
run_env NN_PLUGIN_PATH="$EXAMPLES" export "$tmp/sp.pb" -o "$tmp/sp.onnx"
check "softplus (examples/plugins/softplus.c) exports with its own lowering" status_is 0
checked "$tmp/sp.onnx"
run_env NN_PLUGIN_PATH="$EXAMPLES" predict "$tmp/sp.pb" --data "csv path=$tmp/pts.csv" -o "$tmp/sp.csv"
same_outputs "softplus: onnxruntime gives nnrun predict's outputs" \
    "$tmp/sp.onnx" "$tmp/sp.csv" csv "$tmp/pts.csv"

run_env NN_PLUGIN_PATH="$TESTPLUGINS" train --model 'linear out=5 ! twice ! linear out=1 ! sigmoid' \
    --epochs 2 --save "$tmp/twice.pb"
check "twice: train --save" status_is 0
run_env NN_PLUGIN_PATH="$TESTPLUGINS" export "$tmp/twice.pb" -o "$tmp/twice.onnx"
user_error_result "an op without an ONNX lowering is refused with one message"
check "the refusal names the op twice and its plugin twice" \
    err_has "op 'twice' (plugin 'twice') has no ONNX lowering"
check "no file and no temporary is left" \
    eval '[ ! -e "$tmp/twice.onnx" ] && ! ls "$tmp" | grep -q "twice.onnx.tmp"'

finish
