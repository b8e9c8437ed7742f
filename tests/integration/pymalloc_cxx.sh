#!/usr/bin/env bash
# pymalloc_cxx.sh: the typer names C++ objects from their vtable pointer
# (the `_ZTV` symbol it points into, demangled), on a kernel core of
# tests/programs/cxx_vtables.cc.  Oracle: the program's own list of the
# objects it keeps and their classes.  When the glibc walker is available,
# the type histogram of every used chunk must count each class exactly.
source "$top_srcdir/tests/lib.sh"
WALK="$PROGS/walk_pymalloc"
CXX=${CXX:-g++}
command -v "$CXX" >/dev/null || skip "no C++ compiler ($CXX; apt-get install g++)"

"$CXX" -O0 -g -o "$hw_tmp/cxx_vtables" "$top_srcdir/tests/programs/cxx_vtables.cc" ||
	hard_error "cannot build cxx_vtables.cc"
core=$(hw_dump_core "$hw_tmp" "$hw_tmp/cxx_vtables") || fail "no core written"

awk '$1 == "obj" { print $2, $3 }' "$hw_tmp/stdout" >"$hw_tmp/list"
[[ -s $hw_tmp/list ]] || fail "the program listed no objects"
"$WALK" --name "$hw_tmp/list" "$core" >"$hw_tmp/names" 2>"$hw_tmp/err" ||
	fail "walk_pymalloc --name failed: $(cat "$hw_tmp/err")"
# walk_pymalloc prints addresses as 0x%lx, the program as %p: same form.
diff <(awk '$1 == "obj" { print "name", $2, $4 }' "$hw_tmp/stdout") \
	<(grep '^name ' "$hw_tmp/names") >"$hw_tmp/diff" || {
	head -10 "$hw_tmp/diff"
	fail "C++ class names differ from the program's own list (< truth, > typer)"
}
echo "ok: $(wc -l <"$hw_tmp/list") objects named from their vtables"

"$WALK" --types --glibc "$core" >"$hw_tmp/types" 2>"$hw_tmp/err" || true
if grep -q '^glibc walked' "$hw_tmp/types"; then
	while read -r _ name n; do
		c=$(awk -v n="$name" '$1 == "type" && $2 == n { s += $3 } END { print s + 0 }' "$hw_tmp/types")
		[[ $c == "$n" ]] || fail "glibc walk: $c chunks of class $name, the program made $n"
	done < <(grep '^expect ' "$hw_tmp/stdout")
	echo "ok: per-class counts over the glibc walk"
else
	echo "SKIP: per-class counts over a glibc walk (glibc walker unavailable: $(grep '^glibc' "$hw_tmp/types"))"
fi
