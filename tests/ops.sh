#!/bin/sh
# ops.sh - ops and their kernels on a second device, run by make check (the
# harness is tests/lib.sh). The test plugins of tests/plugins/: hostdev (the
# cpu device built again under another name), hostdev_kernels (kernels for
# hostdev of the bce and sgd ops), twice (an op and module with a cpu kernel
# only) and wrong (kernels that nnrun check must catch).
. "$top_srcdir/tests/lib.sh"

libs=$top_builddir/tests/plugins/.libs
# folder NAME PLUGIN...: a plugin folder holding copies of the test plugins.
folder() {
    dir=$tmp/$1
    shift
    mkdir "$dir"
    for p in "$@"; do
        cp "$libs/$p.so" "$dir/" || echo "# cannot copy $p.so"
    done
}
folder dev hostdev hostdev_kernels twice
folder wrong hostdev twice wrong
folder bare hostdev
folder orphan hostdev wrong

# dev ARGS...: nnrun with the folder of hostdev and its kernels on the path.
dev() { run_env NN_PLUGIN_PATH="$tmp/dev" "$@"; }
wrong() { run_env NN_PLUGIN_PATH="$tmp/wrong" "$@"; }

# ---- seeing ops: plugins, plugins -v, inspect ----------------------------------

dev plugins
check "nnrun plugins lists the device hostdev and its kernels" eval \
    'status_is 0 && out_has "^device  *hostdev .*/hostdev.so$" && out_has "^kernel  *binary_cross_entropy .*/hostdev_kernels.so$" && out_has "^kernel  *sgd_update .*/hostdev_kernels.so$"'
# Every row has its VERSION and FILE where the header has them, however long a name.
aligned() {
    awk 'NF == 0 { exit }
         { v = index($0, " " $3 " ") + 1; f = index($0, " " $4) + 1 }
         NR == 1 { wv = v; wf = f; next }
         v != wv || f != wf { bad = 1; print "# misaligned: " $0 }
         END { exit bad }' "$tmp/out"
}
check "nnrun plugins keeps its columns aligned with the long name binary_cross_entropy" \
    eval 'status_is 0 && out_has "^op  *binary_cross_entropy " && aligned'
run plugins
check "nnrun plugins without the test plugins is aligned too" eval 'status_is 0 && aligned'

dev plugins -v
check "nnrun plugins -v lists binary_cross_entropy with kernels for cpu and hostdev" eval \
    'status_is 0 && out_has "^ops and the devices" && grep -E -q "^  binary_cross_entropy +(cpu, hostdev|hostdev, cpu)$" "$tmp/out"'
check "nnrun plugins -v lists sgd_update with kernels for cpu and hostdev" \
    grep -E -q "^  sgd_update +(cpu, hostdev|hostdev, cpu)$" "$tmp/out"
check "nnrun plugins -v lists twice with a kernel for cpu only" \
    grep -E -q "^  twice +cpu$" "$tmp/out"

dev inspect binary_cross_entropy
check "inspect binary_cross_entropy shows the op before its kernels" eval \
    'status_is 0 && [ "$(head -n 1 "$tmp/out")" = "binary_cross_entropy (op)" ] && out_has "^binary_cross_entropy (kernel)$"'
check "inspect binary_cross_entropy shows its inputs, target no-grad, with their ranges" \
    eval 'out_has "^  input  *check draws from \[0.02, 0.98\]$" && out_has "^  target  *no-grad; check draws from \[0, 1\]$"'
check "inspect binary_cross_entropy shows its output and its backward node" \
    eval 'out_has "^outputs:$" && out_has "^  loss$" && out_has "^backward: BinaryCrossEntropyBackward0$"'
check "inspect binary_cross_entropy shows the kernels of cpu (bce.so) and hostdev (hostdev_kernels.so)" \
    eval 'out_has "^  cpu  *.*/bce.so (backward: its own)$" && out_has "^  hostdev  *.*/hostdev_kernels.so (backward: its own)$"'
check "inspect binary_cross_entropy shows the hostdev kernel's device and its op" \
    eval 'out_has "^device:   hostdev$" && out_has "^op:       binary_cross_entropy, from plugin bce "'

dev inspect sgd_update
check "inspect sgd_update shows no gradient" eval 'status_is 0 && out_has "^backward: no gradient$"'
check "inspect sgd_update shows the flags of its inputs" eval \
    'out_has "^  param  *written$" && out_has "^  grad  *no-grad$" && out_has "^  momentum_buffer  *optional, written$"'
check "inspect sgd_update shows its attributes with defaults and docs" eval \
    'out_has "^  lr  *default: 0.01$" && out_has "^  *learning rate$" && out_has "^  first  *default: 0$"'
check "inspect sgd_update shows its kernel for hostdev" out_has "^  hostdev  *.*/hostdev_kernels.so$"

dev inspect bce
check "inspect bce lists the ops of its plugin with their kernels" eval \
    'status_is 0 && out_has "^ops of plugin bce:$" && out_has "^  binary_cross_entropy: " && out_has "^    hostdev  *.*/hostdev_kernels.so"'
dev inspect sgd
check "inspect sgd lists sgd_update with its kernels" eval \
    'status_is 0 && out_has "^ops of plugin sgd:$" && out_has "^  sgd_update: " && out_has "^    cpu  *.*/sgd.so$"'
dev inspect hostdev
check "inspect hostdev lists the ops with a kernel for it" eval \
    'status_is 0 && out_has "^  binary_cross_entropy  *.*/hostdev_kernels.so$" && out_has "^  sgd_update  *.*/hostdev_kernels.so$"'
run inspect linear
check "inspect linear says its plugin defines no op" eval 'status_is 0 && out_has "^ops of plugin linear: none$"'

