#!/usr/bin/env bash
# Every coretool verb on real cores scribbled over (scribble.py): a glibc
# heap of several arenas (tests/programs/glibc_heap), the same with its libc
# file gone (malloc found by shape), and Debian's python3.11
# under the tracer (its pymalloc arenas, the tracer's tables, the types it
# names).  Each verb ends in time with exit 0, 1 or 3, a one-line error on
# exit 3, and whole JSON otherwise.  SCRIBBLE_ROUNDS sets the copies per
# core (default 25, 10 and 10).
. "$top_srcdir/tests/lib.sh"
command -v prlimit >/dev/null || skip "prlimit (util-linux) not installed"
rounds=${SCRIBBLE_ROUNDS:-}
mkdir "$hw_tmp/g" "$hw_tmp/py"
core=$(hw_dump_core "$hw_tmp/g" "$PROGS/glibc_heap" "$hw_tmp/g/truth") ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
"$HW_PY" "$top_srcdir/tests/integration/scribble.py" "$CORETOOL" "$core" "${rounds:-25}" 1 ||
	fail "a scribbled glibc core broke a verb"
# the same heap with its libc file gone: found by shape (glibc_fileless.sh)
libc=$(ldd "$PROGS/glibc_heap" | awk '/libc\.so\.6/ {print $3}')
if [[ -f $libc ]]; then
	mkdir -p "$hw_tmp/f/lib"
	cp "$libc" "$hw_tmp/f/lib/"
	core=$(hw_dump_core "$hw_tmp/f" env LD_LIBRARY_PATH="$hw_tmp/f/lib" "$PROGS/glibc_heap" "$hw_tmp/f/truth") ||
		fail "no core of glibc_heap with its own libc"
	rm -r "$hw_tmp/f/lib"
	"$HW_PY" "$top_srcdir/tests/integration/scribble.py" "$CORETOOL" "$core" "${rounds:-10}" 3 ||
		fail "a scribbled glibc core without its libc file broke a verb"
else
	echo "SKIP: ldd names no libc.so.6 of glibc_heap: its file-less half did not run"
fi
py=/usr/bin/python3.11
if [[ -x $py ]]; then
	core=$(hw_dump_core "$hw_tmp/py" "$CORETOOL" trace -- "$py" "$top_srcdir/tests/programs/trace_lines.py" 2000) ||
		fail "no core of python3.11 under the tracer ($(head -c 300 "$hw_tmp/py/stderr"))"
	"$HW_PY" "$top_srcdir/tests/integration/scribble.py" "$CORETOOL" "$core" "${rounds:-10}" 2 ||
		fail "a scribbled python core broke a verb"
else
	echo "SKIP: no /usr/bin/python3.11: the pymalloc and tracer half did not run"
fi
echo ok
