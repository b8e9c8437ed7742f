#!/usr/bin/env bash
# coretool's site views on a traced core against the program's own truth
# (ORACLES.md, the tracer): trace_leaks keeps, per function, a known number
# of blocks of known requested sizes; `top --group-by function` must show
# exactly that count and, as requested_bytes, exactly those bytes; the same
# after snap; the summary's share of site '?' is printed.
. "$top_srcdir/tests/lib.sh"
py=$(command -v python3) || skip "python3 not found"
mkdir "$hw_tmp/t"
core=$(hw_dump_core "$hw_tmp/t" "$CORETOOL" trace -- "$PROGS/trace_leaks" basic 1000 48) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
[[ -s $hw_tmp/t/stdout ]] || fail "trace_leaks printed no truth: $(head -c 300 "$hw_tmp/t/stderr")"
"$CORETOOL" snap "$core" -o "$hw_tmp/t/traced.hsnap" >/dev/null || fail "snap of the traced core"
for target in "$core" "$hw_tmp/t/traced.hsnap"; do
	"$CORETOOL" top --group-by function --limit 0 --format json "$target" >"$hw_tmp/t/top.json" ||
		fail "top --group-by function $target"
	"$py" - "$hw_tmp/t/top.json" "$hw_tmp/t/stdout" <<'PY' || fail "$target: groups differ from the program's truth"
import json, sys
top = json.load(open(sys.argv[1]))
groups = {g["key"]: g for g in top["groups"]}
assert top["group_by"] == "function"
n = 0
for line in open(sys.argv[2]):
    fn, count, requested = line.split()
    count, requested = int(count), int(requested)
    g = groups.get(fn)
    if count == 0:
        assert g is None, f"{fn}: the program keeps nothing, top shows {g}"
        continue
    assert g is not None, f"{fn}: no group"
    assert g["count"] == count, f"{fn}: {g['count']} blocks, the program kept {count}"
    assert g.get("requested_bytes") == requested, f"{fn}: requested {g.get('requested_bytes')}, the program asked {requested}"
    assert g["bytes"] >= requested
    assert g["frames"] and g["frames"][0]["function"] == fn, g["frames"]
    n += 1
assert n >= 4, "too few functions in the truth"
print(f"ok: {n} functions exact")
PY
done
"$CORETOOL" summary "$core" >"$hw_tmp/t/summary" || fail "summary of the traced core"
grep -q "^tracer: mode all" "$hw_tmp/t/summary" || fail "summary: no tracer line"
# traced from its start, every allocation has a site (ORACLES.md: the
# share of '?' is 0 for what was allocated after the tracer started)
grep -q "site '?' for 0.0% of used bytes: 0 allocations" "$hw_tmp/t/summary" ||
	fail "summary: allocations without a site: $(grep "site '?'" "$hw_tmp/t/summary")"
"$CORETOOL" top --group-by lineno "$core" >"$hw_tmp/t/lineno" || fail "top --group-by lineno"
grep -q 'trace_leaks.c:[0-9]' "$hw_tmp/t/lineno" || fail "lineno: no file:line of the program: $(head "$hw_tmp/t/lineno")"
grep -q "coretool trace" "$hw_tmp/t/lineno" && fail "the no-tracer hint on a traced core"
exit 0
