#!/usr/bin/env bash
# The _heapwalk extension never crashes gdb and never lets a traceback out,
# whatever its Python side hands it: bad argument lists, target
# descriptions of the wrong shape, a describe() that raises, a read
# function that returns garbage.  Each case must end in _heapwalk.Error (one
# line) or, for the glue's own errors, the exception describe() raised; a
# target whose every read fails gives an empty snapshot.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/gdb_lib.sh"
hw_need_plugin
mkdir "$hw_tmp/c"
core=$(hw_dump_core "$hw_tmp/c" "$INFERIOR" "$hw_tmp/truth" abort) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
cat >"$hw_tmp/cases.py" <<PY
import sys
sys.path.insert(0, "$HW_EXT_DIR")
import _heapwalk as hw

class Boom(Exception):
    pass

def boom(*a):
    raise Boom("glue failed")

def d(x):
    return lambda through=False: x

def garbage_read(addr, n):
    return b"\xff" * n if addr & 1 else 42

cases = [
    (["top"], "not a list"),
    ([], d({})),
    ([1, 2], d({})),
    (["nosuch"], d({})),
    (["take"], d(None)),
    (["take"], d({"kind": 7})),
    (["take"], d({})),
    (["take"], d({"kind": "martian"})),
    (["take"], d({"kind": "core"})),
    (["take"], d({"kind": "core", "core": "/nonexistent"})),
    (["take"], d({"kind": "core", "core": "$core", "exe": 3})),
    (["take"], d({"kind": "live"})),
    (["take"], d({"kind": "live", "pid": "x"})),
    (["take"], d({"kind": "live", "pid": 999999999})),
    (["take"], d({"kind": "live", "pid": 1, "threads": [(1, 2)]})),
    (["take"], d({"kind": "callback", "pid": 1})),
    (["take"], d({"kind": "callback", "pid": 1, "read": garbage_read})),
    (["take"], d({"kind": "callback", "pid": 1, "read": garbage_read, "mappings": [(1, 2)]})),
    (["take"], d({"kind": "callback", "pid": 1, "read": garbage_read,
                  "mappings": [(0x1000, 0x100000, 0, "rw-p", None), (5, 1, 0, "r--p", 3)],
                  "threads": [(1, 0, 0, 0)]})),
    (["take"], d({"kind": "callback", "pid": 1, "read": boom,
                  "mappings": [(0x1000, 0x100000, 0, "rw-p", "[heap]")]})),
    (["take"], boom),
    (["take", "--format"], d({})),
    (["take", "--exe"], d({})),
    (["top", "--limit", "-3"], d({})),
    (["show", "1", "2", "3"], d({})),
    (["save", "1"], d({})),
    (["load", "$core"], d({})),
]
ok = 0
for argv, describe in cases:
    try:
        r = hw.run(argv, describe)
        i = cases.index((argv, describe))
        if i in (18, 19):  # unreadable memory: an empty snapshot, not an error
            ok += 1
        else:
            print("CASE-RESULT", i, argv, type(r).__name__)
    except hw.Error as e:
        msg = str(e)
        if "\n" in msg or not msg.startswith("heapsnap"):
            print("BAD-MESSAGE", argv, repr(msg))
        else:
            ok += 1
    except (Boom, TypeError) as e:
        ok += 1
    except Exception as e:
        print("UNEXPECTED", argv, type(e).__name__, e)
print("handled", ok, "of", len(cases))
PY
out="$hw_tmp/gdb.out"
hw_gdb -ex "source $hw_tmp/cases.py" -ex 'echo @@alive\n' >"$out"
grep -q '^@@alive$' "$out" || fail "gdb died: $(tail -5 "$out")"
grep -E '^(BAD-MESSAGE|UNEXPECTED)' "$out" && fail "badly handled cases"
grep -q '^handled 27 of 27$' "$out" || fail "not every case ended in an error: $(grep -E '^(CASE-RESULT|handled)' "$out")"
echo "ok"
