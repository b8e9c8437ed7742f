#!/usr/bin/env python3
"""Independent reference for coretool's views over a synthetic snapshot.

Reads the ground truth mksnap built the snapshot from (every allocation and
its site's frames) and coretool's `chunks --format json` listing, and
recomputes every grouping and diff the way CONTRACT.md section 2 defines
them, without the C code: then compares with `top`/`diff --format json`.

usage: snapshot_ref.py CORETOOL OLD.hsnap OLD.json NEW.hsnap NEW.json
"""
import csv
import fnmatch
import io
import json
import os
import subprocess
import sys

CORETOOL, OLD, OLD_TRUTH, NEW, NEW_TRUTH = sys.argv[1:6]
KEYS = ["allocator", "size", "type", "site", "function", "lineno", "filename", "module", "arena"]
ALLOCATORS = ["glibc", "glibc-mmap", "pymalloc"]
STATES = ["used", "free"]
BINS = [None, "tcache", "fastbin", "unsorted", "small", "large"]
# CONTRACT.md: the innermost frame is the first that is not inside the
# allocator, the tracer or the interpreter's allocation wrappers.
WRAPPERS = {"malloc", "calloc", "realloc", "free", "PyObject_Malloc", "PyMem_Malloc",
            "PyMem_RawMalloc", "PyObject_Calloc", "PyObject_Realloc"}
DEFAULT_EXCLUDES = ["<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>"]
failures = []


def run(*args, expect=0):
    p = subprocess.run([CORETOOL, *args], capture_output=True, text=True)
    if p.returncode != expect:
        raise SystemExit(f"FAIL: coretool {' '.join(args)}: exit {p.returncode}, "
                         f"expected {expect}: {p.stderr.strip()}")
    return p.stdout


def check(cond, what):
    if not cond:
        failures.append(what)


def base(p):
    return p.rsplit("/", 1)[-1] if p else p


def label(fr):
    if fr["file"] and fr["line"] > 0:
        return f"{fr['file']}:{fr['line']}"
    if fr["file"]:
        return fr["file"]
    if fr["module"]:
        return f"{base(fr['module'])}+0x{fr['module_offset']:x}"
    if fr["pc"]:
        return f"0x{fr['pc']:x}"
    return "?"


def is_tracer(fr):
    return fr["module"] is not None and fnmatch.fnmatchcase(base(fr["module"]), "libheapwalk-trace*")


def visible(stack, opts):
    if not opts.get("no_default"):
        stack = [f for f in stack if not is_tracer(f)]
    return stack


def innermost(stack):
    for f in stack:
        if f["kind"] == "python":
            return f
    for f in stack:
        if f["function"] not in WRAPPERS:
            return f
    return stack[0] if stack else None


def innermost_native(stack):
    nat = [f for f in stack if f["kind"] == "native"]
    for f in nat:
        if f["function"] not in WRAPPERS:
            return f
    return nat[0] if nat else None


def passes(stack, opts):
    inner = innermost(stack)
    ifile = (inner["file"] or "?") if inner else "?"
    if not opts.get("no_default") and stack:
        for pat in DEFAULT_EXCLUDES:
            if fnmatch.fnmatchcase(ifile, pat):
                return False
    incl = [p for kind, p in opts.get("filters", []) if kind == "include"]
    excl = [p for kind, p in opts.get("filters", []) if kind == "exclude"]
    files = [f["file"] or "?" for f in stack] if opts.get("all_frames") and stack else [ifile]

    def m(pat):
        return any(fnmatch.fnmatchcase(x, pat) for x in files)

    if any(m(p) for p in excl):
        return False
    return not incl or any(m(p) for p in incl)


def key_of(a, stack, k, opts):
    if k == "allocator":
        return a["allocator"]
    if k == "size":
        return str(a["size"])
    if k == "type":
        return a["type"] or "?"
    if k == "arena":
        if a["allocator"] == "pymalloc":
            return "pymalloc"
        return a["arena"] or "mmap"
    st = stack[: opts["frames"]] if opts.get("frames") else stack
    if not st:
        return "?"
    inner = innermost(st)
    if k == "site":
        return " <- ".join(label(f) for f in st)
    if k == "function":
        return inner["function"] or label(inner)
    if k == "lineno":
        return label(inner)
    if k == "filename":
        return inner["file"] or "?"
    if k == "module":
        n = innermost_native(st)
        return base(n["module"]) if n and n["module"] else "?"


def load(hsnap, truth_path):
    truth = json.load(open(truth_path))
    by_addr = {t["address"]: t for t in truth["allocs"]}
    listing = [json.loads(line) for line in
               run("chunks", "--format", "json", "--no-default-filters", hsnap).splitlines()]
    # the listing is the truth, allocation by allocation
    check(len(listing) == len(truth["allocs"]), f"{hsnap}: chunks lists {len(listing)}, "
          f"truth has {len(truth['allocs'])}")
    addrs = [int(c["address"], 16) for c in listing]
    check(addrs == sorted(addrs), f"{hsnap}: chunks not in address order")
    allocs = []
    for c in listing:
        t = by_addr.get(int(c["address"], 16))
        if t is None:
            check(False, f"{hsnap}: {c['address']} not in the truth")
            continue
        exp = {"size": t["size"], "state": STATES[t["state"]],
               "allocator": ALLOCATORS[t["allocator"]],
               "arena": f"0x{t['arena']:x}" if t["arena"] else None,
               "bin": BINS[t["bin"]], "type": t["type"]}
        got = {k: c[k] for k in exp}
        check(got == exp, f"{hsnap}: {c['address']}: {got} != {exp}")
        check((c["site"] is None) == (t["site"] < 0), f"{hsnap}: {c['address']}: site")
        stack = truth["sites"][t["site"]] if t["site"] >= 0 else []
        allocs.append((c, stack))
    return allocs


