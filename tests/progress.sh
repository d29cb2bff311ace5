#!/bin/sh
# progress.sh - nnrun train's feedback: the progress bar (--progress, only
# on a terminal unless asked), --quiet, and the per-epoch CSV of --metrics
# checked against the epoch lines (run by make check; the harness is
# tests/lib.sh).
. "$top_srcdir/tests/lib.sh"

skip() { pass "$1 # SKIP $2"; }
cr=$(printf '\r')
esc=$(printf '\033')
# The bar's drawings ("\r" TEXT "\033[K") and its erasures ("\r\033[K") out.
strip_bar() { sed "s/$cr[^$cr$esc]*$esc\\[K//g" "$1"; }
no_time() { grep -v '^time: ' "$1"; }
has_bar() { grep -q "$cr" "$1" && grep -q "$esc" "$1" && grep -q 'ETA [0-9?]' "$1" &&
    grep -q '[0-9]%' "$1"; }
plain() { ! grep -q "[$cr$esc]" "$1"; }

# ---- piped output: byte for byte as before -------------------------------------

golden=$top_srcdir/tests/golden/tutorial_default.txt
run train
no_time "$tmp/out" >"$tmp/default.txt"
check "piped, train prints the tutorial's known lines and no bar (auto)" eval \
    'status_is 0 && cmp -s "$tmp/default.txt" "$golden" && plain "$tmp/out"'
run train --progress never
no_time "$tmp/out" >"$tmp/never.txt"
check "--progress never prints the same bytes (the time line aside)" eval \
    'status_is 0 && cmp -s "$tmp/never.txt" "$golden"'
run train --progress auto --val-split 0.2 --epochs 30 --log-every 7
no_time "$tmp/out" >"$tmp/auto.txt"
run train --progress never --val-split 0.2 --epochs 30 --log-every 7
no_time "$tmp/out" >"$tmp/never.txt"
check "with validation too, auto and never print the same piped bytes" eval \
    'status_is 0 && cmp -s "$tmp/auto.txt" "$tmp/never.txt" && plain "$tmp/out"'

# ---- --progress always into a pipe: the bar, and the same lines under it ------

run train --progress always
cp "$tmp/out" "$tmp/always.txt"
check "--progress always draws the bar into a pipe (\\r, percent, ETA, erase-line)" eval \
    'status_is 0 && has_bar "$tmp/always.txt"'
strip_bar "$tmp/always.txt" | no_time - >"$tmp/stripped.txt"
check "without the bar's segments, the output is the plain one, byte for byte" \
    cmp -s "$tmp/stripped.txt" "$golden"
check "every epoch line is there once, each starting a fresh line" eval \
    '[ "$(grep -c "epoch:  *[0-9]* loss:" "$tmp/always.txt")" -eq 11 ] &&
     [ "$(grep -c "^epoch:  *[0-9]* loss:" "$tmp/stripped.txt")" -eq 11 ]'
check "the bar is erased before the epoch lines and the time line" eval \
    '[ "$(grep -c "$cr$esc\\[Kepoch:" "$tmp/always.txt")" -ge 1 ] &&
     ! grep -q "[^K]epoch: " "$tmp/always.txt" && ! grep -q "[^K]time: " "$tmp/always.txt"'
run_env COLUMNS=40 train --progress always --epochs 3
check "the bar keeps within COLUMNS=40 (39 characters)" eval \
    'status_is 0 && has_bar "$tmp/out" &&
     tr "$cr" "\\n" <"$tmp/out" | grep "%" | sed "s/$esc\\[K//g" | awk "length(\$0) > 39 { exit 1 }"'
run_env COLUMNS=200 train --progress always --epochs 3
check "a wide bar shows the epoch, samples/s and the running loss" eval \
    'status_is 0 && out_has "epoch 0/3 .*\\[.*\\].*samples/s.*loss: 0\\.[0-9]\\{4\\}"'

# ---- a pseudo-terminal: auto draws, never does not ------------------------------

# script (util-linux) runs the command on a pseudo-terminal.
pty() { TERM=xterm script -qec "$1" /dev/null </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?; }
if command -v script >/dev/null 2>&1 && script -qec true /dev/null </dev/null >/dev/null 2>&1
then
    pty "'$NNRUN' train --epochs 20 --log-every 5"
    check "on a terminal, auto draws the bar" eval 'status_is 0 && has_bar "$tmp/out"'
    strip_bar "$tmp/out" | tr -d "$cr" | no_time - >"$tmp/tty.txt"
    run train --epochs 20 --log-every 5
    no_time "$tmp/out" >"$tmp/piped.txt"
    check "on a terminal, the lines under the bar are the piped ones" \
        cmp -s "$tmp/tty.txt" "$tmp/piped.txt"
    pty "'$NNRUN' train --epochs 20 --log-every 5 --progress never"
    check "on a terminal, never draws no bar" eval \
        'status_is 0 && ! grep -q "$esc" "$tmp/out" && ! grep -q ETA "$tmp/out"'
    pty "'$NNRUN' train --epochs 20 --quiet"
    check "on a terminal, --quiet draws no bar" eval \
        'status_is 0 && ! grep -q "$esc" "$tmp/out" && ! grep -q ETA "$tmp/out"'
