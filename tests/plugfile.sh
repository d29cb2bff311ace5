#!/bin/sh
# plugfile.sh - the loader refuses plugin files and folders it must not
# trust before loading them: writable by group or others, owned by another
# user, not a regular file (a FIFO named x.so); a descriptor symbol smaller
# than a descriptor; and only absolute folders are searched.
. "$top_srcdir/tests/lib.sh"

BAD=$top_builddir/tests/bad/.libs
P=$tmp/p
mkdir "$P" && chmod 0755 "$P"
cp "$BAD/ctor.so" "$P/ctor.so" || echo "# cannot copy ctor.so"
chmod 0644 "$P/ctor.so"
M=$tmp/marker
NN_TEST_CTOR_MARKER=$M
export NN_TEST_CTOR_MARKER

# The control: a trusted copy loads, and its constructor runs.
rm -f "$M"
run_env NN_PLUGIN_PATH="$P" plugins
check "a trusted plugin with a constructor loads (its module is listed)" \
    eval 'status_is 0 && out_has "ctor_mark" && [ -f "$M" ]'

for mode in 0666 0646 0664; do
    chmod "$mode" "$P/ctor.so"
    rm -f "$M"
    run_env NN_PLUGIN_PATH="$P" plugins -v
    case $mode in 0664) who=group ;; *) who=others ;; esac
    check "a plugin of mode $mode is refused as writable by $who, before it is loaded" \
        eval 'status_is 0 && out_has "ctor.so: writable by $who (mode $mode)" && ! out_has "^module  *ctor_mark" && [ ! -e "$M" ]'
done
chmod 0644 "$P/ctor.so"

# The same for the folder: nothing in a world-writable folder is loaded.
chmod 0777 "$P"
rm -f "$M"
run_env NN_PLUGIN_PATH="$P" plugins -v
check "a plugin folder writable by others is refused with its mode, nothing in it loaded" \
    eval 'status_is 0 && out_has "$P: folder writable by others (mode 0777)" && [ ! -e "$M" ]'
chmod 0775 "$P"
run_env NN_PLUGIN_PATH="$P" plugins -v
check "a plugin folder writable by group is refused" \
    eval 'status_is 0 && out_has "$P: folder writable by group (mode 0775)" && [ ! -e "$M" ]'
chmod 0755 "$P"

# train with a refused folder on the path still runs on the trusted plugins.
chmod 0777 "$P"
run_env NN_PLUGIN_PATH="$P" train --epochs 2
check "train runs on the system plugins when a folder on NN_PLUGIN_PATH is refused" \
    eval 'status_is 0 && last_epoch_is 1 && [ ! -e "$M" ]'
chmod 0755 "$P"

# Owned by another user: only root can make such a file.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    chown nobody "$P/ctor.so"
    rm -f "$M"
    run_env NN_PLUGIN_PATH="$P" plugins -v
    check "a plugin owned by another user (nobody) is refused, before it is loaded" \
        eval 'status_is 0 && out_has "ctor.so: owned by another user (uid $(id -u nobody))" && [ ! -e "$M" ]'
    chown 0 "$P/ctor.so"
    chown nobody "$P"
    run_env NN_PLUGIN_PATH="$P" plugins -v
    check "a plugin folder owned by another user (nobody) is refused" \
        eval 'status_is 0 && out_has "$P: folder owned by another user" && [ ! -e "$M" ]'
    chown 0 "$P"
else
    echo "# skipped: the checks of files owned by another user need root (and a user nobody)"
fi

# A FIFO named x.so must not hang the loader (dlopen would wait for a writer).
F=$tmp/fifo
mkdir "$F" && chmod 0755 "$F"
mkfifo "$F/x.so"
sh_run timeout 20 "$NNRUN" plugins -v --plugin-path "$F"
check "a FIFO named x.so is refused as not a regular file, without hanging" \
    eval 'status_is 0 && out_has "x.so: not a regular file"'
NN_PLUGIN_PATH=$F sh_run timeout 60 "$NNRUN" train --epochs 2
check "train with a FIFO on the plugin path runs" \
    eval 'status_is 0 && last_epoch_is 1'

# A descriptor symbol of 4 bytes is refused by its size.
D=$tmp/tiny
mkdir "$D" && chmod 0755 "$D"
cp "$BAD/tiny.so" "$D/" || echo "# cannot copy tiny.so"
chmod 0644 "$D/tiny.so"
run_env NN_PLUGIN_PATH="$D" plugins -v
check "a 4-byte nn_plugin_descriptor is refused as too small" \
    eval 'status_is 0 && out_has "tiny.so: descriptor too small (4 bytes, want "'

# Only absolute folders are searched.
(cd "$tmp" && NN_PLUGIN_PATH=p "$NNRUN" plugins -v >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc")
rc=$(cat "$tmp/rc")
check "a relative folder on NN_PLUGIN_PATH is refused, never searched" \
    eval 'status_is 0 && out_has "not an absolute path (from NN_PLUGIN_PATH)" && ! out_has "ctor_mark"'

# A third-party linear on NN_PLUGIN_PATH wins over the built-in one (its
# folder comes first), and says so when it is used.
S=$tmp/shadow
mkdir "$S" && chmod 0755 "$S"
cp "$top_builddir/plugins/modules/.libs/linear.so" "$S/" || echo "# cannot copy linear.so"
chmod 0644 "$S/linear.so"
run_env NN_PLUGIN_PATH="$S" train --epochs 2
check "train with a shadowing linear runs and notes it once on stderr, naming both files" \
    eval 'status_is 0 && last_epoch_is 1 && [ "$(grep -c "note:" "$tmp/err")" -eq 1 ] && err_has "^nnrun: note: module .linear. from $S/linear.so shadows .*/plugins/modules/.libs/linear.so$"'
cp "$tmp/out" "$tmp/out.shadow"
run train --epochs 2
check "without it, no note" eval 'status_is 0 && ! err_has "note:"'
check "the note goes to stderr only: stdout is the same but the time line" \
    eval '[ -s "$tmp/out" ] && [ -z "$(diff "$tmp/out" "$tmp/out.shadow" | grep "^[<>]" | grep -v "^[<>] time:")" ]'
rm -f "$S/linear.so"
cp "$top_builddir/plugins/modules/.libs/tanh.so" "$S/" || echo "# cannot copy tanh.so"
chmod 0644 "$S/tanh.so"
run_env NN_PLUGIN_PATH="$S" train --epochs 2
check "a shadowing tanh that the model does not use is not noted" \
    eval 'status_is 0 && last_epoch_is 1 && ! err_has "note:"'
run_env NN_PLUGIN_PATH="$S" train --epochs 2 --model 'linear out=5 ! tanh ! linear out=1 ! sigmoid'
check "the same tanh is noted when the model uses it" \
    eval 'status_is 0 && err_has "^nnrun: note: module .tanh. from $S/tanh.so shadows "'


finish
