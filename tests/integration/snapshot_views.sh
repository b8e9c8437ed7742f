#!/usr/bin/env bash
# coretool's views over synthetic snapshots (.hsnap) checked against an
# independent reference (snapshot_ref.py) computed from the generator's own
# ground truth and coretool's chunks listing; snap round trip; --max-growth
# exit codes; the one-line errors and exit codes of CONTRACT.md section 2.
. "$top_srcdir/tests/lib.sh"
MKSNAP="$PROGS/mksnap"
py=$(command -v python3) || skip "python3 not found"
cd "$hw_tmp" || hard_error "no tmp"

"$MKSNAP" old.hsnap old.json --seed 7 --count 3000 || fail "mksnap old"
"$MKSNAP" new.hsnap new.json --seed 7 --count 3000 --grow 500 --shuffle || fail "mksnap new"
"$py" "$top_srcdir/tests/integration/snapshot_ref.py" "$CORETOOL" old.hsnap old.json new.hsnap new.json ||
	fail "views differ from the reference"

# snap of a snapshot: same views
"$CORETOOL" snap new.hsnap -o again.hsnap >/dev/null || fail "snap of a snapshot"
for k in site lineno type size arena; do
	a=$("$CORETOOL" top --format json --limit 0 --group-by "$k" new.hsnap | "$py" -c 'import json,sys; d=json.load(sys.stdin); print(d["total"], d["groups"])')
	b=$("$CORETOOL" top --format json --limit 0 --group-by "$k" again.hsnap | "$py" -c 'import json,sys; d=json.load(sys.stdin); print(d["total"], d["groups"])')
	[[ -n $a && $a == "$b" ]] || fail "top --group-by $k differs after snap (or failed)"
done
"$CORETOOL" chunks new.hsnap >chunks.new || fail "chunks new.hsnap"
"$CORETOOL" chunks again.hsnap >chunks.again || fail "chunks again.hsnap"
(($(wc -l <chunks.new) > 1000)) && cmp chunks.new chunks.again || fail "chunks differ after snap"
# chunks says which filters hid chunks, and how many: those the JSON rows lose
file=$("$CORETOOL" top --format json --group-by filename new.hsnap | "$py" -c 'import json,sys; print([g["key"] for g in json.load(sys.stdin)["groups"] if g["key"] != "?"][0])')
all=$("$CORETOOL" chunks --format json --no-default-filters new.hsnap | wc -l)
kept=$("$CORETOOL" chunks --format json --exclude "$file" new.hsnap | wc -l)
"$CORETOOL" chunks --exclude "$file" new.hsnap | tail -n 2 >chunks.tail
grep -q "^filters: .*exclude $file" chunks.tail && grep -qx "$((all - kept)) chunks not shown by these filters" chunks.tail ||
	fail "chunks --exclude $file: $(cat chunks.tail) (JSON rows $all, $kept with it)"
((all > kept)) || fail "chunks --exclude $file hid nothing"
"$CORETOOL" chunks --no-default-filters new.hsnap | tail -n 1 | grep -q "not shown" && fail "chunks: a filters line where none hid a chunk"
"$CORETOOL" summary --format json again.hsnap | "$py" -c '
import json, sys
d = json.load(sys.stdin)
assert d["format"] == "heapwalk.summary.v1"
assert d["target"]["kind"] == "snapshot" and d["target"]["source"]["kind"] == "core", d["target"]
assert d["target"]["pid"] == 4242 and d["target"]["executable"] == "/tmp/leaky"
g = d["glibc"]; m = g["mallinfo2"]
assert g["version"] == "2.36" and g["arenas"] == 3 and g["tcache"] == {"count": 3, "bytes": 96}
assert [m[k] for k in ("arena","ordblks","smblks","hblks","hblkhd","usmblks","fsmblks","uordblks","fordblks","keepcost")] == [1<<20,10,2,1,204800,0,64,1000,2000,4096], m
p = d["pymalloc"]
assert p["python_version"] == "3.11.2" and p["size_classes"][1] == {"size": 32, "pools": 5, "blocks_in_use": 40, "free_blocks": 30}
assert d["tracer"]["mode"] == "all" and d["tracer"]["sample_bytes"] is None
assert [x["kind"] for x in d["problems"]] == ["bad-size", "free-list-cycle"]
' || fail "summary json after snap"

# the leaking site: exactly the 500 allocations of 4072 bytes mksnap added
"$CORETOOL" diff --group-by function --format json --limit 0 old.hsnap new.hsnap | "$py" -c '
import json, sys
d = json.load(sys.stdin)
g = [g for g in d["groups"] if g["key"] == "leak_a"][0]
assert (g["count"], g["bytes"], g["count_diff"], g["bytes_diff"]) == (500, 2036000, 500, 2036000), g
assert g["frames"][0]["function"] == "leak_a" and g["frames"][0]["line"] == 12, g
' || fail "diff does not show leak_a growing by 500 x 4072 bytes"

# --max-growth: a CI gate
growth=$("$CORETOOL" diff --format json old.hsnap new.hsnap | "$py" -c 'import json,sys; d=json.load(sys.stdin); print(d["new"]["bytes"]-d["old"]["bytes"])')
((growth > 0)) || fail "no growth ($growth)"
"$CORETOOL" diff --max-growth "$((growth - 1))" old.hsnap new.hsnap >out.txt 2>err.txt
rc=$?
((rc == 1)) || fail "--max-growth below the growth: exit $rc"
[[ $(wc -l <err.txt) -eq 1 ]] && grep -q '^coretool: diff: total growth .* exceeds --max-growth' err.txt ||
	fail "--max-growth message: $(cat err.txt)"