else
    for what in "auto draws the bar" "the lines under the bar are the piped ones" \
        "never draws no bar" "--quiet draws no bar"; do
        skip "on a terminal, $what" "script (util-linux) cannot run a pseudo-terminal here"
    done
fi

# ---- --quiet ---------------------------------------------------------------------

run train --quiet --progress always --val-split 0.2 --save "$tmp/q.pb"
check "--quiet prints the time and saved lines only, no bar even with always" eval \
    'status_is 0 && [ "$(wc -l <"$tmp/out")" -eq 2 ] && out_has "^time: " &&
     out_has "^saved: " && plain "$tmp/out" && [ ! -s "$tmp/err" ]'
run train --progress never --val-split 0.2 --save "$tmp/p.pb"
cp "$tmp/out" "$tmp/loud.txt"
run eval "$tmp/p.pb"
cp "$tmp/out" "$tmp/eval_p.txt"
run eval "$tmp/q.pb"
check "--quiet trains the same network" cmp -s "$tmp/out" "$tmp/eval_p.txt"
user_error "--quiet keeps errors: one message, exit status 1" \
    train --quiet --epochs 3 --optim 'sgd lr=1e9 momentum=1000'

# ---- --metrics -------------------------------------------------------------------

header='epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds'
# rows_match_lines CSV LINES: every epoch line's loss and accuracy (and
# val_loss and val_accuracy when printed) is the CSV row's, at 4 decimals.
rows_match_lines() {
    awk -F, 'NR == FNR { if (FNR > 1) { l[$1] = $2; a[$1] = $3; vl[$1] = $4; va[$1] = $5 }; next }
        /^epoch:/ { e = $2; n++
            if (!(e in l) || sprintf("%.4f", l[e]) != $4 || sprintf("%.4f", a[e]) != $6) bad++
            for (i = 7; i < NF; i++) {
                if ($i == "val_loss:" && sprintf("%.4f", vl[e]) != $(i + 1)) bad++
                if ($i == "val_accuracy:" && sprintf("%.4f", va[e]) != $(i + 1)) bad++
            } }
        END { exit !(n > 0 && !bad) }' "$1" FS=' ' "$2"
}
run train --epochs 12 --log-every 1 --metrics "$tmp/m.csv"
cp "$tmp/out" "$tmp/m_lines.txt"
check "--metrics writes the header line" eval \
    'status_is 0 && [ "$(head -n 1 "$tmp/m.csv")" = "$header" ]'
check "a row per epoch, epochs 0 to 11, seven fields each" eval \
    'awk -F, "NR > 1 { if (\$1 != NR - 2 || NF != 7) exit 1 } END { exit NR != 13 }" "$tmp/m.csv"'
check "the rows' loss and accuracy are the epoch lines' (4 decimals)" \
    rows_match_lines "$tmp/m.csv" "$tmp/m_lines.txt"
check "without validation the val columns are empty; lr 0.5; seconds >= 0" eval \
    'awk -F, "NR > 1 && !(\$4 == \"\" && \$5 == \"\" && \$6 == \"0.5\" && \$7 != \"\" && \$7 >= 0) { exit 1 }" "$tmp/m.csv"'
check "numbers keep every digit (more than the lines' four)" eval \
    'awk -F, "NR > 1 && length(\$2) < 10 { exit 1 }" "$tmp/m.csv"'
check "no temporary file is left beside it" eval \
    '[ "$(ls "$tmp" | grep -c "^m\\.csv")" -eq 1 ]'
run train --epochs 12 --log-every 1
check "--metrics changes no epoch line" eval \
    'no_time "$tmp/out" >"$tmp/a.txt"; no_time "$tmp/m_lines.txt" >"$tmp/b.txt"; cmp -s "$tmp/a.txt" "$tmp/b.txt"'

run train --optim 'sgd lr=0.5' --lr-schedule 'step step_size=2 gamma=0.5' --epochs 7 \
    --metrics "$tmp/lr.csv"
check "lr follows --lr-schedule step: 0.5 * 0.5^floor(epoch / 2)" eval \
    'status_is 0 && awk -F, "NR > 1 { if (\$6 != 0.5 * 0.5 ^ int(\$1 / 2)) exit 1 } END { exit NR != 8 }" "$tmp/lr.csv"'
run train --optim 'sgd lr=0.5' --lr-schedule 'exponential gamma=0.9' --epochs 5 \
    --metrics "$tmp/lr.csv"
check "lr follows --lr-schedule exponential: 0.5 * 0.9^epoch" eval \
    'status_is 0 && awk -F, "NR > 1 { w = 0.5 * 0.9 ^ \$1; d = \$6 - w; if (d < 0) d = -d; if (d > 1e-12) exit 1 } END { exit NR != 6 }" "$tmp/lr.csv"'

