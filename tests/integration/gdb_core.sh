#!/usr/bin/env bash
# heapsnap in gdb on a core file: the plugin opens the core gdb loaded (path
# from `info target`), `heapsnap top` prints the very bytes `coretool top`
# prints on the same core, and errors are one line, never a traceback.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/gdb_lib.sh"
hw_need_plugin
mkdir "$hw_tmp/c"
core=$(hw_dump_core "$hw_tmp/c" "$INFERIOR" "$hw_tmp/truth" abort) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
out="$hw_tmp/gdb.out"

# no target at all: one clean error
hw_gdb -ex 'heapsnap' >"$hw_tmp/none.out"
hw_no_traceback "$hw_tmp/none.out"
grep -q '^heapsnap: no process' "$hw_tmp/none.out" || fail "no-target error: $(cat "$hw_tmp/none.out")"

hw_gdb -ex 'echo @@target\n' -ex 'heapsnap target' -ex 'echo @@end\n' \
	-ex 'heapsnap' -ex "heapsnap top -o $hw_tmp/top.gdb" \
	-ex "heapsnap top --group-by size --limit 5 -o $hw_tmp/top-size.gdb" \
	-ex "heapsnap top --format json -o $hw_tmp/top.gdb.json" \
	-ex 'echo @@top\n' -ex 'heapsnap top' -ex 'echo @@end\n' \
	-ex 'echo @@errors\n' -ex 'heapsnap top 7' -ex 'heapsnap show' -ex 'heapsnap list extra' \
	-ex 'echo @@end\n' \
	"$INFERIOR" "$core" >"$out"
hw_no_traceback "$out"
hw_between "$out" @@target @@end >"$hw_tmp/target"
grep -q '^kind: core$' "$hw_tmp/target" || fail "not opened as a core: $(cat "$hw_tmp/target")"
grep -q "^target: core $core\$" "$hw_tmp/target" || fail "wrong core path: $(cat "$hw_tmp/target")"
grep -q -E '^  tid [0-9]+ pc 0x[0-9a-f]+ sp 0x[0-9a-f]+ fs_base 0x[1-9a-f]' "$hw_tmp/target" ||
	fail "no thread with fs_base: $(cat "$hw_tmp/target")"
errs=$(hw_between "$out" @@errors @@end)
n=$(printf '%s\n' "$errs" | grep -c .)
[[ $n == 3 ]] || fail "expected 3 error lines, got $n: $errs"

if ! hw_views "$out"; then
	skip "core commands pass; top vs coretool waits for the snapshot views in libheapwalk"
fi
# heapsnap top == coretool top, byte for byte, through gdb's output and -o
hw_between "$out" @@top @@end >"$hw_tmp/top.gdb-out"
"$CORETOOL" top "$core" >"$hw_tmp/top.ct" || fail "coretool top failed"
"$CORETOOL" top --group-by size --limit 5 "$core" >"$hw_tmp/top-size.ct" || fail "coretool top --group-by size failed"
"$CORETOOL" top --format json "$core" >"$hw_tmp/top.ct.json" || fail "coretool top --format json failed"
cmp "$hw_tmp/top.ct" "$hw_tmp/top.gdb" || fail "heapsnap top -o differs from coretool top"
cmp "$hw_tmp/top.ct" "$hw_tmp/top.gdb-out" || fail "heapsnap top (gdb output) differs from coretool top"
cmp "$hw_tmp/top-size.ct" "$hw_tmp/top-size.gdb" || fail "heapsnap top --group-by size differs"
cmp "$hw_tmp/top.ct.json" "$hw_tmp/top.gdb.json" || fail "heapsnap top --format json differs"
echo "ok"
