#!/bin/sh
# numerics.sh - numerical faults from the command line: BCE refuses inputs
# outside [0, 1] (NaN too), training stops at a non-finite loss or parameter
# without saving, eval refuses a checkpoint holding NaN, and the tutorial's
# default run prints what it always printed (run by make check; the harness
# is tests/lib.sh).
. "$top_srcdir/tests/lib.sh"

PY=/usr/bin/python3
PROTO_DIR=$top_srcdir/proto
skip() { pass "$1 # SKIP $2"; }

# ---- the tutorial's default run: the same lines, the time line aside ----------

run train
grep -v '^time:' "$tmp/out" >"$tmp/default.txt"
check "train with no options prints the tutorial's lines unchanged (time aside)" eval \
    'status_is 0 && cmp -s "$tmp/default.txt" "$top_srcdir/tests/golden/tutorial_default.txt" &&
     [ "$(grep -c "^time: " "$tmp/out")" -eq 1 ]'

# ---- bce: inputs outside [0, 1] ---------------------------------------------------

user_error "bce on a linear output (values outside [0, 1]) is refused" \
    train --model 'linear out=1' --loss bce --epochs 1
check "the message says, as PyTorch, that inputs must lie between 0 and 1" \
    err_has "all elements of input should be between 0 and 1"

# ---- a diverging run: stopped, nothing saved ----------------------------------

run train --epochs 3 --save "$tmp/good.pb"
check "a first good run saves good.pb" eval 'status_is 0 && [ -s "$tmp/good.pb" ]'
cp "$tmp/good.pb" "$tmp/keep.pb"
user_error "training with sgd lr=1e9 momentum=1000 stops with exit status 1" \
    train --epochs 3 --optim 'sgd lr=1e9 momentum=1000' --save "$tmp/good.pb"
check "the message names the parameter, the epoch and the step" \
    err_has "^nnrun: non-finite parameter [0-9a-z.]* at epoch 0 step [0-9]*\$"
check "the checkpoint saved before stays byte for byte unchanged" \
    cmp -s "$tmp/good.pb" "$tmp/keep.pb"

user_error "a diverging mse run stops with exit status 1" \
    train --epochs 3 --loss mse --optim 'sgd lr=1e9 momentum=1000'
check "the message says what went non-finite, with epoch and step" \
    err_has "^nnrun: non-finite \(loss\|parameter [0-9a-z.]*\) at epoch 0 step [0-9]*\$"

# --save-every 1: epochs 0 and 1 are saved, epoch 2 diverges; the save of
# epoch 2 (two epochs done) stays and holds finite weights.
run train --epochs 5 --save-every 1 --save "$tmp/every.pb" \
    --schedule '2: lr=1e9 momentum=1000'
check "with --save-every 1 the diverging epoch 2 stops training with exit status 1" eval \
    'status_is 1 && err_has "non-finite parameter [0-9a-z.]* at epoch 2 "'
run inspect "$tmp/every.pb"
check "the last good checkpoint (2 epochs done) stays" eval \
    'status_is 0 && grep -q "^ *epoch:* *2\$" "$tmp/out"'
run eval "$tmp/every.pb"
check "and it evaluates to a finite loss" eval 'status_is 0 && out_has "^loss: [0-9.]* "'

# ---- --detect-anomaly: off by default, no change to a healthy run ----------------
# (the detection itself: test_numerics.c, LogBackward0 giving Inf)

run train --epochs 5 --log-every 1
grep -v '^time:' "$tmp/out" >"$tmp/plain.txt"
run train --epochs 5 --log-every 1 --detect-anomaly
grep -v '^time:' "$tmp/out" >"$tmp/anomaly.txt"
check "train --detect-anomaly on a healthy run prints the same lines" eval \
    'status_is 0 && [ -s "$tmp/plain.txt" ] && cmp -s "$tmp/plain.txt" "$tmp/anomaly.txt"'
run --help
check "nnrun --help lists --detect-anomaly" out_has "--detect-anomaly"

# ---- --clip-grad-norm ----------------------------------------------------------
# (the arithmetic against PyTorch: test_numerics.c and tests/golden/clip.txt)

for bad in 0 -1 abc inf; do
    user_error "--clip-grad-norm $bad is refused" train --epochs 1 --clip-grad-norm "$bad"
done
check "the message says what it expects" err_has "expects a number above 0, got 'inf'"
run train --epochs 1 --log-every 1
cp "$tmp/out" "$tmp/noclip.out"
run train --epochs 1 --log-every 1 --clip-grad-norm 0.01
check "--clip-grad-norm 0.01 changes the training (epoch 0 differs from a run without)" eval \
    'status_is 0 && out_has "^epoch:     0 loss: " &&
     [ "$(grep "^epoch:" "$tmp/out")" != "$(grep "^epoch:" "$tmp/noclip.out")" ]'
run train --epochs 4 --clip-grad-norm=0.01 --save "$tmp/clip4.pb"
run params "$tmp/clip4.pb" --values
cp "$tmp/out" "$tmp/clip4.values"
run train --epochs 2 --clip-grad-norm 0.01 --save "$tmp/clip2.pb"
run train --resume "$tmp/clip2.pb" --epochs 4 --save "$tmp/clip2to4.pb"
check "a run resumed from a clipped checkpoint trains on" eval 'status_is 0'
run params "$tmp/clip2to4.pb" --values
check "and keeps clipping: 2 + 2 epochs give the weights of 4 epochs in one run" eval \
    'status_is 0 && [ -s "$tmp/out" ] && cmp -s "$tmp/out" "$tmp/clip4.values"'

# ---- eval of a checkpoint holding NaN ------------------------------------------

have_py=0
if command -v protoc >/dev/null 2>&1 && [ -x "$PY" ] &&
    protoc --python_out="$tmp" -I "$PROTO_DIR" "$PROTO_DIR/nn.proto" 2>/dev/null &&
    PYTHONPATH=$tmp "$PY" -c 'import nn_pb2' 2>/dev/null; then
    have_py=1
fi
if [ "$have_py" = 1 ]; then
    # good.pb with element 3 of 2.weight set to NaN, its trailer rewritten.
    PYTHONPATH=$tmp "$PY" -c '
import sys, zlib, struct, nn_pb2
m = nn_pb2.Checkpoint()
m.ParseFromString(open(sys.argv[1], "rb").read())
t = [t for t in m.tensors if t.name == "2.weight"][0]
d = bytearray(t.data)
d[12:16] = struct.pack("<f", float("nan"))
t.data = bytes(d)
m.ClearField("integrity")
payload = m.SerializeToString()
m.integrity.payload_length = len(payload)
m.integrity.crc32 = zlib.crc32(payload)
full = m.SerializeToString()
assert full.startswith(payload) and len(full) == len(payload) + 16
open(sys.argv[2], "wb").write(full)
' "$tmp/good.pb" "$tmp/nan.pb" >"$tmp/py" 2>&1
    check "python writes nan.pb: good.pb with a NaN in 2.weight" eval \
        '[ -s "$tmp/nan.pb" ]' || sed 's/^/#   python: /' "$tmp/py"
    user_error "eval of a checkpoint whose weights hold NaN is refused" eval "$tmp/nan.pb"
    check "the message names the checkpoint and the parameter" \
        err_has "checkpoint .*nan\.pb: parameter 2\.weight holds NaN"
    check "and no loss is printed" eval '! out_has "loss"'
    user_error "predict refuses it too" predict "$tmp/nan.pb"
else
    skip "eval of a checkpoint whose weights hold NaN is refused" "no protoc or python protobuf"
fi

finish
