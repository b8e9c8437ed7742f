#!/usr/bin/env python3
"""coretool's views on a real core against independent oracles.

usage: snapshot_core_ref.py CORETOOL CORE TRUTH HSNAP

TRUTH is glibc_heap's own record (mallinfo2() and the pointers it holds or
freed). Checks: summary's mallinfo2 equals the program's; chunks lists every
held pointer as used (mmapped ones as glibc-mmap) with its usable size and
every freed one as free in its bin; top by allocator/size/arena/type in every
state equals a grouping computed here over the chunks listing; the .hsnap
of the core (HSNAP, written by coretool snap) gives the same top, chunks and
summary; diff of the core and its snapshot is all zeros.
"""
import json
import subprocess
import sys

CORETOOL, CORE, TRUTH, HSNAP = sys.argv[1:5]
failures = []


def run(*args, expect=0):
    p = subprocess.run([CORETOOL, *args], capture_output=True, text=True)
    if p.returncode != expect:
        raise SystemExit(f"FAIL: coretool {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def check(cond, what):
    if not cond:
        failures.append(what)


truth = {"used": {}, "mmapped": {}, "free": {}}
mallinfo = None
for line in open(TRUTH):
    f = line.split()
    if not f:
        continue
    if f[0] == "mallinfo2":
        mallinfo = [int(x) for x in f[1:11]]
    elif f[0] in ("used", "mmapped"):
        truth[f[0]][int(f[1], 16)] = int(f[2])
    elif f[0] == "free":
        truth["free"][int(f[1], 16)] = (int(f[2]), f[3])

summary = json.loads(run("summary", "--format", "json", CORE))
m = summary["glibc"]["mallinfo2"]
got = [m[k] for k in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                      "uordblks", "fordblks", "keepcost")]
check(got == mallinfo, f"summary mallinfo2 {got} != the program's {mallinfo}")
check(summary["target"]["kind"] == "core", "summary target kind")

chunks = [json.loads(l) for l in run("chunks", "--format", "json", CORE).splitlines()]
by_addr = {int(c["address"], 16): c for c in chunks}
for a, size in truth["used"].items():
    c = by_addr.get(a)
    check(c is not None and c["state"] == "used" and c["size"] == size and c["allocator"] == "glibc",
          f"used 0x{a:x} ({size}): {c}")
for a, size in truth["mmapped"].items():
    c = by_addr.get(a)
    check(c is not None and c["state"] == "used" and c["size"] == size and c["allocator"] == "glibc-mmap",
          f"mmapped 0x{a:x} ({size}): {c}")
for a, (size, b) in truth["free"].items():
    c = by_addr.get(a)
    check(c is not None and c["state"] == "free" and c["bin"] == b, f"free 0x{a:x} {b}: {c}")
check(len(truth["used"]) > 100 and len(truth["free"]) > 10, "the truth is too small to mean much")


def ref_top(key, state):
    groups, total = {}, [0, 0]
    for c in chunks:
        if state != "all" and c["state"] != state:
            continue
        if key == "allocator":
            k = c["allocator"]
        elif key == "size":
            k = str(c["size"])
        elif key == "type":
            k = c["type"] or "?"
        elif key == "arena":
            k = "pymalloc" if c["allocator"] == "pymalloc" else (c["arena"] or "mmap")
        else:  # site keys: no tracer in this core
            k = "?"
        g = groups.setdefault(k, [0, 0])
        g[0] += 1
        g[1] += c["size"]
        total[0] += 1
        total[1] += c["size"]
    return sorted(([k, n, b] for k, (n, b) in groups.items()), key=lambda g: (-g[2], -g[1], g[0])), total


def top(target, key, state):
    d = json.loads(run("top", "--format", "json", "--limit", "0", "--group-by", key, "--state", state, target))
    return [[g["key"], g["count"], g["bytes"]] for g in d["groups"]], [d["total"]["count"], d["total"]["bytes"]]


# every key and state on the snapshot of the core against the reference;
# a few on the core itself (each walk of this core costs a second or two)
for key in ("allocator", "size", "type", "arena", "lineno"):
    for state in ("used", "free", "all"):
        exp = ref_top(key, state)
        got = top(HSNAP, key, state)
        check(got == exp, f"top {key} {state}:\n got {got[0][:4]} {got[1]}\n exp {exp[0][:4]} {exp[1]}")
for key, state in (("size", "used"), ("arena", "all"), ("type", "all")):
    check(top(CORE, key, state) == ref_top(key, state), f"top {key} {state} on the core")
check(run("chunks", CORE) == run("chunks", HSNAP), "chunks: snapshot != core")
s2 = json.loads(run("summary", "--format", "json", HSNAP))
check(s2["glibc"] == summary["glibc"] and s2["pymalloc"] == summary["pymalloc"]
      and s2["problems"] == summary["problems"], "summary: snapshot != core")
check(s2["target"]["kind"] == "snapshot" and s2["target"]["source"] == {"kind": "core", "path": CORE},
      f"snapshot target {s2['target']}")
d = json.loads(run("diff", "--format", "json", "--limit", "0", "--group-by", "size", CORE, HSNAP))
check(all(g["count_diff"] == 0 and g["bytes_diff"] == 0 for g in d["groups"]) and d["old"] == d["new"],
      "diff of a core and its snapshot is not zero")
run("diff", "--max-growth", "0", HSNAP, CORE)

# show: a held pointer, with a hex dump from the core; none from the snapshot
a, size = next(iter(truth["used"].items()))
s = json.loads(run("show", "--format", "json", CORE, hex(a + 1)))
check(s["found"] and int(s["address"], 16) == a and s["size"] == size and s["state"] == "used"
      and s["bytes"] is not None and len(s["bytes"]) == 2 * min(size, 64), f"show {hex(a + 1)}: {s}")
s = json.loads(run("show", "--format", "json", HSNAP, hex(a)))
check(s["found"] and s["bytes"] is None, f"show on the snapshot: {s}")

if failures:
    for f in failures[:20]:
        print("FAIL:", f)
    sys.exit(1)
print(f"ok: {len(truth['used'])} used, {len(truth['mmapped'])} mmapped, {len(truth['free'])} free "
      f"pointers found as the program recorded them; groupings match")
