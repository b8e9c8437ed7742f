#!/usr/bin/env bash
# glibc walker on the heaps the how2heap attacks leave (shellphish/how2heap,
# glibc_2.36/*.c): each program runs with a preloaded shim that abort()s at
# exit, so its kernel core holds the damaged heap.  Every walk must end
# (timeout), exit 0 and agree exactly with and without libc debug info; the
# damage must be named in most of them.  The corpus is not part of this
# repository: point HOW2HEAP_DIR at a checkout, else this test is skipped.
. "$top_srcdir/tests/lib.sh"
dir=${HOW2HEAP_DIR:-}
[[ -n $dir && -d $dir/glibc_2.36 ]] || skip "set HOW2HEAP_DIR to a shellphish/how2heap checkout"
command -v cc >/dev/null || skip "no C compiler"
walk="$PROGS/walk_glibc"
cat >"$hw_tmp/shim.c" <<'SHIM'
#include <stdlib.h>
static void die(void) { abort(); }
__attribute__((constructor)) static void init(void) { atexit(die); }
SHIM
cc -shared -fPIC -o "$hw_tmp/shim.so" "$hw_tmp/shim.c" || hard_error "cannot build the shim"
n=0
damaged=0
for src in "$dir"/glibc_2.36/*.c; do
	name=$(basename "$src" .c)
	d="$hw_tmp/$name"
	mkdir "$d"
	cc -w -g -o "$d/prog" "$src" -lpthread 2>/dev/null || { echo "$name: does not build here"; continue; }
	core=$(hw_dump_core "$d" timeout 10 env LD_PRELOAD="$hw_tmp/shim.so" ./prog </dev/null) ||
		{ echo "$name: no core"; continue; }
	for nd in "" --nodebug; do
		timeout 60 "$walk" $nd --allow-problems "$core" >"$d/walk$nd.out" 2>&1 ||
			{ cat "$d/walk$nd.out"; fail "$name: walk $nd exited $?"; }
	done
	diff <(grep -v '^glibc' "$d/walk.out") <(grep -v '^glibc' "$d/walk--nodebug.out") ||
		fail "$name: debuginfo and heuristics walks differ"
	p=$(grep -c '^problem' "$d/walk.out" || true)
	echo "$name: $p problems: $(grep '^problem' "$d/walk.out" | cut -d' ' -f2 | sort | uniq -c | tr -s ' \n' ' ')"
	n=$((n + 1))
	((p > 0)) && damaged=$((damaged + 1))
done
echo "$n programs walked, damage reported in $damaged"
((n >= 20)) || fail "only $n programs ran"
((damaged * 2 >= n)) || fail "damage reported in only $damaged of $n"
exit 0
