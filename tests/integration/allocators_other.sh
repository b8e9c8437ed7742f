#!/usr/bin/env bash
# A program whose allocations go through another allocator (jemalloc,
# tcmalloc, mimalloc ...) keeps most of its memory where no walker looks: a
# summary would show a small glibc heap and nothing else.  coretool says so
# once on stderr, by the library's name, and the views on stdout stay as
# they were.  The library here is a stand-in named as jemalloc's is (the
# note goes by the name alone); with no such library, no note.
. "$top_srcdir/tests/lib.sh"
cc=${CC:-cc}
cd "$hw_tmp" || hard_error "no scratch directory"
printf '%s\n' 'int je_stand_in;' >je.c
printf '%s\n' '#include <stdlib.h>' 'extern int je_stand_in;' \
	'int main(void) { je_stand_in = 1; free(malloc(100)); abort(); }' >main.c
$cc -shared -fPIC -o libjemalloc.so.2 je.c &&
	$cc -o prog main.c -L. -l:libjemalloc.so.2 -Wl,-rpath,"$PWD" &&
	$cc -o plain -x c - <<<'#include <stdlib.h>
int main(void) { free(malloc(100)); abort(); }' || hard_error "cannot build the programs"

mkdir je plain.d
core=$(hw_dump_core je "$PWD/prog") ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
"$CORETOOL" summary --format json "$core" >je/out 2>je/err || fail "summary: $(cat je/err)"
cat je/err
grep -q "^coretool: .*: note: libjemalloc.so.2 is loaded: what the program allocates through it is not walked" je/err ||
	fail "no note of jemalloc: '$(cat je/err)'"
[[ $(grep -c . je/err) == 1 ]] || fail "the note more than once"
"$HW_PY" -c 'import json, sys; json.load(open(sys.argv[1]))' je/out || fail "stdout is no longer the JSON alone"

core=$(hw_dump_core plain.d "$PWD/plain") || fail "no core of the plain program"
"$CORETOOL" summary "$core" >plain.d/out 2>plain.d/err || fail "summary: $(cat plain.d/err)"
[[ ! -s plain.d/err ]] || fail "a note without another allocator: $(cat plain.d/err)"
echo ok
