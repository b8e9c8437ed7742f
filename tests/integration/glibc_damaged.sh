#!/usr/bin/env bash
# glibc walker on a kernel core whose heap the program scribbled over just
# before abort(): a fastbin cycle, a poisoned tcache pointer, a used chunk's
# size overwritten, a bogus unsorted-bin link.  The walk must end, name
# each kind of damage as a problem, and still get the intact arena (thread
# T2's, the truth) exactly right.
. "$top_srcdir/tests/lib.sh"
mkdir "$hw_tmp/d"
core=$(hw_dump_core "$hw_tmp/d" "$PROGS/glibc_heap" "$hw_tmp/d/truth" scribble) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
for nd in "" --nodebug; do
	out="$hw_tmp/d/walk$nd.out"
	timeout 60 "$PROGS/walk_glibc" $nd --allow-problems --truth "$hw_tmp/d/truth" "$core" >"$out" 2>&1 ||
		{ cat "$out"; fail "walk $nd: exit $? on a damaged heap"; }
	for kind in free-list-cycle bad-list-pointer bad-size bin-link; do
		grep -q "^problem $kind " "$out" || { cat "$out"; fail "walk $nd: no $kind problem reported"; }
	done
	grep -E '^(glibc|chunks|truth)' "$out"
done
# coretool check: every damage with its address, exit 1
timeout 60 "$CORETOOL" check "$core" >"$hw_tmp/d/check.out" 2>&1
rc=$?
((rc == 1)) || { cat "$hw_tmp/d/check.out"; fail "coretool check on a damaged heap: exit $rc, expected 1"; }
for kind in free-list-cycle bad-list-pointer bad-size bin-link; do
	grep -q "$kind.*0x[0-9a-f]" "$hw_tmp/d/check.out" || { cat "$hw_tmp/d/check.out"; fail "coretool check: no $kind with its address"; }
done
exit 0
