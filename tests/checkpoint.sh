#!/bin/sh
# checkpoint.sh - command-line tests of checkpoints (nnrun train --save,
# --resume, --save-every, eval FILE, inspect FILE), run by make check.
# The harness is tests/lib.sh; a check whose tool is missing (protoc, python3
# with protobuf) prints "ok N - what # SKIP why".
. "$top_srcdir/tests/lib.sh"

PROTO_DIR=$top_srcdir/proto
PY=/usr/bin/python3
SMALL='linear out=2 ! sigmoid ! linear out=1 ! sigmoid'
BIG='linear out=300 ! sigmoid ! linear out=1 ! sigmoid'
# "Это моя сеть" as protoc prints it: UTF-8 bytes, octal-escaped
INFO='Это моя сеть'
INFO_OCTAL='\320\255\321\202\320\276 \320\274\320\276\321\217 \321\201\320\265\321\202\321\214'

# skip DESC WHY: a passed check marked "# SKIP WHY".
skip() { pass "$1 # SKIP $2"; }

# The "epoch: N ..." lines of FILE with N >= FROM.
epochs_from() { awk -v f="$2" '$1 == "epoch:" && $2 + 0 >= f + 0' "$1"; }

# The value of "KEY: value" in nnrun inspect's output ($tmp/out).
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' "$tmp/out"; }

size_of() { wc -c <"$1" | tr -d ' '; }

# copy_prefix SRC LEN DST: the first LEN bytes of SRC.
copy_prefix() { dd if="$1" of="$3" bs=1 count="$2" 2>/dev/null; }

