#!/bin/sh
# sdk.sh - nn as a third-party author meets it: install into a temporary
# root, build the example plugins and the tutorial program against the
# installed SDK with pkg-config, and use them from the installed nnrun.
. "$top_srcdir/tests/lib.sh"

stage=$tmp/stage
if ! make -s -C "$top_builddir" install DESTDIR="$stage" >"$tmp/install.log" 2>&1; then
    rc=1
    cp "$tmp/install.log" "$tmp/err"
    fail "make install DESTDIR=... succeeds"
    finish
fi
pass "make install DESTDIR=... succeeds"

prefix=$(sed -n 's/^prefix=//p' "$top_builddir/sdk/nn.pc")
libdir=$(sed -n 's/^libdir=//p' "$top_builddir/sdk/nn.pc" | sed "s|\${exec_prefix}|$prefix|")
P=$stage$prefix
L=$stage$libdir
check "the headers nn/nn.h and nn/plugin.h are installed" \
    test -f "$P/include/nn/nn.h" -a -f "$P/include/nn/plugin.h"
check "libnn is installed with its libtool version" test -e "$L/libnn.so.1"
check "the plugins are installed under lib/nn/plugins" \
    test -f "$L/nn/plugins/linear.so" -a -f "$L/nn/plugins/cpu.so"

# The staged tree stands in for the prefix: pkg-config's sysroot prefixes its
# paths, and the installed programs are told where the library and plugins are.
export PKG_CONFIG_PATH="$L/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
export LD_LIBRARY_PATH="$L${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NN_PLUGIN_SYSTEM_PATH="$L/nn/plugins"
NNRUN=$P/bin/nnrun
CC=${CC:-cc}
flags=$(pkg-config --cflags --libs nn)
check "pkg-config knows the nn module" test -n "$flags"

mkdir "$tmp/plug"
for ex in my_linear my_sgd two_layers_net; do
    sh_run $CC -shared -fPIC -Wall -Wextra -Werror "$top_srcdir/examples/plugins/$ex.c" \
        $flags -o "$tmp/plug/$ex.so"
    check "examples/plugins/$ex.c builds against the installed SDK" status_is 0
done
sh_run $CC -Wall -Wextra -Werror "$top_srcdir/examples/seed.c" $flags -o "$tmp/seed"
check "examples/seed.c builds against the installed SDK" status_is 0

# The examples that open the installed headers, as an author copies them:
# the lines of the first comment indented "*   ".
header_example() {
    awk 'NR == 1, /^ \*\//' "$P/include/nn/$1" | sed -n 's/^ \*   //p'
}
mkdir "$tmp/hdr" "$tmp/hdr/plug"
header_example nn.h >"$tmp/hdr/net.c"
sh_run $CC -Wall -Wextra -Werror "$tmp/hdr/net.c" $flags -o "$tmp/hdr/net"
check "the example of nn/nn.h builds as a program" eval 'status_is 0 && grep -q "^int main" "$tmp/hdr/net.c"'
sh_run "$tmp/hdr/net"
check "and runs: a batch of 3 through 'linear out=5 ! sigmoid'" eval 'status_is 0 && out_has "^y: (3, 5)$"'
header_example plugin.h >"$tmp/hdr/relu.c"
sh_run $CC -shared -fPIC -Wall -Wextra -Werror "$tmp/hdr/relu.c" $flags -o "$tmp/hdr/plug/relu.so"
check "the example of nn/plugin.h builds as a plugin" \
    eval 'status_is 0 && grep -q "^NN_PLUGIN_DEFINE" "$tmp/hdr/relu.c"'
run plugins -v --plugin-path "$tmp/hdr/plug"
check "it loads" eval 'status_is 0 && out_has "^module  *relu .*/relu.so$" && ! out_has "^refused"'
run check --plugin-path "$tmp/hdr/plug" relu
check "nnrun check relu passes" eval 'status_is 0 && out_has "^check relu: all [0-9]* checks passed"'
run train --plugin-path "$tmp/hdr/plug" --model 'linear out=5 ! relu ! linear out=1 ! sigmoid' --epochs 20
check "it trains in a chain" eval 'status_is 0 && last_epoch_is 19'

