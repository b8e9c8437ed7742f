#!/usr/bin/env bash
# glibc walker on kernel cores against the program's own ground truth
# (mallinfo2() and its pointer lists, ORACLES.md): with libc debug info and
# with heuristics only (the debug dir pointed at /nonexistent); then the
# same heap with MALLOC_ARENA_MAX=1, with hugetlb heaps, and the child of a
# fork.
. "$top_srcdir/tests/lib.sh"
heap="$PROGS/glibc_heap"
[[ -r /usr/lib/debug/.build-id ]] || echo "note: no /usr/lib/debug: the debuginfo run may use heuristics"

run() { # run NAME MODE [ENV...]
	local name=$1 mode=$2
	shift 2
	mkdir "$hw_tmp/$name"
	core=$(hw_dump_core "$hw_tmp/$name" env "$@" "$heap" "$hw_tmp/$name/truth" "$mode") ||
		skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
	[[ -s $hw_tmp/$name/truth ]] || fail "$name: the test program wrote no truth"
}

check() { # check NAME CORE SYMBOLS [--nodebug]
	local name=$1 core=$2 sym=$3
	shift 3
	hw_walk_truth "$name $*" "$hw_tmp/$name/walk$*.out" "$sym" "$hw_tmp/$name/truth" "$@" "$core"
	grep -E '^(glibc|truth|mallinfo2)' "$hw_tmp/$name/walk$*.out"
	# the contract's surface too: coretool summary's mallinfo2, all ten
	# fields, and how it found malloc
	local dd=()
	[[ $* == *--nodebug* ]] && dd=(--debug-dir /nonexistent)
	"$CORETOOL" summary --format json "${dd[@]}" "$core" >"$hw_tmp/$name/summary$*.json" ||
		fail "$name: coretool summary $*"
	"$HW_PY" - "$hw_tmp/$name/summary$*.json" "$hw_tmp/$name/truth" "$sym" <<'PY' ||
import json, sys
g = json.load(open(sys.argv[1]))["glibc"]
want = next([int(x) for x in l.split()[1:11]] for l in open(sys.argv[2]) if l.startswith("mallinfo2 "))
keys = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
got = [g["mallinfo2"][k] for k in keys]
assert got == want, (got, want)
assert g["symbols"] == sys.argv[3], g["symbols"]
PY
		fail "$name: coretool summary $* differs from the program's mallinfo2"
}

run plain core
check plain "$core" debuginfo
check plain "$core" heuristic --nodebug

run arena1 core MALLOC_ARENA_MAX=1
check arena1 "$core" debuginfo
check arena1 "$core" heuristic --nodebug
grep -q '^glibc 2\.[0-9]* symbols [a-z]* arenas 1 ' "$hw_tmp/arena1/walk.out" || fail "MALLOC_ARENA_MAX=1: not one arena"

# glibc.malloc.hugetlb=2: sbrk is never used, the main arena lives in
# mmapped segments (NONCONTIGUOUS), thread heaps are 4 huge pages apart.
run huge core GLIBC_TUNABLES=glibc.malloc.hugetlb=2
check huge "$core" debuginfo
check huge "$core" heuristic --nodebug

run fork fork
check fork "$core" debuginfo
check fork "$core" heuristic --nodebug
exit 0
