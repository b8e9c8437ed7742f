"""verdict_check.py CORETOOL ERRFILE WHERE: what coretool trace printed
when the watched program was killed (ERRFILE, its stderr): the last
snapshot's largest groups must be, byte for byte, what `coretool top
--group-by lineno --limit 5 LAST` prints, with WHERE (file:line of the
growing allocation) first; with two snapshots or more, the growth from the
first to the last must be what `coretool diff --group-by lineno --limit 5
FIRST LAST` prints, WHERE first again."""
import re
import subprocess
import sys

coretool, errf, where = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(errf).read()
snaps = re.findall(r": (\S+\.hsnap), \d+ allocations", text)
assert snaps, "no snapshot announced"
m = re.search(r"^coretool: trace: the last snapshot, (\S+):\n", text, re.M)
assert m and m.group(1) == snaps[-1], (m and m.group(1), snaps[-1])
rest = text[m.end():]
g = re.search(r"^coretool: trace: what grew from (\S+) to it:\n", rest, re.M)
top_text = rest[:g.start()] if g else rest
# the program's own lines (step N) may follow; the view ends with its last row
want = subprocess.run([coretool, "top", "--group-by", "lineno", "--limit", "5", snaps[-1]],
                      check=True, capture_output=True, text=True).stdout
assert top_text.startswith(want), f"printed:\n{top_text[:600]}\nwant:\n{want}"
rows = [l for l in want.splitlines() if re.match(r"\s+\d+ ", l)]
assert rows and rows[0].endswith(where), rows[:2]
if len(snaps) > 1:
    assert g and g.group(1) == snaps[0], g and g.group(1)
    want_d = subprocess.run([coretool, "diff", "--group-by", "lineno", "--limit", "5", snaps[0],
                             snaps[-1]], check=True, capture_output=True, text=True).stdout
    assert rest[g.end():].startswith(want_d), rest[g.end():g.end() + 600]
    rows = [l for l in want_d.splitlines() if re.match(r"\s+[+-]\d+ ", l)]
    assert rows and rows[0].endswith(where), rows[:2]
else:
    assert not g
print("verdict:", len(snaps), "snapshots,", where, "first")
