#!/usr/bin/env bash
# glibc walker on a live process (ptrace-stopped, /proc/PID/mem) and on a
# gcore'd core of it, against the program's own ground truth (mallinfo2()
# and its pointer lists): with libc debug info and with heuristics only,
# and live once more with the heap streamed instead of read whole.
. "$top_srcdir/tests/lib.sh"
heap="$PROGS/glibc_heap"

check() { # check LABEL SYMBOLS WALK-ARGS...
	local label=$1 sym=$2
	shift 2
	hw_walk_truth "$label" "$hw_tmp/$label.out" "$sym" "$hw_tmp/truth" "$@"
	grep -E '^(glibc|truth|mallinfo2)' "$hw_tmp/$label.out"
}

"$heap" "$hw_tmp/truth" pause &
pid=$!
hw_wait_file "$hw_tmp/truth" || fail "the test program wrote no truth"

check live debuginfo --pid "$pid"
check live-nodebug heuristic --nodebug --pid "$pid"
# and with no heap region read whole: streamed, the lists served from the
# chunks kept on the way (walk.c capture, live.c streams)
HEAPWALK_READ_WHOLE_MAX_MIB=0 check live-streamed debuginfo --pid "$pid"
# the walk resumed the process: it is back to sleeping in pause()
sleep 0.1
grep -q '^State:.*[tT]' /proc/"$pid"/status && fail "process left stopped"

# A process whose main thread exited (pthread_exit) while its threads run
# on: the leader is a zombie without memory, so its /proc/PID/mem, maps,
# exe and auxv are empty, and it cannot be seized.  Read through a live
# thread's id instead, exact all the same.  (Before: "cannot attach to
# thread PID: Operation not permitted".)
"$heap" "$hw_tmp/truth-exit" exitmain &
xpid=$!
hw_wait_file "$hw_tmp/truth-exit" || fail "exitmain wrote no truth"
grep -q '^State:.*Z' /proc/"$xpid"/task/"$xpid"/status || fail "exitmain: the leader is not a zombie"
mv "$hw_tmp/truth" "$hw_tmp/truth-main"
cp "$hw_tmp/truth-exit" "$hw_tmp/truth"
check live-exitmain debuginfo --pid "$xpid"
check live-exitmain-nodebug heuristic --nodebug --pid "$xpid"
"$CORETOOL" check --pid "$xpid" >"$hw_tmp/xcheck.out" 2>&1 || { cat "$hw_tmp/xcheck.out"; fail "exitmain: coretool check"; }
grep -h '^State' /proc/"$xpid"/task/*/status | grep -q 't (tracing stop)' && fail "exitmain: left stopped"
kill -9 "$xpid"
mv "$hw_tmp/truth-main" "$hw_tmp/truth"

if command -v gdb >/dev/null && hw_gcore "$pid" "$hw_tmp/g.core"; then
	check gcore debuginfo "$hw_tmp/g.core"
	check gcore-nodebug heuristic --nodebug "$hw_tmp/g.core"
else
	kill -9 "$pid"
	skip "gdb/gcore not available: live part passed, gcore part not run"
fi
kill -9 "$pid"
exit 0
