#!/bin/sh
# activations.sh - command-line tests of the activation, shape and dropout
# modules (relu, tanh, leaky_relu, gelu, softmax, log_softmax, flatten,
# identity, dropout), run by make check (the harness is tests/lib.sh).
. "$top_srcdir/tests/lib.sh"

MODULES="relu tanh leaky_relu gelu softmax log_softmax flatten identity dropout"
OPS="leaky_relu gelu softmax log_softmax dropout"

# ---- plugins -------------------------------------------------------------------

run plugins
for name in $MODULES; do
    check "nnrun plugins lists the module $name" eval \
        'status_is 0 && awk -v m="$name" '\''$1 == "module" && $2 == m { f = 1 } END { exit !f }'\'' "$tmp/out"'
done
for name in $OPS; do
    check "nnrun plugins lists the op $name and its cpu kernel" eval \
        'status_is 0 && awk -v m="$name" '\''$2 == m && ($1 == "op" || $1 == "kernel") { f[$1] = 1 } END { exit !(f["op"] && f["kernel"]) }'\'' "$tmp/out"'
done

# ---- nnrun check: gradients against finite differences -------------------------

for spec in relu tanh leaky_relu 'leaky_relu negative_slope=0.3' gelu 'gelu approximate=tanh' \
    softmax 'softmax dim=0' log_softmax 'log_softmax dim=0' flatten identity dropout \
    'dropout p=0.9' 'dropout p=1'; do
    # shellcheck disable=SC2086
    run check $spec
    check "nnrun check $spec passes" eval 'status_is 0 && out_has "all [0-9]* checks passed"'
done
for name in $OPS; do
    run check "$name"
    check "nnrun check $name checks the op's gradient on cpu" \
        eval 'status_is 0 && out_has "^ok   cpu: gradient of .input."'
done

# ---- print ---------------------------------------------------------------------

CHAIN='linear out=8 ! leaky_relu ! dropout p=0.1 ! linear out=1 ! sigmoid'
cat >"$tmp/want" <<'EOF2'
Sequential(
  (0): Linear(in_features=2, out_features=8, bias=True)
  (1): LeakyReLU(negative_slope=0.01)
  (2): Dropout(p=0.1, inplace=False)
  (3): Linear(in_features=8, out_features=1, bias=True)
  (4): Sigmoid()
)
EOF2
run print --model "$CHAIN" --data circle
check "print of the training chain is PyTorch's text" eval 'status_is 0 && cmp -s "$tmp/out" "$tmp/want"'

# What PyTorch 1.13 prints for the same modules.
cat >"$tmp/want" <<'EOF2'
Sequential(
  (0): Flatten(start_dim=1, end_dim=-1)
  (1): Linear(in_features=2, out_features=6, bias=True)
  (2): GELU(approximate='tanh')
  (3): ReLU()
  (4): Tanh()
  (5): Identity()
  (6): LeakyReLU(negative_slope=0.2)
  (7): Dropout(p=0.25, inplace=False)
  (8): Linear(in_features=6, out_features=3, bias=True)
  (9): Softmax(dim=-1)
  (10): LogSoftmax(dim=1)
)
EOF2
run print --data circle --model 'flatten ! linear out=6 ! gelu approximate=tanh ! relu ! tanh ! identity ! leaky_relu negative_slope=0.2 ! dropout p=0.25 ! linear out=3 ! softmax ! log_softmax dim=1'
check "print of every module is PyTorch's text" eval 'status_is 0 && cmp -s "$tmp/out" "$tmp/want"'

# ---- training with dropout -----------------------------------------------------

run train --model "$CHAIN" --epochs 300 --log-every 100 --save "$tmp/drop.pb"
check "train of the leaky_relu and dropout chain runs 300 epochs" \
    eval 'status_is 0 && last_epoch_is 299'
run eval "$tmp/drop.pb"
check "the trained chain classifies the circle data with accuracy > 0.9 (eval mode)" eval \
    'status_is 0 && awk '\''/accuracy:/ { a = $NF } END { exit !(a + 0 > 0.9) }'\'' "$tmp/out"'
cp "$tmp/out" "$tmp/eval1"
run eval "$tmp/drop.pb"
check "eval twice gives the same loss and accuracy (dropout is off)" \
    eval 'status_is 0 && cmp -s "$tmp/out" "$tmp/eval1"'

# ---- errors --------------------------------------------------------------------

user_error "flatten start_dim=0 is refused: it would merge the batch" \
    print --data circle --model 'flatten start_dim=0 ! linear out=1'
check "the message says why" err_has "batch"
user_error "softmax dim=2 is refused on samples of one dimension" \
    print --data circle --model 'linear out=3 ! softmax dim=2'
check "the message says out of range" err_has "out of range"
user_error "dropout p=1.5 is refused" print --data circle --model 'dropout p=1.5'

finish
