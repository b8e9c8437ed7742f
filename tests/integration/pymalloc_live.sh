#!/usr/bin/env bash
# pymalloc_live.sh: the pymalloc walker on live processes (stopped with
# ptrace, read through /proc/PID/mem, resumed) of every CPython on the
# machine, against sys._debugmallocstats() printed by the process just
# before it pauses; the process must still run after the walk.
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/integration/pymalloc_lib.sh"

mapfile -t pythons < <(pm_pythons)
((${#pythons[@]})) || skip "no CPython found (apt-get install python3.11; pyenv builds optional)"

for entry in "${pythons[@]}"; do
	read -r label py <<<"$entry"
	dir="$hw_tmp/$label"
	mkdir -p "$dir"
	"$py" "$POPULATION" live >"$dir/stdout" 2>"$dir/stderr" &
	pid=$!
	hw_wait_file_line() { # file pattern seconds
		local n=$(($3 * 10))
		while ((n-- > 0)); do
			grep -q "$2" "$1" 2>/dev/null && return 0
			sleep 0.1
		done
		return 1
	}
	hw_wait_file_line "$dir/stdout" '^ready' 30 || fail "$label: the script did not get ready"
	"$WALK" --types --glibc --pid "$pid" >"$dir/walk" 2>"$dir/walk.err" ||
		fail "$label: walk_pymalloc --pid failed: $(cat "$dir/walk.err")"
	kill -0 "$pid" 2>/dev/null || fail "$label: the process died during the walk"
	grep -q '^State:.*[tT]' "/proc/$pid/status" && fail "$label: the process was left stopped"
	kill "$pid"
	wait "$pid" 2>/dev/null
	pm_compare "$label live" "$dir/stderr" "$dir/walk" "$dir/stdout"
done
