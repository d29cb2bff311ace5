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

# make install writes the plugin folder's cache: a run loads only what it
# uses (LD_DEBUG=files: the dynamic loader's own account of what it opened).
check "make install writes lib/nn/plugins/plugins.cache" \
    eval 'test -f "$L/nn/plugins/plugins.cache" && grep -q "^plugin	linear.so	" "$L/nn/plugins/plugins.cache"'
LD_DEBUG=files "$NNRUN" train --epochs 2 >"$tmp/out" 2>"$tmp/ld"
rc=$?
check "the installed nnrun train loads the 6 plugins the tutorial uses, and no other" \
    eval 'status_is 0 && [ "$(grep -c "calling init: .*/nn/plugins/" "$tmp/ld")" -eq 6 ] && ! grep -q "calling init: .*conv2d.so" "$tmp/ld"'
# A sanitized build (SAN_CFLAGS set) loads what this test builds: same flags.
CC="$CC${SAN_CFLAGS:+ $SAN_CFLAGS}"
flags=$(pkg-config --cflags --libs nn)
check "pkg-config knows the nn module" test -n "$flags"

mkdir "$tmp/plug"
for ex in my_linear my_sgd two_layers_net softplus; do
    sh_run $CC -shared -fPIC -Wall -Wextra -Werror "$top_srcdir/examples/plugins/$ex.c" \
        $flags -o "$tmp/plug/$ex.so"
    check "examples/plugins/$ex.c builds against the installed SDK" status_is 0
done
sh_run $CC -Wall -Wextra -Werror "$top_srcdir/examples/seed.c" $flags -o "$tmp/seed"
check "examples/seed.c builds against the installed SDK" status_is 0

# Every C listing of the plugin author's guide compiles against the installed
# SDK: whole files as plugins that load, fragments within the declarations
# that the HTML comment before each gives (tests/docblocks.awk).
guide=$top_srcdir/docs/plugins.md
mkdir "$tmp/guide" "$tmp/guide-so"
sh_run awk -v out="$tmp/guide" -v src=docs/plugins.md -f "$top_srcdir/tests/docblocks.awk" "$guide"
nlist=$(grep -c '^ *```c$' "$guide")
check "all $nlist C listings of docs/plugins.md are extracted" \
    eval 'status_is 0 && test "$nlist" -ge 20 && test "$(wc -l <"$tmp/out")" -eq "$nlist"'
cflags=$(pkg-config --cflags nn)
: >"$tmp/err"
failed_listings=
for f in "$tmp/guide"/*.c; do
    case $f in
    */frag-*.c)
        $CC -c -Wall -Wextra -Werror -Wno-unused-function -Wno-unused-const-variable $cflags \
            "$f" -o "${f%.c}.o" ;;
    *)
        $CC -shared -fPIC -Wall -Wextra -Werror "$f" $flags -o "$tmp/guide-so/$(basename "${f%.c}").so" ;;
    esac >>"$tmp/err" 2>&1 || failed_listings="$failed_listings $(basename "$f")"
done
: >"$tmp/out"
check "every C listing of docs/plugins.md compiles" eval 'test -z "$failed_listings"' ||
    echo "#   failed:$failed_listings"
check "the guide's whole files are act.c, mse_tol.c, softplus.c and swish.c" \
    eval 'test "$(cd "$tmp/guide-so" && echo *.so)" = "act.so mse_tol.so softplus.so swish.so"'
run plugins -v --plugin-path "$tmp/guide-so"
check "the guide's whole files load in nnrun, none refused" \
    eval 'status_is 0 && out_has "^module  *swish  *1.0 " && out_has "^module  *softplus  *1.0 " && out_has "^module  *act " && out_has "^loss  *mse_tol " && ! out_has "refused"'
