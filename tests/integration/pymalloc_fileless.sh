#!/usr/bin/env bash
# pymalloc_fileless.sh: the pymalloc walker and the type namer on cores
# whose interpreter file is nowhere to be found (a core from a container or
# another machine): every CPython on the machine is run from a copy (its
# libpython too when it has one) that is deleted before the core is read.
# The module is known by its name (python3.X, libpython3.X), the version by
# the name too, the pools by the symbol-free scan, &PyType_Type by its shape
# (its own type), heap types by their names in the heap, and the builtin
# types whose names the core left out (read-only data) by the family their
# flags mark (int, list, tuple, bytes, str, dict, type), the others by the
# interpreter's own dicts (builtins' "float" -> &PyFloat_Type, the types
# module's FunctionType...): exact against sys._debugmallocstats() and the
# script's own instance counts (its classes, and at least its floats,
# tuples, dicts and bytes), in walk_pymalloc and in coretool's JSON.  What
# no dict names is "<C type at 0x..., N bytes>".
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
	# the same core read with the file still there: the names to agree with
	"$CORETOOL" top --group-by type --format json --limit 0 "$core" >"$dir/withfile.json" ||
		fail "$label: coretool top with the file"
	rm -r "$dir/bin"
	"$CORETOOL" info "$core" | grep -q "$label/bin/.*: mapped file not found" ||
		fail "$label: the interpreter's file was found somewhere"
	"$WALK" --types --glibc "$core" >"$dir/walk" 2>"$dir/walk.err" ||
		fail "$label: walk_pymalloc failed: $(cat "$dir/walk.err")"
	grep -q '^symbols heuristic' "$dir/walk" || fail "$label: not found by the heuristics"
	pm_coretool_view "$core" "$dir/coretool" ||
		fail "$label: coretool summary/top failed: $(cat "$dir/coretool.err")"
	pm_compare "$label core without its file" "$dir/stderr" "$dir/walk" "$dir/stdout"
	pm_compare "$label core without its file, coretool" "$dir/stderr" "$dir/coretool" "$dir/stdout"
	# every type named without the file is named so with it, as many times
	python3 - "$dir/withfile.json" "$dir/coretool" <<'PY' || fail "$label: names without the file differ from those with it"
import json, sys
have = {}
for g in json.load(open(sys.argv[1]))["groups"]:
    have[g["key"]] = have.get(g["key"], 0) + g["count"]
bad = 0
for line in open(sys.argv[2]):
    f = line.split()
    if f[0] != "type" or f[1] == "?" or line.startswith("type <C type at"):
        continue
    name, n = " ".join(f[1:-1]), int(f[-1])
    if have.get(name) != n:
        print("%s: %d without the file, %s with it" % (name, n, have.get(name)))
        bad += 1
sys.exit(bad > 0)
PY
	for t in int list dict tuple str type float function set; do
		grep -q "^type $t [0-9]" "$dir/coretool" || fail "$label: no builtin type $t named"
	done
	rm -f "$core"
done
