#!/usr/bin/env bash
# heapsnap in gdb on a core file: the plugin opens the core gdb loaded (path
# from `info target`), `heapsnap top` prints the very bytes `coretool top`
# prints on the same core, and errors are one line, never a traceback.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/gdb_lib.sh"
hw_need_plugin
mkdir "$hw_tmp/c"
core=$(hw_dump_core "$hw_tmp/c" "$INFERIOR" "$hw_tmp/truth" abort) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
out="$hw_tmp/gdb.out"

# no target at all: one clean error
hw_gdb -ex 'heapsnap' >"$hw_tmp/none.out"
hw_no_traceback "$hw_tmp/none.out"
grep -q '^heapsnap: no process' "$hw_tmp/none.out" || fail "no-target error: $(cat "$hw_tmp/none.out")"

hw_gdb -ex 'echo @@target\n' -ex 'heapsnap target' -ex 'echo @@end\n' \
	-ex "heapsnap -o $hw_tmp/summary.gdb" -ex "heapsnap --format json -o $hw_tmp/summary.gdb.json" \
	-ex 'heapsnap' -ex "heapsnap top -o $hw_tmp/top.gdb" \
	-ex "heapsnap top --group-by size --limit 5 -o $hw_tmp/top-size.gdb" \
	-ex "heapsnap top --format json -o $hw_tmp/top.gdb.json" \
	-ex 'echo @@top\n' -ex 'heapsnap top' -ex 'echo @@end\n' \
	-ex "heapsnap chunks 1 -o $hw_tmp/chunks.gdb" -ex "heapsnap check -o $hw_tmp/check.gdb" \
	-ex "heapsnap save 1 $hw_tmp/a.hsnap" -ex "heapsnap load $hw_tmp/a.hsnap again" \
	-ex "heapsnap top again -o $hw_tmp/top-again.gdb" \
	-ex "heapsnap diff 1 again --format json -o $hw_tmp/self-diff.json" \
	-ex "heapsnap report 1 -o $hw_tmp/report.gdb.html" \
	-ex "heapsnap report again --vs 1 -o $hw_tmp/report-vs.gdb.html" \
	-ex 'echo @@show\n' -ex 'heapsnap show 1 fresh[5]' -ex 'echo @@end\n' \
	-ex 'echo @@errors\n' -ex 'heapsnap top 7' -ex 'heapsnap show' -ex 'heapsnap list extra' \
	-ex 'echo @@end\n' \
	"$INFERIOR" "$core" >"$out"
hw_no_traceback "$out"
hw_between "$out" @@target @@end >"$hw_tmp/target"
grep -q '^kind: core$' "$hw_tmp/target" || fail "not opened as a core: $(cat "$hw_tmp/target")"
grep -q "^target: core $core\$" "$hw_tmp/target" || fail "wrong core path: $(cat "$hw_tmp/target")"
grep -q -E '^  tid [0-9]+ pc 0x[0-9a-f]+ sp 0x[0-9a-f]+ fs_base 0x[1-9a-f]' "$hw_tmp/target" ||
	fail "no thread with fs_base: $(cat "$hw_tmp/target")"
errs=$(hw_between "$out" @@errors @@end)
n=$(printf '%s\n' "$errs" | grep -c .)
[[ $n == 3 ]] || fail "expected 3 error lines, got $n: $errs"

