"""scribble.py CORETOOL CORE ROUNDS SEED: every coretool verb on ROUNDS
copies of a real core, each with 1 to 128 of its words scribbled over, the
way a heap overflow, a use after free or a stray write leaves a process.

Each copy gets its words changed in the core's writable PT_LOAD segments
(the heaps, libc's and the interpreter's data, the tracer's tables), now
and then in its notes: a bit flipped, a word zeroed, a word made to point
into another segment, a chunk-size-like value, an address moved by a few
bytes.  Then summary (JSON), check, top by line, type and site, chunks
(JSON lines), info, snap and show at an address in a heap segment must:

- end within 60 s, with exit 0, 1 (problems found) or 3 (the target cannot
  be read), never a signal, in at most 8 GiB of address space;
- when exit 3, say why in one line, `coretool: ...`;
- when exit 0 or 1, print what they print whole: the summary is one JSON
  document, chunks one JSON object per line.

The seed makes the copies the same on every run: a failure names the
round, and SCRIBBLE_KEEP=DIR keeps its core there."""
import json
import os
import random
import shutil
import struct
import subprocess
import sys

coretool, core, rounds, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
keep = os.environ.get("SCRIBBLE_KEEP")
data = open(core, "rb").read()
phoff, = struct.unpack_from("<Q", data, 32)
phnum, = struct.unpack_from("<H", data, 56)
loads, notes = [], []
for i in range(phnum):
    p_type, p_flags, off, vaddr, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + 56 * i)
    if not filesz or off + filesz > len(data):
        continue
    if p_type == 1 and p_flags & 2:
        loads.append((off, vaddr, filesz))
    elif p_type == 4:
        notes.append((off, vaddr, filesz))
assert loads, "no writable PT_LOAD segment with bytes in the core"

rng = random.Random(seed)
work = "%s.scribbled.%d" % (core, seed)


def scribble():
    m = bytearray(data)
    for _ in range(rng.choice([1, 2, 4, 8, 32, 128])):
        off, _, filesz = rng.choice(notes) if notes and rng.random() < 0.03 else rng.choice(loads)
        pos = off + (rng.randrange(filesz) & ~7)
        if pos + 8 > len(m):
            continue
        r = rng.random()
        if r < 0.3:
            m[pos + rng.randrange(8)] ^= 1 << rng.randrange(8)
            continue
        if r < 0.5:
            v = 0
        elif r < 0.7:
            _, va, size = rng.choice(loads)
            v = va + (rng.randrange(size) & ~15)
        elif r < 0.85:
            v = rng.choice([1, 0x21, 0x31, 0x411, 2**64 - 1, 0x7FFFFFFF, rng.getrandbits(64)])
        else:
            v = (struct.unpack_from("<Q", m, pos)[0] + rng.choice([-16, -8, 8, 16, 0x1000])) % 2**64
        struct.pack_into("<Q", m, pos, v)
    return m


def whole(verb, out):
    """None when what the verb printed is whole, else what is wrong."""
    text = out.decode("utf-8", "replace")
    try:
        if verb == "summary":
            json.loads(text)
        elif verb == "chunks":
            for line in text.splitlines():
                json.loads(line)
    except ValueError as e:
        return "output is not JSON: %s" % e
    return None


snap = work + ".hsnap"
verbs = [["summary", "--format", "json"], ["check"], ["top", "--group-by", "lineno"],
         ["top", "--group-by", "type", "--state", "all"],
         ["top", "--group-by", "site", "--frames", "4"], ["chunks", "--format", "json"],
         ["info"], ["snap", "-o", snap]]
failures = 0
runs = 0
try:
    for rnd in range(rounds):
        open(work, "wb").write(scribble())
        _, va, size = rng.choice(loads)
        show = ["show", work, "0x%x" % (va + (rng.randrange(size) & ~15))]
        for v in verbs + [show]:
            cmd = ["prlimit", "--as=%d" % (8 << 30), "--", coretool] + v + ([] if v[0] == "show" else [work])
            runs += 1
            try:
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                rc, err = p.returncode, p.stderr.decode("utf-8", "replace")
                wrong = None
                if rc not in (0, 1, 3):
                    wrong = "exit %d" % rc
                elif rc == 3 and (err.count("\n") != 1 or not err.startswith("coretool: ")):
                    wrong = "exit 3 without a one-line error"
                elif rc != 3:
                    wrong = whole(v[0], p.stdout)
            except subprocess.TimeoutExpired:
                wrong, err = "no answer in 60 s", ""
            if wrong:
                failures += 1
                print("FAIL round %d (seed %d): coretool %s: %s\n  %s" %
                      (rnd, seed, " ".join(v[:1] + v[2:] if v[0] == "show" else v), wrong,
                       err[-500:].replace("\n", "\n  ")))
                if keep:
                    shutil.copy(work, os.path.join(keep, "scribbled.%d.%d.core" % (seed, rnd)))
                break
finally:
    for f in (work, snap):
        if os.path.exists(f):
            os.unlink(f)
print("%s: %d scribbled copies, %d coretool runs, %d failed" %
      (os.path.basename(os.path.dirname(core)) or core, rounds, runs, failures))
sys.exit(1 if failures else 0)
