#!/usr/bin/env bash
# Live walks of a heap in motion: three threads that do nothing but malloc
# and free (tests/programs/busy_heap), and three Python threads making and
# dropping objects.  Stopped at a random instant, a thread is often inside
# malloc with an arena's lists or a tcache mid-update; coretool lets the
# process run on until no arena is locked and walks again when problems
# come and go (libheapwalk/snapshot/take.c), so `coretool check --pid` must
# find every heap sound, every time (before: 13 of 30 checks failed).
# Meanwhile real-time signals are sent to busy_heap all the time: it must
# receive every one (a signal that arrives as coretool stops a thread is given back
# when the thread is resumed), and run on afterwards.
. "$top_srcdir/tests/lib.sh"
"$PROGS/busy_heap" 3 "$hw_tmp/ready" &
pid=$!
hw_wait_file "$hw_tmp/ready" || fail "busy_heap did not start"
# the signals come all through the checks (sent: those the kernel queued)
(
	n=0
	while [[ ! -e $hw_tmp/stop ]]; do
		kill -s RTMIN "$pid" 2>/dev/null && n=$((n + 1))
	done
	echo "$n" >"$hw_tmp/sent"
) &
sender=$!
bad=0
for i in $(seq 40); do
	"$CORETOOL" check --pid "$pid" >"$hw_tmp/check.out" 2>&1 ||
		{ bad=$((bad + 1)); sed -n '2,4p' "$hw_tmp/check.out"; }
