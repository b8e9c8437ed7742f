#!/usr/bin/env bash
# The _heapwalk extension driven straight from Python, with no debugger in
# between, so that it runs under ASan+UBSan too: in build-asan the extension
# links the sanitizers and the Python that loads it gets libasan preloaded
# (gdb itself cannot run with libasan preloaded: it deadlocks in setlocale at
# start-up).  A listed unit test: it runs in both trees.
#
# The target is a Debian python3.11 child (not instrumented, a real glibc
# and pymalloc heap) that stops itself twice with SIGSTOP, then aborts.  The
# oracle is coretool from the same tree on the same stopped process or core:
# every view of the extension must be the very bytes coretool prints, for
# the three kinds of target description (live, callback reading
# /proc/PID/mem from Python, core); the diff between the two stops, through
# the registry and through saved .hsnap files, too.  A Ctrl-C (the
# interrupted() poll lldb uses) stops a walk and registers nothing, and bad
# descriptions are one-line errors.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/gdb_lib.sh"
ext=$(ls "$HW_EXT_DIR"/_heapwalk*.so 2>/dev/null | head -n 1)
[[ -n $ext ]] || skip "the extension was not built (--without-gdb-plugin)"
# the Python the extension was built for: _heapwalk.cpython-311-...so
ver=$(basename "$ext" | sed -n 's/^_heapwalk\.cpython-\([0-9]\)\([0-9]*\)-.*/\1.\2/p')
# gdb embeds Debian's libpython: its python first
py=/usr/bin/python$ver
[[ -x $py ]] || py=$(command -v "python$ver") || skip "python$ver (the extension's Python) not installed"
[[ -x /usr/bin/python3.11 ]] || skip "Debian's python3.11 (the child) not installed"
preload=
if ldd "$ext" | grep -q libasan; then
	preload=$(gcc -print-file-name=libasan.so 2>/dev/null)
	[[ -f $preload ]] || skip "the extension is built with ASan but libasan.so was not found"
fi

cat >"$hw_tmp/child.py" <<'PY'
import os, signal
keep = [bytearray(100 + i % 300) for i in range(20000)]
names = {i: str(i) * 3 for i in range(5000)}
os.kill(os.getpid(), signal.SIGSTOP)
more = [bytearray(64) for i in range(3000)]
os.kill(os.getpid(), signal.SIGSTOP)
os.abort()
PY

cat >"$hw_tmp/drive.py" <<'PY'
import os, resource, signal, subprocess, sys, time
import _heapwalk as hw

tmp, coretool = sys.argv[1], sys.argv[2]
errors = []


def check(cond, what):
    if not cond:
        errors.append(what)
        print("FAIL:", what)


def run(argv, describe=None, poll=None):
    if poll is None:
        return hw.run(argv, describe or (lambda td=False: None))
    return hw.run(argv, describe or (lambda td=False: None), poll)


def coretool_out(*args):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    r = subprocess.run([coretool, *args], capture_output=True, env=env)
    check(r.returncode in (0, 1), "coretool %s: exit %d %s" % (args, r.returncode, r.stderr[-300:]))
    return r.stdout


def same(path, data, what):
    got = open(path, "rb").read()
    check(got == data, "%s: %d bytes from the extension, %d from coretool" % (what, len(got), len(data)))


def wait_stopped(pid):
    for _ in range(3000):
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.01)
    sys.exit("the child never stopped")


env = dict(os.environ)
env.pop("LD_PRELOAD", None)
env.pop("PYTHONPATH", None)
child = subprocess.Popen(["/usr/bin/python3.11", os.path.join(tmp, "child.py")], env=env, cwd=tmp,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (-1, -1)))
pid = child.pid
exe = "/usr/bin/python3.11"
wait_stopped(pid)


def live(td=False):
    # no fs_base: the extension finds the thread pointer in memory
    return {"kind": "live", "pid": pid, "exe": exe, "threads": [(pid, 0, 0, 0)]}


def maps():
    out = []
    for line in open("/proc/%d/maps" % pid):
        f = line.split(None, 5)
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        path = f[5].strip() if len(f) > 5 else None
        out.append((lo, hi, int(f[2], 16), f[1], path or None))
    return out


mem = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
reads = [0]


def callback(td=False):
    def read(addr, length):
        reads[0] += 1
        return os.pread(mem, length, addr)
    return {"kind": "callback", "pid": pid, "exe": exe, "threads": [(pid, 0, 0, 0)],
            "read": read, "mappings": maps()}


