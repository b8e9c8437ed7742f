# gdb_lib.sh: what the debugger tests share (sourced after tests/lib.sh).
#
# The plugin is loaded from the build tree: heapwalk.py from the sources,
# the _heapwalk extension from gdb-plugin/.libs (HEAPWALK_PLUGIN_PATH).
HW_EXT_DIR="$top_builddir/gdb-plugin/.libs"
HW_GDB_PY="$top_srcdir/gdb-plugin/heapwalk.py"
HW_LLDB_PY="$top_srcdir/gdb-plugin/lldb/heapwalk.py"
export HEAPWALK_PLUGIN_PATH="$HW_EXT_DIR"
INFERIOR="$PROGS/gdb_inferior"

hw_need_plugin() {
	command -v gdb >/dev/null || skip "gdb not installed"
	ls "$HW_EXT_DIR"/_heapwalk*.so >/dev/null 2>&1 || skip "the gdb plugin was not built (--without-gdb-plugin)"
}

# hw_gdb ARGS...: gdb in batch mode with the plugin sourced; stdout and
# stderr merged (the order of errors among outputs is part of what we check).
hw_gdb() {
	timeout 120 gdb -nx -batch -ex "source $HW_GDB_PY" "$@" 2>&1
}

# hw_lldb CMDFILE ARGS...: lldb-14 in batch mode with the plugin imported,
# running the commands in CMDFILE on to the end even after errors (lldb -b
# alone stops at the first failing command).
hw_lldb() {
	local cmds=$1
	shift
	{
		echo "command script import $HW_LLDB_PY"
		cat "$cmds"
	} >"$cmds.all"
	PYTHONPATH=/usr/lib/llvm-14/lib/python3.11/dist-packages${PYTHONPATH:+:$PYTHONPATH} \
		timeout 120 lldb-14 -b -o "command source -e false -c false $cmds.all" "$@" 2>&1
}

# hw_no_traceback FILE: the debugger printed no Python traceback.
hw_no_traceback() {
	! grep -q -E 'Traceback|Python Exception|Error occurred in Python' "$1" ||
		fail "a Python traceback in $1: $(grep -m3 -E 'Traceback|Python Exception|Error occurred' "$1")"
}

# hw_between FILE START END: the lines of FILE strictly between the line
# equal to START and the line equal to END.
hw_between() {
	awk -v s="$2" -v e="$3" '$0 == e { on = 0 } on { print } $0 == s { on = 1 }' "$1"
}

# hw_check_freed SECTION FREE_JSON: every pointer in SECTION (the debugger
# printing hw_freed) is a free tcache chunk in FREE_JSON (heapsnap chunks
# --state free --format json): the main thread's and the worker's tcache
# were found, so each thread's fs_base reached the walker.
hw_check_freed() {
	$HW_PY - "$1" "$2" <<'PY'
import json, re, sys
want = {int(x, 16) for x in re.findall(r"0x[0-9a-f]+", open(sys.argv[1]).read())}
if len(want) != 3:
    print("FAIL: expected 3 freed pointers from the debugger, got %s" % sorted(map(hex, want)))
    sys.exit(1)
free = {}
for line in open(sys.argv[2]):
    c = json.loads(line)
    free[int(c["address"], 16)] = c
for a in sorted(want):
    c = free.get(a)
    if not c or c["state"] != "free" or c["bin"] != "tcache":
        print("FAIL: %#x is not a free tcache chunk: %s" % (a, c))
        sys.exit(1)
PY
}

# hw_check_diff TRUTH DIFF_JSON SUMMARY_JSON: the diff between the two
# breakpoints (heapsnap diff --group-by size --limit 0 --format json) is
# exactly what gdb_inferior wrote it allocated: count, usable bytes, and
# the count per usable size.
hw_check_diff() {
	$HW_PY - "$1" "$2" "$3" <<'PY'
import collections, json, sys
truth = open(sys.argv[1]).read().split("\n")
count = int(truth[0].split()[1]); nbytes = int(truth[1].split()[1])
sizes = collections.Counter(int(l.split()[1]) for l in truth[2:] if l.startswith("size "))
d = json.load(open(sys.argv[2]))
summary = json.load(open(sys.argv[3]))
if summary.get("glibc") is None:
    print("FAIL: heapsnap found no glibc heap")
    sys.exit(1)
dc = d["new"]["count"] - d["old"]["count"]
db = d["new"]["bytes"] - d["old"]["bytes"]
if (dc, db) != (count, nbytes):
    print("FAIL: diff totals %+d blocks %+d bytes, the program allocated %d blocks %d bytes" % (dc, db, count, nbytes))
    sys.exit(1)
got = collections.Counter()
for g in d["groups"]:
    if g["count_diff"]:
        got[int(g["key"])] += g["count_diff"]
if got != sizes:
    print("FAIL: per-size growth differs: heapsnap %s, program %s" % (sorted(got.items()), sorted(sizes.items())))
    sys.exit(1)
PY
}
