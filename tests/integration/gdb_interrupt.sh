#!/usr/bin/env bash
# Ctrl-C during a walk: the walk stops at once, heapsnap says so in one line,
# nothing is registered, the next heapsnap works and the inferior runs on.
# The SIGINT is sent to gdb from inside the walk (from the third read of a
# --through-debugger walk), so it lands mid-walk every time: gdb turns it
# into Python's KeyboardInterrupt, which the C read callback stashes and the
# walk's progress check turns into a stop.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/gdb_lib.sh"
hw_need_plugin
out="$hw_tmp/gdb.out"
cat >"$hw_tmp/interrupt.py" <<'PY'
import os, signal
_plain_describe = _describe
_reads = [0]
def _describe(through_debugger=False):
    d = _plain_describe(True)
    read = d["read"]
    def interrupting_read(addr, length):
        _reads[0] += 1
        if _reads[0] == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return read(addr, length)
    d["read"] = interrupting_read
    return d
PY
hw_gdb -ex 'break hw_bp_second' -ex "run $hw_tmp/truth" \
	-ex "source $hw_tmp/interrupt.py" \
	-ex 'echo @@interrupted\n' -ex 'heapsnap first' -ex 'echo @@end\n' \
	-ex 'python print("reads:", _reads[0])' \
	-ex 'echo @@list\n' -ex 'heapsnap list' -ex 'echo @@end\n' \
	-ex 'python _describe = _plain_describe' \
	-ex 'echo @@again\n' -ex 'heapsnap second' -ex 'echo @@end\n' \
	-ex 'continue' "$INFERIOR" >"$out"
hw_no_traceback "$out"
[[ $(hw_between "$out" @@interrupted @@end) == 'heapsnap: interrupted (nothing was recorded)' ]] ||
	fail "interrupted walk: $(hw_between "$out" @@interrupted @@end)"
reads=$(sed -n 's/^reads: //p' "$out")
[[ $reads == 3 ]] || fail "the walk went on after Ctrl-C ($reads reads)"
[[ $(hw_between "$out" @@list @@end) == 'no snapshots yet (take one with heapsnap [NAME])' ]] ||
	fail "an interrupted snapshot was registered: $(hw_between "$out" @@list @@end)"
hw_between "$out" @@again @@end | grep -q '^snapshot 1 (second) of pid ' || fail "heapsnap after Ctrl-C failed"
grep -q '^ok 2$' "$out" || fail "the inferior did not finish correctly: $(tail -5 "$out")"
echo "ok"