# flip_byte SRC POS DST: SRC with byte POS xor 0xff.
flip_byte() {
    cp "$1" "$3"
    v=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059
    printf "\\$(printf '%03o' $((255 - v)))" | dd of="$3" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

have_protoc=0
command -v protoc >/dev/null 2>&1 && have_protoc=1
have_py=0
if [ "$have_protoc" = 1 ] && [ -x "$PY" ] &&
    protoc --python_out="$tmp" -I "$PROTO_DIR" "$PROTO_DIR/nn.proto" 2>/dev/null &&
    PYTHONPATH=$tmp "$PY" -c 'import nn_pb2' 2>/dev/null; then
    have_py=1
fi

# py SCRIPT ARGS...: runs python with nn_pb2 importable; output in $tmp/py.
py() {
    script=$1
    shift
    PYTHONPATH=$tmp "$PY" -c "$script" "$@" >"$tmp/py" 2>&1
}

# decode FILE OUT: protoc's text form of the checkpoint.
decode() { protoc --decode=nn.Checkpoint -I "$PROTO_DIR" "$PROTO_DIR/nn.proto" <"$1" >"$2" 2>"$tmp/protoc.err"; }

# ---- the tutorial's run, saved --------------------------------------------------

run train --epochs 1000 --save "$tmp/s.pb" --info "$INFO"
check "train --epochs 1000 --save s.pb --info '...' exits 0 and says saved" eval \
    'status_is 0 && out_has "^saved: .*s\.pb$" && [ -s "$tmp/s.pb" ]'
check "it trained: epoch 999 with accuracy >= 0.97" trained_well
cp "$tmp/out" "$tmp/train.out"

run eval "$tmp/s.pb"
check "eval s.pb prints one line 'loss: X accuracy: Y' with Y >= 0.97" eval \
    'status_is 0 && [ "$(wc -l <"$tmp/out")" -eq 1 ] &&
     awk '\''$1 == "loss:" && $3 == "accuracy:" && $2 + 0 > 0 && $4 + 0 >= 0.97 { ok = 1 }
          END { exit !ok }'\'' "$tmp/out" && [ ! -s "$tmp/err" ]'
run eval "$tmp/s.pb" --data 'circle n=600'
check "eval s.pb --data 'circle n=600' (other data) works" eval \
    'status_is 0 && awk '\''$1 == "loss:" && $4 + 0 >= 0.9 { ok = 1 } END { exit !ok }'\'' "$tmp/out"'

run inspect "$tmp/s.pb"
check "inspect s.pb shows the info, the format, epoch 1000 and 12000 steps" eval \
    'status_is 0 && [ "$(field info)" = "$INFO" ] && [ "$(field format)" = 1 ] &&
     [ "$(field epoch)" = 1000 ] && [ "$(field step)" = 12000 ]'
check "inspect s.pb shows the model chain, the optimizer and the run" eval \
    '[ "$(field model)" = "linear in=0 out=5 bias=true ! sigmoid ! linear in=0 out=1 bias=true ! sigmoid" ] &&
     field optimizer | grep -q "^sgd lr=0.5 momentum=0.8" && [ "$(field data)" = "circle n=1200" ] &&
     [ "$(field shuffle)" = epoch ] && [ "$(field batch)" = 100 ] && [ "$(field seed)" = 1 ] &&
     [ "$(field tensors)" = "4 (21 values)" ]'

if [ "$have_protoc" = 1 ]; then
    decode "$tmp/s.pb" "$tmp/s.txt"
    rc=$?
    check "protoc --decode=nn.Checkpoint reads s.pb" eval 'status_is 0 && [ -s "$tmp/s.txt" ]'
    check "the decoded text has the magic, format 1 and the info (octal-escaped UTF-8)" eval \
        'grep -q "^magic: \"nn.Checkpoint\"$" "$tmp/s.txt" &&
         grep -q "^format_version: 1$" "$tmp/s.txt" &&
         grep -q -F "info: \"$INFO_OCTAL\"" "$tmp/s.txt"'
    check "the decoded integrity field holds the payload length (size - 16)" \
        grep -q "^  payload_length: $(($(size_of "$tmp/s.pb") - 16))$" "$tmp/s.txt"
else
    skip "protoc --decode=nn.Checkpoint reads s.pb" "no protoc"
fi

if [ "$have_py" = 1 ]; then
    py '
import sys, zlib, struct, nn_pb2
raw = open(sys.argv[1], "rb").read()
m = nn_pb2.Checkpoint()
m.ParseFromString(raw)
want = "\u042d\u0442\u043e \u043c\u043e\u044f \u0441\u0435\u0442\u044c"
assert m.info == want, repr(m.info)
assert m.magic == "nn.Checkpoint" and m.format_version == 1
assert [c.name for c in m.model.chain] == ["linear", "sigmoid", "linear", "sigmoid"], m.model.chain
assert [c.type for c in m.model.chain] == ["Linear", "Sigmoid", "Linear", "Sigmoid"]
assert list(m.model.input_shape) == [2]
assert [t.name for t in m.tensors] == ["0.weight", "0.bias", "2.weight", "2.bias"]
assert [list(t.shape) for t in m.tensors] == [[5, 2], [5], [1, 5], [1]]
for t in m.tensors:
    n = 1
    for d in t.shape: n *= d
    assert len(t.data) == 4 * n
    assert all(v == v for v in struct.unpack("<%df" % n, t.data))
assert m.optimizer.name == "sgd" and m.optimizer.steps == 12000
assert sorted(s.param for s in m.optimizer.state) == ["0.bias", "0.weight", "2.bias", "2.weight"]
assert all(s.slots[0].name == "momentum_buffer" for s in m.optimizer.state)
assert m.train.epoch == 1000 and m.train.step == 12000 and m.train.batch == 100
assert m.train.shuffle == "epoch" and m.train.data == "circle n=1200" and m.train.loss == "bce"
assert sorted(m.train.order) == list(range(1200))
n = len(raw) - 16
assert m.integrity.payload_length == n
assert m.integrity.crc32 == zlib.crc32(raw[:n])
print("ok")
' "$tmp/s.pb"
    rc=$?
    check "python protobuf reads s.pb: info, chain, tensors, optimizer, run, trailer" eval \
        'status_is 0 && grep -q "^ok$" "$tmp/py"' || sed 's/^/#   python: /' "$tmp/py"
    # proto3 strings must be UTF-8, or other readers refuse the whole file:
    # nnrun either refuses such an --info or writes a file python still reads
    run train --epochs 1 --save "$tmp/u8.pb" --info "$(printf 'caf\351 \377')"
    if [ "$rc" -eq 0 ]; then
        py '
import sys, nn_pb2
m = nn_pb2.Checkpoint()
m.ParseFromString(open(sys.argv[1], "rb").read())
print("ok")
' "$tmp/u8.pb"
        rc=$?
        check "--info that is not UTF-8 still gives a file python reads" eval \
            'status_is 0 && grep -q "^ok$" "$tmp/py"' || sed 's/^/#   python: /' "$tmp/py"
    else
        user_error_result "--info that is not UTF-8 is refused"
    fi
else
    skip "python protobuf reads s.pb" "no python3 with protobuf"
fi

# ---- exact resume ------------------------------------------------------------------

run train --epochs 20
cp "$tmp/out" "$tmp/a20"
run train --epochs 10 --save "$tmp/h.pb"
check "train --epochs 10 --save h.pb exits 0" status_is 0
run train --resume "$tmp/h.pb" --epochs 20
check "resume h.pb to 20 epochs prints the same 'epoch:    19' line as 20 epochs at once" eval \
    'status_is 0 && grep "^epoch:    19 " "$tmp/a20" >"$tmp/l1" && grep "^epoch:    19 " "$tmp/out" >"$tmp/l2" &&
     [ -s "$tmp/l1" ] && cmp -s "$tmp/l1" "$tmp/l2"'
check "the resumed run trains the 10 epochs left" out_has "^time: .* for 10 epochs"

# 300 epochs against 137 + 163, every epoch logged, the saved results compared
run train --epochs 300 --log-every 1 --save "$tmp/full.pb"
cp "$tmp/out" "$tmp/a300"
run train --epochs 137 --save "$tmp/h137.pb"
run inspect "$tmp/h137.pb"
check "the file saved after 137 epochs says epoch 137 and 1644 steps" eval \
    'status_is 0 && [ "$(field epoch)" = 137 ] && [ "$(field step)" = 1644 ]'
run train --resume "$tmp/h137.pb" --epochs 300 --log-every 1 --save "$tmp/res.pb"
epochs_from "$tmp/a300" 137 >"$tmp/want"
epochs_from "$tmp/out" 0 >"$tmp/got"
check "resume at 137 of 300: every epoch line 137..299 is the same" eval \
    'status_is 0 && [ "$(wc -l <"$tmp/want")" -eq 163 ] && cmp -s "$tmp/want" "$tmp/got"'
if [ "$have_protoc" = 1 ]; then
    decode "$tmp/full.pb" "$tmp/full.txt" && decode "$tmp/res.pb" "$tmp/res.txt"
    rc=$?
    # the date, and so the checksum over it, may differ; nothing else may
    grep -v '^date: \|^  crc32: ' "$tmp/full.txt" >"$tmp/full.nodate"
    grep -v '^date: \|^  crc32: ' "$tmp/res.txt" >"$tmp/res.nodate"
    check "the resumed run's final checkpoint equals the whole run's (but the date): weights, momentum, RNG, order" \
        eval 'status_is 0 && [ -s "$tmp/full.nodate" ] && cmp -s "$tmp/full.nodate" "$tmp/res.nodate"'
else
    skip "the resumed run's final checkpoint equals the whole run's" "no protoc"
fi

# --shuffle none
run train --shuffle none --epochs 60 --log-every 1
cp "$tmp/out" "$tmp/n60"
run train --shuffle none --epochs 23 --save "$tmp/n23.pb"
run train --resume "$tmp/n23.pb" --epochs 60 --log-every 1
epochs_from "$tmp/n60" 23 >"$tmp/want"
epochs_from "$tmp/out" 0 >"$tmp/got"
check "--shuffle none: resume at 23 of 60 gives the same epoch lines 23..59" eval \
    'status_is 0 && [ "$(wc -l <"$tmp/want")" -eq 37 ] && cmp -s "$tmp/want" "$tmp/got"'
run inspect "$tmp/n23.pb"
check "--shuffle none is saved as such" eval 'status_is 0 && [ "$(field shuffle)" = none ]'

# adam: its hyper-parameters (betas a list), both moments and the step count
# of every parameter come back
run train --optim 'adam lr=0.01 betas=0.8,0.995' --epochs 40 --log-every 1 --save "$tmp/adam40.pb"
cp "$tmp/out" "$tmp/adam40"
check "train --optim 'adam lr=0.01 betas=0.8,0.995' --epochs 40 exits 0" status_is 0
run train --optim 'adam lr=0.01 betas=0.8,0.995' --epochs 17 --save "$tmp/adam17.pb"
run inspect "$tmp/adam17.pb"
check "inspect shows adam with betas=0.8,0.995 and 204 steps" eval \
    'status_is 0 && [ "$(field step)" = 204 ] &&
     [ "$(field optimizer)" = "adam lr=0.01 betas=0.8,0.995 eps=1e-08 weight_decay=0 amsgrad=false maximize=false" ]'
run train --resume "$tmp/adam17.pb" --epochs 40 --log-every 1 --save "$tmp/adamres.pb"
epochs_from "$tmp/adam40" 17 >"$tmp/want"
epochs_from "$tmp/out" 0 >"$tmp/got"
check "adam: resume at 17 of 40 gives the same epoch lines 17..39" eval \
    'status_is 0 && [ "$(wc -l <"$tmp/want")" -eq 23 ] && cmp -s "$tmp/want" "$tmp/got"'
if [ "$have_protoc" = 1 ]; then
    decode "$tmp/adam40.pb" "$tmp/full.txt" && decode "$tmp/adamres.pb" "$tmp/res.txt"
    rc=$?
    grep -v '^date: \|^  crc32: ' "$tmp/full.txt" >"$tmp/full.nodate"
    grep -v '^date: \|^  crc32: ' "$tmp/res.txt" >"$tmp/res.nodate"
    check "adam: the resumed run's final checkpoint equals the whole run's (but the date)" \
        eval 'status_is 0 && grep -q "name: \"exp_avg_sq\"" "$tmp/full.nodate" &&
              cmp -s "$tmp/full.nodate" "$tmp/res.nodate"'
else
    skip "adam: the resumed run's final checkpoint equals the whole run's" "no protoc"
fi
if [ "$have_py" = 1 ]; then
    py '
import sys, struct, nn_pb2
m = nn_pb2.Checkpoint()
m.ParseFromString(open(sys.argv[1], "rb").read())
o = m.optimizer
assert o.name == "adam" and o.steps == 204, (o.name, o.steps)
hp = {h.key: h.value for h in o.hyperparameters}
assert hp["betas"] == "0.8,0.995" and hp["lr"] == "0.01", hp
for s in o.state:
    slots = {t.name: t for t in s.slots}
    assert sorted(slots) == ["exp_avg", "exp_avg_sq", "step"], sorted(slots)
    st = slots["step"]
    assert list(st.shape) == [] and struct.unpack("<f", st.data) == (204.0,), (st.shape, st.data)
print("ok")
' "$tmp/adam17.pb"
    rc=$?
    check "adam17.pb holds step (a 0-d 204), exp_avg and exp_avg_sq per parameter, PyTorch's names" \
        eval 'status_is 0 && grep -q "^ok$" "$tmp/py"' || sed 's/^/#   python: /' "$tmp/py"
else
    skip "adam17.pb holds PyTorch's state names" "no python3 with protobuf"
fi

# a resumed run keeps its own model, data, optimizer...
user_error "--resume with a different --model is refused" train --resume "$tmp/h.pb" --model "$SMALL"
check "the message says --model is not the file's model" err_has "is not the model of"
user_error "--resume with --seed is refused" train --resume "$tmp/h.pb" --seed 5

# ---- --save-every -------------------------------------------------------------------

run train --epochs 100 --save-every 30 --save "$tmp/x.pb"
check "train --epochs 100 --save-every 30 --save x.pb exits 0" status_is 0
run inspect "$tmp/x.pb"
check "x.pb holds the end of the run: epoch 100, 1200 steps" eval \
    'status_is 0 && [ "$(field epoch)" = 100 ] && [ "$(field step)" = 1200 ]'
user_error "--save-every without --save is refused" train --epochs 10 --save-every 3

# A target that is a folder is refused before training (a periodic save that
# fails mid-run is tested in faults.sh).
mkdir "$tmp/adir"
run train --epochs 100 --save-every 30 --save "$tmp/adir" --log-every 1
user_error_result "a folder as --save target exits 1 with one message"
check "... before the first epoch" eval '[ -z "$(last_epoch)" ]'
check "... leaving no temporary file" eval \
    '[ -d "$tmp/adir" ] && [ -z "$(ls -A "$tmp/adir")" ] && ! ls "$tmp" | grep -q "^adir\.tmp\."'

# A file saved mid-run: the run writes its log into a pipe that this shell
# reads line by line; after "epoch: 45" the periodic save of epoch 30 has
# happened, and the run cannot be more than a pipe's worth of lines ahead.
# Whatever save the copy catches must be whole and resume exactly.
E=5000
mkfifo "$tmp/fifo"
"$NNRUN" train --epochs $E --save-every 30 --save "$tmp/p.pb" --log-every 1 >"$tmp/fifo" 2>"$tmp/err" &
pid=$!
exec 3<"$tmp/fifo"
: >"$tmp/pfull"
while IFS= read -r line <&3; do
    printf '%s\n' "$line" >>"$tmp/pfull"
    case $line in
    "epoch:    45 "*)
        cp "$tmp/p.pb" "$tmp/mid.pb"
        break
        ;;
    esac
