#!/usr/bin/env bash
# A dormant tracer (HEAPWALK_TRACE=off: preloaded, hooks in, nothing
# recorded) switched on in an emergency by coretool trace --start PID:
#  - C (trace_leaks dormant, bare LD_PRELOAD): before the start the live
#    summary says "dormant"; after it, leak_b's 50 blocks of 1 MiB made
#    after the start are all recorded (sampling every 4 KiB takes every such
#    block), leak_a's 50 made before are not: exact counts from the core;
#  - Python (Debian's python3.11 under coretool trace): a line's 20 blocks
#    made after the start, exactly, and none of the 10 made before;
#  - errors: a process without the tracer, and one already recording, are
#    exit 3 with one line.
. "$top_srcdir/tests/lib.sh"
LIB="$top_builddir/tracer/.libs/libheapwalk-trace.so"
READ="$PROGS/read_trace"

# wait_ready DIR: the program said "ready" on stderr (10 s at most)
wait_ready() {
	for _ in $(seq 200); do
		grep -q ready "$1/err" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

mkdir "$hw_tmp/c"
(
	cd "$hw_tmp/c" && ulimit -c unlimited &&
		exec env LD_PRELOAD="$LIB" HEAPWALK_TRACE=off "$PROGS/trace_leaks" dormant 50 1048576 >out 2>err
) &
pid=$!
wait_ready "$hw_tmp/c" || fail "C: the program did not get ready: $(cat "$hw_tmp/c/err")"
"$CORETOOL" summary --pid "$pid" | grep -q "^tracer: mode dormant, 0 live allocations" ||
	fail "C: not dormant before the start: $("$CORETOOL" summary --pid "$pid" | grep tracer)"
"$CORETOOL" trace --start "$pid" --sample 4096 2>"$hw_tmp/c/start" ||
	fail "C: --start: exit $?: $(cat "$hw_tmp/c/start")"
grep -q "records from now on: one sample every 4096 bytes" "$hw_tmp/c/start" || fail "C: --start said $(cat "$hw_tmp/c/start")"
"$CORETOOL" trace --start "$pid" 2>"$hw_tmp/c/again"
rc=$?
((rc == 3)) && grep -q "not dormant" "$hw_tmp/c/again" || fail "C: a second --start: exit $rc: $(cat "$hw_tmp/c/again")"
kill -USR1 "$pid"
wait "$pid"
core=$(ls "$hw_tmp"/c/core* 2>/dev/null | head -n 1)
[[ -n $core ]] || skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
"$READ" "$core" function >"$hw_tmp/c/read" || fail "C: read_trace failed"
# (other allocations after the start, such as stdout's buffer, may be
# sampled too: only the program's own functions are counted)
head -n 1 "$hw_tmp/c/read" | grep -q '^# mode sampled sample 4096 ' || fail "C: $(head -n 1 "$hw_tmp/c/read")"
got=$(awk -F'\t' '$1 == "leak_b" { print $2, $3 }' "$hw_tmp/c/read")
[[ $got == "50 52428800" ]] || fail "C: leak_b after the start: '$got', the program kept 50 of 1 MiB"
grep -q '^leak_a' "$hw_tmp/c/read" && fail "C: leak_a, made before the start, was recorded"
echo "ok C: dormant until --start, then leak_b's 50 blocks exactly, leak_a's none"

# errors: no tracer at all
sleep 30 &
other=$!
"$CORETOOL" trace --start "$other" 2>"$hw_tmp/none"
rc=$?
kill "$other"
((rc == 3)) && (($(wc -l <"$hw_tmp/none") == 1)) && grep -q "no heapwalk tracer" "$hw_tmp/none" ||
	fail "--start without a tracer: exit $rc: $(cat "$hw_tmp/none")"

# Python, under coretool trace
py=/usr/bin/python3.11
[[ -x $py ]] || { echo "SKIP: no /usr/bin/python3.11 for the Python part"; exit 0; }
mkdir "$hw_tmp/p"
cat >"$hw_tmp/p/d.py" <<'PY'
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
before = [bytearray(1 << 20) for _ in range(10)]
sys.stderr.write("ready\n"); sys.stderr.flush()
signal.sigwait({signal.SIGUSR1})
warm = [bytes(1 << 20) for _ in range(4)]; del warm
after = [bytearray(1 << 20) for _ in range(20)]
os.abort()
PY
(cd "$hw_tmp/p" && ulimit -c unlimited && HEAPWALK_TRACE=off exec "$CORETOOL" trace -- "$py" d.py >out 2>err) &
pid=$!
wait_ready "$hw_tmp/p" || fail "Python: not ready: $(cat "$hw_tmp/p/err")"
"$CORETOOL" trace --start "$pid" --sample 4096 2>"$hw_tmp/p/start" || fail "Python: --start: $(cat "$hw_tmp/p/start")"
kill -USR1 "$pid"
wait "$pid"
core=$(ls "$hw_tmp"/p/core* | head -n 1)
# the 1 MiB buffers only (a bytearray asks for its size + 1; the list
# holding them may be sampled too)
"$READ" "$core" lineno 1048577 >"$hw_tmp/p/read" || fail "Python: read_trace failed"
got=$(awk -F'\t' -v k="$hw_tmp/p/d.py:7" '$1 == k { print $2 }' "$hw_tmp/p/read")
[[ $got == 20 ]] || fail "Python: line 7: '$got' blocks, the script made 20 after the start ($(cat "$hw_tmp/p/read"))"
grep -q "d.py:3" "$hw_tmp/p/read" && fail "Python: line 3, before the start, was recorded"
echo "ok Python: line 7's 20 blocks exactly, line 3's none"
exit 0
