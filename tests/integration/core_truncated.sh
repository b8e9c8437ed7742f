#!/usr/bin/env bash
# A kernel core cut short (ulimit -c, a dumper's size limit, a full disk),
# at two places whose loss is known from the core's own program headers:
#  - at the start of libc's writable segment: main_arena and mp_ are gone.
#    Their bytes must not be read from libc.so on disk (what the page held
#    before the process wrote it): info marks every segment from there
#    "cut" with exactly its dumped bytes lost, summary has exactly the
#    problems core-truncated (at that segment's address) and glibc-walk,
#    check exits 1;
#  - halfway into the heap: the same, and nothing crashes or hangs.
# Views (top, diff) note that their figures may be incomplete.
. "$top_srcdir/tests/lib.sh"
py=$(command -v python3) || skip "python3 not found"
mkdir "$hw_tmp/t"
core=$(hw_dump_core "$hw_tmp/t" "$PROGS/glibc_heap" "$hw_tmp/t/truth" core) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
"$CORETOOL" info --format json "$core" >"$hw_tmp/t/info.json" || fail "info on the whole core"

# the cut offsets, from the PT_LOAD headers: libc's writable segment, and
# the middle of the largest anonymous writable one (the heap)
cuts=$("$py" - "$core" "$hw_tmp/t/info.json" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
info = json.load(open(sys.argv[2]))
phoff, = struct.unpack_from("<Q", data, 32)
phentsize, phnum = struct.unpack_from("<HH", data, 54)
loads = []
for i in range(phnum):
    typ, flags, off, vaddr, _, filesz, memsz, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
    if typ == 1:
        loads.append((vaddr, off, filesz, memsz, flags))
path = {int(m["start"], 16): m["file"] for m in info["mappings"]}
libc_rw = [l for l in loads if l[4] & 2 and l[2] and "libc.so" in (path.get(l[0]) or "")]
heap = max((l for l in loads if l[4] & 2 and path.get(l[0]) is None), key=lambda l: l[2])
assert libc_rw, "no dumped writable libc segment"
print(libc_rw[0][1], libc_rw[0][0], heap[1] + heap[2] // 2 // 4096 * 4096, heap[0])
PY
) || fail "reading the core's program headers"
read -r libc_off libc_addr heap_cut heap_addr <<<"$cuts"
size=$(stat -c %s "$core")

for what in libc heap; do
	if [[ $what == libc ]]; then at=$libc_off; else at=$heap_cut; fi
	cut="$hw_tmp/t/cut-$what"
	head -c "$at" "$core" >"$cut"
	timeout 60 "$CORETOOL" info --format json "$cut" >"$hw_tmp/t/$what.info" ||
		fail "$what cut: info exit $?"
	timeout 60 "$CORETOOL" summary --format json "$cut" >"$hw_tmp/t/$what.json" ||
		fail "$what cut: summary exit $?"
	timeout 60 "$CORETOOL" check "$cut" >"$hw_tmp/t/$what.check" 2>&1
	rc=$?
	((rc == 1)) || { cat "$hw_tmp/t/$what.check"; fail "$what cut: check exit $rc, expected 1"; }
	grep -q "core-truncated" "$hw_tmp/t/$what.check" || fail "$what cut: check does not say the core is truncated"
	"$py" - "$core" "$hw_tmp/t/$what.info" "$hw_tmp/t/$what.json" "$at" "$size" "$what" "$libc_addr" <<'PY' ||
import json, struct, sys
data = open(sys.argv[1], "rb").read()
info = json.load(open(sys.argv[2]))
summ = json.load(open(sys.argv[3]))
at, size, what, libc_addr = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
phoff, = struct.unpack_from("<Q", data, 32)
phentsize, phnum = struct.unpack_from("<HH", data, 54)
lost = {}
for i in range(phnum):
    typ, _, off, vaddr, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
    if typ == 1 and filesz and off + filesz > at:
        lost[vaddr] = (max(0, at - off), off + filesz - max(off, at))
maps = {int(m["start"], 16): m for m in info["mappings"]}
for vaddr, (kept, gone) in lost.items():
    m = maps[vaddr]
    assert m["core_bytes"] == kept and m["lost_bytes"] == gone, (hex(vaddr), m, kept, gone)
    assert m["in_core"] in ("cut", "partial+cut"), m
for vaddr, m in maps.items():
    if vaddr not in lost:
        assert m.get("lost_bytes", 0) == 0, m
warn = [w for w in info["warnings"] if w.startswith("core truncated")]
assert len(warn) == 1 and f"the file has {at} bytes" in warn[0] and f"describe {size}" in warn[0], info["warnings"]
kinds = sorted(p["kind"] for p in summ["problems"])
first = min(v + lost[v][0] for v in lost)
trunc = [p for p in summ["problems"] if p["kind"] == "core-truncated"]
assert len(trunc) == 1 and int(trunc[0]["address"], 16) == first, (trunc, hex(first))
if what == "libc":
    assert first == libc_addr
    # nothing read from libc.so on disk: the walk stops at once
    assert kinds == ["core-truncated", "glibc-walk"], kinds
    g = [p for p in summ["problems"] if p["kind"] == "glibc-walk"][0]
    assert "cannot be read" in g["message"], g
    assert summ["allocations"]["glibc"]["used"]["count"] == 0, summ["allocations"]
print(what, "cut at", at, "of", size, "bytes:", len(lost), "segments lost,", "problems", kinds)
PY
		fail "$what cut: info or summary disagree with what the cut removed"
	# the views say their figures may be incomplete (a sound core's do not)
	for t in "$core" "$cut"; do
		"$CORETOOL" top --format json "$t" | "$py" -c '
import json, sys
notes = [n for n in json.load(sys.stdin)["notes"] if "problem" in n]
cut = sys.argv[1] == "cut"
assert len(notes) == cut and (not cut or "core-truncated" in notes[0]), notes' \
			"$([[ $t == "$cut" ]] && echo cut || echo whole)" || fail "$what cut: top's notes on $t"
	done
	"$CORETOOL" diff "$core" "$cut" | grep -q "^note: the new target's walk met .*core-truncated" ||
		fail "$what cut: diff does not note the new target's problems"
done
exit 0