done
cat <&3 >>"$tmp/pfull"
exec 3<&-
wait $pid
rc=$?
check "train --epochs $E --save-every 30 into a pipe exits 0" eval 'status_is 0 && [ -f "$tmp/mid.pb" ]'
run inspect "$tmp/mid.pb"
mid=$(field epoch)
check "the copy taken mid-run is a periodic save: epoch $mid, a multiple of 30 below $E" eval \
    'status_is 0 && [ -n "$mid" ] && [ $((mid % 30)) -eq 0 ] && [ "$mid" -ge 30 ] && [ "$mid" -lt $E ] &&
     [ "$(field step)" = $((mid * 12)) ]'
if [ -n "$mid" ] && [ "$mid" -lt $E ]; then
    run train --resume "$tmp/mid.pb" --epochs $E --log-every 1
    epochs_from "$tmp/pfull" "$mid" >"$tmp/want"
    epochs_from "$tmp/out" 0 >"$tmp/got"
    check "resuming the mid-run save gives the same epoch lines $mid..$((E - 1))" eval \
        'status_is 0 && [ "$(wc -l <"$tmp/want")" -eq $((E - mid)) ] && cmp -s "$tmp/want" "$tmp/got"'
else
    fail "resuming the mid-run save gives the same epoch lines" "no usable mid-run file"
