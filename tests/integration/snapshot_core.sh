#!/usr/bin/env bash
# coretool's views on real kernel cores: a C program's glibc heap against its
# own truth (mallinfo2, held and freed pointers) and groupings recomputed over
# the chunks listing (snapshot_core_ref.py); snap -> the same views; check;
# a CPython core: top --group-by type counts the script's own instances.
. "$top_srcdir/tests/lib.sh"
py=$(command -v python3) || skip "python3 not found"
mkdir "$hw_tmp/c"
core=$(hw_dump_core "$hw_tmp/c" "$PROGS/glibc_heap" "$hw_tmp/c/truth" core) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
"$CORETOOL" snap "$core" -o "$hw_tmp/c/heap.hsnap" >/dev/null || fail "snap of the core"
"$py" "$top_srcdir/tests/integration/snapshot_core_ref.py" "$CORETOOL" "$core" "$hw_tmp/c/truth" \
	"$hw_tmp/c/heap.hsnap" || fail "views on the core differ from the truth or the reference"
"$CORETOOL" check "$core" >"$hw_tmp/c/check" || fail "check on a sound heap: exit $? $(cat "$hw_tmp/c/check")"
grep -q 'heap OK' "$hw_tmp/c/check" || fail "check does not say the heap is OK"
rm -f "$core"

# a live process (--pid): the same heap, walked stopped and resumed; diff in
# any mix: its snapshot file against the live process itself
mkdir "$hw_tmp/l"
"$PROGS/glibc_heap" "$hw_tmp/l/truth" pause &
pid=$!
hw_wait_file "$hw_tmp/l/truth" || fail "the test program wrote no truth"
exp=$(awk '$1 == "mallinfo2" { $1 = ""; print substr($0, 2) }' "$hw_tmp/l/truth")
got=$("$CORETOOL" summary --format json --pid "$pid" | "$py" -c '
import json, sys
m = json.load(sys.stdin)["glibc"]["mallinfo2"]
print(" ".join(str(m[k]) for k in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")))')
[[ $got == "$exp" ]] || fail "live summary mallinfo2 '$got', the program's '$exp'"
"$CORETOOL" snap --pid "$pid" -o "$hw_tmp/l/live.hsnap" >/dev/null || fail "snap --pid"
"$CORETOOL" diff --max-growth 0 --group-by size "$hw_tmp/l/live.hsnap" --pid "$pid" >"$hw_tmp/l/diff" ||
	fail "diff of a live process and its own snapshot: exit $? $(head -3 "$hw_tmp/l/diff")"
sleep 0.1
grep -q '^State:.*[tT]' /proc/"$pid"/status && fail "process left stopped"
kill -9 "$pid"
wait "$pid" 2>/dev/null

# CPython: the script's own classes, exactly N instances each
pyexe=/usr/bin/python3.11
[[ -x $pyexe ]] || pyexe=$(hw_pythons | awk 'NR == 1 { print $2 }')
[[ -n $pyexe && -x $pyexe ]] || { echo "SKIP: no CPython for the type test"; exit 0; }
mkdir "$hw_tmp/p"
core=$(hw_dump_core "$hw_tmp/p" "$pyexe" "$top_srcdir/tests/programs/pymalloc_population.py" core) ||
	fail "no core from $pyexe"
"$CORETOOL" top --group-by type --limit 0 --format json "$core" >"$hw_tmp/p/top.json" ||
	fail "top --group-by type on the CPython core"
"$py" - "$hw_tmp/p/top.json" "$hw_tmp/p/stdout" <<'PY' || fail "type counts differ from the script's"
import json, sys
top = json.load(open(sys.argv[1]))
groups = {g["key"]: g["count"] for g in top["groups"]}
exp = [l.split() for l in open(sys.argv[2]) if l.startswith("expect ")]
assert exp, "the script printed no expectations"
for _, name, n in exp:
    got = groups.get(name, 0)
    assert got == int(n), f"{name}: {got} instances, the script made {n}"
print("ok:", ", ".join(f"{name} {n}" for _, name, n in exp))
PY
"$CORETOOL" summary --format json "$core" | "$py" -c '
import json, sys
d = json.load(sys.stdin)
assert d["pymalloc"] and d["glibc"], "both allocators expected"
a = d["allocations"]["pymalloc"]["used"]
assert a["count"] == d["pymalloc"]["blocks_in_use"], (a, d["pymalloc"]["blocks_in_use"])
' || fail "pymalloc blocks in the snapshot differ from the walker's summary"
exit 0