sh_run diff -u "$top_srcdir/examples/plugins/softplus.c" "$tmp/guide/softplus.c"
check "the guide's listing of softplus.c is examples/plugins/softplus.c, line for line" status_is 0

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
# It comes first in the search, so it shadows the relu plugin that nn ships,
# which is then the only file refused.
check "it loads" eval 'status_is 0 && out_has "^module  *relu .*/hdr/plug/relu.so$" &&
    ! sed -n "/^refused:/,\$p" "$tmp/out" | grep "^  /" |
        grep -v "/relu.so: module .relu. is already provided by .*/hdr/plug/relu.so$" | grep -q .'
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
check "docs/plugins.md has its whole plugins: swish.c, act.c, mse_tol.c" \
    eval 'test "$ndoc" -ge 3 && test -f "$tmp/doc/swish.c" -a -f "$tmp/doc/act.c" -a -f "$tmp/doc/mse_tol.c"'
run train --plugin-path "$tmp/doc" --model 'linear out=5 ! act fn=tanh ! linear out=1 ! swish' \
    --loss mse_tol --epochs 20
check "act, swish and mse_tol train together" eval 'status_is 0 && last_epoch_is 19'

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

# softplus.c: a new op, its cpu kernel and a module, from one file.
run plugins --plugin-path "$tmp/plug"
check "the installed nnrun lists softplus as a module, an op and one kernel, all from softplus.so" \
    eval 'status_is 0 && out_has "^module  *softplus  *1.0  *.*/softplus.so$" &&
        out_has "^op  *softplus  *1.0  *.*/softplus.so$" &&
        test "$(grep -c "^kernel  *softplus " "$tmp/out")" = 1 &&
        out_has "^kernel  *softplus  *1.0  *.*/softplus.so$"'
run check --plugin-path "$tmp/plug" softplus
check "nnrun check softplus passes: the cpu kernel's backward agrees with its forward" \
    eval 'status_is 0 && out_has "^module softplus: " && out_has "^check softplus: all [1-9][0-9]* checks passed$"'
run print --plugin-path "$tmp/plug" --model 'linear in=2 out=5 ! softplus ! softplus beta=0.5 threshold=3'
check "print shows Softplus with PyTorch's extra_repr" \
    eval 'status_is 0 && out_has "^  (1): Softplus(beta=1.0, threshold=20.0)$" && out_has "^  (2): Softplus(beta=0.5, threshold=3.0)$"'

# The values against PyTorch's (torch.nn.functional.softplus, float32),
# below and above the threshold, for beta 1, 2 and 0.5: x is used twice, so
# the second backward adds into its gradient (acc) and each is 2 sigmoid(beta x),
# or 2 where beta x > threshold.
cat >"$tmp/values.c" <<'CEOF'
#include <nn/nn.h>
#include <stdio.h>
#include <stdlib.h>
/* values PLUGIN_DIR WORDS X...: prints "x y dL/dx" for L = sum(f(x)) + sum(f(x)). */
int main(int argc, char **argv)
{
    nn_registry *reg;
    nn_ctx *ctx;
    nn_module *m;
    char *err = NULL;
    const char *dirs[] = {argv[1]};
    nn_registry_opts ro = {dirs, 1, 0};
    int n = argc - 3;
    float x[16], y[16], g[16];
    nn_shape s = {1, {n}};
    if (n < 1 || n > 16 || nn_registry_open(&ro, &reg, &err) ||
        nn_ctx_open(reg, "cpu", 1, &ctx, &err) ||
        nn_module_create(ctx, "softplus", argv[2], &s, &m, &err)) {
        fprintf(stderr, "%s\n", err ? err : "usage: values DIR WORDS X...");
        return 1;
    }
    for (int i = 0; i < n; i++) x[i] = strtof(argv[3 + i], NULL);
    nn_tensor *t = nn_tensor_new(ctx, &s, 1);
    nn_tensor_from_host(t, x, n);
    nn_tensor *out = nn_module_forward(m, t);
    const char *msg;
    if (nn_backward(nn_add(nn_sum(out), nn_sum(nn_module_forward(m, t)))) ||
        nn_ctx_error(ctx, &msg) || nn_tensor_to_host(out, y, n) ||
        nn_tensor_to_host(nn_tensor_grad(t), g, n)) {
        fprintf(stderr, "%s\n", nn_ctx_error(ctx, &msg) ? msg : "no gradient");
        return 1;
    }
    printf("node %s\n", nn_tensor_grad_fn_name(out));
    for (int i = 0; i < n; i++) printf("%.9g %.9g %.9g\n", x[i], y[i], g[i]);
    nn_tensor_free(t);
    nn_module_free(m);
    nn_ctx_free(ctx);
    nn_registry_free(reg);
    return 0;
}
CEOF
sh_run $CC -Wall -Wextra -Werror "$tmp/values.c" $flags -o "$tmp/values"
check "a program that runs the softplus module builds against the installed SDK" status_is 0
# words | x y dy/dx (PyTorch 1.13, one use of x; printed with %.9g)
cat >"$tmp/torch" <<'EOF'
 -3 0.048587352 0.0474258736
 0 0.693147182 0.5
 1 1.31326163 0.731058598
 20.5 20.5 1
