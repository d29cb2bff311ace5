#!/bin/sh
# batchnorm.sh - command-line tests of batchnorm1d and of buffers: training a
# network with running statistics, its checkpoint (inspect, params, summary,
# print), evaluation in eval mode, nnrun check. Run by make check; the
# harness is tests/lib.sh.
. "$top_srcdir/tests/lib.sh"

NET='linear out=8 ! batchnorm1d ! sigmoid ! linear out=1 ! sigmoid'

run train --model "$NET" --epochs 200 --log-every 199 --save "$tmp/bn.pb"
check "train '$NET' --save bn.pb exits 0 and says saved" eval \
    'status_is 0 && out_has "^saved: .*bn\.pb$" && [ -s "$tmp/bn.pb" ]'
check "it learned the circle: accuracy >= 0.9 at epoch 199" \
    awk '$1 == "epoch:" && $2 == 199 && $NF + 0 >= 0.9 { ok = 1 } END { exit !ok }' "$tmp/out"
cp "$tmp/out" "$tmp/train.out"

# PyTorch itself loads the saved tensors as the state_dict of the same
# network (strict: the same names, shapes and order).
PROTO_DIR=$top_srcdir/proto
PY=/usr/bin/python3
if command -v protoc >/dev/null 2>&1 && [ -x "$PY" ] &&
    protoc --python_out="$tmp" -I "$PROTO_DIR" "$PROTO_DIR/nn.proto" 2>/dev/null &&
    PYTHONPATH=$tmp "$PY" -c 'import nn_pb2, torch' 2>/dev/null; then
    PYTHONPATH=$tmp "$PY" -c '
import struct, sys, torch, nn_pb2
m = nn_pb2.Checkpoint()
m.ParseFromString(open(sys.argv[1], "rb").read())
net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8), torch.nn.Sigmoid(),
                          torch.nn.Linear(8, 1), torch.nn.Sigmoid())
sd = {}
for t in m.tensors:
    n = 1
    for d in t.shape: n *= d
    sd[t.name] = torch.tensor(struct.unpack("<%df" % n, t.data)).reshape(list(t.shape))
assert list(sd) == list(net.state_dict()), (list(sd), list(net.state_dict()))
net.load_state_dict(sd, strict=True)
assert net[1].num_batches_tracked.item() == 2400, net[1].num_batches_tracked
assert (net[1].running_var > 0).all()
' "$tmp/bn.pb" >"$tmp/py" 2>&1
    rc=$?
    check "PyTorch loads bn.pb's tensors as the state_dict of the same network (strict)" eval \
        'status_is 0' || sed 's/^/#   /' "$tmp/py"
else
    pass "PyTorch loads bn.pb's tensors as the state_dict of the same network # SKIP no protoc, protobuf or torch"
fi

run inspect "$tmp/bn.pb"
check "inspect bn.pb counts 9 tensors, 66 values (buffers included)" \
    out_has "^tensors:   9 (66 values)$"
check "inspect bn.pb lists the buffers by their state_dict names, after 1.bias" eval \
    'out_has "^  1\.running_mean  *\[8\]$" && out_has "^  1\.running_var  *\[8\]$" &&
     out_has "^  1\.num_batches_tracked \[\]$" &&
     [ "$(grep -n "^  1\.bias " "$tmp/out" | cut -d: -f1)" -lt "$(grep -n "^  1\.running_mean " "$tmp/out" | cut -d: -f1)" ]'

run params "$tmp/bn.pb" --values
check "params bn.pb lists 1.running_mean, 1.running_var, 1.num_batches_tracked" eval \
    'status_is 0 && out_has "^1\.running_mean  *:  *8  shape: (8,)$" &&
     out_has "^1\.running_var  *:  *8  shape: (8,)$" &&
     out_has "^1\.num_batches_tracked :  *1  shape: ()$" && out_has "^total  *:  *66$"'
