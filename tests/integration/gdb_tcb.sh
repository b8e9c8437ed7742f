#!/usr/bin/env bash
# Threads' fs_base found in memory when the debugger gives none (lldb-14):
# the plugin's scan for struct pthread (self pointers, tid) must find, for
# every thread of a stopped 4-thread process, exactly the fs_base gdb reads
# from the kernel (the oracle).  Run in Debian's python3.11 (the ABI of
# gdb's Python) with a description whose registers are all zero.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/gdb_lib.sh"
hw_need_plugin
[[ -x /usr/bin/python3.11 ]] || skip "Debian's python3.11 not installed (the extension's ABI)"
"$PROGS/threads_wait" 3 wait "$hw_tmp/ready" &
pid=$!
hw_wait_file "$hw_tmp/ready" || fail "test program did not start"
gdb -nx -batch -p "$pid" -ex 'thread apply all p/x $fs_base' 2>/dev/null |
	awk '/^Thread .*LWP [0-9]+/ { match($0, /LWP [0-9]+/); tid = substr($0, RSTART + 4, RLENGTH - 4) }
	     /^\$[0-9]+ = 0x/ { print tid, $3 }' | sort >"$hw_tmp/gdb.fs"
[[ $(wc -l <"$hw_tmp/gdb.fs") == 4 ]] || fail "gdb gave $(wc -l <"$hw_tmp/gdb.fs") fs_base values: $(cat "$hw_tmp/gdb.fs")"
kill -STOP "$pid"
/usr/bin/python3.11 - "$HW_EXT_DIR" "$pid" >"$hw_tmp/target" <<'PY' || fail "the extension failed: $(cat "$hw_tmp/target")"
import os, sys
sys.path.insert(0, sys.argv[1])
import _heapwalk
pid = int(sys.argv[2])
tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
describe = lambda through=False: {"kind": "live", "pid": pid, "threads": [(t, 0, 0, 0) for t in tids]}
print(_heapwalk.run(["target"], describe)[0])
PY
kill -CONT "$pid"
{ kill -9 "$pid"; wait "$pid"; } 2>/dev/null
sed -n 's/^  tid \([0-9]*\) .* fs_base \(0x[0-9a-f]*\)$/\1 \2/p' "$hw_tmp/target" | sort >"$hw_tmp/found.fs"
cmp -s "$hw_tmp/gdb.fs" "$hw_tmp/found.fs" ||
	fail "fs_base found in memory differs from gdb's: $(diff "$hw_tmp/gdb.fs" "$hw_tmp/found.fs")"
echo "ok"