grep -q 'EXCEEDED' out.txt || fail "diff output does not say the gate was exceeded"
"$CORETOOL" diff --max-growth "$growth" old.hsnap new.hsnap >/dev/null 2>err.txt || fail "--max-growth at the growth: exit $?"
[[ -s err.txt ]] && fail "stderr not empty: $(cat err.txt)"
"$CORETOOL" diff --max-growth 1MiB new.hsnap old.hsnap >/dev/null || fail "shrinking heap fails the gate"

# check: the snapshot's problems, exit 1
"$CORETOOL" check new.hsnap >out.txt
rc=$?
((rc == 1)) || fail "check with problems: exit $rc"
grep -q 'free-list-cycle' out.txt || fail "check does not list the problem"
"$MKSNAP" clean.hsnap clean.json --seed 3 --count 10 --no-tracer || fail "mksnap clean"
# (mksnap always adds two problems; a clean heap is tested in the unit tests)

# show: an address inside an allocation, one outside
addr=$("$py" -c 'import json; d=json.load(open("new.json")); a=[x for x in d["allocs"] if x["size"]==1000][0]; print(hex(a["address"]+10))')
"$CORETOOL" show --format json new.hsnap "$addr" | "$py" -c '
import json, sys
d = json.load(sys.stdin)
assert d["found"] and d["size"] == 1000 and d["offset"] == 10 and d["bytes"] is None, d
' || fail "show inside"
"$CORETOOL" show new.hsnap 0x10 | grep -q 'not inside any allocation' || fail "show outside"

# without a tracer: site keys are '?' and the output says how to record them
"$CORETOOL" top --group-by lineno clean.hsnap >out.txt || fail "top without tracer"
grep -q "coretool trace" out.txt || fail "no hint about recording sites"
[[ $(grep -c "coretool trace" out.txt) -eq 1 ]] || fail "the hint is not said once"
"$CORETOOL" top --format json clean.hsnap | "$py" -c '
import json, sys; d = json.load(sys.stdin); assert d["group_by"] == "type", d["group_by"]' || fail "default key without tracer"

# text output: header with target and totals, human sizes next to bytes
"$CORETOOL" top --group-by size new.hsnap >out.txt || fail "top text"
head -2 out.txt | grep -q 'group by size, state used: [0-9]* allocations, .* (.* bytes)' || fail "top header: $(head -2 out.txt)"
grep -q 'KiB' out.txt || fail "no human sizes"
grep -q 'filters: exclude <frozen importlib._bootstrap>' out.txt || fail "filters not named"

# errors: one line, exit 3 for a bad target, 2 for usage
cp new.hsnap bad.hsnap
printf '\x55' | dd of=bad.hsnap bs=1 seek=200 conv=notrunc 2>/dev/null
"$CORETOOL" top bad.hsnap >/dev/null 2>err.txt
rc=$?
((rc == 3)) || fail "flipped byte: exit $rc"
[[ $(wc -l <err.txt) -eq 1 ]] && grep -q '^coretool: bad.hsnap: corrupt snapshot' err.txt || fail "flipped byte message: $(cat err.txt)"
head -c 100 new.hsnap >short.hsnap
"$CORETOOL" summary short.hsnap >/dev/null 2>err.txt
rc=$?
((rc == 3)) && [[ $(wc -l <err.txt) -eq 1 ]] && grep -q 'truncated' err.txt || fail "truncated: exit $rc $(cat err.txt)"
"$CORETOOL" top --group-by nonsense new.hsnap 2>err.txt
rc=$?
((rc == 2)) && [[ $(wc -l <err.txt) -eq 1 ]] || fail "bad --group-by: exit $rc $(cat err.txt)"
"$CORETOOL" diff new.hsnap 2>err.txt
((rc = $?, rc == 2)) || fail "diff with one target: exit $rc"
"$CORETOOL" snap new.hsnap 2>err.txt
((rc = $?, rc == 2)) || fail "snap without -o: exit $rc"
"$CORETOOL" summary /nonexistent/core 2>err.txt
((rc = $?, rc == 3)) && [[ $(wc -l <err.txt) -eq 1 ]] || fail "missing file: exit $rc $(cat err.txt)"
"$CORETOOL" 2>err.txt
((rc = $?, rc == 2)) && [[ $(wc -l <err.txt) -eq 1 ]] && grep -q '^coretool: no verb given (coretool --help lists them: info, .*trace)$' err.txt ||
	fail "no verb: exit $rc $(cat err.txt)"
"$CORETOOL" summary --pid abc 2>err.txt
((rc = $?, rc == 2)) && [[ $(wc -l <err.txt) -eq 1 ]] && grep -q "^coretool: --pid: 'abc' is not a process id (.*)$" err.txt ||
	fail "--pid abc: exit $rc $(cat err.txt)"
for v in summary top diff snap chunks show check; do
	"$CORETOOL" "$v" --help | grep -q "^usage: coretool $v" || fail "$v --help"
done
echo "ok"
