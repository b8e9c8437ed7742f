#!/usr/bin/env bash
# The README's demo end to end: the leaky service under the tracer, two cores,
# the diff naming the leaking line (the demo checks it and fails if not), and\n# the report it writes (report_check.py).
. "$top_srcdir/tests/lib.sh"
command -v gdb >/dev/null || skip "gdb not installed (the demo takes cores with gcore)"
[[ -x /usr/bin/python3.11 ]] || command -v python3 >/dev/null || skip "no python3"
"$top_srcdir/tests/demo.sh" "$top_builddir" >"$hw_tmp/demo.out" 2>&1
rc=$?
cat "$hw_tmp/demo.out"
((rc == 0)) || fail "the demo failed (exit $rc)"
grep -q '^that is the leaking line (leaky_service.py:' "$hw_tmp/demo.out" || fail "the demo did not name the leak"
# the page the demo wrote: every section what coretool's own views print
# for the same two cores, nothing on it that runs or fetches
[[ -s $top_builddir/demo/report.html ]] || fail "the demo wrote no build/demo/report.html"
"$HW_PY" "$top_srcdir/tests/integration/report_check.py" "$CORETOOL" "$top_builddir/demo/report.html" \
	"$top_builddir/demo/new.core" "$top_builddir/demo/old.core" || fail "the demo's report is not what coretool prints"
echo ok