# 200 epochs of 12 batches
check "num_batches_tracked is 2400 after 200 epochs of 12 batches" \
    awk 'p { ok = ($1 + 0 == 2400); exit } /^1\.num_batches_tracked / { p = 1 } END { exit !ok }' "$tmp/out"
check "the running variances are positive and not all 1 (they were trained)" \
    awk 'p { gsub(/[][,]/, " "); n = 0; for (i = 1; i <= NF; i++) { n++; if ($i + 0 <= 0) bad = 1; if ($i + 0 != 1) moved = 1 }
              exit } /^1\.running_var / { p = 1 } END { exit !(n == 8 && !bad && moved) }' "$tmp/out"

run summary "$tmp/bn.pb"
check "summary counts the 17 buffer values as non-trainable" eval \
    'status_is 0 && out_has "^ *BatchNorm1d-2  *\[-1, 8\]  *33$" && out_has "^Total params: 66$" &&
     out_has "^Trainable params: 49$" && out_has "^Non-trainable params: 17$"'

run print "$tmp/bn.pb"
check "print shows PyTorch's repr of BatchNorm1d" \
    out_has "^  (1): BatchNorm1d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)$"

run eval "$tmp/bn.pb"
cp "$tmp/out" "$tmp/eval1.out"
check "eval bn.pb prints a loss and an accuracy >= 0.9" eval \
    'status_is 0 && awk '\''$1 == "loss:" && $4 + 0 >= 0.9 { ok = 1 } END { exit !ok }'\'' "$tmp/out"'
run eval "$tmp/bn.pb"
check "eval bn.pb again gives the same loss (eval mode: running statistics, nothing updated)" \
    cmp -s "$tmp/out" "$tmp/eval1.out"
check "eval's loss is the running-statistics loss, not the last train epoch's" eval \
    '[ "$(awk '\''$1 == "loss:" { print $2 }'\'' "$tmp/eval1.out")" != \
       "$(awk '\''$1 == "epoch:" && $2 == 199 { print $4 }'\'' "$tmp/train.out")" ]'

# The saved running statistics are what eval uses: a resumed run of 0 more
# epochs evaluates ("before:") to the same loss as eval.
run train --resume "$tmp/bn.pb" --epochs 200
check "train --resume bn.pb --epochs 200: 'before:' is eval's loss" eval \
    'status_is 0 && [ "$(awk '\''$1 == "before:" { print $3 }'\'' "$tmp/out")" = \
                      "$(awk '\''{ print $2 }'\'' "$tmp/eval1.out")" ]'

run train --model 'linear out=4 ! batchnorm1d track_running_stats=false ! sigmoid ! linear out=1 ! sigmoid' \
    --epochs 20 --log-every 100 --save "$tmp/nt.pb"
run inspect "$tmp/nt.pb"
check "track_running_stats=false saves no buffers" eval \
    'status_is 0 && out_has "^tensors:   6 " && ! out_has "running_mean"'

run check batchnorm1d
check "nnrun check batchnorm1d passes, eval mode included" eval \
    'status_is 0 && out_has "^ok   gradient of the input in eval mode " &&
     out_has "^ok   buffers without gradient " && out_has "^check batchnorm1d: all 7 checks passed$"'
run check batchnorm1d affine=false momentum=0.5
check "nnrun check batchnorm1d affine=false momentum=0.5 passes" eval \
    'status_is 0 && out_has "^check batchnorm1d: all [0-9]* checks passed$"'

run print --model 'batchnorm1d num_features=3 momentum=0.25 affine=false'
check "print --model 'batchnorm1d num_features=3 ...' resolves the width from num_features" eval \
    'status_is 0 && out_has "^BatchNorm1d(3, eps=1e-05, momentum=0.25, affine=False, track_running_stats=True)$"'
user_error "batchnorm1d first, without data or num_features, is refused" print --model batchnorm1d
check "the message says to give num_features" err_has "num_features=N"
user_error "num_features that differs from the input is refused" \
    print --model 'linear out=4 ! batchnorm1d num_features=3' --data 'circle n=10'

finish
