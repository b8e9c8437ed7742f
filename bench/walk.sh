#!/usr/bin/env bash
# The glibc walker on a core of 2 million live chunks (BENCH_CHUNKS), with
# and without libc debug info, against reading the heap segments once; and
# chap's `count used` on the same core when chap is installed.
set -eu
: "${top_builddir:?}"
n=${BENCH_CHUNKS:-2000000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(cd "$dir" && ulimit -c unlimited && "$top_builddir/bench/glibc_heap_big" "$n") >/dev/null 2>&1 || true
core=$(ls "$dir"/core* 2>/dev/null | head -n 1)
[[ -n $core ]] || { echo "walk: no core written (core_pattern?)"; exit 0; }
echo "core: $(du -h --apparent-size "$core" | cut -f1), $n live chunks"
"$top_builddir/bench/walk" "$core" 5
echo "-- without libc debug info (heuristics)"
"$top_builddir/bench/walk" "$core" 5 --nodebug
if command -v chap >/dev/null; then
	a=$(date +%s.%N)
	echo "count used" | chap "$core" >/dev/null 2>&1 || true
	b=$(date +%s.%N)
	echo "chap count used: $(echo "$b - $a" | bc) s"
else
	echo "chap not installed: no comparison"
fi
