#!/usr/bin/env bash
# coretool trace --snapshot-at: snapshots written as the command's memory
# crosses thresholds, evidence that survives its end.  trace_leaks steps
# keeps 16 MiB blocks from grow_step, one every 400 ms, printing "step N"
# on stderr as it keeps block N; coretool's own lines go to the same file,
# in order.  Each snapshot must hold as many grow_step blocks as steps were
# printed before it was announced, or one more (the block being written
# when the memory crossed), each of the same size, with their site.
#  - --limit 256MiB --snapshot-at 25%,50%: two snapshots, the command's
#    exit status (3) passed on;
#  - the grower forked by a shell: its snapshots, not the shell's;
#  - a SIGKILL after the first snapshot: exit 137, the file stays whole;
#  - by hand (LD_PRELOAD and HEAPWALK_TRACE_SNAPSHOT_*): the preload's own
#    watcher, gone with the program;
#  - usage errors: a share over 100%, a directory that is not there.
. "$top_srcdir/tests/lib.sh"
py=$(command -v python3) || skip "python3 not found"
prog="$PROGS/trace_leaks"
export TRACE_LEAKS_PAUSE_MS=400
block=$((16 << 20))

# check_snaps DIR ERRFILE N: the N snapshots in DIR against the steps
# printed before each was announced in ERRFILE (snapshot_steps.py)
check_snaps() {
	"$py" "$top_srcdir/tests/integration/snapshot_steps.py" "$CORETOOL" "$1" "$2" "$3" "$block"
}

# --limit: two thresholds
mkdir "$hw_tmp/a" "$hw_tmp/a/snaps"
# (the by-hand variables in the environment too: coretool trace's own
# watch must keep the preload from starting a second one)
(cd "$hw_tmp/a" && HEAPWALK_TRACE_SNAPSHOT_DIR=snaps "$CORETOOL" trace --limit 256MiB \
	--snapshot-at 25%,50% --snapshot-dir snaps -- "$prog" steps 10 "$block" >out 2>err)
rc=$?
((rc == 3)) || { cat "$hw_tmp/a/err"; fail "--limit: exit $rc, the command's is 3"; }
grep -q "grow_step 10 $((10 * block))" "$hw_tmp/a/out" || fail "--limit: the command's output is not whole"
ls "$hw_tmp/a/snaps" | grep -qE '^trace_leaks\.[0-9]+\.25pct\.1\.hsnap$' || fail "no 25% snapshot: $(ls "$hw_tmp/a/snaps")"
ls "$hw_tmp/a/snaps" | grep -qE '^trace_leaks\.[0-9]+\.50pct\.1\.hsnap$' || fail "no 50% snapshot: $(ls "$hw_tmp/a/snaps")"
check_snaps "$hw_tmp/a/snaps" "$hw_tmp/a/err" 2 || { cat "$hw_tmp/a/err"; fail "--limit: snapshots against the steps"; }
# the growth between them is grow_step's
"$CORETOOL" diff --group-by function --format json "$hw_tmp"/a/snaps/*25pct* "$hw_tmp"/a/snaps/*50pct* |
	"$py" -c '
import json, sys
d = json.load(sys.stdin)
top = d["groups"][0]
assert top["key"] == "grow_step" and top["count_diff"] > 0, top' || fail "diff of the two snapshots: growth not grow_step's"

# a command that forks the one that grows (a server and its workers): the
# snapshots are of the grower (the highest oom_score of the tree), and
# --limit counts the whole tree
mkdir "$hw_tmp/w" "$hw_tmp/w/snaps"
(cd "$hw_tmp/w" && "$CORETOOL" trace --limit 256MiB --snapshot-at 25%,50% --snapshot-dir snaps \
	-- sh -c "'$prog' steps 10 $block; exit 5" >out 2>err)
rc=$?
((rc == 5)) || { cat "$hw_tmp/w/err"; fail "forked: exit $rc, the command's is 5"; }
[[ $(ls "$hw_tmp/w/snaps" | grep -cE '^trace_leaks\.[0-9]+\.(25|50)pct\.1\.hsnap$') == 2 ]] ||
	fail "forked: the snapshots are not of the worker: $(ls "$hw_tmp/w/snaps")"
check_snaps "$hw_tmp/w/snaps" "$hw_tmp/w/err" 2 || { cat "$hw_tmp/w/err"; fail "forked: snapshots against the steps"; }

# SIGKILL after the first snapshot: the file stays, the status says it
mkdir "$hw_tmp/k" "$hw_tmp/k/snaps"
(cd "$hw_tmp/k" && exec "$CORETOOL" trace --limit 256MiB --snapshot-at 25% --snapshot-dir snaps \
	-- "$prog" steps 12 "$block" >out 2>err) &
for _ in $(seq 300); do grep -q "hsnap" "$hw_tmp/k/err" 2>/dev/null && break; sleep 0.1; done
pid=$(sed -n 's/.*trace_leaks (pid \([0-9]*\)): snapshots into.*/\1/p' "$hw_tmp/k/err")
[[ -n $pid ]] && grep -q hsnap "$hw_tmp/k/err" || { cat "$hw_tmp/k/err"; fail "no snapshot before the kill"; }
kill -9 "$pid"
wait $!
rc=$?
((rc == 137)) || { cat "$hw_tmp/k/err"; fail "killed command: exit $rc, expected 137"; }
grep -q "killed by signal 9 (out of memory?): 1 snapshot in snaps" "$hw_tmp/k/err" || { cat "$hw_tmp/k/err"; fail "no word of the kill"; }
check_snaps "$hw_tmp/k/snaps" "$hw_tmp/k/err" 1 || { cat "$hw_tmp/k/err"; fail "killed: the snapshot against the steps"; }
line=$(grep -n 'char \*p = malloc(s);' "$top_srcdir/tests/programs/trace_leaks.c" | cut -d: -f1)
(cd "$hw_tmp/k" && "$py" "$top_srcdir/tests/integration/verdict_check.py" "$CORETOOL" err "trace_leaks.c:$line") ||
	{ cat "$hw_tmp/k/err"; fail "killed: the verdict printed"; }

