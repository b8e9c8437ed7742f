#!/usr/bin/env bash
# heapsnap on a remote target (gdbserver over a pipe): connection type
# 'remote', so every byte comes through gdb's Inferior.read_memory into
# libheapwalk's block cache and the memory map from `info proc mappings`.
# The same oracles as the native test: the exact diff between the
# breakpoints, both threads' tcache chunks free, the inferior runs on.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/gdb_lib.sh"
hw_need_plugin
command -v gdbserver >/dev/null || skip "gdbserver not installed (apt-get install gdbserver)"
truth="$hw_tmp/truth"
out="$hw_tmp/gdb.out"
hw_gdb -ex "target remote | exec gdbserver - $INFERIOR $truth" \
	-ex 'break hw_bp_first' -ex 'break hw_bp_second' -ex 'continue' \
	-ex 'python print("connection:", gdb.selected_inferior().connection.type)' \
	-ex 'echo @@target\n' -ex 'heapsnap target' -ex 'echo @@end\n' \
	-ex 'heapsnap before' -ex 'continue' -ex 'heapsnap after' \
	-ex "heapsnap diff --group-by size --limit 0 --format json -o $hw_tmp/diff.json" \
	-ex "heapsnap before --format json -o $hw_tmp/sum1.json" \
	-ex "heapsnap chunks after --state free --format json -o $hw_tmp/free.json" \
	-ex 'echo @@freed\n' -ex 'p/x hw_freed' -ex 'echo @@end\n' \
	-ex 'continue' "$INFERIOR" >"$out"
hw_no_traceback "$out"
grep -q '^connection: remote$' "$out" || fail "not a remote connection: $(grep connection "$out")"
hw_between "$out" @@target @@end | grep -q '^kind: callback$' || fail "not read through gdb: $(hw_between "$out" @@target @@end)"
hw_check_diff "$truth" "$hw_tmp/diff.json" "$hw_tmp/sum1.json" || exit 1
hw_between "$out" @@freed @@end >"$hw_tmp/freed"
hw_check_freed "$hw_tmp/freed" "$hw_tmp/free.json" || exit 1
grep -q 'exited normally' "$out" || fail "the inferior did not exit normally: $(tail -5 "$out")"
echo "ok"