fi
run inspect "$tmp/p.pb"
check "after the run, p.pb holds epoch $E" eval 'status_is 0 && [ "$(field epoch)" = $E ]'

# ---- damaged files -------------------------------------------------------------------

run train --model "$SMALL" --epochs 2 --save "$tmp/small.pb" --info "$INFO"
check "a small checkpoint is saved" eval 'status_is 0 && [ -s "$tmp/small.pb" ]'
run eval "$tmp/small.pb"
check "and evaluates" status_is 0
size=$(size_of "$tmp/small.pb")
for len in 0 1 2 14 15 16 17 31 100 $((size / 2)) $((size - 17)) $((size - 16)) $((size - 15)) $((size - 1)); do
    copy_prefix "$tmp/small.pb" "$len" "$tmp/cut.pb"
    user_error "eval of the first $len of $size bytes" eval "$tmp/cut.pb"
done
check "a cut file is called truncated or not a checkpoint" eval 'err_has "truncated\|not an nn checkpoint"'
for pos in 0 1 2 10 16 40 $((size / 3)) $((size / 2)) $((size - 40)) $((size - 17)) $((size - 16)) \
    $((size - 14)) $((size - 12)) $((size - 5)) $((size - 1)); do
    flip_byte "$tmp/small.pb" "$pos" "$tmp/flip.pb"
    if cmp -s "$tmp/small.pb" "$tmp/flip.pb"; then
        fail "byte $pos flipped (the harness did not change the file)"
        continue
    fi
    user_error "eval with byte $pos of $size flipped" eval "$tmp/flip.pb"