# heapsnap top == coretool top, byte for byte, through gdb's output and -o
hw_between "$out" @@top @@end >"$hw_tmp/top.gdb-out"
"$CORETOOL" top "$core" >"$hw_tmp/top.ct" || fail "coretool top failed"
"$CORETOOL" top --group-by size --limit 5 "$core" >"$hw_tmp/top-size.ct" || fail "coretool top --group-by size failed"
"$CORETOOL" top --format json "$core" >"$hw_tmp/top.ct.json" || fail "coretool top --format json failed"
cmp "$hw_tmp/top.ct" "$hw_tmp/top.gdb" || fail "heapsnap top -o differs from coretool top"
cmp "$hw_tmp/top.ct" "$hw_tmp/top.gdb-out" || fail "heapsnap top (gdb output) differs from coretool top"
cmp "$hw_tmp/top-size.ct" "$hw_tmp/top-size.gdb" || fail "heapsnap top --group-by size differs"
cmp "$hw_tmp/top.ct.json" "$hw_tmp/top.gdb.json" || fail "heapsnap top --format json differs"
"$CORETOOL" summary "$core" >"$hw_tmp/summary.ct" || fail "coretool summary failed"
"$CORETOOL" summary --format json "$core" >"$hw_tmp/summary.ct.json" || fail "coretool summary --format json failed"
cmp "$hw_tmp/summary.ct" "$hw_tmp/summary.gdb" || fail "heapsnap -o differs from coretool summary"
cmp "$hw_tmp/summary.ct.json" "$hw_tmp/summary.gdb.json" || fail "heapsnap --format json differs from coretool summary"
"$CORETOOL" chunks "$core" >"$hw_tmp/chunks.ct" || fail "coretool chunks failed"
cmp "$hw_tmp/chunks.ct" "$hw_tmp/chunks.gdb" || fail "heapsnap chunks differs from coretool chunks"
"$CORETOOL" check "$core" >"$hw_tmp/check.ct"
cmp "$hw_tmp/check.ct" "$hw_tmp/check.gdb" || fail "heapsnap check differs from coretool check"
# the saved snapshot is what coretool reads, and what heapsnap load reads back
"$CORETOOL" top "$hw_tmp/a.hsnap" >"$hw_tmp/top.hsnap.ct" || fail "coretool cannot read heapsnap's .hsnap"
cmp "$hw_tmp/top.hsnap.ct" "$hw_tmp/top-again.gdb" || fail "top of the reloaded snapshot differs from coretool top FILE.hsnap"
$HW_PY - "$hw_tmp/self-diff.json" <<'PY' || fail "a snapshot and its saved copy differ"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["old"] == d["new"], (d["old"], d["new"])
assert all(g["count_diff"] == 0 and g["bytes_diff"] == 0 for g in d["groups"]), d["groups"]
PY
# heapsnap report == coretool report, byte for byte (and with --vs)
"$CORETOOL" report "$core" -o "$hw_tmp/report.ct.html" || fail "coretool report failed"
cmp "$hw_tmp/report.ct.html" "$hw_tmp/report.gdb.html" || fail "heapsnap report differs from coretool report"
"$CORETOOL" report "$hw_tmp/a.hsnap" --vs "$core" -o "$hw_tmp/report-vs.ct.html" || fail "coretool report --vs failed"
cmp "$hw_tmp/report-vs.ct.html" "$hw_tmp/report-vs.gdb.html" || fail "heapsnap report --vs differs from coretool report --vs"
# show with a snapshot: no hex dump (the memory may have changed since)
hw_between "$out" @@show @@end | grep -q -i 'used' || fail "show 1 fresh[5]: $(hw_between "$out" @@show @@end)"
# a CPython core: pymalloc and Python type names through the plugin too
if [[ -x /usr/bin/python3.11 ]]; then
	mkdir "$hw_tmp/py"
	pycore=$(hw_dump_core "$hw_tmp/py" /usr/bin/python3.11 -c \
		'import os; keep = [dict(a=i) for i in range(3000)]; os.abort()') || fail "no core of python3.11"
	hw_gdb -ex "heapsnap --format json -o $hw_tmp/py.sum.json" \
		-ex "heapsnap top --group-by type -o $hw_tmp/py.gdb" /usr/bin/python3.11 "$pycore" >"$hw_tmp/py.out"
	hw_no_traceback "$hw_tmp/py.out"
	"$CORETOOL" top --group-by type "$pycore" >"$hw_tmp/py.ct" || fail "coretool top on the python core"
	cmp "$hw_tmp/py.ct" "$hw_tmp/py.gdb" || fail "heapsnap top --group-by type differs on a CPython core"
	grep -q -E '^ .* dict$' "$hw_tmp/py.gdb" || fail "no dict group: $(head -20 "$hw_tmp/py.gdb")"
	$HW_PY -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["pymalloc"] is None)' "$hw_tmp/py.sum.json" ||
		fail "heapsnap found no pymalloc in a CPython core"
else
	echo "SKIP: no /usr/bin/python3.11: the plugin on a CPython core not checked"
fi
echo "ok"
