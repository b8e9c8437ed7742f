#!/usr/bin/env bash
# Every coretool verb on real cores scribbled over (scribble.py): a glibc
# heap of several arenas (tests/programs/glibc_heap), and Debian's python3.11
# under the tracer (its pymalloc arenas, the tracer's tables, the types it
# names).  Each verb ends in time with exit 0, 1 or 3, a one-line error on
# exit 3, and whole JSON otherwise.  SCRIBBLE_ROUNDS sets the copies per
# core (default 25 and 10).
. "$top_srcdir/tests/lib.sh"
command -v prlimit >/dev/null || skip "prlimit (util-linux) not installed"
rounds=${SCRIBBLE_ROUNDS:-}
mkdir "$hw_tmp/g" "$hw_tmp/py"
core=$(hw_dump_core "$hw_tmp/g" "$PROGS/glibc_heap" "$hw_tmp/g/truth") ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
"$HW_PY" "$top_srcdir/tests/integration/scribble.py" "$CORETOOL" "$core" "${rounds:-25}" 1 ||
	fail "a scribbled glibc core broke a verb"
py=/usr/bin/python3.11
if [[ -x $py ]]; then
	core=$(hw_dump_core "$hw_tmp/py" "$CORETOOL" trace -- "$py" "$top_srcdir/tests/programs/trace_lines.py" 2000) ||
		fail "no core of python3.11 under the tracer ($(head -c 300 "$hw_tmp/py/stderr"))"
	"$HW_PY" "$top_srcdir/tests/integration/scribble.py" "$CORETOOL" "$core" "${rounds:-10}" 2 ||
		fail "a scribbled python core broke a verb"
else
	echo "SKIP (part): no /usr/bin/python3.11: the pymalloc and tracer half did not run"
fi
echo ok
