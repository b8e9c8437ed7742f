#!/usr/bin/env bash
# coretool info against gdb (the oracle) on the same target: a kernel core
# of a multi-thread process, a gcore'd core, and the live process.
. "$top_srcdir/tests/lib.sh"
command -v gdb >/dev/null || skip "gdb not installed"
prog="$PROGS/threads_wait"
cmp="$HW_PY $top_srcdir/tests/integration/compare_info.py"
gdb_cmds=(-ex 'info threads' -ex 'thread apply all p/x $pc' -ex 'info proc mappings' -ex 'info sharedlibrary')

# 1. kernel core of a 4-thread process killed by SIGABRT
mkdir "$hw_tmp/k"
core=$(hw_dump_core "$hw_tmp/k" "$prog" 4 abort) || skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
"$CORETOOL" info --format json "$core" >"$hw_tmp/k.json" || fail "coretool info on a kernel core"
gdb -nx -batch "${gdb_cmds[@]}" "$prog" "$core" >"$hw_tmp/k.gdb" 2>&1
$cmp "$hw_tmp/k.json" "$hw_tmp/k.gdb" core || fail "kernel core differs from gdb"
n=$($HW_PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["threads"]))' "$hw_tmp/k.json")
[[ $n == 5 ]] || fail "expected 5 threads, got $n"
"$CORETOOL" info "$core" | grep -q '^signal: *SIGABRT' || fail "text output lacks the signal"
# CSV: the JSON's threads, mappings and modules, a row each, alike
"$CORETOOL" info --format csv "$core" >"$hw_tmp/k.csv" || fail "coretool info --format csv"
$HW_PY - "$hw_tmp/k.json" "$hw_tmp/k.csv" <<'PY' || fail "info CSV differs from its JSON"
import csv, json, sys
d = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
for sec, key in (("thread", "threads"), ("mapping", "mappings"), ("module", "modules")):
    r = [x for x in rows if x["section"] == sec]
    assert len(r) == len(d[key]), (sec, len(r), len(d[key]))
assert [int(x["tid"]) for x in rows if x["section"] == "thread"] == [t["tid"] for t in d["threads"]]
assert [(x["start"], x["end"], x["perms"], x["in_core"], x["file"] or None)
        for x in rows if x["section"] == "mapping"] == \
       [("0x%x" % int(m["start"], 16), "0x%x" % int(m["end"], 16), m["perms"], m["in_core"], m["file"])
        for m in d["mappings"]]
PY
# a snapshot of it: what it was taken of and what it holds
"$CORETOOL" snap "$core" -o "$hw_tmp/k.hsnap" >/dev/null 2>&1 || fail "coretool snap"
"$CORETOOL" info --format json "$hw_tmp/k.hsnap" >"$hw_tmp/ks.json" || fail "coretool info on a snapshot"
"$CORETOOL" summary --format json "$hw_tmp/k.hsnap" >"$hw_tmp/ks.summary" || fail "summary of the snapshot"
$HW_PY - "$hw_tmp/ks.json" "$hw_tmp/k.json" "$hw_tmp/ks.summary" "$core" <<'PY' || fail "info on a snapshot"
import json, sys
s, k, summ = (json.load(open(p)) for p in sys.argv[1:4])
assert s["target"]["kind"] == "snapshot", s["target"]
assert s["target"]["source"] == {"kind": "core", "path": sys.argv[4]}, s["target"]
assert s["target"]["pid"] == k["target"]["pid"] and s["target"]["executable"] == k["target"]["executable"]
assert s["threads"] is None and s["mappings"] is None and s["modules"] is None
assert s["snapshot"]["glibc"] == summ["glibc"]["version"], (s["snapshot"], summ["glibc"])
g = summ["glibc"]
assert s["snapshot"]["allocations"] >= g["used"]["count"] + g["free"]["count"], s["snapshot"]
PY
"$CORETOOL" info "$hw_tmp/k.hsnap" | grep -q '^target: *snapshot ' || fail "info text on a snapshot"

