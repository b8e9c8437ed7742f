#!/usr/bin/env bash
# bench/tracer.sh: the companion tracer's overhead, as ratios against the
# same program untraced and against its peers, measured in this run:
# medians of BENCH_RUNS (default 5) runs of each configuration.
#
# Workloads (bench/tracer_cloop.c, bench/tracer_churn.py, bench/tracer_json.py,
# bench/tracer_pymem.py for memory):
#   C loop   N malloc/free pairs of 16..1024 bytes, 100k live, call depth ~10
#            (N = BENCH_TRACER_N, default 5 million; 20 million with BENCH_FULL=1)
#   churn    object churn in nested functions (Python)
#   json     json.loads of a 3 MB document, repeated (Python)
# on Debian's python3.11 and on pyenv's 3.12 when present.
#
# Configurations: untraced; `coretool trace` (all mode, 32 Python frames,
# 8 native frames); `coretool trace --sample 512KiB`; heaptrack; Python's
# tracemalloc with 1 and 25 frames; memray (tracing Python's allocators)
# where it is installed; valgrind massif with BENCH_MASSIF=1.
# Times are CPU seconds (user + system: the machine may be shared, wall
# time is noisier), in microseconds (bench/cputime.c; GNU time's hundredths
# were 6% of the C loop's untraced run); peak RSS from the same rusage.
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
cc -O2 -o "$dir/cputime" "$top_srcdir/bench/cputime.c" || exit 1

