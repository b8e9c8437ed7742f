#!/usr/bin/env bash
# pymalloc_cxx.sh: the typer names C++ objects from their vtable pointer
# (the `_ZTV` symbol it points into, demangled), on a kernel core of
# tests/programs/cxx_vtables.cc.  Oracle: the program's own list of the
# objects it keeps and their classes; `coretool top --group-by type` and
# the type histogram of every used glibc chunk must count each exactly.
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

# coretool top --group-by type (the contract's surface) counts each class.
"$CORETOOL" top --group-by type --format json --limit 0 "$core" >"$hw_tmp/top.json" 2>"$hw_tmp/err" ||
	fail "coretool top --group-by type failed: $(cat "$hw_tmp/err")"
python3 - "$hw_tmp/top.json" "$hw_tmp/stdout" <<'PY' || fail "coretool top --group-by type miscounts C++ classes"
import json, sys
got = {g["key"]: g["count"] for g in json.load(open(sys.argv[1]))["groups"]}
bad = 0
for line in open(sys.argv[2]):
    f = line.split()
    if f and f[0] == "expect" and got.get(f[1], 0) != int(f[2]):
        print("class %s: coretool counts %s, the program made %s" % (f[1], got.get(f[1], 0), f[2]))
        bad = 1
sys.exit(bad)
PY
echo "ok: coretool top --group-by type counts every class"

"$WALK" --types --glibc "$core" >"$hw_tmp/types" 2>"$hw_tmp/err" ||
	fail "walk_pymalloc --types --glibc: $(head -c 300 "$hw_tmp/err")"
grep -q '^glibc walked' "$hw_tmp/types" || fail "the glibc walk failed: $(grep '^glibc' "$hw_tmp/types")"
while read -r _ name n; do
	c=$(awk -v n="$name" '$1 == "type" && $2 == n { s += $3 } END { print s + 0 }' "$hw_tmp/types")
	[[ $c == "$n" ]] || fail "glibc walk: $c chunks of class $name, the program made $n"
done < <(grep '^expect ' "$hw_tmp/stdout")
echo "ok: per-class counts over the glibc walk"
