#!/usr/bin/env bash
# A real OOM kill: coretool trace --snapshot-dir (thresholds 80%,95% by
# default) in a memory cgroup of 200 MiB made for the test, over
# trace_leaks steps, which keeps 16 MiB blocks until the cgroup's OOM
# killer kills it.  The cgroup's limit is found by coretool itself.  Then:
# exit 137; the kernel counted an OOM kill in the cgroup; the snapshots
# written before it are whole and hold the blocks the command had kept
# (snapshot_steps.py); the last one came in time (before the kill, as the
# last that could be taken).  Needs root and a memory cgroup it may make
# (cgroup v1, or v2 with the memory controller delegated): else SKIP.
. "$top_srcdir/tests/lib.sh"
py=$(command -v python3) || skip "python3 not found"
(($(id -u) == 0)) || skip "not root: no memory cgroup can be made"
[[ $(awk 'NR > 1' /proc/swaps | wc -l) == 0 ]] || skip "swap is on: the cgroup would swap instead of killing"

cg= made=
if v1=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup) && [[ -n $v1 ]] &&
	[[ -d /sys/fs/cgroup/memory$v1 ]]; then
	cg=/sys/fs/cgroup/memory${v1%/}/heapwalk-oom-$$
	limit_file=memory.limit_in_bytes events_file=memory.oom_control
elif v2=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup) && [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
	cg=/sys/fs/cgroup${v2%/}/heapwalk-oom-$$
	limit_file=memory.max events_file=memory.events
fi
[[ -n $cg ]] && mkdir "$cg" 2>/dev/null && made=$cg
trap '[[ -n $made ]] && rmdir "$made" 2>/dev/null' EXIT
[[ -n $made ]] && echo $((200 << 20)) >"$cg/$limit_file" 2>/dev/null ||
	skip "no memory cgroup could be made here"
events=$cg/$events_file

mkdir "$hw_tmp/o" "$hw_tmp/o/snaps"
export TRACE_LEAKS_PAUSE_MS=300
block=$((16 << 20))
(
	echo $BASHPID >"$cg/cgroup.procs" || exit 99
	cd "$hw_tmp/o" && exec "$CORETOOL" trace --snapshot-dir snaps -- "$PROGS/trace_leaks" steps 40 "$block" >out 2>err
)
rc=$?
((rc == 99)) && skip "cannot move a process into $cg"
((rc == 137)) || { cat "$hw_tmp/o/err"; fail "exit $rc, expected 137 (killed by the OOM killer)"; }
kills=$(awk '$1 == "oom_kill" { print $2 }' "$events")
((kills >= 1)) || fail "the cgroup counted no OOM kill ($events: $(cat "$events"))"
grep -q "cgroup memory" "$hw_tmp/o/err" || { cat "$hw_tmp/o/err"; fail "the limit was not the cgroup's"; }
n=$(ls "$hw_tmp/o/snaps" | wc -l)
((n >= 1)) || { cat "$hw_tmp/o/err"; fail "no snapshot before the OOM kill"; }
grep -q "no snapshot" "$hw_tmp/o/err" && { cat "$hw_tmp/o/err"; fail "a snapshot failed"; }
"$py" "$top_srcdir/tests/integration/snapshot_steps.py" "$CORETOOL" "$hw_tmp/o/snaps" "$hw_tmp/o/err" "$n" "$block" ||
	{ cat "$hw_tmp/o/err"; fail "snapshots against the steps"; }
# the answer in the log: the last snapshot's largest lines and the growth
# since the first, grow_step's malloc first in both
line=$(grep -n 'char \*p = malloc(s);' "$top_srcdir/tests/programs/trace_leaks.c" | cut -d: -f1)
(cd "$hw_tmp/o" && "$py" "$top_srcdir/tests/integration/verdict_check.py" "$CORETOOL" err "trace_leaks.c:$line") ||
	{ cat "$hw_tmp/o/err"; fail "the verdict printed at the kill"; }
# the 95% one (on time, or early as the last that could be taken)
ls "$hw_tmp/o/snaps" | grep -q '\.95pct\.1\.hsnap$' || { cat "$hw_tmp/o/err"; fail "no 95% snapshot before the kill"; }
exit 0