# Every listing of docs/plugins.md that is a whole plugin (it opens with
# "/* NAME.c - " and has NN_PLUGIN_DEFINE) builds as shown, loads and passes
# nnrun check.
mkdir "$tmp/doc"
awk -v dir="$tmp/doc" '
    /^```c$/ { inb = 1; buf = ""; next }
    inb && /^```$/ {
        inb = 0
        if (buf ~ /NN_PLUGIN_DEFINE/ && match(buf, /^\/\* [a-z_0-9]+\.c /)) {
            f = dir "/" substr(buf, 4, RLENGTH - 4)
            printf "%s", buf > f
            close(f)
        }
        next
    }
    inb { buf = buf $0 "\n" }' "$top_srcdir/docs/plugins.md"
ndoc=0
for src in "$tmp/doc"/*.c; do
    [ -f "$src" ] || continue
    ndoc=$((ndoc + 1))
    name=$(basename "$src" .c)
    sh_run $CC -shared -fPIC -Wall -Wextra -Werror "$src" $flags -o "$tmp/doc/$name.so"
    check "docs/plugins.md: $name.c builds against the installed SDK" status_is 0
    for comp in $(sed -n 's/^ *{NN_KIND_[A-Z]*, "\([a-z_0-9]*\)".*/\1/p' "$src"); do
        run check --plugin-path "$tmp/doc" "$comp"
        check "docs/plugins.md: nnrun check $comp (from $name.c) passes" \
            eval 'status_is 0 && out_has "^check $comp: all [0-9]* checks passed"'
    done
done
check "docs/plugins.md has its whole plugins: swish.c, act.c, mse.c" \
    eval 'test "$ndoc" -ge 3 && test -f "$tmp/doc/swish.c" -a -f "$tmp/doc/act.c" -a -f "$tmp/doc/mse.c"'
run train --plugin-path "$tmp/doc" --model 'linear out=5 ! act fn=tanh ! linear out=1 ! swish' \
    --loss mse --epochs 20
check "act, swish and mse train together" eval 'status_is 0 && last_epoch_is 19'

# The README's "Writing plugins" commands, as shown, in a folder holding
# my_linear.c: a relative --plugin-path for train and check.
mkdir "$tmp/readme"
cp "$top_srcdir/examples/plugins/my_linear.c" "$tmp/readme/"
awk '/^## Writing plugins/ { f = 1 } f && /^```/ { if (inb) exit; inb = 1; next } f && inb' \
    "$top_srcdir/README.md" | sed "s|^cc |$CC |" >"$tmp/readme/steps.sh"
(cd "$tmp/readme" && PATH="$P/bin:$PATH" sh -e ./steps.sh) >"$tmp/out" 2>"$tmp/err"
rc=$?
check "the README's plugin commands run as shown (build, train, check with --plugin-path .)" \
    eval 'status_is 0 && grep -q "plugin-path \." "$tmp/readme/steps.sh" && trained_well && out_has "^check my_linear: all [0-9]* checks passed" && ! test -s "$tmp/err"'

run plugins --plugin-path "$tmp/plug"
check "the installed nnrun lists the example plugins" \
    eval 'status_is 0 && out_has "^module  *my_linear " && out_has "^optimizer  *my_sgd " && out_has "^module  *two_layers_net "'

run train --plugin-path "$tmp/plug" --model 'my_linear out=5 ! sigmoid ! my_linear out=1 ! sigmoid' \
    --optim 'my_sgd lr=0.5 momentum=0.8'
check "my_linear and my_sgd train the tutorial's network to accuracy >= 0.97" \
    eval 'status_is 0 && trained_well'

run train --plugin-path "$tmp/plug" --model 'two_layers_net nh=5 ny=1' --save "$tmp/two.pb"
check "two_layers_net trains to accuracy >= 0.97" eval 'status_is 0 && trained_well'
run params --plugin-path "$tmp/plug" "$tmp/two.pb"
check "its saved parameters are fc1.weight, fc1.bias, fc2.weight, fc2.bias" \
    eval 'status_is 0 && out_has "^fc1.weight  *:  *10  shape: (5, 2)$" && out_has "^fc1.bias " && out_has "^fc2.weight  *:  *5  shape: (1, 5)$" && out_has "^fc2.bias "'
run summary --plugin-path "$tmp/plug" "$tmp/two.pb"
check "its summary shows Linear-1 and Linear-2, as modelsummary does" \
    eval 'status_is 0 && grep -Eq "^ *Linear-1 +\[-1, 5\] +15$" "$tmp/out" && grep -Eq "^ *Linear-2 +\[-1, 1\] +6$" "$tmp/out"'

# my_sgd's momentum_buf goes through the checkpoint: a resumed run is exact.
run train --plugin-path "$tmp/plug" --model 'my_linear out=5 ! sigmoid ! my_linear out=1 ! sigmoid' \
    --optim 'my_sgd lr=0.5 momentum=0.8' --epochs 30 --log-every 1