# ---- training on hostdev ---------------------------------------------------------

run train
cp "$tmp/out" "$tmp/cpu.out"
dev train --device hostdev
check "train --device hostdev trains the circle net to accuracy >= 0.97" \
    eval 'status_is 0 && trained_well && out_has " on hostdev$"'
# Every logged epoch: the loss within 1e-3 and the accuracy within 0.01 of cpu's.
close_to_cpu() {
    awk 'FNR == NR && /^(before|epoch):/ { l[++n] = $(NF - 2); a[n] = $NF; next }
         /^(before|epoch):/ { m++; dl = $(NF - 2) - l[m]; da = $NF - a[m]
                              if (dl < -1e-3 || dl > 1e-3 || da < -0.01 || da > 0.01) bad = 1 }
         END { exit bad || m != n || n < 11 }' "$tmp/cpu.out" "$tmp/out"
}
check "train --device hostdev logs the numbers of cpu (loss within 1e-3)" close_to_cpu

run_env NN_PLUGIN_PATH="$tmp/bare" train --device hostdev
user_error_result "hostdev without its kernel plugin is refused with one message"
check "the message names binary_cross_entropy, hostdev and cpu, before any epoch" eval \
    'err_has "binary_cross_entropy" && err_has "hostdev" && err_has "cpu" && ! out_has "^epoch:" && ! out_has "^before:"'

dev train --device hostdev --model 'linear out=5 ! twice ! linear out=1 ! sigmoid'
user_error_result "a model with twice (a cpu kernel only) on hostdev is refused with one message"
check "the message names the op twice, the device hostdev and the device cpu" eval \
    'err_has "twice" && err_has "no kernel for device .hostdev." && err_has "devices with a kernel: cpu$"'
check "no epoch was trained" eval '! out_has "^epoch:" && ! out_has "^before:"'
dev train --model 'linear out=5 ! twice ! linear out=1 ! sigmoid' --epochs 2 --log-every 1
check "the same model trains on cpu" eval 'status_is 0 && last_epoch_is 1'

# ---- checking ops ------------------------------------------------------------------

dev check binary_cross_entropy
check "check binary_cross_entropy passes with hostdev" eval \
    'status_is 0 && out_has "^check binary_cross_entropy: all [0-9]* checks passed$"'
check "it checks the cpu gradient against central differences" out_has "^ok   cpu: gradient of .input. "
check "it compares hostdev's output and gradient with cpu's" eval \
    'out_has "^ok   hostdev: output .loss. against cpu " && out_has "^ok   hostdev: gradient of .input. against cpu "'
check "it does not check the gradient of the target (no-grad)" eval '! out_has "target"'

dev check sgd_update
check "check sgd_update passes with hostdev" eval \
    'status_is 0 && out_has "^check sgd_update: all [0-9]* checks passed$"'
check "it compares the written param and momentum_buffer of hostdev with cpu's" eval \
    'out_has "^ok   hostdev: written input .param. against cpu " && out_has "^ok   hostdev: written input .momentum_buffer. against cpu "'
check "it runs again without the optional momentum_buffer" \
    out_has "^ok   hostdev: written input .param. against cpu (optional inputs absent) "

run check binary_cross_entropy
check "check binary_cross_entropy passes on cpu alone" eval \
    'status_is 0 && out_has "^ok   cpu: gradient of .input. " && ! out_has "hostdev"'

dev check bce
check "check bce checks the loss and its plugin's op" eval \
    'status_is 0 && out_has "^loss bce:" && out_has "^op binary_cross_entropy:" && out_has "^ok   hostdev: output .loss. against cpu "'
dev check sgd
check "check sgd checks the optimizer and its plugin's op" eval \
    'status_is 0 && out_has "^optimizer sgd:" && out_has "^op sgd_update:"'
dev check hostdev
check "check hostdev checks the device and the ops with a kernel for it" eval \
    'status_is 0 && out_has "^device hostdev against cpu" && out_has "^op binary_cross_entropy:" && out_has "^op sgd_update:"'

dev check faraway_only
check "an op with kernels only for a missing device is reported, not failed" eval \
    'status_is 0 && out_has "^skip faraway: no plugin here provides the device$" && out_has "not checked$"'

# ---- checks that must fail -----------------------------------------------------------

wrong check twice
user_error_result "check twice with a wrong hostdev kernel fails with one message"
check "the failure is hostdev's output against cpu, at its last element" eval \
    'out_has "^FAIL hostdev: output .output. against cpu " && out_has "worst at element 19: hostdev "'
check "the message says how many checks failed and the worst" \
    err_has "^nnrun: check twice: 1 of [0-9]* checks failed; worst: hostdev: output 'output' against cpu"
check "cpu's own checks still pass" out_has "^ok   cpu: gradient of .input. "

wrong check badgrad
user_error_result "check badgrad (a wrong backward) fails with one message"
check "the failure is the gradient against central differences" eval \
    'out_has "^FAIL cpu: gradient of .input. " && out_has "central differences" && err_has "gradient of .input."'

wrong check halve
user_error_result "check halve (a wrong in-place hostdev kernel) fails with one message"
check "the failure is the written input of hostdev against cpu" eval \
    'out_has "^FAIL hostdev: written input .x. against cpu " && err_has "written input .x."'

run_env NN_PLUGIN_PATH="$tmp/orphan" check twice
user_error_result "check of a kernel whose op no plugin defines fails with one message"
check "the failure says that no plugin defines the op" out_has "^FAIL hostdev: kernel .twice.: no plugin here defines the op"
run_env NN_PLUGIN_PATH="$tmp/orphan" plugins -v
check "plugins -v shows the kernel without its op" \
    out_has "^  kernel twice for hostdev (.*wrong.so): no plugin here defines the op$"

finish
