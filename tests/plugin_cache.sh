#!/bin/sh
# plugin_cache.sh - a folder's plugins.cache: written by `nnrun plugins
# --write-cache`, it lets a run load only the plugins it uses, with the same
# results, refusals and notes as loading every plugin. A plugin the cache
# does not describe as it is now (changed, new, refused) is loaded at start;
# a cache that cannot be trusted or read is refused with its reason and
# every plugin is loaded. The oracle for "loaded" is ctor.so, whose
# constructor creates a marker file.
. "$top_srcdir/tests/lib.sh"

P=$tmp/p
mkdir "$P" && chmod 0755 "$P"
for f in devices/cpu modules/linear modules/sigmoid losses/bce optimizers/sgd \
    optimizers/adam datasets/circle; do
    cp "$top_builddir/plugins/$f.la" "$P/" 2>/dev/null
    cp "$top_builddir/plugins/$(dirname $f)/.libs/$(basename $f).so" "$P/" ||
        echo "# cannot copy $f.so"
done
cp "$top_builddir/tests/bad/.libs/ctor.so" "$P/ctor.so" || echo "# cannot copy ctor.so"
chmod 0644 "$P"/*.so
M=$tmp/marker
NN_TEST_CTOR_MARKER=$M
export NN_TEST_CTOR_MARKER
C=$P/plugins.cache

# run_p ARGS...: nnrun with P as the only plugin folder.
run_p() { run_env NN_PLUGIN_SYSTEM_PATH="$P" "$@"; }

# The run without a cache: every plugin is loaded.
rm -f "$M"
run_p train --epochs 20 --log-every 5
cp "$tmp/out" "$tmp/plain"
check "without a cache every plugin is loaded (the marker's too) and train runs" \
    eval 'status_is 0 && last_epoch_is 19 && [ -f "$M" ]'
run_p train --epochs 20 --log-every 5 --optim 'adam lr=0.05'
cp "$tmp/out" "$tmp/plain_adam"

run plugins --write-cache "$P"
check "plugins --write-cache writes the folder's cache and says how many files it holds" \
    eval 'status_is 0 && out_has "wrote $P/plugins.cache: 8 plugin file(s)" && [ -f "$C" ]'
check "the cache is a text file with a header and a record per plugin" \
    eval 'head -1 "$C" | grep -q "^nn-plugin-cache	1	" && [ "$(grep -c "^plugin	" "$C")" -eq 8 ] && grep -q "^kernel	sgd_update	cpu$" "$C"'
check "the cache is readable by all and writable by its owner only" \
    eval '[ "$(stat -c %a "$C")" = 644 ]'

rm -f "$M"
run_p train --epochs 20 --log-every 5
check "with the cache an unused plugin is not loaded (no marker)" \
    eval 'status_is 0 && [ ! -e "$M" ]'
check "and the epoch lines are the ones of the run that loaded every plugin" \
    eval 'grep "^epoch" "$tmp/out" | cmp -s - "$(grep "^epoch" "$tmp/plain" >"$tmp/pe"; echo "$tmp/pe")"'
run_p train --epochs 20 --log-every 5 --optim 'adam lr=0.05'
check "an optimizer whose op and kernel come from its plugin, loaded when used, trains the same" \
    eval 'status_is 0 && [ ! -e "$M" ] && [ "$(grep "^epoch" "$tmp/out")" = "$(grep "^epoch" "$tmp/plain_adam")" ]'

rm -f "$M"
run_p train --model 'ctor_mark'
check "a component looked up by name loads its plugin" \
    eval '[ -f "$M" ] && err_has "ctor_mark"'

rm -f "$M"
run_p plugins
check "plugins lists every component, loading the plugins the cache named" \
    eval 'status_is 0 && out_has "^module  *ctor_mark" && out_has "^optimizer  *adam" && [ -f "$M" ]'

run_p train --model 'nosuch'
check "a name no plugin provides lists the known names from the cache" \
    eval '! status_is 0 && err_has "no module named .nosuch.; known: .*ctor_mark.*linear.*sigmoid"'

# Copied elsewhere with their times (new inodes), as a package manager
# unpacks files, the cache still describes the plugins.
Q=$tmp/q
mkdir "$Q" && chmod 0755 "$Q" && cp -p "$P"/*.so "$P/plugins.cache" "$Q/"
rm -f "$M"
run_env NN_PLUGIN_SYSTEM_PATH="$Q" train --epochs 2
check "a folder copied with its files' times keeps its cache (an unused plugin is not loaded)" \
    eval 'status_is 0 && last_epoch_is 1 && [ ! -e "$M" ]'

# Written under a umask that lets the group write: the cache is 0644 all
# the same (a group-writable one would be refused).
rm -f "$C"
(umask 002 && "$NNRUN" plugins --write-cache "$P" >/dev/null 2>&1)
check "the cache is 0644 whatever the umask of its writer" eval '[ "$(stat -c %a "$C")" = 644 ]'

# A cached plugin made writable by others (chmod keeps its size and time,
# so its record still matches) is refused at start, as without a cache.
chmod 0666 "$P/ctor.so"
rm -f "$M"
run_p plugins -v
check "a cached plugin writable by others is refused at start, before it is loaded" \
    eval 'status_is 0 && out_has "ctor.so: writable by others (mode 0666)" && ! out_has "^module  *ctor_mark" && [ ! -e "$M" ]'
# refused at start, it hides nothing: a later folder's ctor_mark is the one used
S=$tmp/s
mkdir "$S" && chmod 0755 "$S" && cp -p "$P/ctor.so" "$S/ctor.so" && chmod 0644 "$S/ctor.so"
rm -f "$M"
env NN_PLUGIN_PATH="$P" NN_PLUGIN_SYSTEM_PATH="$S" "$NNRUN" train --model ctor_mark \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
check "and a later folder's plugin of the same component is the one loaded and used" \
    eval '[ -f "$M" ] && ! err_has "refused"'
chmod 0644 "$P/ctor.so"

# A plugin changed since the cache was written is loaded at start.
touch "$P/ctor.so"
rm -f "$M"
run_p train --epochs 2
check "a plugin whose modification time changed is loaded at start, as without a cache" \
    eval 'status_is 0 && [ -f "$M" ]'
run plugins --write-cache "$P"
rm -f "$M"
run_p train --epochs 2
check "written again, the cache describes it and it is not loaded" \
    eval 'status_is 0 && [ ! -e "$M" ]'

# A new file is not in the cache: loaded at start.
cp "$P/ctor.so" "$P/ctor2.so"
rm -f "$M"
run_p plugins -v
check "a plugin file the cache does not name is loaded and checked at start (refused: a clash)" \
    eval 'out_has "ctor2.so: module .ctor_mark. is already provided by $P/ctor.so"'
rm -f "$P/ctor2.so"

# A cache that cannot be trusted or read: refused with its reason, every
# plugin loaded.
cp "$C" "$tmp/good_cache"
chmod 0666 "$C"
rm -f "$M"
run_p train --epochs 2
check "a cache writable by others is not read: every plugin is loaded and train runs" \
    eval 'status_is 0 && last_epoch_is 1 && [ -f "$M" ]'
run_p plugins -v
check "and plugins -v says why it was refused" \
    eval 'out_has "plugins.cache: writable by others (mode 0666); every plugin of the folder is loaded"'
chmod 0644 "$C"

printf 'not a cache\n' >"$C"
rm -f "$M"
run_p plugins -v
check "a malformed cache is refused with its line, every plugin loaded" \
    eval 'status_is 0 && out_has "plugins.cache: line 1: not an nn plugin cache" && [ -f "$M" ]'
head -3 "$tmp/good_cache" >"$C"
run_p plugins -v
check "a cache cut inside a record is refused" \
    eval 'out_has "plugins.cache: ends inside the record of"'
sed 's/^\(nn-plugin-cache	1	\).*/\11.0/' "$tmp/good_cache" >"$C"
rm -f "$M"
run_p plugins -v
check "a cache for another plugin ABI is not read, and is no error: every plugin is loaded" \
    eval 'status_is 0 && ! out_has "refused" && [ -f "$M" ]'