run train --val-split 0.2 --epochs 9 --log-every 4 --metrics "$tmp/v.csv"
cp "$tmp/out" "$tmp/v_lines.txt"
check "with --val-split, every epoch's row has val_loss and val_accuracy" eval \
    'status_is 0 && awk -F, "NR > 1 && (\$4 == \"\" || \$5 == \"\") { exit 1 } END { exit NR != 10 }" "$tmp/v.csv"'
check "the logged epochs' figures are their lines'" rows_match_lines "$tmp/v.csv" "$tmp/v_lines.txt"
run train --val-split 0.2 --epochs 9 --log-every 1
cp "$tmp/out" "$tmp/v_all.txt"
check "every row's validation figures are those a --log-every 1 run prints" \
    rows_match_lines "$tmp/v.csv" "$tmp/v_all.txt"
check "validating every epoch changes no training figure" eval \
    'grep "^epoch: *[048] " "$tmp/v_all.txt" >"$tmp/a.txt"; grep "^epoch:" "$tmp/v_lines.txt" >"$tmp/b.txt"; cmp -s "$tmp/a.txt" "$tmp/b.txt"'

run train --loss mse --epochs 3 --metrics "$tmp/mse.csv"
check "a loss without accuracy leaves the accuracy columns empty" eval \
    'status_is 0 && awk -F, "NR > 1 && (\$3 != \"\" || \$2 == \"\") { exit 1 } END { exit NR != 4 }" "$tmp/mse.csv"'

run train --epochs 7 --metrics "$tmp/full.csv"
run train --epochs 4 --save "$tmp/h.pb"
run train --resume "$tmp/h.pb" --epochs 7 --metrics "$tmp/resumed.csv"
check "a resumed run writes the rows of the epochs it ran, 4 to 6" eval \
    'status_is 0 && [ "$(cut -d, -f1 "$tmp/resumed.csv" | tr "\\n" " ")" = "epoch 4 5 6 " ]'
check "their figures are those of the uninterrupted run, every digit" eval \
    '[ "$(sed -n "6,8p" "$tmp/full.csv" | cut -d, -f1-6)" = "$(sed -n "2,4p" "$tmp/resumed.csv" | cut -d, -f1-6)" ]'

printf 'metrics %s\nepochs 3\n' "$tmp/spec.csv" >"$tmp/m.nn"
run train "$tmp/m.nn"
check "a spec file takes 'metrics FILE'" eval \
    'status_is 0 && [ "$(wc -l <"$tmp/spec.csv")" -eq 4 ]'
run train --epochs 6 --save "$tmp/e.pb" --save-every 2 --metrics "$tmp/e.csv"
check "with --save-every, the file holds every epoch at the end" eval \
    'status_is 0 && [ "$(wc -l <"$tmp/e.csv")" -eq 7 ] && [ "$(ls "$tmp" | grep -c "^e\\.csv")" -eq 1 ]'

# ---- bad inputs: refused before training, no file ----------------------------------

user_error "--metrics into a missing folder is refused" \
    train --epochs 2 --metrics "$tmp/nosuch/m.csv"
check "its message names the file and the reason, and nothing ran" eval \
    'err_has "metrics.*nosuch/m.csv.*No such file" && [ ! -s "$tmp/out" ] && [ ! -e "$tmp/nosuch" ]'
mkdir "$tmp/dir.csv"
user_error "--metrics onto a folder is refused" train --epochs 2 --metrics "$tmp/dir.csv"
check "its message says it is a folder" err_has "folder"
if [ "$(id -u)" -ne 0 ]; then
    mkdir "$tmp/ro" && chmod 555 "$tmp/ro"
    user_error "--metrics into a read-only folder is refused" \
        train --epochs 2 --metrics "$tmp/ro/m.csv"
    check "its message names the folder and the reason, and nothing ran" eval \
        'err_has "into .*ro.*Permission denied" && [ ! -s "$tmp/out" ] && [ -z "$(ls "$tmp/ro")" ]'
    chmod 755 "$tmp/ro"
else
    skip "--metrics into a read-only folder is refused" "root writes into any folder"
    skip "its message names the folder and the reason, and nothing ran" "root"
fi
user_error "--metrics onto the --save checkpoint is refused" \
    train --epochs 2 --metrics "$tmp/same.pb" --save "$tmp/same.pb"
check "its message says so, and neither file is made" eval \
    'err_has "the file that --save writes" && [ ! -e "$tmp/same.pb" ]'
user_error "--progress bogus is refused" train --epochs 2 --progress bogus --metrics "$tmp/b.csv"
check "its message lists never, auto and always, and no file is made" eval \
    'err_has "never, auto or always, got .bogus." && [ ! -e "$tmp/b.csv" ]'
user_error "--metrics without a file is refused" train --metrics
user_error "--progress without a value is refused" train --progress

finish