# Configurations are run interleaved: RUNS rounds, each running every
# configuration of the workload once, so that the load of a shared machine,
# which drifts over minutes, weighs on all of them alike.  A row gives the
# median CPU seconds, the median over rounds of the ratio to the first
# configuration (untraced) of the same round, and the median peak RSS.
labels=()
cmds=()
cfg() { # LABEL CMD...
	labels+=("$1")
	shift
	cmds+=("$(printf '%q ' "$@")")
}
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
run_set() {
	local r i n=${#labels[@]}
	for ((i = 0; i < n; i++)); do : >"$dir/times.$i"; done
	for ((r = 0; r < RUNS; r++)); do
		for ((i = 0; i < n; i++)); do
			if (cd "$dir" && eval "\"\$dir/cputime\" \"\$dir/t\" ${cmds[$i]}" \
				>/dev/null 2>"$dir/err"); then
				cat "$dir/t" >>"$dir/times.$i"
			else
				echo "fail 0" >>"$dir/times.$i"
			fi
			rm -f "$dir"/heaptrack.* "$dir"/massif.out.* "$dir"/memray.bin
		done
	done
	for ((i = 0; i < n; i++)); do
		if grep -q fail "$dir/times.$i"; then
			printf '  %-28s failed\n' "${labels[$i]}"
			continue
		fi
		local cpu ratio rss brss mins
		cpu=$(cut -d' ' -f1 "$dir/times.$i" | med)
		ratio=$(paste -d' ' "$dir/times.0" "$dir/times.$i" | awk '{ print $3 / $1 }' | med)
		# the ratio of the fastest runs: on a VM whose speed drifts, the
		# least disturbed run of each is the steadier estimate
		mins=$(paste -d' ' "$dir/times.0" "$dir/times.$i" | awk 'NR == 1 || $1 < a { a = $1 }
			NR == 1 || $3 < b { b = $3 } END { print (a > 0 ? b / a : 0) }')
		rss=$(cut -d' ' -f2 "$dir/times.$i" | med)
		brss=$(cut -d' ' -f2 "$dir/times.0" | med)
		awk -v l="${labels[$i]}" -v c="$cpu" -v x="$ratio" -v m="$mins" -v r="$rss" -v br="$brss" 'BEGIN {
			printf "  %-28s %8.3f s  %6.3fx (fastest runs %6.3fx)   peak RSS %7.1f MiB  %5.2fx\n", l, c, x, m, r / 1024, r / br }'
	done
	labels=()
	cmds=()
}

echo "tracer overhead: $RUNS interleaved rounds; medians of CPU seconds, of the per-round ratio to untraced (and the ratio of the fastest runs), of peak RSS"
echo
echo "C loop: $N malloc/free pairs, 100k live"
cfg "untraced" "$dir/cloop" "$N"
cfg "tracer all, 8 native frames" "$CT" trace -- "$dir/cloop" "$N"
cfg "tracer --sample 512KiB" "$CT" trace --sample 512KiB -- "$dir/cloop" "$N"
cfg "tracer all, 1 native frame" "$CT" trace --native-frames 1 -- "$dir/cloop" "$N"
command -v heaptrack >/dev/null && cfg "heaptrack" heaptrack -o "$dir/heaptrack.out" "$dir/cloop" "$N"
[[ ${BENCH_MASSIF:-0} == 1 ]] && command -v valgrind >/dev/null &&
	cfg "valgrind massif" valgrind -q --tool=massif "$dir/cloop" "$N"
run_set
# The live table alone, the largest part of the C loop's overhead (built by
# `make bench`; skipped when it was not).
[[ -x $top_builddir/bench/tracer_table ]] && "$top_builddir/bench/tracer_table"
# Memory: peak RSS traced minus untraced at two live counts (the program
# prints how many blocks it holds).  The slope is the cost per live
# allocation (the live table); the rest is fixed (site table, frame pool,
# libunwind's caches, the root).
rss_of() { # CMD... -> "peak_kib held"
	(cd "$dir" && /usr/bin/time -f '%M' -o "$dir/m" "$@" >"$dir/held" 2>/dev/null) || { echo "0 0"; return; }
	echo "$(cat "$dir/m") $(cat "$dir/held")"
}
{
	read -r p1 h1 < <(rss_of "$dir/cloop" 4000000 100000)
	read -r t1 _ < <(rss_of "$CT" trace -- "$dir/cloop" 4000000 100000)
	read -r p2 h2 < <(rss_of "$dir/cloop" 4000000 400000)
	read -r t2 _ < <(rss_of "$CT" trace -- "$dir/cloop" 4000000 400000)
	awk -v p1="$p1" -v t1="$t1" -v h1="$h1" -v p2="$p2" -v t2="$t2" -v h2="$h2" 'BEGIN {
		if (h2 <= h1) { print "  tracer memory: not measured"; exit }
		per = ((t2 - p2) - (t1 - p1)) * 1024 / (h2 - h1)
		printf "  tracer memory: %.1f bytes per live allocation (RSS growth from %d to %d live), fixed %.1f MiB (site table, unwinder caches, root)\n",
			per, h1, h2, ((t1 - p1) * 1024 - per * h1) / 1048576 }'
}

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
		cfg "untraced" "$py" "$script" "$2"
		cfg "tracer all (32 py, 8 native)" "$CT" trace -- "$py" "$script" "$2"
		cfg "tracer --sample 512KiB" "$CT" trace --sample 512KiB -- "$py" "$script" "$2"
		cfg "tracemalloc, 1 frame" "$py" -X tracemalloc=1 "$script" "$2"
		cfg "tracemalloc, 25 frames" "$py" -X tracemalloc=25 "$script" "$2"
		command -v heaptrack >/dev/null &&
			cfg "heaptrack (no pymalloc)" heaptrack -o "$dir/heaptrack.out" "$py" "$script" "$2"
		# memray, where it is installed for this interpreter (pip install
		# memray): tracing Python's allocators too, as the issue's figures
		if "$py" -c 'import memray' 2>/dev/null; then
			cfg "memray --trace-python-allocators" "$py" -m memray run --force \
				--trace-python-allocators -o "$dir/memray.bin" "$script" "$2"
		else
			echo "  (memray not installed for $py: not compared)"
		fi
		run_set
	done
	# Memory in a Python program: the same slope, over pymalloc blocks
	# (blocks of up to 128 bytes have their entries in the shadows of
	# pymalloc's arenas, larger ones in the table), fitted by least
	# squares over six sizes: the table grows in steps of a quarter, so a
	# slope from two sizes moves with where each falls in a step
	{
		pm="$top_srcdir/bench/tracer_pymem.py"
		for items in 100000 200000 300000 400000 500000 600000; do
			read -r p h < <(rss_of "$py" "$pm" "$items")
			read -r t _ < <(rss_of "$CT" trace -- "$py" "$pm" "$items")
			echo "$h $((t - p))"
		done | awk '{ n++; x += $1; y += $2; xx += $1 * $1; xy += $1 * $2 }
		END {
			d = n * xx - x * x
			if (n < 2 || d <= 0) { print "  tracer memory (Python): not measured"; exit }
			printf "  tracer memory (Python: per item a 64-byte object and a bytes of 33..432 bytes): %.1f bytes per live allocation (least squares over 200k..1.2M blocks)\n",
				(n * xy - x * y) / d * 1024 }'
	}
done
