#!/usr/bin/env bash
# bench/tracer.sh: the companion tracer's overhead, as ratios against the
# same program untraced and against its peers, measured in this run:
# medians of BENCH_RUNS (default 5) runs of each configuration.
#
# Workloads (bench/tracer_cloop.c, bench/tracer_churn.py, bench/tracer_json.py):
#   C loop   N malloc/free pairs of 16..1024 bytes, 100k live, call depth ~10
#            (N = BENCH_TRACER_N, default 5 million; 20 million with BENCH_FULL=1)
#   churn    object churn in nested functions (Python)
#   json     json.loads of a 3 MB document, repeated (Python)
# on Debian's python3.11 and on pyenv's 3.12 when present.
#
# Configurations: untraced; `coretool trace` (all mode, 32 Python frames,
# 8 native frames); `coretool trace --sample 512KiB`; heaptrack; Python's
# tracemalloc with 1 and 25 frames; valgrind massif with BENCH_MASSIF=1.
# Times are CPU seconds (user + system: the machine may be shared, wall
# time is noisier); peak RSS from /usr/bin/time.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
CT="$top_builddir/coretool/coretool"
# In a build tree coretool is libtool's wrapper script (a shell and a few
# seds per run, tens of ms of CPU that the installed coretool does not
# cost): run the real binary, with its library on the path of every
# configuration alike.
if [[ -x $top_builddir/coretool/.libs/coretool ]]; then
	CT="$top_builddir/coretool/.libs/coretool"
	export LD_LIBRARY_PATH="$top_builddir/libheapwalk/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
RUNS=${BENCH_RUNS:-5}
N=${BENCH_TRACER_N:-5000000}
[[ ${BENCH_FULL:-0} == 1 ]] && N=20000000
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cc -O2 -g -o "$dir/cloop" "$top_srcdir/bench/tracer_cloop.c" || exit 1

# median_of CMD...: runs CMD RUNS times in $dir; prints "cpu_seconds peak_kib"
median_of() {
	local i out
	: >"$dir/times"
	for ((i = 0; i < RUNS; i++)); do
		(cd "$dir" && /usr/bin/time -f '%U %S %M' -o "$dir/t" "$@" >/dev/null 2>"$dir/err") ||
			{ echo "fail"; return; }
		awk '{ printf "%.3f %d\n", $1 + $2, $3 }' "$dir/t" >>"$dir/times"
		rm -f "$dir"/heaptrack.* "$dir"/massif.out.*
	done
	sort -n "$dir/times" | awk '{ c[NR] = $1; m[NR] = $2 } END { k = int((NR + 1) / 2); print c[k], m[k] }'
}

row() { # label base_cpu base_rss result
	local label=$1 base=$2 brss=$3 res=$4
	if [[ $res == fail ]]; then
		printf '  %-28s failed\n' "$label"
		return
	fi
	read -r cpu rss <<<"$res"
	awk -v l="$label" -v c="$cpu" -v b="$base" -v r="$rss" -v br="$brss" 'BEGIN {
		printf "  %-28s %8.2f s  %6.2fx   peak RSS %7.1f MiB  %5.2fx\n", l, c, c / b, r / 1024, r / br }'
}

echo "tracer overhead: medians of $RUNS runs (CPU seconds, ratio to untraced)"
echo
echo "C loop: $N malloc/free pairs, 100k live"
read -r base brss < <(median_of "$dir/cloop" "$N")
row "untraced" "$base" "$brss" "$base $brss"
all=$(median_of "$CT" trace -- "$dir/cloop" "$N")
row "tracer all, 8 native frames" "$base" "$brss" "$all"
row "tracer --sample 512KiB" "$base" "$brss" "$(median_of "$CT" trace --sample 512KiB -- "$dir/cloop" "$N")"
row "tracer all, 1 native frame" "$base" "$brss" "$(median_of "$CT" trace --native-frames 1 -- "$dir/cloop" "$N")"
if command -v heaptrack >/dev/null; then
	row "heaptrack" "$base" "$brss" "$(median_of heaptrack -o "$dir/heaptrack.out" "$dir/cloop" "$N")"
fi
if [[ ${BENCH_MASSIF:-0} == 1 ]] && command -v valgrind >/dev/null; then
	row "valgrind massif" "$base" "$brss" "$(median_of valgrind -q --tool=massif "$dir/cloop" "$N")"
fi
# Memory: peak RSS traced minus untraced at two live counts (the program
# prints how many blocks it holds).  The slope is the cost per live
# allocation (the live table); the rest is fixed (site table, frame pool,
# libunwind's caches, the root).
rss_of() { # CMD... -> "peak_kib held"
	(cd "$dir" && /usr/bin/time -f '%M' -o "$dir/m" "$@" >"$dir/held" 2>/dev/null) || { echo "0 0"; return; }
	echo "$(cat "$dir/m") $(cat "$dir/held")"
}
if [[ $all != fail ]]; then
	read -r p1 h1 < <(rss_of "$dir/cloop" 4000000 100000)
	read -r t1 _ < <(rss_of "$CT" trace -- "$dir/cloop" 4000000 100000)
	read -r p2 h2 < <(rss_of "$dir/cloop" 4000000 400000)
	read -r t2 _ < <(rss_of "$CT" trace -- "$dir/cloop" 4000000 400000)
	awk -v p1="$p1" -v t1="$t1" -v h1="$h1" -v p2="$p2" -v t2="$t2" -v h2="$h2" 'BEGIN {
		if (h2 <= h1) { print "  tracer memory: not measured"; exit }
		per = ((t2 - p2) - (t1 - p1)) * 1024 / (h2 - h1)
		printf "  tracer memory: %.1f bytes per live allocation (RSS growth from %d to %d live), fixed %.1f MiB (site table, unwinder caches, root)\n",
			per, h1, h2, ((t1 - p1) * 1024 - per * h1) / 1048576 }'
fi

pythons=()
[[ -x /usr/bin/python3.11 ]] && pythons+=(/usr/bin/python3.11)
p312=$(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -V | tail -n 1)
[[ -n $p312 ]] && pythons+=("$p312")
for py in "${pythons[@]}"; do
	for w in "churn 100000" "json 10"; do
		set -- $w
		script="$top_srcdir/bench/tracer_$1.py"
		echo
		echo "Python $("$py" -c 'import sys; print(sys.version.split()[0])') ($py): $1"
		read -r base brss < <(median_of "$py" "$script" "$2")
		row "untraced" "$base" "$brss" "$base $brss"
		row "tracer all (32 py, 8 native)" "$base" "$brss" "$(median_of "$CT" trace -- "$py" "$script" "$2")"
		row "tracer --sample 512KiB" "$base" "$brss" \
			"$(median_of "$CT" trace --sample 512KiB -- "$py" "$script" "$2")"
		row "tracemalloc, 1 frame" "$base" "$brss" "$(median_of "$py" -X tracemalloc=1 "$script" "$2")"
		row "tracemalloc, 25 frames" "$base" "$brss" "$(median_of "$py" -X tracemalloc=25 "$script" "$2")"
		if command -v heaptrack >/dev/null; then
			row "heaptrack (no pymalloc)" "$base" "$brss" \
				"$(median_of heaptrack -o "$dir/heaptrack.out" "$py" "$script" "$2")"
		fi
	done
done
