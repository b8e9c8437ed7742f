#!/usr/bin/env bash
# bench/tracer_instr.sh: the tracer's overhead in instructions executed
# (valgrind's callgrind), untraced against `all` and `--sample 512KiB`, on
# the workloads of bench/tracer.sh at smaller sizes.  Instruction counts
# are deterministic (PYTHONHASHSEED=0: dict layouts, and so the Python
# memo's collisions, otherwise vary by ~0.5%), so an A/B of a tracer
# change reads here in one run, where bench/tracer.sh's CPU times move by
# 20-40% between runs of a shared machine.  They are not the goal's
# measure (time is: a cache miss costs more than a hundred instructions),
# only a steady proxy for the work the tracer adds.  Takes a few minutes.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
command -v valgrind >/dev/null || { echo "tracer_instr: valgrind not installed, skipped"; exit 0; }
LIB="$top_builddir/tracer/.libs/libheapwalk-trace.so"
[[ -f $LIB ]] || { echo "tracer_instr: $LIB not built"; exit 1; }
PYPATH="$top_srcdir/tracer/python"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cc -O2 -g -o "$dir/cloop" "$top_srcdir/bench/tracer_cloop.c" || exit 1
export PYTHONHASHSEED=0
# the sampler's seed fixed too: the same samples in every run (each costs
# thousands of instructions, and their number would move the count)
export HEAPWALK_TRACE_SEED=1

instr() { # CMD... -> instructions of the command (children included)
	valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$dir/cg.%p" "$@" \
		>/dev/null 2>"$dir/log" || { echo 0; return; }
	# the last process's total (env execs the program: one process)
	awk '/Collected :|I   refs:/ { v = $NF } END { gsub(",", "", v); print v + 0 }' "$dir/log"
	rm -f "$dir"/cg.*
}

row() { # LABEL CMD...
	local label=$1 base t a s
	shift
	base=$(instr "$@")
	a=$(instr env LD_PRELOAD="$LIB" PYTHONPATH="$PYPATH" "$@")
	s=$(instr env LD_PRELOAD="$LIB" PYTHONPATH="$PYPATH" HEAPWALK_TRACE_SAMPLE=524288 "$@")
	awk -v l="$label" -v b="$base" -v a="$a" -v s="$s" 'BEGIN {
		if (b <= 0) { printf "  %-34s failed\n", l; exit }
		printf "  %-34s untraced %7.1f M   all %7.1f M (%.3fx)   sampled %7.1f M (%.3fx)\n",
			l, b / 1e6, a / 1e6, a / b, s / 1e6, s / b }'
}

echo "tracer overhead in instructions (callgrind; PYTHONHASHSEED=0, HEAPWALK_TRACE_SEED=1)"
row "C loop, 1M pairs, 100k live" "$dir/cloop" 1000000
pythons=()
[[ -x /usr/bin/python3.11 ]] && pythons+=(/usr/bin/python3.11)
p312=$(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -V | tail -n 1)
[[ -n $p312 ]] && pythons+=("$p312")
for py in "${pythons[@]}"; do
	v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	row "Python $v churn 30000" "$py" "$top_srcdir/bench/tracer_churn.py" 30000
	row "Python $v json, 3 rounds" "$py" "$top_srcdir/bench/tracer_json.py" 3
done
