#!/usr/bin/env bash
# pymalloc_fileless.sh: the pymalloc walker and the type namer on cores
# whose interpreter file is nowhere to be found (a core from a container or
# another machine): every CPython on the machine is run from a copy (its
# libpython too when it has one) that is deleted before the core is read.
# The module is known by its name (python3.X, libpython3.X), the version by
# the name too, the pools by the symbol-free scan, &PyType_Type by its shape
# (its own type), heap types by their names in the heap, and the builtin
# types whose names the core left out (read-only data) by the family their
# flags mark (int, list, tuple, bytes, str, dict, type): exact against
# sys._debugmallocstats() and the script's own instance counts, in
# walk_pymalloc and in coretool's JSON.  Other static types are named by
# address and size ("<C type at 0x..., 24 bytes>").
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/integration/pymalloc_lib.sh"

mapfile -t pythons < <(pm_pythons)
((${#pythons[@]})) || skip "no CPython found (apt-get install python3.11; pyenv builds optional)"
for entry in "${pythons[@]}"; do
	read -r label py <<<"$entry"
	dir="$hw_tmp/$label"
	mkdir -p "$dir/bin"
	real=$(readlink -f "$py")
	cp "$real" "$dir/bin/"
	libpy=$(ldd "$real" | awk '/libpython3/ {print $3}')
	[[ -n $libpy ]] && cp "$libpy" "$dir/bin/"
	core=$(hw_dump_core "$dir" env LD_LIBRARY_PATH="$dir/bin" "$dir/bin/$(basename "$real")" "$POPULATION" core) ||
		fail "$label: no core written (core_pattern $(cat /proc/sys/kernel/core_pattern))"
	rm -r "$dir/bin"
	"$CORETOOL" info "$core" | grep -q "$label/bin/.*: mapped file not found" ||
		fail "$label: the interpreter's file was found somewhere"
	"$WALK" --types --glibc "$core" >"$dir/walk" 2>"$dir/walk.err" ||
		fail "$label: walk_pymalloc failed: $(cat "$dir/walk.err")"
	grep -q '^symbols heuristic' "$dir/walk" || fail "$label: not found by the heuristics"
	pm_coretool_view "$core" "$dir/coretool" ||
		fail "$label: coretool summary/top failed: $(cat "$dir/coretool.err")"
	# the script's "atleast float N": float heads no flagged family, and
	# is named "<C type at 0x..., 24 bytes>" here
	grep -v '^atleast float ' "$dir/stdout" >"$dir/expect"
	pm_compare "$label core without its file" "$dir/stderr" "$dir/walk" "$dir/expect"
	pm_compare "$label core without its file, coretool" "$dir/stderr" "$dir/coretool" "$dir/expect"
	for t in int list dict tuple str type; do
		grep -q "^type $t [0-9]" "$dir/coretool" || fail "$label: no builtin type $t named"
	done
	rm -f "$core"
done