done
flip_byte "$tmp/small.pb" $((size / 2)) "$tmp/flip.pb"
run eval "$tmp/flip.pb"
check "a flipped byte in the middle is a checksum mismatch" err_has "checksum"
user_error "inspect of a flipped file" inspect "$tmp/flip.pb"
user_error "train --resume of a flipped file" train --resume "$tmp/flip.pb" --epochs 3
copy_prefix "$tmp/small.pb" $((size - 1)) "$tmp/cut.pb"
user_error "train --resume of a cut file" train --resume "$tmp/cut.pb" --epochs 3

# ---- a save cut off by a full disk ------------------------------------------------------

run train --epochs 2 --save "$tmp/u.pb"
cp "$tmp/u.pb" "$tmp/u.copy"
(
    ulimit -f 1 || exit 99
    exec "$NNRUN" train --epochs 2 --save "$tmp/u.pb" --model "$BIG"
) >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 99 ]; then
    skip "a save beyond ulimit -f fails" "ulimit -f is not available"
else
    user_error_result "a save beyond ulimit -f 1 exits 1 with one message"
    check "... that says the file could not be written" err_has "cannot write"
    check "... leaves no u.pb.tmp.* behind" eval '! ls "$tmp" | grep -q "^u\.pb\.tmp\."'
    check "... and the previous u.pb unchanged" cmp -s "$tmp/u.pb" "$tmp/u.copy"
    run inspect "$tmp/u.pb"
    check "... which still loads" eval 'status_is 0 && [ "$(field epoch)" = 2 ]'
    (
        ulimit -f 1 || exit 99
        exec "$NNRUN" train --epochs 2 --save "$tmp/v.pb" --model "$BIG"
    ) >"$tmp/out" 2>"$tmp/err"
    rc=$?
    user_error_result "a first save beyond ulimit -f 1 exits 1"
    check "... and creates neither v.pb nor a temporary file" eval \
        '[ ! -e "$tmp/v.pb" ] && ! ls "$tmp" | grep -q "^v\.pb\.tmp\."'
