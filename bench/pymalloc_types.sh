#!/usr/bin/env bash
# pymalloc_types.sh: naming every object of a CPython heap of 5 million
# live objects (BENCH_OBJECTS), from a kernel core: the pymalloc walk with
# the typer (tests/programs/walk_pymalloc --types, pymalloc blocks then
# glibc chunks), `coretool top --group-by type` when that verb works, and
# chap's `summarize used` when chap is installed.  Prints seconds and
# ratios; asserts nothing (ORACLES: no timed assertions).  Wall time is the
# best of 3 and says as much about the neighbours on a shared machine as
# about heapwalk: `coretool top` also gets its CPU time (user + sys, median
# of 5) and its peak anonymous memory (bench/walk --child), with the load.
set -eu
: "${top_builddir:?}" "${top_srcdir:?}"
n=${BENCH_OBJECTS:-5000000}
py=${BENCH_PYTHON:-}
if [[ -z $py ]]; then
	root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
	py=$(ls -d "$root"/versions/3.11.*/bin/python3.11 2>/dev/null | sort -V | tail -n 1)
	[[ -n $py ]] || py=/usr/bin/python3.11
fi
[[ -x $py ]] || { echo "pymalloc_types: no CPython ($py)"; exit 0; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/heap.py" <<PY
import os, sys
class Node:
    __slots__ = ("v", "nxt")
    def __init__(self, v): self.v = v; self.nxt = None
class Rec:
    def __init__(self, v): self.v = v
n = $n
keep = [Node(i) for i in range(n * 2 // 5)]
keep += [Rec(i) for i in range(n // 5)]
keep += [(i, i) for i in range(n // 5)]
keep += [float(i) for i in range(n // 5)]
os.abort()
PY
# (the braces keep bash's "Aborted (core dumped)" notice off the output)
{ (cd "$dir" && ulimit -c unlimited && "$py" heap.py) >/dev/null 2>&1 || true; } 2>/dev/null
core=$(ls "$dir"/core* 2>/dev/null | head -n 1)
[[ -n $core ]] || { echo "pymalloc_types: no core written (core_pattern?)"; exit 0; }
echo "pymalloc_types: $("$py" -V) heap of $n objects, core $(du -m "$core" | cut -f1) MiB"

secs() { # command...: best of 3 wall-clock seconds
	local best=
	for _ in 1 2 3; do
		local t0 t1
		t0=$(date +%s.%N)
		"$@" >/dev/null 2>&1 || return 1
		t1=$(date +%s.%N)
		best=$(echo "$t0 $t1 ${best:-1e9}" | awk '{ d = $2 - $1; print (d < $3 ? d : $3) }')
	done
	echo "$best"
}
walk=$top_builddir/tests/programs/walk_pymalloc
t_sum=$(secs "$walk" "$core") || t_sum=fail
t_py=$(secs "$walk" --types "$core") || t_py=fail
t_all=$(secs "$walk" --types --glibc "$core") || t_all=fail
echo "walk, summary only:                       $t_sum s"
echo "walk + type of every pymalloc block:      $t_py s"
echo "walk + type of every block and chunk:     $t_all s"
"$walk" --types --glibc "$core" | awk '$1 == "type" && $3 > 100000 { print "   ", $2, $3 }'
t_top=$(secs "$top_builddir/coretool/coretool" top --group-by type "$core") || t_top=
[[ -n $t_top ]] && echo "coretool top --group-by type:             $t_top s (wall, best of 3; load:$(uptime | sed 's/.*load average://'))" ||
	echo "coretool top --group-by type: not available"
[[ -n $t_top ]] && "$top_builddir/bench/walk" --child 5 "$n" objects \
	"$top_builddir/coretool/coretool" top --group-by type "$core"
if command -v chap >/dev/null; then
	t0=$(date +%s.%N)
	echo "summarize used" | chap "$core" >/dev/null 2>&1 || true
	t1=$(date +%s.%N)
	t_chap=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')
	echo "chap summarize used:                      $t_chap s"
	[[ $t_all != fail ]] && echo "ratio heapwalk/chap: $(echo "$t_all $t_chap" | awk '{ printf "%.3f", $1 / $2 }')"
else
	echo "chap: not installed (no ratio)"
fi