# 2. live process, then a gcore of it
"$prog" 3 wait "$hw_tmp/ready" &
pid=$!
hw_wait_file "$hw_tmp/ready" || fail "test program did not start"
"$CORETOOL" info --format json --pid "$pid" >"$hw_tmp/l.json" || fail "coretool info --pid"
# the process runs on: all its threads left the ptrace stop
sleep 0.2
grep -h '^State' /proc/"$pid"/task/*/status | grep -qv 'sleeping' && fail "threads not resumed"
gdb -nx -batch -p "$pid" "${gdb_cmds[@]}" >"$hw_tmp/l.gdb" 2>&1
$cmp "$hw_tmp/l.json" "$hw_tmp/l.gdb" live || fail "live process differs from gdb"

# held by a debugger: one line naming it, exit 3, and the process is the
# debugger's still (the message before: a hint about ptrace_scope)
gdb -nx -batch -p "$pid" -ex 'shell sleep 3' >/dev/null 2>&1 &
gp=$!
for _ in $(seq 100); do
	grep -q '^TracerPid:[[:space:]]*[1-9]' /proc/"$pid"/status && break
	sleep 0.05
done
"$CORETOOL" info --pid "$pid" >"$hw_tmp/held.out" 2>&1
rc=$?
wait "$gp"
((rc == 3)) || fail "a process gdb holds: exit $rc"
grep -q "is already traced by pid [0-9]* (gdb)" "$hw_tmp/held.out" || { cat "$hw_tmp/held.out"; fail "a process gdb holds: no word of gdb"; }
(($(wc -l <"$hw_tmp/held.out") == 1)) || fail "a process gdb holds: not one line"

hw_gcore "$pid" "$hw_tmp/g.core" || fail "gcore failed"
"$CORETOOL" info --format json "$hw_tmp/g.core" >"$hw_tmp/g.json" || fail "coretool info on a gcore'd core"
gdb -nx -batch "${gdb_cmds[@]}" "$prog" "$hw_tmp/g.core" >"$hw_tmp/g.gdb" 2>&1
# gcore'd cores carry no terminating signal; compare as live
$cmp "$hw_tmp/g.json" "$hw_tmp/g.gdb" live || fail "gcore'd core differs from gdb"
kill -9 "$pid"

# 2b. a sysroot: the core's files found under it; one file of another build
# (libc replaced by libm) is said once and not used
sr="$hw_tmp/sysroot"
$HW_PY - "$hw_tmp/k.json" "$sr" <<'PY'
import json, os, shutil, sys
info = json.load(open(sys.argv[1]))
for m in info["mappings"]:
    f = m["file"]
    if f and f.startswith("/") and os.path.exists(f):
        dst = sys.argv[2] + f
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            shutil.copy(f if not f.endswith("/libc.so.6") else os.path.join(os.path.dirname(f), "libm.so.6"), dst)
PY
"$CORETOOL" info --format json --sysroot "$sr" "$core" >"$hw_tmp/s.json" || fail "info --sysroot"
$HW_PY - "$hw_tmp/s.json" <<'PY' || fail "sysroot with a mismatched libc"
import json, sys
d = json.load(open(sys.argv[1]))
w = [x for x in d["warnings"] if "libc.so.6" in x and "build-id differs" in x]
assert len(w) == 1, d["warnings"]
for m in d["mappings"]:
    if m["file"]:
        assert m["file_found"] == (not m["file"].endswith("libc.so.6")), m
print("sysroot: mismatched libc said once, the other files used")
PY

# 3. bad targets: one line on stderr, exit 3
for bad in /nonexistent "$hw_tmp" "$prog"; do
	"$CORETOOL" info "$bad" >/dev/null 2>"$hw_tmp/err"
	rc=$?
	[[ $rc == 3 ]] || fail "info $bad: exit $rc, expected 3"
	[[ $(wc -l <"$hw_tmp/err") == 1 ]] || fail "info $bad: not one line: $(cat "$hw_tmp/err")"
	grep -q "^coretool: $bad: " "$hw_tmp/err" || fail "info $bad: bad message form: $(cat "$hw_tmp/err")"
done
# random bytes, and cores of other machines: one line, exit 3, for
# every verb that reads a target
head -c 65536 /dev/urandom >"$hw_tmp/random"
"$HW_PY" - "$core" "$hw_tmp" <<'PY' || fail "cannot make foreign cores"
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read(4096))
for name, machine, cls in (("aarch64", 183, 2), ("i386", 3, 1)):
    d = bytearray(data)
    d[4] = cls                        # EI_CLASS
    struct.pack_into("<H", d, 18, machine)  # e_machine
    open("%s/%s.core" % (sys.argv[2], name), "wb").write(d)
PY
for bad in "$hw_tmp/random" "$hw_tmp/aarch64.core" "$hw_tmp/i386.core"; do
	for verb in info summary check; do
		"$CORETOOL" "$verb" "$bad" >/dev/null 2>"$hw_tmp/err"
		rc=$?
		[[ $rc == 3 && $(wc -l <"$hw_tmp/err") == 1 ]] && grep -q "^coretool: $bad: " "$hw_tmp/err" ||
			fail "$verb ${bad##*/}: exit $rc, $(cat "$hw_tmp/err")"
	done
	echo "ok ${bad##*/}: $(cat "$hw_tmp/err")"
done
# a core cut short: read as far as it goes, its lost mappings marked cut
head -c 100000 "$core" >"$hw_tmp/trunc"
"$CORETOOL" info "$hw_tmp/trunc" >"$hw_tmp/trunc.out" 2>&1 || fail "truncated core: info exited $?"
grep -q ' cut ' "$hw_tmp/trunc.out" || fail "truncated core: no mapping marked cut: $(head "$hw_tmp/trunc.out")"
echo "ok"
