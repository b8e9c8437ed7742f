#!/usr/bin/env bash
# heapsnap in lldb-14 (the same _heapwalk extension, lldb's glue): on a core
# (--core PATH, which lldb cannot tell) `heapsnap top` prints the bytes
# `coretool top` prints; on a live inferior stopped at two breakpoints the
# diff is exactly what the program says it allocated, and it runs on to a
# normal exit.  A visible SKIP when lldb-14 or its Python module is missing.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/gdb_lib.sh"
hw_need_plugin
command -v lldb-14 >/dev/null || skip "lldb-14 not installed"
[[ -d /usr/lib/llvm-14/lib/python3.11/dist-packages/lldb ]] || skip "python3-lldb-14 not installed"

# 1. a core
mkdir "$hw_tmp/c"
core=$(hw_dump_core "$hw_tmp/c" "$INFERIOR" "$hw_tmp/c/truth" abort) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
cat >"$hw_tmp/core.cmds" <<CMDS
heapsnap target
script print("@@no-core-flag")
heapsnap --core $core
heapsnap target
heapsnap top -o $hw_tmp/top.lldb
heapsnap top 99
CMDS
# a fresh lldb needs --core on its first command: the first fails cleanly
hw_lldb "$hw_tmp/core.cmds" -c "$core" "$INFERIOR" >"$hw_tmp/core.out"
hw_no_traceback "$hw_tmp/core.out"
grep -q 'error: heapsnap: lldb does not say which core file' "$hw_tmp/core.out" ||
	fail "no --core: $(cat "$hw_tmp/core.out")"
grep -q '^kind: core$' "$hw_tmp/core.out" || fail "core not opened: $(cat "$hw_tmp/core.out")"
grep -q "^target: core $core\$" "$hw_tmp/core.out" || fail "wrong core path"
grep -q "^error: heapsnap top: " "$hw_tmp/core.out" || fail "error form"
"$CORETOOL" top "$core" >"$hw_tmp/top.ct" || fail "coretool top failed"
cmp "$hw_tmp/top.ct" "$hw_tmp/top.lldb" || fail "lldb heapsnap top differs from coretool top"

# 2. a live inferior at two breakpoints
truth="$hw_tmp/truth"
cat >"$hw_tmp/live.cmds" <<CMDS
b hw_bp_first
b hw_bp_second
process launch -o $hw_tmp/inferior.out -- $truth
heapsnap target
heapsnap before
continue
heapsnap after
heapsnap diff --group-by size --limit 0 --format json -o $hw_tmp/diff.json
heapsnap before --format json -o $hw_tmp/sum1.json
heapsnap chunks --state free --format json -o $hw_tmp/free.json
script print("@@freed")
p/x hw_freed
script print("@@end")
continue
CMDS
hw_lldb "$hw_tmp/live.cmds" "$INFERIOR" >"$hw_tmp/live.out"
hw_no_traceback "$hw_tmp/live.out"
grep -q '^ok 2$' "$hw_tmp/inferior.out" || fail "the inferior did not finish correctly: $(tail -5 "$hw_tmp/live.out")"
grep -q 'exited with status = 0 ' "$hw_tmp/live.out" || fail "the inferior did not exit with 0"
grep -q '^kind: live$' "$hw_tmp/live.out" || fail "not opened as a live process"
hw_check_diff "$truth" "$hw_tmp/diff.json" "$hw_tmp/sum1.json" || exit 1
# lldb-14 gives no fs_base: the plugin found each thread's in memory
hw_between "$hw_tmp/live.out" @@freed @@end | grep -v '^(lldb)' >"$hw_tmp/freed"
hw_check_freed "$hw_tmp/freed" "$hw_tmp/free.json" || exit 1
echo "ok"