beta=2 -1 0.0634640008 0.119202919
beta=2 0.5 0.656630814 0.731058598
beta=2 10.1000004 10.1000004 1
beta=0.5_threshold=3 -2 0.626523376 0.268941432
beta=0.5_threshold=3 5.9000001 6.00203228 0.9502635
beta=0.5_threshold=3 6.5 6.5 1
EOF
for words in '' 'beta=2' 'beta=0.5 threshold=3'; do
    key=$(echo "$words" | tr ' ' _)
    xs=$(awk -v k="$key" '($0 ~ /^ / ? "" : $1) == k { print $(NF - 2) }' "$tmp/torch")
    # shellcheck disable=SC2086
    sh_run "$tmp/values" "$tmp/plug" "$words" $xs
    check "softplus ${words:-with its defaults} gives PyTorch's values and gradients at $(echo $xs)" \
        eval 'status_is 0 && out_has "^node SoftplusBackward0$" && awk -v k="$key" '\''
            NR == FNR { if (($0 ~ /^ / ? "" : $1) == k) { x[n] = $(NF - 2); y[n] = $(NF - 1); g[n] = 2 * $NF; n++ }; next }
            /^node / { next }
            { d = $2 - y[m]; e = $3 - g[m]; ad = d < 0 ? -d : d; ae = e < 0 ? -e : e
              if ($1 != x[m] || ad > 2e-6 * y[m] + 1e-9 || ae > 2e-6 * g[m] + 1e-9) bad = 1; m++ }
            END { exit bad || m != n || n < 3 }'\'' "$tmp/torch" "$tmp/out"'
done

# It trains the tutorial's network with softplus in place of the first sigmoid.
run train --plugin-path "$tmp/plug" --model 'linear out=5 ! softplus ! linear out=1 ! sigmoid' \
    --optim 'sgd lr=0.1 momentum=0.8' --save "$tmp/soft.pb"
check "linear ! softplus ! linear ! sigmoid trains to accuracy >= 0.97 (sgd lr=0.1 momentum=0.8)" \
    eval 'status_is 0 && trained_well'
run eval --plugin-path "$tmp/plug" "$tmp/soft.pb"
check "the saved network evaluates to accuracy >= 0.97" \
    eval 'status_is 0 && awk '\''/^loss:/ { a = $NF } END { exit !(a + 0 >= 0.97) }'\'' "$tmp/out"'
run inspect "$tmp/soft.pb"
check "the checkpoint names softplus with its properties" \
    eval 'status_is 0 && out_has "softplus beta=1 threshold=20 ! linear"'
