#!/usr/bin/env bash
# A live target is always resumed: whether coretool finishes, fails, or is
# interrupted (SIGINT, SIGTERM) or killed (SIGKILL) while it holds the
# process stopped.
. "$top_srcdir/tests/lib.sh"
prog="$PROGS/threads_wait"
"$prog" 3 wait "$hw_tmp/ready" &
pid=$!
hw_wait_file "$hw_tmp/ready" || fail "test program did not start"

states() { grep -h '^State' /proc/"$pid"/task/*/status | awk '{print $2}' | sort | uniq -c | tr -s ' ' | tr '\n' ';'; }
all_running() { # every thread back to S (sleeping in pause)
	local i
	for i in $(seq 50); do
		grep -h '^State' /proc/"$pid"/task/*/status | grep -qv sleeping || return 0
		sleep 0.1
	done
	return 1
}

for sig in INT TERM KILL; do
	# background jobs of a script ignore SIGINT: give coretool the default
	HEAPWALK_TEST_HOLD_MS=10000 env --default-signal=INT,TERM "$CORETOOL" info --pid "$pid" >/dev/null 2>&1 &
	ct=$!
	# wait until coretool holds every thread (tracing stop, state t)
	held=0
	for i in $(seq 100); do
		if [[ $(grep -h '^State' /proc/"$pid"/task/*/status | grep -c 'tracing stop') == 4 ]]; then
			held=1
			break
		fi
		sleep 0.05
	done
	((held)) || fail "coretool did not stop the 4 threads: $(states)"
	kill -"$sig" "$ct"
	wait "$ct" 2>/dev/null
	rc=$?
	((rc > 128)) || fail "coretool was not stopped by SIG$sig (exit $rc)"
	all_running || fail "after SIG$sig to coretool the target stays stopped: $(states)"
	echo "SIG$sig: target resumed ($(states))"
done
# and a normal run
"$CORETOOL" info --pid "$pid" >/dev/null || fail "info --pid"
all_running || fail "after a normal run: $(states)"
kill -9 "$pid"
echo ok
