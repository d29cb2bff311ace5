#!/bin/sh
# view.sh - command-line tests of nnrun print, summary, params and graph, run
# by make check (the harness is tests/lib.sh).
. "$top_srcdir/tests/lib.sh"

EXAMPLES=$top_builddir/examples/plugins/.libs
TUTORIAL='linear in=2 out=5 ! sigmoid ! linear out=1 ! sigmoid'
# The outputs here are tables and listings: show more of them on a failure.
stdout_lines=16

# run_ex ARGS...: run with the example plugins (two_layers_net) on the path.
run_ex() { run_env NN_PLUGIN_PATH="$EXAMPLES" "$@"; }

out_has_E() { grep -q -E -e "$1" "$tmp/out"; }
err_has_i() { grep -q -i -e "$1" "$tmp/err"; }
# out_is FILE: stdout is exactly the content of FILE.
out_is() { cmp -s "$tmp/out" "$1"; }

# The rows of a summary table: the lines between the two rules of '='.
rows() { awk '/^=+$/ { r++; next } r == 1' "$tmp/out"; }
row_count() { rows | wc -l | tr -d ' '; }
# row_is N REGEX: row N (from 1) matches the extended regular expression.
row_is() { rows | sed -n "$1p" | grep -q -E -e "$2"; }

# ---- summary -----------------------------------------------------------------

run summary --model "$TUTORIAL"
check "summary of the tutorial's chain exits 0" status_is 0
check "summary starts with a rule line" eval 'head -n 1 "$tmp/out" | grep -q -E "^-{10,}$"'
check "summary has rules of '='" eval '[ "$(grep -c -E "^={10,}$" "$tmp/out")" -eq 2 ]'
check "summary header: Layer (type), Output Shape, Param #" \
    out_has_E '^ *Layer \(type\) +Output Shape +Param #$'
check "summary has 4 rows" eval '[ "$(row_count)" = 4 ]'
check "summary row Linear-1 [-1, 5] 15" row_is 1 '^ *Linear-1 +\[-1, 5\] +15 *$'
check "summary row Sigmoid-2 [-1, 5] 0" row_is 2 '^ *Sigmoid-2 +\[-1, 5\] +0 *$'
check "summary row Linear-3 [-1, 1] 6" row_is 3 '^ *Linear-3 +\[-1, 1\] +6 *$'
check "summary row Sigmoid-4 [-1, 1] 0" row_is 4 '^ *Sigmoid-4 +\[-1, 1\] +0 *$'
check "summary: Total params: 21" out_has '^Total params: 21$'
check "summary: Trainable params: 21" out_has '^Trainable params: 21$'
check "summary: Non-trainable params: 0" out_has '^Non-trainable params: 0$'
check "summary ends with a rule line" eval 'tail -n 1 "$tmp/out" | grep -q -E "^-{10,}$"'

run summary --model "$TUTORIAL" --show-input
check "summary --show-input exits 0" status_is 0
check "summary --show-input: the header says Input Shape" \
    out_has_E '^ *Layer \(type\) +Input Shape +Param #$'
check "summary --show-input: Linear-1 [-1, 2] 15" row_is 1 '^ *Linear-1 +\[-1, 2\] +15 *$'
check "summary --show-input: Linear-3 [-1, 5] 6" row_is 3 '^ *Linear-3 +\[-1, 5\] +6 *$'
check "summary --show-input: Sigmoid-4 [-1, 1] 0" row_is 4 '^ *Sigmoid-4 +\[-1, 1\] +0 *$'

run_ex summary --model 'two_layers_net in=2'
check "summary of the composite exits 0" status_is 0
check "summary of the composite: exactly 2 rows" eval '[ "$(row_count)" = 2 ]'
check "summary of the composite: Linear-1 [-1, 5] 15" row_is 1 '^ *Linear-1 +\[-1, 5\] +15 *$'
check "summary of the composite: Linear-2 [-1, 1] 6" row_is 2 '^ *Linear-2 +\[-1, 1\] +6 *$'
check "summary of the composite: Total params: 21" out_has '^Total params: 21$'