# by hand: a bare LD_PRELOAD with HEAPWALK_TRACE_SNAPSHOT_DIR/_AT and
# HEAPWALK_TRACE_LIMIT; the preload starts the watcher (coretool trace
# --watch), which takes the same snapshots and is gone when the program is
mkdir "$hw_tmp/h" "$hw_tmp/h/snaps"
(cd "$hw_tmp/h" && LD_PRELOAD="$top_builddir/tracer/.libs/libheapwalk-trace.so" \
	HEAPWALK_TRACE_SNAPSHOT_DIR=snaps HEAPWALK_TRACE_SNAPSHOT_AT=25%,50% HEAPWALK_TRACE_LIMIT=256MiB \
	"$prog" steps 10 "$block" >out 2>err)
rc=$?
((rc == 3)) || { cat "$hw_tmp/h/err"; fail "by hand: exit $rc, the program's is 3"; }
for _ in $(seq 50); do grep -q "ended: 2 snapshots" "$hw_tmp/h/err" && break; sleep 0.1; done
grep -q "trace_leaks (pid [0-9]*) ended: 2 snapshots in snaps" "$hw_tmp/h/err" ||
	{ cat "$hw_tmp/h/err"; fail "by hand: the watcher did not end with 2 snapshots"; }
check_snaps "$hw_tmp/h/snaps" "$hw_tmp/h/err" 2 || { cat "$hw_tmp/h/err"; fail "by hand: snapshots against the steps"; }
pid=$(sed -n 's/.*trace_leaks (pid \([0-9]*\)): snapshots into.*/\1/p' "$hw_tmp/h/err")
pgrep -f "coretool trace --watch $pid" >/dev/null && fail "by hand: the watcher outlived the program"
# a coretool trace watch tells the preload not to start a second one
grep -c "snapshots into" "$hw_tmp/a/err" | grep -qx 1 || fail "two watchers under coretool trace"

# a command that cannot be run: 127, one line
"$CORETOOL" trace --limit 1GiB -- "$hw_tmp/no-such-command" 2>"$hw_tmp/e0"
rc=$?
((rc == 127)) && (($(wc -l <"$hw_tmp/e0") == 1)) || fail "no such command: exit $rc: $(cat "$hw_tmp/e0")"

# usage errors
"$CORETOOL" trace --snapshot-at 120% -- true 2>"$hw_tmp/e1"
rc=$?
((rc == 2)) && grep -q "120%" "$hw_tmp/e1" || fail "--snapshot-at 120%: exit $rc: $(cat "$hw_tmp/e1")"
"$CORETOOL" trace --snapshot-dir "$hw_tmp/nowhere" -- true 2>"$hw_tmp/e2"
rc=$?
((rc == 3)) && (($(wc -l <"$hw_tmp/e2") == 1)) || fail "--snapshot-dir missing: exit $rc: $(cat "$hw_tmp/e2")"
exit 0
