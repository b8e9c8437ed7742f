#!/usr/bin/env bash
# The glibc walker on a core of 2 million live chunks (BENCH_CHUNKS), and of
# 20 million as well with BENCH_BIG=1: walk time with and without libc debug
# info against reading the heap segments once, `coretool summary` and
# `coretool chunks > /dev/null` (CPU time, peak anonymous memory per
# allocation), and chap's `count used` on the same core when chap is
# installed.  Both with the core cached as the kernel wrote it and as read
# back from the disk.  Rounds: BENCH_ROUNDS (default 3), best taken.
set -eu
: "${top_builddir:?}"
rounds=${BENCH_ROUNDS:-3}
sizes=${BENCH_CHUNKS:-2000000}
[[ ${BENCH_BIG:-0} == 1 ]] && sizes="$sizes 20000000"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# an empty layout cache: the first walk reads libc's DWARF, the next not
export XDG_CACHE_HOME=$dir/cache
for n in $sizes; do
	rm -rf "$dir"/core* "$XDG_CACHE_HOME"
	# (the braces keep bash's "Aborted (core dumped)" notice off the output)
	{ (cd "$dir" && ulimit -c unlimited && "$top_builddir/bench/glibc_heap_big" "$n") >/dev/null 2>&1 || true; } 2>/dev/null
	core=$(ls "$dir"/core* 2>/dev/null | head -n 1)
	[[ -n $core ]] || { echo "walk: no core written (core_pattern?)"; exit 0; }
	echo "-- core: $(du -h --apparent-size "$core" | cut -f1), $n live chunks requested"
	echo "-- with libc debug info"
	"$top_builddir/bench/walk" "$core" "$rounds" --coretool "$top_builddir/coretool/coretool"
	echo "-- without libc debug info (heuristics)"
	"$top_builddir/bench/walk" "$core" "$rounds" --nodebug
	# The page cache above holds the core as the kernel wrote it, in 4 KiB
	# pages: mapping them costs a fault per 64 KiB and unmapping them a
	# PTE each.  Read back from the disk (a core copied in, or read after a
	# reboot or once evicted), it is cached in large folios that are mapped
	# 2 MiB at a time, and the walk's page-table work nearly vanishes.
	if sync "$core" 2>/dev/null && dd if="$core" iflag=nocache count=0 status=none 2>/dev/null; then
		cat "$core" >/dev/null
		echo "-- with libc debug info, the core read back from the disk (cached in large folios)"
		"$top_builddir/bench/walk" "$core" "$rounds"
	else
		echo "(could not drop the core's cached pages: no read-back measurement)"
	fi
	if command -v chap >/dev/null; then
		a=$(date +%s.%N)
		echo "count used" | chap "$core" >/dev/null 2>&1 || true
		b=$(date +%s.%N)
		echo "chap count used: $(echo "$b - $a" | bc) s (wall)"
	else
		echo "chap not installed: no comparison"
	fi
done
