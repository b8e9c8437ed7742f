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

# 3 (below). Ctrl-C: lldb's own SIGINT handler marks the command
# interrupted (Python never sees the signal); the walk polls
# SBCommandInterpreter.WasInterrupted and stops at once.

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
heapsnap report -o $hw_tmp/report.lldb.html
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
"$CORETOOL" report "$core" -o "$hw_tmp/report.ct.html" || fail "coretool report failed"
cmp "$hw_tmp/report.ct.html" "$hw_tmp/report.lldb.html" || fail "lldb heapsnap report differs from coretool report"

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

# 3. Ctrl-C mid-walk: SIGINT sent to lldb from the third read of a
# --through-debugger walk; the walk reads nothing more, lldb says
# "... Interrupted.", nothing is registered, the next heapsnap works and the inferior runs on.
# (lldb drops the rest of a command file after an interrupted command: the
# interrupted one ends the first file.)
cat >"$hw_tmp/interrupt.py" <<'PY'
import os, signal
import heapwalk
reads = [0]
_plain = heapwalk._describer
def _describer(debugger, core):
    describe = _plain(debugger, core)
    def interrupting(through_debugger=False):
        d = describe(through_debugger)
        read = d.get("read")
        if read:
            def interrupting_read(addr, length):
                reads[0] += 1
                if reads[0] == 3:
                    os.kill(os.getpid(), signal.SIGINT)
                return read(addr, length)
            d["read"] = interrupting_read
        return d
    return interrupting
def __lldb_init_module(debugger, internal_dict):
    heapwalk._describer = _describer
PY
cat >"$hw_tmp/int1.cmds" <<CMDS
command script import $HW_LLDB_PY
b hw_bp_second
process launch -o $hw_tmp/inferior2.out -- $hw_tmp/truth2
command script import $hw_tmp/interrupt.py
script print("@@interrupted")
heapsnap first --through-debugger
CMDS
cat >"$hw_tmp/int2.cmds" <<'CMDS'
script print("@@end")
script print("reads:", interrupt.reads[0])
script print("@@list")
heapsnap list
script print("@@end")
script heapwalk._describer = interrupt._plain
script print("@@again")
heapsnap second
script print("@@end")
continue
CMDS
PYTHONPATH=/usr/lib/llvm-14/lib/python3.11/dist-packages${PYTHONPATH:+:$PYTHONPATH} \
	timeout 120 lldb-14 -b -o "command source -e false -c false $hw_tmp/int1.cmds" \
	-o "command source -e false -c false $hw_tmp/int2.cmds" "$INFERIOR" >"$hw_tmp/int.out" 2>&1
hw_no_traceback "$hw_tmp/int.out"
# lldb prints its own line for an interrupted command, instead of the
# command's output and error
[[ $(hw_between "$hw_tmp/int.out" @@interrupted @@end | grep -v -e '^(lldb)' -e '^$' -e '^Executing commands in ') == '... Interrupted.' ]] ||
	fail "interrupted walk: $(hw_between "$hw_tmp/int.out" @@interrupted @@end)"
reads=$(sed -n 's/^reads: //p' "$hw_tmp/int.out")
[[ $reads == 3 ]] || fail "the walk went on after Ctrl-C ($reads reads)"
[[ $(hw_between "$hw_tmp/int.out" @@list @@end | grep -v '^(lldb)') == 'no snapshots yet (take one with heapsnap [NAME])' ]] ||
	fail "an interrupted snapshot was registered: $(hw_between "$hw_tmp/int.out" @@list @@end)"
hw_between "$hw_tmp/int.out" @@again @@end | grep -q '^snapshot 1 (second) of pid ' ||
	fail "heapsnap after Ctrl-C failed: $(hw_between "$hw_tmp/int.out" @@again @@end)"
grep -q '^ok 2$' "$hw_tmp/inferior2.out" || fail "the inferior did not finish correctly: $(tail -5 "$hw_tmp/int.out")"
echo "ok"