def ref_groups(allocs, k, state, opts):
    groups, total = {}, [0, 0]
    for a, stack in allocs:
        if state != "all" and a["state"] != state:
            continue
        vis = visible(stack, opts)
        if not passes(vis, opts):
            continue
        key = key_of(a, vis, k, opts)
        g = groups.setdefault(key, [0, 0])
        g[0] += 1
        g[1] += a["size"]
        total[0] += 1
        total[1] += a["size"]
    out = sorted(([key, c, b] for key, (c, b) in groups.items()), key=lambda g: (-g[2], -g[1], g[0]))
    return out, total


def opts_args(opts):
    args = []
    for kind, p in opts.get("filters", []):
        args += [f"--{kind}", p]
    if opts.get("all_frames"):
        args.append("--all-frames")
    if opts.get("no_default"):
        args.append("--no-default-filters")
    if opts.get("frames"):
        args += ["--frames", str(opts["frames"])]
    return args


# every key and state with the defaults; every key in state used with
# each set of filters and frame limits (each coretool run costs ~0.1 s)
OPTION_SETS = [
    {},
    {"frames": 2, "no_default": True},
    {"filters": [("include", "app.py")], "frames": 1},
    {"filters": [("exclude", "lib/*"), ("exclude", "?")]},
    {"filters": [("include", "*.c")], "all_frames": True},
    {"filters": [("include", "*.py"), ("exclude", "app.py")], "all_frames": True, "no_default": True},
]

old = load(OLD, OLD_TRUTH)
new = load(NEW, NEW_TRUTH)

n_compared = 0
for opts in OPTION_SETS:
    for k in KEYS:
        for state in ["used", "free", "all"] if not opts else ["used"]:
            for name, allocs, path in (("old", old, OLD), ("new", new, NEW)):
                exp, total = ref_groups(allocs, k, state, opts)
                out = json.loads(run("top", "--format", "json", "--limit", "0", "--group-by", k,
                                     "--state", state, *opts_args(opts), path))
                got = [[g["key"], g["count"], g["bytes"]] for g in out["groups"]]
                check(out["format"] == "heapwalk.top.v1", "top format")
                check(out["group_by"] == k and out["state"] == state, "top group_by/state")
                check([out["total"]["count"], out["total"]["bytes"]] == total,
                      f"top {k} {state} {opts} {name}: total {out['total']} != {total}")
                check(got == exp, f"top {k} {state} {opts} {name}:\n got {got[:5]}\n exp {exp[:5]}")
                n_compared += 1
            # the diff: union of groups, sorted by absolute growth
            o, ot = ref_groups(old, k, state, opts)
            n, nt = ref_groups(new, k, state, opts)
            od = {g[0]: g for g in o}
            nd = {g[0]: g for g in n}
            exp = []
            for key in set(od) | set(nd):
                oc, ob = od[key][1:] if key in od else (0, 0)
                nc, nb = nd[key][1:] if key in nd else (0, 0)
                exp.append([key, nc, nb, nc - oc, nb - ob])
            exp.sort(key=lambda g: (-abs(g[4]), -abs(g[3]), -g[2], g[0]))
            out = json.loads(run("diff", "--format", "json", "--limit", "0", "--group-by", k,
                                 "--state", state, *opts_args(opts), OLD, NEW))
            got = [[g["key"], g["count"], g["bytes"], g["count_diff"], g["bytes_diff"]]
                   for g in out["groups"]]
            check(out["format"] == "heapwalk.diff.v1", "diff format")
            check([out["old"]["count"], out["old"]["bytes"]] == ot, f"diff {k} old total")
            check([out["new"]["count"], out["new"]["bytes"]] == nt, f"diff {k} new total")
            check(got == exp, f"diff {k} {state} {opts}:\n got {got[:5]}\n exp {exp[:5]}")
            n_compared += 1

# CSV carries the same rows as JSON
out = json.loads(run("top", "--format", "json", "--group-by", "site", "--limit", "0", NEW))
rows = list(csv.reader(io.StringIO(run("top", "--format", "csv", "--group-by", "site", "--limit", "0", NEW))))
check(rows[0] == ["key", "count", "bytes"], f"csv header {rows[0]}")
check([[r[0], int(r[1]), int(r[2])] for r in rows[1:]] ==
      [[g["key"], g["count"], g["bytes"]] for g in out["groups"]], "top csv != json")
rows = list(csv.reader(io.StringIO(run("diff", "--format", "csv", "--limit", "0", OLD, NEW))))
check(rows[0] == ["key", "count", "bytes", "count_diff", "bytes_diff"], f"diff csv header {rows[0]}")
# --limit keeps the first N groups, the total stays the whole
lim = json.loads(run("top", "--format", "json", "--group-by", "size", "--limit", "3", NEW))
full = json.loads(run("top", "--format", "json", "--group-by", "size", "--limit", "0", NEW))
check(lim["groups"] == full["groups"][:3] and lim["total"] == full["total"], "--limit")
# default group-by: site with a tracer
check(json.loads(run("top", "--format", "json", NEW))["group_by"] == "site", "default key")

if failures:
    for f in failures[:20]:
        print("FAIL:", f)
    print(f"{len(failures)} failures")
    sys.exit(1)
print(f"ok: {n_compared} groupings and diffs match the reference")