fi

# ---- files that are not there or not checkpoints -----------------------------------------

user_error "train --save into a missing folder" train --epochs 1 --save "$tmp/missing/x.pb"
check "the message names the path and the reason" eval \
    'err_has "missing/x.pb" && err_has "No such file or directory"'
check "nothing was created" eval '[ ! -e "$tmp/missing" ]'
user_error "eval of a missing file" eval "$tmp/nosuch.pb"
check "the message says the file cannot be opened" eval 'err_has "nosuch.pb" && err_has "No such file or directory"'
user_error "eval of a folder" eval "$tmp/adir"
check "the message says it is not a regular file" err_has "not a regular file"
printf 'model linear out=5\n' >"$tmp/text.pb"
user_error "eval of a text file" eval "$tmp/text.pb"
check "the message says it is not an nn checkpoint" err_has "not an nn checkpoint"
: >"$tmp/empty.pb"
user_error "eval of an empty file" eval "$tmp/empty.pb"
user_error "inspect of a text file" inspect "$tmp/text.pb"
user_error "inspect of a missing file with a path" inspect "$tmp/nosuch.pb"
user_error "train --resume of a missing file" train --resume "$tmp/nosuch.pb"
user_error "eval without a file" eval

# ---- well-framed files with bad contents (written with python) ----------------------------

# reframe SRC DST PYTHON: parses SRC, runs PYTHON on m, writes it to DST with
# a fresh trailer, exactly as nn writes one.
reframe() {
    py '
import sys, zlib, struct, nn_pb2
m = nn_pb2.Checkpoint()
m.ParseFromString(open(sys.argv[1], "rb").read())
m.ClearField("integrity")
exec(sys.argv[3])
p = m.SerializeToString()
t = b"\x7a\x0e\x09" + struct.pack("<Q", len(p)) + b"\x15" + struct.pack("<I", zlib.crc32(p) & 0xffffffff)
open(sys.argv[2], "wb").write(p + t)
' "$1" "$2" "$3"
}