grep '^epoch:    29 ' "$tmp/out" >"$tmp/straight"
run train --plugin-path "$tmp/plug" --model 'my_linear out=5 ! sigmoid ! my_linear out=1 ! sigmoid' \
    --optim 'my_sgd lr=0.5 momentum=0.8' --epochs 13 --save "$tmp/half.pb"
run inspect "$tmp/half.pb"
check "the checkpoint names my_sgd with its hyper-parameters" \
    eval 'status_is 0 && out_has "^optimizer: my_sgd lr=0.5 momentum=0.8"'
run train --plugin-path "$tmp/plug" --resume "$tmp/half.pb" --epochs 30 --log-every 1
grep '^epoch:    29 ' "$tmp/out" >"$tmp/resumed"
check "a run resumed with my_sgd's state ends as the straight run, digit for digit" \
    eval 'status_is 0 && test -s "$tmp/straight" && cmp -s "$tmp/straight" "$tmp/resumed"'

for comp in my_linear my_sgd two_layers_net linear sgd bce circle cpu; do
    run check --plugin-path "$tmp/plug" "$comp"
    check "nnrun check $comp passes" eval 'status_is 0 && out_has "^check $comp: all [0-9]* checks passed"'
done

# check must fail for a plugin that is wrong: an optimizer that climbs.
cat >"$tmp/uphill.c" <<'CEOF'
#include <nn/plugin.h>
static nn_status step(nn_optim *o)
{
    for (int i = 0; i < nn_optim_param_count(o); i++) {
        nn_tensor *p = nn_optim_param(o, i), *g = nn_tensor_grad(p);
        if (g) nn_tensor_add_(p, g, 0.1f);
    }
    return NN_OK;
}
static const nn_optim_vt vt = {NN_VT_HEADER(nn_optim_vt), .type_name = "Uphill", .step = step};
static const nn_component_def comps[] = {{NN_KIND_OPTIMIZER, "uphill", "wrong on purpose", &vt, NULL, 0}};
NN_PLUGIN_DEFINE("uphill", "1.0", comps)
CEOF
mkdir "$tmp/wrong"
sh_run $CC -shared -fPIC "$tmp/uphill.c" $flags -o "$tmp/wrong/uphill.so"
check "a deliberately wrong optimizer builds" status_is 0
run check --plugin-path "$tmp/wrong" uphill
user_error_result "nnrun check uphill fails with one message"
check "the message names the worst failure" eval 'err_has "loss after 200 steps"'

# A junk .so beside the examples is reported and breaks nothing.
echo "not a shared object" >"$tmp/plug/junk.so"
run plugins -v --plugin-path "$tmp/plug"
check "a junk .so is reported as refused by nnrun plugins -v" \
    eval 'status_is 0 && out_has "junk.so: cannot be loaded"'
check "the other plugins still load beside it" eval 'out_has "^module  *my_linear "'
run train --plugin-path "$tmp/plug" --model 'my_linear out=5 ! sigmoid ! my_linear out=1 ! sigmoid' --epochs 2
check "training with the junk .so on the path still works" status_is 0

# The tutorial as a C program, against the installed library.
mkdir "$tmp/seedrun"
sh_run "$tmp/seed" "$tmp/seedrun"
check "examples/seed runs the whole tutorial" status_is 0
check "it trains to accuracy >= 0.97 (evaluated after training)" \
    eval 'awk '\''/^eval:/ { a = $NF } END { exit !(a + 0 >= 0.97) }'\'' "$tmp/out"'
check "it prints the model, the summary and the parameter listing" \
    eval 'out_has "^Sequential($" && out_has "^Total params: 21$" && out_has "^0.weight  *:  *10  shape: (5, 2)$"'
check "its saved checkpoint loads into a fresh model with the same accuracy" \
    eval 'test "$(awk "/^eval:/ {print \$NF}" "$tmp/out")" = "$(awk "/^loaded:/ {print \$NF}" "$tmp/out")"'
check "the loaded optimizer carries the changed lr and the info text" \
    eval 'out_has "^Это моя сеть .*(lr=0.25)$"'
check "its Dataset and DataLoader (batch_size=12) give all ten samples in one batch" \
    eval 'test "$(grep -c "^{.input.: " "$tmp/out")" = 10 && test "$(grep -c "^input \[" "$tmp/out")" = 1'

finish