done
touch "$hw_tmp/stop"
wait "$sender" || fail "could not send the signals"
sent=$(cat "$hw_tmp/sent")
((sent >= 1000)) || fail "only $sent signals were sent"
echo "busy_heap: $bad of 40 checks found problems"
((bad == 0)) || fail "a live check of a sound heap in motion found problems"
grep -h '^State' /proc/"$pid"/task/*/status | grep -q 'R\|S' || fail "busy_heap left stopped"

# A process stopped before coretool came (SIGSTOP, a shell's ^Z) is walked
# as it is, often with a thread inside malloc, and never let run: its
# threads' round counters (busy_heap's steps[], read from /proc/PID/mem) do
# not move and it stays stopped.  (Before, the settling let it run: 11
# ticks of CPU over 20 checks.  CPU time is no oracle for this: seizing a
# stopped thread runs kernel code on its behalf, and the kernel splits a
# thread's runtime into user and system time by the ticks it sampled
# (cputime_adjust), so even user time moved by 2 ticks once under load
# with no user code run.)
steps_at=$(awk '$1 == "steps" {print $2}' "$hw_tmp/ready")
[[ -n $steps_at ]] || fail "busy_heap gave no steps address"
steps() {
	dd if=/proc/"$pid"/mem bs=128 iflag=skip_bytes,count_bytes skip=$((steps_at)) count=128 \
		2>/dev/null | od -An -v -tu8 | tr -s ' \n' ' '
}
[[ $(steps) == *[1-9]* ]] || fail "busy_heap's steps cannot be read (or never moved): '$(steps)'"
for round in 1 2 3 4 5; do
	kill -STOP "$pid"
	for _ in $(seq 100); do
		grep -h '^State' /proc/"$pid"/task/*/status | grep -qv 'T (stopped)' || break
		sleep 0.01
	done
	before=$(steps)
	for _ in 1 2 3 4; do
		"$CORETOOL" check --pid "$pid" >"$hw_tmp/check.out" 2>&1
		rc=$?
		((rc <= 1)) || { cat "$hw_tmp/check.out"; fail "check of a stopped process exited $rc"; }
	done
	after=$(steps)
	[[ $before == "$after" ]] || fail "a process stopped with SIGSTOP was let run (steps $before -> $after, round $round)"
	grep -h '^State' /proc/"$pid"/task/*/status | grep -qv 'T (stopped)' &&
		fail "a process stopped with SIGSTOP was left running"
	kill -CONT "$pid"
	sleep 0.05
done
echo "busy_heap stopped with SIGSTOP: 5 x 4 checks, not let run"
kill -USR1 "$pid"
wait "$pid" || fail "busy_heap exited with $?"
got=$(cat "$hw_tmp/ready.count")
echo "busy_heap: received $got of $sent signals"
[[ $got == "$sent" ]] || fail "busy_heap received $got of the $sent signals sent"

# Killed while it is walked (an OOM kill during a snapshot): coretool must
# say so in one line and end, never wait for ever.  (Before: waiting for
# the killed leader's stop, which is reported only after its other
# threads, which only coretool, their tracer, could reap: 2 of 30 hung.)
hung=0
# (the shell's notices of the kills go to /dev/null)
exec 3>&2 2>/dev/null
for round in $(seq 40); do
	rm -f "$hw_tmp/k.ready"
	"$PROGS/busy_heap" 3 "$hw_tmp/k.ready" &
	kp=$!
	hw_wait_file "$hw_tmp/k.ready" || fail "busy_heap did not start"
	(sleep "0.0$((round % 9 + 1))" && kill -9 "$kp") &
	timeout 30 "$CORETOOL" check --pid "$kp" >"$hw_tmp/k.out" 2>&1
	rc=$?
	wait "$kp" 2>/dev/null
	wait
	case $rc in
	0 | 1) ;;
	3) (($(wc -l <"$hw_tmp/k.out") == 1)) || { cat "$hw_tmp/k.out"; fail "killed: not a one-line error"; } ;;
	124) hung=$((hung + 1)) ;;
	*) cat "$hw_tmp/k.out"; fail "killed while walked: exit $rc" ;;
	esac
done
exec 2>&3 3>&-
((hung == 0)) || fail "coretool waited for ever for a process killed while walked ($hung of 40)"
echo "busy_heap killed while walked: 40 checks ended"

py=/usr/bin/python3.11
[[ -x $py ]] || { echo "SKIP: no /usr/bin/python3.11: the pymalloc half did not run"; exit 0; }
"$py" - "$hw_tmp/pyready" <<'PY' &
import sys, threading, time
def work(seed):
    keep, i = [None] * 5000, seed
    while True:
        i = (i * 1103515245 + 12345) & 0x7FFFFFFF
        keep[i % 5000] = {"a": [i, str(i)], "b": (i, i + 1)} if i & 1 else [bytes(i % 700)] * (i % 5)
for s in range(3):
    threading.Thread(target=work, args=(s,), daemon=True).start()
open(sys.argv[1], "w").write("ready\n")
time.sleep(600)
PY
pypid=$!
hw_wait_file "$hw_tmp/pyready" || fail "python did not start"
bad=0
for i in $(seq 30); do
	"$CORETOOL" check --pid "$pypid" >"$hw_tmp/check.out" 2>&1 ||
		{ bad=$((bad + 1)); sed -n '2,4p' "$hw_tmp/check.out"; }
done
kill -9 "$pypid"
echo "python: $bad of 30 checks found problems"
((bad == 0)) || fail "a live check of a sound Python heap in motion found problems"

# A lock never released: arena_locked's thread is blocked in malloc_stats()
# with the main arena locked (glibc writes its report while it holds each
# arena's lock, and stderr is a full FIFO nobody reads).  The settling
# gives up, the walk goes on, and check says so: heap-busy naming the main
# arena (its address from gdb, with libc's debug info), the only problem,
# exit 1; the process is left running (it ends once the FIFO is drained).
mkfifo "$hw_tmp/fifo"
"$PROGS/arena_locked" "$hw_tmp/fifo" "$hw_tmp/locked" &
lpid=$!
hw_wait_file "$hw_tmp/locked" || fail "arena_locked did not start"
rc=0
"$CORETOOL" check --pid "$lpid" >"$hw_tmp/locked.out" 2>&1 || rc=$?
((rc == 1)) || fail "check of a process holding the main arena's lock: exit $rc, not 1: $(cat "$hw_tmp/locked.out")"
grep -q '^problems: 1$' "$hw_tmp/locked.out" || fail "not one problem: $(cat "$hw_tmp/locked.out")"
busy=$(awk '$1 == "heap-busy" {print $2}' "$hw_tmp/locked.out")
[[ -n $busy ]] || fail "no heap-busy: $(cat "$hw_tmp/locked.out")"
grep -q "arena $busy was still locked after the process was let run" "$hw_tmp/locked.out" ||
	fail "heap-busy's message: $(cat "$hw_tmp/locked.out")"
if command -v gdb >/dev/null; then
	main_arena=$(gdb -nx -batch -p "$lpid" -ex 'printf "main_arena %p\n", &main_arena' 2>/dev/null |
		awk '$1 == "main_arena" {print $2}')
	[[ -n $main_arena ]] || fail "gdb could not say where main_arena is"
	((busy == main_arena)) || fail "heap-busy names $busy, main_arena is $main_arena"
	echo "ok heap-busy names the main arena ($busy), as gdb finds it"
else
	echo "SKIP: no gdb: heap-busy's arena not compared with main_arena's address"
fi
cat "$hw_tmp/fifo" >/dev/null &
wait "$lpid" || fail "arena_locked did not end well after its FIFO was drained (left stopped?)"
echo "ok a lock never released: heap-busy, exit 1, the process run on"
echo ok
