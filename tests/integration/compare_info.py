"""Compare `coretool info --format json` with what gdb reports for the same
target (the oracle): thread ids, each thread's pc, the killing signal, the
file mappings gdb lists and the shared libraries gdb loaded.

usage: compare_info.py INFO.json GDB.txt [core|live]
"""
import json
import os
import re
import sys

info = json.load(open(sys.argv[1]))
gdb = open(sys.argv[2]).read()
kind = sys.argv[3]
errors = []

# Threads: "Thread 2 (Thread 0x7f... (LWP 1234)):" then "$N = 0x..."
gdb_pcs = {}
for m in re.finditer(r"^Thread \d+ \(.*?LWP (\d+)\).*?\):\n\$\d+ = (0x[0-9a-f]+)", gdb, re.M):
    gdb_pcs[int(m.group(1))] = int(m.group(2), 16)
ours = {t["tid"]: int(t["pc"], 16) for t in info["threads"]}
if not gdb_pcs:
    errors.append("gdb reported no threads: cannot compare")
if set(gdb_pcs) != set(ours):
    errors.append(f"threads differ: gdb {sorted(gdb_pcs)} coretool {sorted(ours)}")
for tid, pc in gdb_pcs.items():
    if tid in ours and ours[tid] != pc:
        errors.append(f"thread {tid}: pc gdb {pc:#x} coretool {ours[tid]:#x}")

# Signal (cores): "Program terminated with signal SIGABRT, Aborted."
if kind == "core":
    m = re.search(r"Program terminated with signal (SIG\w+)", gdb)
    if not m:
        errors.append("gdb printed no terminating signal")
    elif info["signal_name"] != m.group(1):
        errors.append(f"signal: gdb {m.group(1)} coretool {info['signal_name']}")

# File mappings gdb lists ("info proc mappings"): start end size offset file
maps = {(int(x["start"], 16), int(x["end"], 16)): x for x in info["mappings"]}
n_file_maps = 0
for m in re.finditer(r"^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(?:\S+\s+)?(/\S+)$", gdb, re.M):
    start, end, off, path = int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16), m.group(4)
    x = maps.get((start, end))
    n_file_maps += 1
    if not x:
        errors.append(f"mapping {start:#x}-{end:#x} {path}: missing")
    elif x["file"] != path or x["offset"] != off:
        errors.append(f"mapping {start:#x}-{end:#x}: gdb {path}+{off:#x} coretool {x['file']}+{x['offset']:#x}")
if n_file_maps == 0:
    errors.append("gdb listed no file mappings: cannot compare")

# Shared libraries gdb loaded: every one is a module of ours.
libs = re.findall(r"^0x[0-9a-f]+\s+0x[0-9a-f]+\s+\S+\s+(/\S+)$", gdb, re.M)
names = {os.path.basename(x["name"] or "") for x in info["modules"]}
if not libs:
    errors.append("gdb listed no shared libraries: cannot compare")
for lib in libs:
    if os.path.basename(lib) not in names:
        errors.append(f"module {lib}: missing (have {sorted(names)})")
libc = [x for x in info["modules"] if (x["name"] or "").endswith("libc.so.6")]
if not libc or not libc[0]["build_id"]:
    errors.append("libc module or its build-id missing")

if errors:
    print("\n".join("FAIL: " + e for e in errors))
    sys.exit(1)
print(f"ok: {len(ours)} threads, {n_file_maps} file mappings, {len(libs)} libraries agree with gdb")
