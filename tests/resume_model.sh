#!/bin/sh
# resume_model.sh - train --resume FILE --model CHAIN: a chain that names
# the saved architecture is accepted (the run goes on as without it); any
# other is refused with one line naming the first difference.
. "$top_srcdir/tests/lib.sh"

DEF='linear out=5 ! sigmoid ! linear out=1 ! sigmoid'
run train --epochs 6 --save "$tmp/h.pb"
check "a run of 6 epochs saves h.pb" eval 'status_is 0 && [ -s "$tmp/h.pb" ]'

run train --resume "$tmp/h.pb" --epochs 10 --log-every 1
cp "$tmp/out" "$tmp/plain"
run train --resume "$tmp/h.pb" --epochs 10 --log-every 1 --model "$DEF"
check "--model naming the saved architecture is accepted" eval 'status_is 0 && last_epoch_is 9'
check "and the resumed run's epoch lines are those of a resume without --model" \
    eval '[ -n "$(grep "^epoch:" "$tmp/plain")" ] && [ "$(grep "^epoch:" "$tmp/out")" = "$(grep "^epoch:" "$tmp/plain")" ]'

user_error "a wider first layer is refused with one line" \
    train --resume "$tmp/h.pb" --epochs 10 --model 'linear out=4 ! sigmoid ! linear out=1 ! sigmoid'
check "the message names the tensor and both shapes, and the file's model" \
    eval 'err_has "is not the model of .$tmp/h.pb.: tensor .0.weight.: the checkpoint has shape \[5, 2\], the model \[4, 2\]" && err_has "its model is .linear in=0 out=5"'

user_error "another activation is refused with one line" \
    train --resume "$tmp/h.pb" --epochs 10 --model 'linear out=5 ! tanh ! linear out=1 ! sigmoid'
check "the message names the module and both types" \
    err_has "module 1 is Tanh in --model, Sigmoid in the file"

user_error "a model with a module less is refused with one line" \
    train --resume "$tmp/h.pb" --epochs 10 --model 'linear out=5 ! sigmoid ! linear out=1'
check "the message gives both module counts" err_has "has 3 modules in --model, 4 in the file"

user_error "an unknown module in --model is refused with one line" \
    train --resume "$tmp/h.pb" --epochs 10 --model 'nosuch'
check "the message names it" err_has "no module named 'nosuch'"

finish
