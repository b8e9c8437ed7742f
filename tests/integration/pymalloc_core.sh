#!/usr/bin/env bash
# pymalloc_core.sh: the pymalloc walker on kernel cores of every CPython on
# the machine (hw_pythons, and pyenv 3.6/3.7 when present), against
# sys._debugmallocstats() printed just before os.abort(), and the type namer
# against the script's own instance counts; then the same summary found
# without symbols (walk_pymalloc --heuristic: the pool scan) on every one,
# and the same numbers through `coretool summary` and `coretool top
# --group-by type` in JSON.
# A missing interpreter is a visible SKIP line; no CPython at all is a SKIP
# of the test.
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/integration/pymalloc_lib.sh"

mapfile -t pythons < <(pm_pythons)
((${#pythons[@]})) || skip "no CPython found (apt-get install python3.11; pyenv builds optional)"
for v in 3.8 3.9 3.10 3.11 3.12 3.13; do
	printf '%s\n' "${pythons[@]}" | grep -q "^pyenv-$v " || echo "SKIP: pyenv CPython $v not installed"
done

for entry in "${pythons[@]}"; do
	read -r label py <<<"$entry"
	dir="$hw_tmp/$label"
	mkdir -p "$dir"
	core=$(hw_dump_core "$dir" "$py" "$POPULATION" core) ||
		fail "$label: no core written (core_pattern $(cat /proc/sys/kernel/core_pattern))"
	"$WALK" --types --glibc "$core" >"$dir/walk" 2>"$dir/walk.err" ||
		fail "$label: walk_pymalloc failed: $(cat "$dir/walk.err")"
	pm_compare "$label core" "$dir/stderr" "$dir/walk" "$dir/stdout"
	pm_coretool_view "$core" "$dir/coretool" ||
		fail "$label: coretool summary/top failed: $(cat "$dir/coretool.err")"
	pm_compare "$label core, coretool summary and top" "$dir/stderr" "$dir/coretool" "$dir/stdout"
	"$WALK" --heuristic "$core" >"$dir/walk.h" 2>"$dir/walk.err" ||
		fail "$label: walk_pymalloc --heuristic failed: $(cat "$dir/walk.err")"
	grep -q '^symbols heuristic' "$dir/walk.h" || fail "$label: --heuristic did not use the heuristic"
	pm_compare_summary "$label core, heuristic" "$dir/stderr" "$dir/walk.h"
	rm -f "$core"
done

# A string hash seed under which a method lookup after the oracle (the
# script's os.abort() once) freed a block the oracle had counted (the type
# attribute cache let go of a temporary name): pyenv's 3.7 failed with it
# every time; the script now calls nothing it has to look up after the
# oracle (pymalloc_population.py).
printf '%s\n' "${pythons[@]}" | grep -q '^pyenv-3.7 ' ||
	echo "SKIP: pyenv CPython 3.7 not installed (the PYTHONHASHSEED=34 case)"
for entry in "${pythons[@]}"; do
	read -r label py <<<"$entry"
	[[ $label == pyenv-3.7 ]] || continue
	dir="$hw_tmp/$label-seed34"
	mkdir -p "$dir"
	core=$(PYTHONHASHSEED=34 hw_dump_core "$dir" "$py" "$POPULATION" core) ||
		fail "$label seed 34: no core written"
	"$WALK" "$core" >"$dir/walk" 2>"$dir/walk.err" ||
		fail "$label seed 34: walk_pymalloc failed: $(cat "$dir/walk.err")"
	pm_compare_summary "$label core, PYTHONHASHSEED=34" "$dir/stderr" "$dir/walk"
done
