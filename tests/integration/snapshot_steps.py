"""snapshot_steps.py CORETOOL DIR ERRFILE N BLOCK: the N snapshots that
`coretool trace --snapshot-at` wrote into DIR while `trace_leaks steps`
ran, against ERRFILE, the stderr both wrote to in order: each snapshot must
hold as many grow_step blocks as "step K" lines came before its
announcement, or one more (the block being written when the memory
crossed), every block of the same usable size, at least BLOCK bytes."""
import json
import os
import re
import subprocess
import sys

coretool, d, errf, n, block = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
files = sorted(os.listdir(d))
assert len(files) == n, files
steps, seen = 0, {}
for line in open(errf):
    m = re.match(r"step (\d+)$", line)
    if m:
        steps = int(m.group(1))
    m = re.search(r": (\S+\.hsnap), (\d+) allocations", line)
    if m:
        seen[os.path.basename(m.group(1))] = steps
assert sorted(seen) == files, (seen, files)
one = None
for f in files:
    top = json.loads(subprocess.run([coretool, "top", "--group-by", "function", "--limit", "0",
                                     "--format", "json", os.path.join(d, f)],
                                    check=True, capture_output=True, text=True).stdout)
    g = {x["key"]: x for x in top["groups"]}
    assert "grow_step" in g, (f, list(g))
    c, b = g["grow_step"]["count"], g["grow_step"]["bytes"]
    assert c in (seen[f], seen[f] + 1), f"{f}: {c} blocks, {seen[f]} steps printed before it"
    assert b % c == 0 and b // c >= block, (f, b, c)
    one = one or b // c
    assert b // c == one, (f, b // c, one)
    print(f, c, "blocks of", one, "bytes;", seen[f], "steps printed before")