# 1. first stop: every view, live and through the callback, equals coretool's
out, err, st = run(["take", "first"], live)
check(out.startswith("snapshot 1 (first) of pid %d: " % pid), "take: " + out[:200])
run(["top", "-o", tmp + "/top.live"])
run(["top", "--group-by", "type", "-o", tmp + "/type.live"])
run(["chunks", "first", "-o", tmp + "/chunks.live"])
out, err, st = run(["check", "first", "-o", tmp + "/check.live"])
run(["take", "via", "-o", tmp + "/summary.via"], callback)
check(reads[0] > 0, "the callback target read nothing")
run(["top", "via", "-o", tmp + "/top.via"])
run(["chunks", "via", "-o", tmp + "/chunks.via"])
run(["save", "first", tmp + "/first.hsnap"])
out, err, st = run(["target", "-o", tmp + "/target.live"], live)
target = open(tmp + "/target.live").read()
check("kind: live" in target, "target: " + target[:300])
same(tmp + "/top.live", coretool_out("top", "--pid", str(pid)), "top (live)")
same(tmp + "/type.live", coretool_out("top", "--group-by", "type", "--pid", str(pid)), "top --group-by type (live)")
same(tmp + "/chunks.live", coretool_out("chunks", "--pid", str(pid)), "chunks (live)")
same(tmp + "/check.live", coretool_out("check", "--pid", str(pid)), "check (live)")
same(tmp + "/top.via", open(tmp + "/top.live", "rb").read(), "top (callback) vs top (live)")
same(tmp + "/chunks.via", open(tmp + "/chunks.live", "rb").read(), "chunks (callback) vs chunks (live)")

# 2. Ctrl-C: the lldb-style poll says so at the first progress report
out = None
try:
    run(["take", "stopped"], live, poll=lambda: True)
except KeyboardInterrupt:
    out = "interrupted"
check(out == "interrupted", "the interrupted() poll did not stop the walk")
out, err, st = run(["list"])
check("stopped" not in out and out.count("pid %d" % pid) == 2, "list after Ctrl-C: " + out)

# 3. bad descriptions: one line each
for bad in ({"kind": 3}, {"kind": "live", "pid": "x"}, {"kind": "live", "pid": pid, "threads": [(1, 2)]},
            {"kind": "callback", "pid": pid, "read": 5}, {"kind": "core"}, "not a dict"):
    try:
        run(["take"], lambda td=False, bad=bad: bad)
        check(False, "no error for %r" % (bad,))
    except hw.Error as e:
        check("\n" not in str(e) and str(e).startswith("heapsnap"), "error for %r: %s" % (bad, e))

# 4. second stop: the diff, from the registry and from saved files
os.kill(pid, signal.SIGCONT)
time.sleep(0.05)
wait_stopped(pid)
run(["take", "second"], live)
run(["save", "second", tmp + "/second.hsnap"])
run(["diff", "--format", "json", "-o", tmp + "/diff.ext"])  # the two newest: first, second
run(["load", tmp + "/first.hsnap", "first-again"])
run(["load", tmp + "/second.hsnap", "second-again"])
run(["diff", "first-again", "second-again", "--format", "json", "-o", tmp + "/diff-files.ext"])
run(["diff", "first-again", "second-again", "-o", tmp + "/diff-files.txt"])
same(tmp + "/diff-files.ext", coretool_out("diff", "--format", "json", tmp + "/first.hsnap", tmp + "/second.hsnap"),
     "diff --format json")
same(tmp + "/diff-files.txt", coretool_out("diff", tmp + "/first.hsnap", tmp + "/second.hsnap"), "diff (text)")
import json
d = json.load(open(tmp + "/diff.ext"))
f = json.load(open(tmp + "/diff-files.ext"))
check(d["groups"] == f["groups"], "the diff of the registry's snapshots differs from that of their saved copies")
check(d["new"]["count"] - d["old"]["count"] >= 3000, "the diff misses the 3000 new bytearrays: %s %s" % (d["old"], d["new"]))

# 5. the core
os.close(mem)
os.kill(pid, signal.SIGCONT)
child.wait()
cores = [f for f in os.listdir(tmp) if f.startswith("core")]
if cores:
    core = os.path.join(tmp, cores[0])
    desc = lambda td=False: {"kind": "core", "core": core, "exe": exe}
    run(["take", "core", "-o", tmp + "/summary.core"], desc)
    run(["top", "core", "--group-by", "type", "-o", tmp + "/type.core"])
    same(tmp + "/summary.core", coretool_out("summary", core), "summary (core)")
    same(tmp + "/type.core", coretool_out("top", "--group-by", "type", core), "top --group-by type (core)")
else:
    print("note: the kernel wrote no core; the core part was not run")
sys.exit(1 if errors else 0)
PY

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
LD_PRELOAD=$preload PYTHONPATH="$HW_EXT_DIR" timeout 300 "$py" "$hw_tmp/drive.py" "$hw_tmp" "$CORETOOL" \
	>"$hw_tmp/drive.out" 2>&1 || fail "$(tail -n 20 "$hw_tmp/drive.out")"
grep -q -E 'ERROR: (Address|Undefined)Sanitizer|runtime error:' "$hw_tmp/drive.out" &&
	fail "a sanitizer report: $(grep -m3 -A5 -E 'Sanitizer|runtime error' "$hw_tmp/drive.out")"
grep "^note:" "$hw_tmp/drive.out" || true
echo "ok${preload:+ (under ASan+UBSan)}"