run graph --plugin-path "$tmp/plug" "$tmp/soft.pb" -o "$tmp/soft.dot"
check "its graph has SoftplusBackward0 between the two AddmmBackward0, one SigmoidBackward0" \
    eval 'status_is 0 && awk '\''
        /\[label="/ { l = $0; sub(/.*label="/, "", l); sub(/[\\"].*/, "", l); name[$1] = l }
        / -> / { e[name[$1] ">" name[$3]]++ }
        END { for (k in name) c[name[k]]++
              exit !(c["SoftplusBackward0"] == 1 && c["SigmoidBackward0"] == 1 && c["AddmmBackward0"] == 2 &&
                     e["AddmmBackward0>SoftplusBackward0"] == 1 && e["SoftplusBackward0>AddmmBackward0"] == 1) }'\'' "$tmp/soft.dot"'

# An op whose only kernel is for another device is refused when the module
# is created; a plugin that brings just the cpu kernel completes it, with no
# rebuild of the op's plugin.
cat >"$tmp/cube.c" <<'CEOF'
#include <nn/plugin.h>
static const nn_op_arg in[] = {{"input", 0, 0, 0}}, out[] = {{"output", 0, 0, 0}};
static const nn_op_def cube_op = {NN_VT_HEADER(nn_op_def), .node_name = "CubeBackward0",
                                  .nin = 1, .nout = 1, .in = in, .out = out};
static nn_status never(const nn_kernel_call *c) { (void)c; return NN_UNSUPPORTED; }
static const nn_kernel_def cube_mydev = {NN_VT_HEADER(nn_kernel_def), .device = "mydev",
                                         .forward = never, .backward = never};
static nn_status init(nn_module *m, const nn_props *p, nn_shape *in, nn_shape *out, char **err)
{
    (void)p;
    *out = *in;
    return nn_op_find(nn_module_ctx(m), "cube", nn_module_priv(m), err);
}
static nn_tensor *forward(nn_module *m, nn_tensor *x)
{
    return nn_op_call(*(nn_op **)nn_module_priv(m), &x, NULL, NULL);
}
static const nn_module_vt vt = {NN_VT_HEADER(nn_module_vt), .type_name = "Cube",
                                .priv_size = sizeof(nn_op *), .init = init, .forward = forward};
static const nn_component_def comps[] = {
    {NN_KIND_OP, "cube", "x^3", &cube_op, NULL, 0},
    {NN_KIND_KERNEL, "cube", "mydev", &cube_mydev, NULL, 0},
    {NN_KIND_MODULE, "cube", "x^3", &vt, NULL, 0},
};
NN_PLUGIN_DEFINE("cube", "1.0", comps)
CEOF
cat >"$tmp/cube_cpu.c" <<'CEOF'
#include <nn/plugin.h>
static nn_status fwd(const nn_kernel_call *c)
{
    const float *x = c->in[0].data;
    for (int64_t i = 0; i < c->in[0].numel; i++) c->out[0].data[i] = x[i] * x[i] * x[i];
    return NN_OK;
}
static nn_status bwd(const nn_kernel_call *c)
{
    const float *x = c->in[0].data, *dy = c->gout[0].data;
    float *dx = c->gin[0].data;
    for (int64_t i = 0; dx && i < c->in[0].numel; i++)
        dx[i] = (c->acc[0] ? dx[i] : 0) + 3 * x[i] * x[i] * dy[i];
    return NN_OK;
}
static const nn_kernel_def k = {NN_VT_HEADER(nn_kernel_def), .device = "cpu", .forward = fwd,
                                .backward = bwd};
static const nn_component_def comps[] = {{NN_KIND_KERNEL, "cube", "cpu loops", &k, NULL, 0}};
NN_PLUGIN_DEFINE("cube_cpu", "1.0", comps)
CEOF
mkdir "$tmp/cube"
sh_run $CC -shared -fPIC -Wall -Wextra -Werror "$tmp/cube.c" $flags -o "$tmp/cube/cube.so"
check "an op plugin with a kernel for device 'mydev' only builds" status_is 0
run train --plugin-path "$tmp/cube" --model 'linear out=5 ! cube ! linear out=1 ! sigmoid' --epochs 1
user_error_result "training with it on cpu fails with one message"
check "the message, at creation, names the op, its plugin, the device and the devices with a kernel" \
    eval 'err_has "^nnrun: model element 1 (cube): .*op '\''cube'\'' (plugin '\''cube'\'') has no kernel for device '\''cpu'\''; devices with a kernel: mydev$" && ! out_has "^epoch:"'
sh_run $CC -shared -fPIC -Wall -Wextra -Werror "$tmp/cube_cpu.c" $flags -o "$tmp/cube/cube_cpu.so"
check "a plugin with only the cpu kernel of cube builds" status_is 0
run check --plugin-path "$tmp/cube" cube
check "with it beside cube.so, unchanged, nnrun check cube passes on cpu" \
    eval 'status_is 0 && out_has "^check cube: all [1-9][0-9]* checks passed$"'

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