run_ex summary --model 'two_layers_net in=2 ! sigmoid' --hierarchical
check "summary --hierarchical exits 0" status_is 0
check "summary --hierarchical: 4 rows" eval '[ "$(row_count)" = 4 ]'
check "summary --hierarchical: TwoLayersNet-1 [-1, 1] 21 first" \
    row_is 1 '^ *TwoLayersNet-1 +\[-1, 1\] +21 *$'
check "summary --hierarchical: Linear-2 [-1, 5] 15 under it" row_is 2 '^ *Linear-2 +\[-1, 5\] +15 *$'
check "summary --hierarchical: Linear-3 [-1, 1] 6 under it" row_is 3 '^ *Linear-3 +\[-1, 1\] +6 *$'
check "summary --hierarchical: Sigmoid-4 [-1, 1] 0 last" row_is 4 '^ *Sigmoid-4 +\[-1, 1\] +0 *$'
# indent(row) = its leading spaces
indents=$(rows | awk '{ match($0, /^ */); printf "%d ", RLENGTH }')
check "summary --hierarchical: the Linear rows are indented under TwoLayersNet ($indents)" \
    eval 'echo "$indents" | awk "{ exit !(\$2 > \$1 && \$3 == \$2 && \$4 == \$1) }"'

run_ex summary --model 'two_layers_net in=2 ! sigmoid'
check "summary (flat) of a chain with a composite lists the leaves" \
    eval 'status_is 0 && [ "$(row_count)" = 3 ] && row_is 1 "^ *Linear-1 " && row_is 2 "^ *Linear-2 " && row_is 3 "^ *Sigmoid-3 "'

# ---- print -------------------------------------------------------------------

cat >"$tmp/want" <<'EOF'
Sequential(
  (0): Linear(in_features=2, out_features=5, bias=True)
  (1): Sigmoid()
  (2): Linear(in_features=5, out_features=1, bias=True)
  (3): Sigmoid()
)
EOF
run print --model "$TUTORIAL"
check "print of the tutorial's chain is PyTorch's text" eval 'status_is 0 && out_is "$tmp/want"'

cat >"$tmp/want" <<'EOF'
TwoLayersNet(
  (fc1): Linear(in_features=2, out_features=5, bias=True)
  (fc2): Linear(in_features=5, out_features=1, bias=True)
)
EOF
run_ex print --model 'two_layers_net in=2'
check "print of the composite shows (fc1) and (fc2)" eval 'status_is 0 && out_is "$tmp/want"'

cat >"$tmp/want" <<'EOF'
Sequential(
  (0): TwoLayersNet(
    (fc1): Linear(in_features=2, out_features=5, bias=True)
    (fc2): Linear(in_features=5, out_features=1, bias=True)
  )
  (1): Sigmoid()
)
EOF
run_ex print --model 'two_layers_net in=2 ! sigmoid'
check "print nests the composite inside the Sequential" eval 'status_is 0 && out_is "$tmp/want"'

cat >"$tmp/want" <<'EOF'
Sequential(
  (0): Linear(in_features=2, out_features=5, bias=False)
  (1): Sigmoid()
)
EOF
run print --model 'linear in=2 out=5 bias=false ! sigmoid'
check "print shows bias=False" eval 'status_is 0 && out_is "$tmp/want"'

# ---- params ------------------------------------------------------------------

run train --epochs 50 --save "$tmp/s.pb"
check "train --epochs 50 --save s.pb" eval 'status_is 0 && [ -s "$tmp/s.pb" ]'

cat >"$tmp/want" <<'EOF'
0.weight             :     10  shape: (5, 2)
0.bias               :      5  shape: (5,)
2.weight             :      5  shape: (1, 5)
2.bias               :      1  shape: (1,)
total                :     21
EOF
run params "$tmp/s.pb"
check "params s.pb lists the tensors, shapes and the total" eval 'status_is 0 && out_is "$tmp/want"'
cp "$tmp/out" "$tmp/plain"

run params "$tmp/s.pb" --values
check "params --values exits 0" status_is 0
check "params --values: a *** header for layer 0" \
    out_has '^\*\*\* 0: Linear(in_features=2, out_features=5, bias=True)$'
