#!/bin/sh
# cli.sh - command-line tests of nnrun, run by make check (the harness is
# tests/lib.sh).
. "$top_srcdir/tests/lib.sh"

# ---- help and version ------------------------------------------------------

run --help
check "nnrun --help exits 0 and prints the usage" eval 'status_is 0 && out_has "^usage: nnrun"'
run --version
check "nnrun --version exits 0 and prints the version" eval 'status_is 0 && out_has "^nnrun [0-9]"'
run
check "nnrun without a command exits 1 with the usage on stderr" \
    eval 'status_is 1 && err_has "^usage: nnrun"'

# ---- plugins and inspect ---------------------------------------------------

run plugins
for kn in module:linear module:sigmoid loss:bce optimizer:sgd dataset:circle device:cpu; do
    kind=${kn%%:*}
    name=${kn#*:}
    check "nnrun plugins lists the $kind $name" eval \
        'status_is 0 && awk -v k="$kind" -v m="$name" '\''$1 == k && $2 == m { f = 1 } END { exit !f }'\'' "$tmp/out"'
done
run plugins -v
check "nnrun plugins -v shows the search path" eval 'status_is 0 && out_has "search path"'

run inspect linear
for prop in in out bias; do
    check "nnrun inspect linear shows the property '$prop'" eval \
        'status_is 0 && grep -q -E "^ +$prop +(int|bool|float|string|enum) " "$tmp/out"'
done
run inspect nosuch
check "nnrun inspect nosuch exits 1 with a message naming it" \
    eval 'status_is 1 && err_has "^nnrun:.*nosuch"'

# ---- train -----------------------------------------------------------------

run train --epochs 3 --log-every 1
check "train --epochs 3 --log-every 1 exits 0" status_is 0
check "train prints a 'before:' line" out_has "^before: "
check "train prints the line of epoch 0" out_has "^epoch:     0 "
check "train prints the line of epoch 2" out_has "^epoch:     2 "
check "train stops after epoch 2" last_epoch_is 2
check "train prints a 'time:' line" out_has "^time: "

run train
check "default train reaches epoch 999 with accuracy >= 0.97" eval 'status_is 0 && trained_well'

run train --data 'circle n=1200' --model 'linear out=5 ! sigmoid ! linear out=1 ! sigmoid' \
    --loss bce --optim 'sgd lr=0.5 momentum=0.8' --epochs 1000 --batch 100 --shuffle epoch
check "train with every option spelled out reaches accuracy >= 0.97" \
    eval 'status_is 0 && trained_well'

run train --epochs=2 --log-every=1
check "--option=value works as --option value" eval 'status_is 0 && last_epoch_is 1'

# ---- spec files --------------------------------------------------------------

cat >"$tmp/net.nn" <<'EOF'
# the tutorial's network, briefly
epochs 5

model linear out=5 ! sigmoid ! linear out=1 ! sigmoid
  # an indented comment
log-every 1
EOF
run train "$tmp/net.nn"
check "a spec file is honoured (epoch 4 is the last)" eval 'status_is 0 && last_epoch_is 4'
run train "$tmp/net.nn" --epochs 2
check "an option after the spec file overrides it" eval 'status_is 0 && last_epoch_is 1'
run train --epochs 2 "$tmp/net.nn"
check "an option before the spec file overrides it" eval 'status_is 0 && last_epoch_is 1'

cat >"$tmp/badmodel.nn" <<'EOF'
epochs 2
model linear out=5 ! sigmoid
EOF
run train "$tmp/badmodel.nn"
check "the model of a spec file is used (a wrong one is refused)" \
    eval 'status_is 1 && err_has "\[5\]"'
run train "$tmp/badmodel.nn" --model 'linear out=1 ! sigmoid'
check "--model overrides the model of the spec file" eval 'status_is 0 && last_epoch_is 1'

# ---- the plugin search path ----------------------------------------------

mkdir "$tmp/sys"
for p in devices/cpu modules/linear modules/sigmoid losses/bce optimizers/sgd datasets/circle; do
    cp "$top_builddir/plugins/${p%/*}/.libs/${p#*/}.so" "$tmp/sys/" || echo "# cannot copy $p"
done
run_env NN_PLUGIN_SYSTEM_PATH="$tmp/sys" train --epochs 2
check "train works with NN_PLUGIN_SYSTEM_PATH holding copies of the plugins" \
    eval 'status_is 0 && last_epoch_is 1'
run_env NN_PLUGIN_SYSTEM_PATH="$tmp/sys" plugins
check "nnrun plugins loads them from NN_PLUGIN_SYSTEM_PATH" \
    eval 'status_is 0 && out_has "$tmp/sys/sigmoid.so" && ! out_has "/.libs/"'
rm -f "$tmp/sys/sigmoid.so"
run_env NN_PLUGIN_SYSTEM_PATH="$tmp/sys" train --epochs 2
user_error_result "without sigmoid.so train is refused with one message"
check "the message names sigmoid and the folder searched" \
    eval 'err_has "sigmoid" && err_has "$tmp/sys"'

# Broken files on NN_PLUGIN_PATH are reported, not fatal.
mkdir "$tmp/bad"
for b in nodesc abimajor abiminor abiold; do
    cp "$top_builddir/tests/bad/.libs/$b.so" "$tmp/bad/" || echo "# cannot copy $b.so"
done
echo "plain text, not a shared object" >"$tmp/bad/junk.so"
run_env NN_PLUGIN_PATH="$tmp/bad" plugins -v
check "nnrun plugins -v lists the broken files of NN_PLUGIN_PATH as refused" eval \
    'status_is 0 && out_has "^refused:" && out_has "nodesc.so" && out_has "abimajor.so" && out_has "abiminor.so" && out_has "junk.so"'
abi=$("$NNRUN" --version | sed -n 's/.*plugin ABI \([0-9]*\.[0-9]*\)).*/\1/p')
check "a plugin built for ABI 1.0 is refused with both ABI numbers" \
    eval '[ -n "$abi" ] && out_has "abiold.so: built for plugin ABI 1.0, this libnn has $abi"'
check "the real plugins are still listed next to broken ones" \
    eval 'status_is 0 && out_has "^module  *sigmoid "'
mkdir "$tmp/dup"
cp "$top_builddir/tests/bad/.libs/dupname.so" "$tmp/dup/" || echo "# cannot copy dupname.so"
run_env NN_PLUGIN_PATH="$tmp/dup" plugins -v
check "a second plugin named sigmoid is refused as a duplicate, no crash" \
    eval 'status_is 0 && out_has "already provided"'

# ---- plugins that load and are wrong when they run (tests/bad/wrong.c) ------

W=$tmp/wrong
mkdir "$W"
cp "$top_builddir/tests/bad/.libs/wrong.so" "$W/" || echo "# cannot copy wrong.so"
printf 'data circle n=200\nepochs 1\n' >"$tmp/small.nn"
"$NNRUN" train "$tmp/small.nn" --save "$tmp/small.pb" >/dev/null 2>&1 || echo "# cannot save small.pb"

user_error "a module whose forward returns NULL without an error stops train" \
    train --plugin-path "$W" --model 'linear out=3 ! noout ! linear out=1 ! sigmoid'
check "the message names the module and says it recorded no error" \
    eval 'err_has "module .noout. (NoOut) returned no tensor and recorded no error" && ! out_has "accuracy: nan"'
user_error "a loss whose forward returns NULL without an error stops train" train --plugin-path "$W" --loss noloss
check "the message names the loss" eval 'err_has "loss .noloss. (NoLoss) returned no tensor and recorded no error"'
user_error "a module whose output differs from its declared shape stops train" \
    train --plugin-path "$W" --model 'wrongshape'
check "the message names the module and both shapes" \
    eval 'err_has "module .wrongshape. (WrongShape) returned shape \[100, 2\], but its init declared the output \[1\]"'
user_error "a loss that returns one value per element stops train" train --plugin-path "$W" --loss vecloss
check "the message names the loss and its shape" \
    eval 'err_has "loss .vecloss. (VecLoss) returned shape \[100, 1\]; a loss returns one element"'
user_error "a dataset that cannot read a sample stops train" train --plugin-path "$W" --data 'baddata n=300'
check "the message is the dataset's own, after its name" \
    eval 'err_has "dataset .baddata.: sample 2: the file ends before sample 2"'
user_error "graph stops on a forward that returns NULL" \
    graph --plugin-path "$W" --model 'linear in=2 out=2 ! noout' -o "$tmp/g.dot"
check "graph names the module" eval 'err_has "module .noout. (NoOut) returned no tensor"'
user_error "eval stops on a loss that returns NULL" eval "$tmp/small.pb" --plugin-path "$W" --loss noloss
check "eval names the loss" eval 'err_has "loss .noloss. (NoLoss)"'

for comp in noout noloss; do
    user_error "check $comp fails" check --plugin-path "$W" "$comp"
    check "check $comp gives the reason, not 'success'" \
        eval 'out_has "^FAIL forward: .* .$comp. .*returned no tensor and recorded no error" && err_has "returned no tensor" && ! grep -q "FAIL.*: success" "$tmp/out"'
done
user_error "check wrongshape fails" check --plugin-path "$W" wrongshape
check "check wrongshape names the module and both shapes" \
    eval 'out_has "^FAIL forward: module .wrongshape. (WrongShape) returned shape \[3, 4\], but its init declared the output \[1\]" && err_has "wrongshape.*\[3, 4\].*\[1\]"'
user_error "check vecloss fails" check --plugin-path "$W" vecloss
check "check vecloss names the loss and its shape" \
    eval 'out_has "^FAIL forward: loss .vecloss. (VecLoss) returned shape \[4, 4\]" && err_has "vecloss.*\[4, 4\]"'
user_error "check baddata fails" check --plugin-path "$W" baddata
check "check baddata gives the dataset's own reason" \
    eval 'out_has "the file ends before sample 2" && err_has "the file ends before sample 2"'

# ---- --plugin-path: relative paths, and why a path is skipped -----------------

cd "$W" || echo "# cannot cd to $W"
for rel in . ./ ../wrong; do
    run plugins --plugin-path "$rel"
    check "--plugin-path $rel (relative) is searched, as its absolute path" \
        eval 'status_is 0 && out_has "^module  *noout .* $tmp/wrong/wrong.so$" && ! err_has .'
done
run train --plugin-path . --model 'wrongshape' --epochs 1
check "train finds a component through --plugin-path ." \
    eval 'status_is 1 && err_has "module .wrongshape. (WrongShape) returned" && ! err_has "named"'
run check --plugin-path . noout
check "check finds a component through --plugin-path ." \
    eval 'status_is 1 && out_has "^module noout: " && ! err_has "named"'

echo "not a folder" >"$tmp/afile"
mkdir "$tmp/emptydir"
# Every command that takes --plugin-path says why it skips one and goes on.
for cmd in "plugins" "inspect linear" "check sigmoid" "train $tmp/small.nn" "eval $tmp/small.pb" \
    "print $tmp/small.pb" "summary $tmp/small.pb" "params $tmp/small.pb" \
    "graph $tmp/small.pb -o $tmp/g.dot"; do
    # shellcheck disable=SC2086 # cmd is split into words on purpose
    run $cmd --plugin-path "$tmp/nosuch" --plugin-path "$tmp/afile" --plugin-path "$tmp/emptydir"
    check "nnrun $cmd: a missing --plugin-path and a file given as one are skipped, saying why" \
        eval 'status_is 0 && err_has "^nnrun: warning: --plugin-path .$tmp/nosuch. skipped: no such directory$" && err_has "^nnrun: warning: --plugin-path .$tmp/afile. skipped: not a directory$" && ! err_has "emptydir"'
done
run train --plugin-path nosuch --model 'swish' --epochs 1
check "the warning comes before the error it explains" \
    eval 'status_is 1 && sed -n 1p "$tmp/err" | grep -q "nosuch. skipped: no such directory" && sed -n 2p "$tmp/err" | grep -q "no module named .swish."'
cd "$tmp" || true

# ---- inspect: required properties, long names ---------------------------------

run inspect linear
check "inspect marks a property without default as required" \
    eval 'status_is 0 && out_has "^  out  *int  *required  *range:" && ! out_has "default: *range" && ! out_has "default: *$"'
run inspect --plugin-path "$W" baddata
check "inspect baddata marks n as required" eval 'status_is 0 && out_has "^  n  *int  *required "'
check "inspect sizes its columns to the longest property name" \
    eval 'awk '\''/^  [a-z_]+  +(int|float|bool|string|enum)  / { match($0, / (int|float|bool|string|enum) /); p[RSTART] = 1; n++ }
              END { k = 0; for (i in p) k++; exit !(n == 2 && k == 1) }'\'' "$tmp/out"'

# ---- user errors: exit 1, one line on stderr ----------------------------------

user_error "an unknown command" frobnicate
user_error "an unknown option" train --frobnicate 3
user_error "--epochs x" train --epochs x
user_error "--epochs -1" train --epochs -1
user_error "--batch 0" train --batch 0
user_error "--batch 5000 (bigger than the dataset) with --drop-last" train --batch 5000 --drop-last
user_error "--shuffle sometimes" train --shuffle sometimes
user_error "--model 'linear out=0'" train --model 'linear out=0'
user_error "--model 'linear in=3 out=5' (the input has 2 features)" train --model 'linear in=3 out=5'
user_error "--model nosuch" train --model nosuch
user_error "--model ''" train --model ''
user_error "--model 'linear out=5 ! ! sigmoid'" train --model 'linear out=5 ! ! sigmoid'
user_error "--optim 'sgd lr=abc'" train --optim 'sgd lr=abc'
user_error "--optim 'sgd nesterov=true' (without momentum)" train --optim 'sgd nesterov=true'
user_error "--loss nosuch" train --loss nosuch
user_error "--data 'circle n=0'" train --data 'circle n=0'
user_error "--device nosuch" train --device nosuch
user_error "a missing spec file" train "$tmp/missing.nn"
printf 'epochs 2\nfrobnicate 3\n' >"$tmp/unknown.nn"
user_error "a spec file with an unknown option" train "$tmp/unknown.nn"
check "the message names the spec file and its line" \
    eval 'err_has "unknown.nn" && err_has "2" && err_has "frobnicate"'
user_error "--model 'linear out=5 ! sigmoid' (output [5], target [1])" \
    train --model 'linear out=5 ! sigmoid'
check "the message is about the shapes [5] and [1]" eval 'err_has "\[5\]" && err_has "\[1\]"'
user_error "an option without its value" train --epochs
user_error "inspect without a name" inspect

finish
