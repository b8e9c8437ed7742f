#!/usr/bin/env bash
# pymalloc_subinterp.sh: CPython 3.12+ keeps one pymalloc state per
# isolated interpreter (legacy ones share the main state): the walker must
# find every state through the interpreter list, count a shared one once,
# and report the sum of what each isolated interpreter's
# sys._debugmallocstats() printed, on a kernel core; every interpreter's
# instances of its own class are counted.
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/integration/pymalloc_lib.sh"

mapfile -t pythons < <(hw_pythons | grep -E '^[a-z0-9]+-3\.(1[2-9])(-[a-z]+)? ')
((${#pythons[@]})) || skip "no CPython 3.12+ found (pyenv builds, or HW_PYTHONS)"
[[ -n ${HW_PYTHONS:-} ]] || for v in 3.12 3.13; do
	printf '%s\n' "${pythons[@]}" | grep -q "^pyenv-$v " || echo "SKIP: pyenv CPython $v not installed"
done

for entry in "${pythons[@]}"; do
	read -r label py <<<"$entry"
	dir="$hw_tmp/$label"
	mkdir -p "$dir"
	core=$(hw_dump_core "$dir" "$py" "$top_srcdir/tests/programs/pymalloc_subinterp.py") ||
		fail "$label: no core written"
	n=$(grep -c '^# arenas allocated current' "$dir/stderr")
	((n == 3)) || fail "$label: $n _debugmallocstats reports, wanted 3 (2 isolated + main)"
	"$WALK" --types --glibc "$core" >"$dir/walk" 2>"$dir/walk.err" ||
		fail "$label: walk_pymalloc failed: $(cat "$dir/walk.err")"
	pm_compare "$label subinterpreters" "$dir/stderr" "$dir/walk" "$dir/stdout"
	rm -f "$core"
done
