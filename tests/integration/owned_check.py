"""owned_check.py: the blocks Python objects own, as coretool names them,
against tests/programs/py_owned.py's own pointers (pymalloc_owned.sh).

    python3 owned_check.py LABEL OUTFILE CHUNKS_JSON

OUTFILE and OUTFILE.every are py_owned.py's; CHUNKS_JSON is `coretool chunks
--format json --state used` of the same core (one object per line).  Checks:
  - every block the script's objects own is a used allocation that holds
    the object's pointer (at its start, or 16 bytes in under CPython's
    debug hooks, 32 when hooked twice; a dict's values after their prefix
    of at most 255 bytes)
    with the bytes the object says it holds from there, of the type its
    owner makes it;
  - every "obj TYPE PTR" of the script (its objects, id()) lies in a used
    allocation named TYPE, at most 64 bytes in (the GC head and the
    pre-header, the debug hooks' heads);
  - the allocations named "list items" are exactly the item arrays of the
    lists gc.get_objects() saw, those named "set table" exactly the sets'
    and frozensets' tables, "collections.deque block" exactly the deques'
    blocks, "collections.OrderedDict node" exactly the OrderedDicts' nodes
    (a table outside every allocation is static, and left out), with the
    script's own (3.15 leaves some untracked: frozensets of
    immutables, gh-140232).  From 3.15 on, gc.get_objects() also leaves
    out some the interpreter keeps (lists of its own, held in its state):
    there at most 5% more may be named (their count is printed).
Prints one "ok" line with the counts, or the first differences and exits 1.
"""
import bisect
import json
import struct
import sys

label, outfile, chunks_path = sys.argv[1:4]
minor = int(sys.argv[4]) if len(sys.argv) > 4 else 0
REACH = {"dict values": 255 + 32}

allocs = []
for line in open(chunks_path):
    c = json.loads(line)
    if c["state"] == "used":
        allocs.append((int(c["address"], 16), c["size"], c["type"]))
allocs.sort()
starts = [a[0] for a in allocs]


def holder(ptr, reach):
    """The allocation the pointer lies in, at most reach bytes in, and the
    offset, or None."""
    i = bisect.bisect_right(starts, ptr) - 1
    if i < 0:
        return None
    addr, size, typ = allocs[i]
    off = ptr - addr
    if off >= size or off > reach:
        return None
    return i, off


bad = []
own = 0
counts = {}
own_blocks = {}  # kind -> blocks the script's objects own
for line in open(outfile):
    f = line.split()
    if f[0] == "count":
        counts[" ".join(f[1:-1])] = int(f[-1])
        continue
    if f[0] == "obj":
        name, ptr = f[1], int(f[2], 16)
        h = holder(ptr, 64)
        if h is None:
            bad.append("%s object at 0x%x: no used allocation holds it" % (name, ptr))
        elif allocs[h[0]][2] != name:
            bad.append("%s object at 0x%x (block 0x%x, %d bytes): named %r"
                       % (name, ptr, allocs[h[0]][0], allocs[h[0]][1], allocs[h[0]][2]))
        counts["objects"] = counts.get("objects", 0) + 1
        continue
    if f[0] != "own":
        continue
    own += 1
    kind, ptr, need = " ".join(f[1:-2]), int(f[-2], 16), int(f[-1])
    h = holder(ptr, REACH.get(kind, 32))
    if h is None:
        bad.append("%s at 0x%x: no used allocation holds it" % (kind, ptr))
        continue
    addr, size, typ = allocs[h[0]]
    own_blocks.setdefault(kind, set()).add(addr)
    if size - h[1] < need:
        bad.append("%s at 0x%x: its block 0x%x has %d bytes from there, the object says %d"
                   % (kind, ptr, addr, size - h[1], need))
    if typ != kind:
        bad.append("%s at 0x%x (block 0x%x, %d bytes): named %r" % (kind, ptr, addr, size, typ))

every = {1: set(), 2: set(), 3: set(), 4: set()}
raw = open(outfile + ".every", "rb").read()
for k in range(0, len(raw) - 15, 16):
    tag, ptr = struct.unpack_from("<QQ", raw, k)
    every[tag].add(ptr)
for tag, kind in ((1, "list items"), (2, "set table"), (3, "collections.deque block"),
                  (4, "collections.OrderedDict node")):
    exp = set(own_blocks.get(kind, ()))
    for ptr in every[tag]:
        h = holder(ptr, REACH.get(kind, 32))
        if h is not None:
            exp.add(allocs[h[0]][0])
    got = {a[0] for a in allocs if a[2] == kind}
    extra = sorted(got - exp)
    if minor >= 15 and len(extra) * 20 <= len(exp):
        if extra:
            print("%s: %d more named %r than gc.get_objects() sees (3.15+)"
                  % (label, len(extra), kind))
        extra = []
    for a in extra[:5]:
        bad.append("0x%x is named %r, but no list, set or deque of gc.get_objects() or of "
                   "the script owns it"
                   % (a, kind))
    for a in sorted(exp - got)[:5]:
        bad.append("0x%x holds a %s of gc.get_objects(), but is named %r"
                   % (a, kind, allocs[bisect.bisect_left(starts, a)][2]))
    counts["every " + kind] = len(exp)

if not own or not all(every.values()):
    bad.append("the script wrote no pointers (%d own lines, %s of every kind)"
               % (own, [len(v) for v in every.values()]))
if bad:
    for b in bad[:40]:
        print("FAIL: %s: %s" % (label, b))
    print("FAIL: %s: %d differences" % (label, len(bad)))
    sys.exit(1)
print("ok %s: owned blocks named: %s" % (
    label, ", ".join("%s %d" % (k, counts[k]) for k in sorted(counts))))