# A cache that lies about a file it names as unchanged: the plugin is
# refused when loaded, with what to do.
sed 's/^module	sigmoid$/module	sigmoidx/' "$tmp/good_cache" >"$C"
run_p train --model 'linear out=5 ! sigmoidx ! linear out=1 ! sigmoid'
check "a plugin whose components are not the ones its record names is refused when used" \
    eval '! status_is 0 && err_has "sigmoid.so refused: its components are not the ones plugins.cache names (run nnrun plugins --write-cache"'
cp "$tmp/good_cache" "$C"

# Clashes and shadows are those of a run without a cache: a folder earlier
# on the path (no cache) provides sigmoid too.
U=$tmp/u
mkdir "$U" && chmod 0755 "$U"
cp "$P/sigmoid.so" "$U/sigmoid.so"
env NN_PLUGIN_PATH="$U" NN_PLUGIN_SYSTEM_PATH="$P" "$NNRUN" train --epochs 2 >"$tmp/out" 2>"$tmp/err"
rc=$?
check "a component an earlier folder provides shadows the cached one, and the note says so" \
    eval 'status_is 0 && err_has "note: module .sigmoid. from $U/sigmoid.so shadows $P/sigmoid.so"'
env NN_PLUGIN_PATH="$U" NN_PLUGIN_SYSTEM_PATH="$P" "$NNRUN" plugins -v >"$tmp/with" 2>&1
mv "$C" "$tmp/good_cache"
env NN_PLUGIN_PATH="$U" NN_PLUGIN_SYSTEM_PATH="$P" "$NNRUN" plugins -v >"$tmp/without" 2>&1
check "plugins -v prints the same list and refusals with and without the cache" \
    cmp -s "$tmp/with" "$tmp/without"
cp "$tmp/good_cache" "$C"

# --write-cache's own refusals.
run plugins --write-cache "$tmp/nosuch"
check "--write-cache on a missing folder fails with its reason" \
    eval 'status_is 1 && err_has "nosuch.*No such file"'
chmod 0777 "$P"
run plugins --write-cache "$P"
check "--write-cache refuses a folder writable by others, and writes nothing" \
    eval 'status_is 1 && err_has "writable by others" && cmp -s "$C" "$tmp/good_cache"'
chmod 0755 "$P"
cp "$top_builddir/tests/bad/.libs/abimajor.so" "$P/abimajor.so" && chmod 0644 "$P/abimajor.so"
run plugins --write-cache "$P"
check "a refused file is left out of the cache, and --write-cache says so" \
    eval 'status_is 0 && out_has "1 file(s) refused and left out" && ! grep -q abimajor "$C"'
run_p plugins -v
check "and it is refused at every start, with its reason" \
    eval 'out_has "abimajor.so: built for plugin ABI"'
rm -f "$P/abimajor.so"

finish