check "params --values: a *** header for layer 2" \
    out_has '^\*\*\* 2: Linear(in_features=5, out_features=1, bias=True)$'
check "params --values: without the headers and numbers, the plain listing" eval \
    'grep -v -e "^\*\*\* " -e "^\[" -e "^ " "$tmp/out" | cmp -s - "$tmp/plain"'
# the numbers: every value line, brackets and commas dropped
grep -e '^\[' -e '^ ' "$tmp/out" | tr -d '[],' | tr -s ' ' '\n' | grep -v '^$' >"$tmp/values"
check "params --values prints 21 numbers" eval '[ "$(wc -l <"$tmp/values" | tr -d " ")" = 21 ]'
check "params --values prints decimal numbers" \
    eval '! grep -v -q -E "^-?[0-9]+\.[0-9]+$" "$tmp/values"'
# weight_rows: the values of 0.weight are 5 lines of 2 numbers.
weight_rows() {
    awk '/^0\.weight / { f = 1; next }
         f && /^0\.bias/ { exit }
         f && /^ ?\[/ { n++; if (gsub(/-?[0-9]+\.[0-9]+/, "&") != 2) bad = 1 }
         END { exit !(n == 5 && !bad) }' "$tmp/out"
}
check "params --values: the weight (5, 2) takes 5 lines of 2" weight_rows
check "params --values: the numbers are the trained ones (not all 0)" \
    eval 'grep -q -v -E "^-?0\.0+$" "$tmp/values"'
cp "$tmp/out" "$tmp/values1"
run params "$tmp/s.pb" --values
check "params --values twice prints the same" eval 'status_is 0 && cmp -s "$tmp/out" "$tmp/values1"'

cat >"$tmp/want" <<'EOF'
fc1.weight           :     10  shape: (5, 2)
fc1.bias             :      5  shape: (5,)
fc2.weight           :      5  shape: (1, 5)
fc2.bias             :      1  shape: (1,)
total                :     21
EOF
run_ex params --model 'two_layers_net in=2'
check "params of the composite: fc1.weight ... fc2.bias" eval 'status_is 0 && out_is "$tmp/want"'
run_ex train --model two_layers_net --epochs 5 --save "$tmp/c.pb"
check "train --model two_layers_net --save c.pb" eval 'status_is 0 && [ -s "$tmp/c.pb" ]'
run_ex params "$tmp/c.pb"
check "params c.pb (saved from the composite) lists fc1.weight ... fc2.bias" \
    eval 'status_is 0 && out_is "$tmp/want"'

cat >"$tmp/want" <<'EOF'
weight               :     10  shape: (5, 2)
bias                 :      5  shape: (5,)
total                :     15
EOF
run params --model 'linear in=2 out=5'
check "params of a one-element chain: the module itself, no '0.' prefix" \
    eval 'status_is 0 && out_is "$tmp/want"'

# ---- graph -------------------------------------------------------------------

# node_count LABEL: nodes of the DOT in $tmp/g.dot labelled exactly LABEL.
node_count() { grep -c -F "[label=\"$1\"]" "$tmp/g.dot"; }

run graph "$tmp/s.pb" -o "$tmp/g.dot"
check "graph s.pb -o g.dot exits 0 and says so" eval 'status_is 0 && out_has "g\.dot"'
check "graph wrote a digraph" eval 'head -n 1 "$tmp/g.dot" | grep -q "^digraph"'
check "dot -Tsvg accepts the DOT" eval 'dot -Tsvg "$tmp/g.dot" -o "$tmp/check.svg" && [ -s "$tmp/check.svg" ]'
check "graph: 2 AddmmBackward0 nodes" eval '[ "$(node_count AddmmBackward0)" = 2 ]'
check "graph: 2 SigmoidBackward0 nodes" eval '[ "$(node_count SigmoidBackward0)" = 2 ]'
check "graph: 2 TBackward0 nodes" eval '[ "$(node_count TBackward0)" = 2 ]'
check "graph: 4 AccumulateGrad nodes" eval '[ "$(node_count AccumulateGrad)" = 4 ]'
for pb in '0.weight\n(5, 2)' '0.bias\n(5,)' '2.weight\n(1, 5)' '2.bias\n(1,)'; do
    check "graph: a parameter box labelled \"$pb\"" \
        eval 'grep -q -F "[label=\"$pb\"" "$tmp/g.dot"'
done
check "graph: the output is marked (label output, a fillcolor)" \
    eval 'grep -q -E "^ *[A-Za-z0-9_]+ \[label=\"output[^\"]*\" fillcolor=[a-z0-9]+\]" "$tmp/g.dot"'

# The structure: ids, labels and edges from the DOT text.
awk '
    /->/ { from[++e] = $1; to[e] = $3; next }
    /\[label="/ { l = $0; sub(/^[^"]*"/, "", l); sub(/".*/, "", l); label[$1] = l }
    END {
        for (i = 1; i <= e; i++) { nout[from[i]]++; nin[to[i]]++; src[to[i]] = from[i]; dst[from[i]] = to[i] }
        bad = 0
        for (id in label) {
            l = label[id]
            if (l == "AccumulateGrad") {
                if (nin[id] != 1 || nout[id] != 1) { print "# AccumulateGrad " id ": " nin[id] " in, " nout[id] " out"; bad++ }
                else if (label[src[id]] !~ /^[02]\.(weight|bias)\\n\(/) { print "# AccumulateGrad " id " fed by " label[src[id]]; bad++ }
                else if (label[dst[id]] != "TBackward0" && label[dst[id]] != "AddmmBackward0") { print "# AccumulateGrad " id " feeds " label[dst[id]]; bad++ }
            } else if (l ~ /^output/) {
                if (nin[id] != 1 || nout[id] != 0) { print "# output: " nin[id] " in, " nout[id] " out"; bad++ }
                else if (label[src[id]] != "SigmoidBackward0") { print "# output fed by " label[src[id]]; bad++ }
                outputs++
            } else if (l ~ /^[02]\.(weight|bias)\\n/) {
                if (nin[id] != 0 || nout[id] != 1 || label[dst[id]] != "AccumulateGrad") { print "# box " id " has " nin[id] " in, " nout[id] " out"; bad++ }
            } else if (l == "TBackward0") {
                if (nin[id] != 1 || nout[id] != 1 || label[dst[id]] != "AddmmBackward0") { print "# T " id; bad++ }
            } else if (l == "SigmoidBackward0") {
                if (nin[id] != 1 || nout[id] != 1 || label[src[id]] != "AddmmBackward0") { print "# Sigmoid " id; bad++ }
            } else if (l == "AddmmBackward0") {
                if (nout[id] != 1 || label[dst[id]] != "SigmoidBackward0") { print "# Addmm " id; bad++ }
            } else { print "# unexpected node " id " " l; bad++ }
        }
        for (i = 1; i <= e; i++)
            if (!(from[i] in label) || !(to[i] in label)) { print "# edge to an undeclared node: " from[i] " -> " to[i]; bad++ }
        if (e != 14) { print "# " e " edges, expected 14"; bad++ }
        if (outputs != 1) { print "# " outputs " output nodes"; bad++ }
        exit bad != 0
    }' "$tmp/g.dot" >"$tmp/structure"
structure_rc=$?
check "graph: the edges form the tutorial net's autograd graph" eval '[ "$structure_rc" -eq 0 ] || { cat "$tmp/structure"; false; }'

cp "$tmp/g.dot" "$tmp/g1.dot"
run graph "$tmp/s.pb" -o "$tmp/g.dot"
check "graph: the same command twice writes the same file" \
    eval 'status_is 0 && cmp -s "$tmp/g.dot" "$tmp/g1.dot"'

run graph "$tmp/s.pb" -o "$tmp/g.svg"
check "graph -o g.svg writes SVG" eval 'status_is 0 && [ -s "$tmp/g.svg" ] &&
    { head -c 5 "$tmp/g.svg" | grep -q "^<?xml" || grep -q "<svg" "$tmp/g.svg"; }'
run graph "$tmp/s.pb" -o "$tmp/g.png"
check "graph -o g.png writes a PNG" eval 'status_is 0 &&
    [ "$(od -An -tx1 -N8 "$tmp/g.png" | tr -d " \n")" = "89504e470d0a1a0a" ]'
check "graph leaves no temporary file" eval '! ls "$tmp" | grep -q "\.tmp\."'

run_ex graph --model 'two_layers_net in=2' -o "$tmp/c.dot"
check "graph of the composite: boxes named fc1.weight ... fc2.bias" eval 'status_is 0 &&
    grep -q -F "[label=\"fc1.weight\\n(5, 2)\"" "$tmp/c.dot" &&
    grep -q -F "[label=\"fc2.bias\\n(1,)\"" "$tmp/c.dot"'

user_error "graph -o g.txt (an unknown format)" graph "$tmp/s.pb" -o "$tmp/g.txt"
check "graph -o g.txt writes nothing" eval '[ ! -e "$tmp/g.txt" ]'
user_error "graph without -o" graph "$tmp/s.pb"

# Without Graphviz: call the real program (the libtool wrapper needs tools
# from PATH) with a PATH that has no dot.
REAL=$top_builddir/tools/.libs/nnrun
[ -x "$REAL" ] || REAL=$NNRUN
run_nodot() {
    sh_run env PATH="$tmp/nobin" \
        LD_LIBRARY_PATH="$top_builddir/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "$REAL" "$@"
}
mkdir "$tmp/nobin" "$tmp/nodot"
run_nodot graph "$tmp/s.pb" -o "$tmp/nodot/g.svg"
user_error_result "graph -o g.svg without dot on PATH is a user error"
check "the message mentions Graphviz" err_has_i 'graphviz'
check "without dot: no g.svg and no temporary file" eval '[ -z "$(ls -A "$tmp/nodot")" ]'

# A graph bigger than a pipe's buffer: dot's absence must not kill nnrun
# (SIGPIPE) half-way through writing the DOT into the pipe.
big='linear in=2 out=2'
i=0
while [ $i -lt 300 ]; do
    big="$big ! sigmoid ! linear out=2"
    i=$((i + 1))
done
rm -f "$tmp/nodot/"*
run_nodot graph --model "$big" -o "$tmp/nodot/big.svg"
user_error_result "graph -o big.svg (DOT > 64 KiB) without dot on PATH is a user error"
check "without dot (big graph): no big.svg and no temporary file" \
    eval '[ -z "$(ls -A "$tmp/nodot")" ]'

run_nodot graph "$tmp/s.pb" -o "$tmp/nodot/g.dot"
check "graph -o g.dot works without dot on PATH" \
    eval 'status_is 0 && cmp -s "$tmp/nodot/g.dot" "$tmp/g1.dot"'

# ---- errors --------------------------------------------------------------------

for cmd in print summary params; do
    user_error "$cmd of a missing checkpoint file" $cmd "$tmp/missing.pb"
    check "the message names the missing file" err_has 'missing\.pb'
done
user_error "graph of a missing checkpoint file" graph "$tmp/missing.pb" -o "$tmp/m.dot"
check "graph of a missing file writes nothing" eval '[ ! -e "$tmp/m.dot" ]'

for cmd in print summary params; do
    user_error "$cmd --model 'linear out=5' (no in=, no --data)" $cmd --model 'linear out=5'
    check "the message mentions in= or the data" eval 'err_has "in=" || err_has_i "data"'
done
user_error "graph --model 'linear out=5 ! sigmoid' (no in=, no --data)" \
    graph --model 'linear out=5 ! sigmoid' -o "$tmp/w.dot"

run print --model 'linear out=5' --data circle
check "--data gives the width: print --model 'linear out=5' --data circle" \
    eval 'status_is 0 && out_has "^Linear(in_features=2, out_features=5, bias=True)$"'
run summary --model 'linear out=5' --data circle
check "--data gives the width: summary counts 15 parameters" \
    eval 'status_is 0 && out_has "^Total params: 15$"'
run params --model 'linear out=5 ! sigmoid' --data circle
check "--data gives the width: params shows 0.weight (5, 2)" \
    eval 'status_is 0 && out_has "^0\.weight  *:  *10  shape: (5, 2)$"'

finish