if [ "$have_py" = 1 ]; then
    reframe "$tmp/h.pb" "$tmp/same.pb" "pass"
    rc=$?
    check "python re-frames a checkpoint byte for byte as nn does" eval \
        'status_is 0 && cmp -s "$tmp/h.pb" "$tmp/same.pb"' || sed 's/^/#   python: /' "$tmp/py"
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.train.order[5] = 5000"
    user_error "resume with a data order entry outside the data" train --resume "$tmp/bad.pb" --epochs 12
    check "the message names the bad entry" err_has "5000"
    reframe "$tmp/h.pb" "$tmp/bad.pb" "del m.train.order[-1]"
    user_error "resume with a data order one entry short" train --resume "$tmp/bad.pb" --epochs 12
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.format_version = 2"
    user_error "eval of a format 2 file" eval "$tmp/bad.pb"
    check "the message asks for a newer nn" eval 'err_has "newer" && err_has "upgrade"'
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.tensors[0].shape[0] = 6"
    user_error "eval of a tensor whose shape and data disagree" eval "$tmp/bad.pb"
    check "the message names the tensor" err_has "0.weight"
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.tensors[1].name = \"0.weight\""
    user_error "eval of a file with a tensor name twice" eval "$tmp/bad.pb"
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.tensors[0].shape[:] = [1] * 9; m.tensors[0].data = b\"\\0\" * 4"
    user_error "eval of a tensor with nine dimensions" eval "$tmp/bad.pb"
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.tensors[0].shape[0] = 1 << 62"
    user_error "eval of a tensor with a dimension of 2^62" eval "$tmp/bad.pb"
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.ClearField(\"model\")"
    user_error "eval of a file without a model" eval "$tmp/bad.pb"
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.model.chain[0].properties[1].value = \"5 ! nosuch\""
    user_error "eval of a chain property with a '!'" eval "$tmp/bad.pb"
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.model.chain[0].properties[1].value = \"4\""
    user_error "eval of a chain that does not fit its tensors (out=4, weights [5, 2])" eval "$tmp/bad.pb"
    check "the message names '0.weight' and both shapes" eval \
        'err_has "0\.weight" && err_has "\[5, 2\]" && err_has "\[4, 2\]"'
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.optimizer.name = \"nosuchopt\""
    user_error "resume of a file whose optimizer is not installed" train --resume "$tmp/bad.pb" --epochs 12
    check "the message names it" err_has "nosuchopt"
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.optimizer.state[0].param = \"9.weight\""
    user_error "resume with optimizer state for a parameter the model lacks" \
        train --resume "$tmp/bad.pb" --epochs 12
    check "the message names the parameter" err_has "9.weight"
    reframe "$tmp/adam17.pb" "$tmp/bad.pb" \
        "t = [x for x in m.optimizer.state[0].slots if x.name == \"step\"][0]; t.shape.append(2); t.data = t.data * 2"
    user_error "resume of adam with a step that is not one number" train --resume "$tmp/bad.pb" --epochs 30
    check "the message says step is one number" err_has "optimizer state 'step' of '0.weight' is one number"
    reframe "$tmp/adam17.pb" "$tmp/bad.pb" \
        "[h for h in m.optimizer.hyperparameters if h.key == \"betas\"][0].value = \"0.9\""
    user_error "resume of adam with one beta" train --resume "$tmp/bad.pb" --epochs 30
    check "the message says betas needs two numbers" err_has "betas=0.9 needs 2"
    reframe "$tmp/h.pb" "$tmp/bad.pb" "m.ClearField(\"train\")"
    user_error "resume of a file without a training state" train --resume "$tmp/bad.pb" --epochs 12
    run eval "$tmp/bad.pb"
    check "eval of a file without a training state asks for --data" eval 'status_is 1 && err_has "data"'
    run eval "$tmp/bad.pb" --data 'circle n=1200'
    check "... and works with --data" eval 'status_is 0 && out_has "^loss: "'
else
    skip "well-framed files with bad contents" "no python3 with protobuf"
fi

finish
