#!/usr/bin/env bash
# glibc linked into the executable (-static, -static-pie), where the target
# has no libc.so: main_arena, mp_ and the tcache TLS variable are the
# executable's own (its .symtab, or stripped: main_arena's self-pointer in
# .data or its RELATIVE relocation, mp_'s initializer, the words of the
# executable's TLS block), the version from __nptl_version or .rodata.
# tests/programs/glibc_heap is built here, statically, with the system's
# compiler (the sanitizer build cannot link statically); each of the four
# executables against its own ground truth (mallinfo2() and its pointer
# lists) on its kernel core, and the plain static one live, gcore'd and
# under coretool trace (which warns that its tracer cannot be preloaded).
. "$top_srcdir/tests/lib.sh"
src="$top_srcdir/tests/programs/glibc_heap.c"
cc=${CC:-cc}
version=$(getconf GNU_LIBC_VERSION | sed 's/^glibc //')
cd "$hw_tmp" || fail "no tmp"
$cc -O0 -fno-builtin -static -pthread -o heap-static "$src" 2>cc.err ||
	skip "cannot link statically ($(head -c 200 cc.err); apt-get install libc6-dev)"
$cc -O0 -fno-builtin -static-pie -pthread -o heap-static-pie "$src" 2>cc.err ||
	fail "-static-pie: $(head -c 300 cc.err)"
strip -o heap-static-stripped heap-static && strip -o heap-static-pie-stripped heap-static-pie ||
	fail "strip"

check() { # check LABEL SYMBOLS TRUTH WALK-ARGS...
	local label=$1 sym=$2 truth=$3
	shift 3
	hw_walk_truth "$label" "$label.out" "$sym" "$truth" "$@"
	grep -q "^glibc $version symbols $sym " "$label.out" || { cat "$label.out"; fail "$label: not glibc $version"; }
	grep -q '^chunks [0-9]* problems 0$' "$label.out" || { cat "$label.out"; fail "$label: problems (a tcache not found?)"; }
	grep -E '^(glibc|truth|mallinfo2)' "$label.out" | sed "s/^/$label: /"
}

for exe in heap-static heap-static-pie heap-static-stripped heap-static-pie-stripped; do
	mkdir "d-$exe"
	core=$(hw_dump_core "d-$exe" "$PWD/$exe" "$PWD/d-$exe/truth" core) ||
		skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
	sym=symtab
	[[ $exe == *stripped ]] && sym=heuristic
	check "$exe" $sym "d-$exe/truth" "$core"
	# no debug directory changes nothing: the executable carries it all
	check "$exe-nodebug" $sym "d-$exe/truth" --nodebug "$core"
done

# the executable gone (a core from a container or another machine): glibc
# found by its shape in the executable's data, the version a range
for exe in heap-static heap-static-pie; do
	cp "$exe" "gone-$exe"
	mkdir "d-gone-$exe"
	core=$(hw_dump_core "d-gone-$exe" "$PWD/gone-$exe" "$PWD/d-gone-$exe/truth" core) ||
		fail "no core of gone-$exe"
	rm "gone-$exe"
	hw_walk_truth "gone-$exe" "gone-$exe.out" heuristic "d-gone-$exe/truth" "$core"
	grep -q '^chunks [0-9]* problems 0$' "gone-$exe.out" || { cat "gone-$exe.out"; fail "gone-$exe: problems"; }
	grep -E '^(glibc|truth)' "gone-$exe.out" | sed "s/^/gone-$exe: /"
done

# coretool says which glibc it found, and check finds the heap sound
"$CORETOOL" summary --format json d-heap-static-stripped/core* >summary.json || fail "summary: exit $?"
"$HW_PY" -c 'import json,sys; g=json.load(open("summary.json"))["glibc"]; assert g["version"]==sys.argv[1] and g["symbols"]=="heuristic", g' "$version" ||
	fail "summary of the stripped static core"
"$CORETOOL" check d-heap-static/core* >check.out || { cat check.out; fail "check: exit $?"; }

# coretool trace says that its tracer cannot reach a static program (and
# only then), and the program runs as it would
mkdir d-trace
hw_dump_core d-trace "$CORETOOL" trace -- "$PWD/heap-static" "$PWD/d-trace/truth" core >/dev/null ||
	fail "no core of the static program under coretool trace"
grep -q '^coretool: trace: .*heap-static is statically linked: the tracer cannot be preloaded' d-trace/stderr ||
	fail "coretool trace said nothing of a static program: $(cat d-trace/stderr)"
check traced symtab d-trace/truth d-trace/core*
err=$("$CORETOOL" trace -- true 2>&1) || fail "coretool trace -- true: exit $?"
[[ -z $err ]] || fail "coretool trace -- true (dynamic) printed: $err"

# live (ptrace-stopped, /proc/PID/mem) and gcore'd
"$PWD/heap-static" "$PWD/live.truth" pause &
pid=$!
hw_wait_file live.truth || fail "the static program wrote no truth"
check live symtab live.truth --pid "$pid"
if command -v gdb >/dev/null && hw_gcore "$pid" "$PWD/g.core"; then
	check gcore symtab live.truth "$PWD/g.core"
else
	echo "gdb/gcore not available: the gcore'd core was not checked"
fi
kill -9 "$pid"

# A static program with no libc at all (another allocator's place: musl's,
# a runtime's own): check says no heap was walked, not "heap OK".
cat >nolibc.c <<'EOF'
void _start(void)
{
	/* kill(getpid(), SIGABRT) */
	__asm__ volatile("mov $39, %%eax\n\tsyscall\n\tmov %%eax, %%edi\n\tmov $6, %%esi\n\t"
	                 "mov $62, %%eax\n\tsyscall"
	                 :
	                 :
	                 : "rax", "rdi", "rsi", "rcx", "r11", "memory");
	for (;;)
		;
}
EOF
if [[ $(uname -m) == x86_64 ]] && $cc -O0 -nostdlib -static -o nolibc nolibc.c 2>cc.err; then
	mkdir nolibc.d
	core=$(hw_dump_core nolibc.d "$PWD/nolibc") || fail "no core of the libc-less program"
	"$CORETOOL" check "$core" >nolibc.out 2>&1 || { cat nolibc.out; fail "check of a libc-less core"; }
	grep -q "^no heap walked: neither glibc malloc nor CPython's pymalloc" nolibc.out ||
		{ cat nolibc.out; fail "check of a libc-less core: not 'no heap walked'"; }
	echo "libc-less: $(tail -n 1 nolibc.out)"
else
	echo "SKIP: no x86-64 -nostdlib build here: the libc-less check not run"
fi

# A musl program (an Alpine container's kind): musl's libc.so is mapped, but
# it is not glibc: no glibc-not-located problem (which would fail every
# check of such a core), glibc not found, no heap walked.
if command -v musl-gcc >/dev/null; then
	printf '%s\n' '#include <stdlib.h>' \
		'int main(void) { for (int i = 0; i < 100; i++) free(i % 2 ? malloc(100) : 0); abort(); }' >musl.c
	musl-gcc -o musl musl.c || fail "musl-gcc"
	mkdir musl.d
	core=$(hw_dump_core musl.d "$PWD/musl") || fail "no core of the musl program"
	"$CORETOOL" check "$core" >musl.out 2>&1 || { cat musl.out; fail "check of a musl core: exit $?"; }
	grep -q "^no heap walked" musl.out || { cat musl.out; fail "check of a musl core"; }
	"$CORETOOL" summary "$core" >musl.summary 2>&1
	grep -q '^glibc: not found' musl.summary || { cat musl.summary; fail "summary of a musl core"; }
	echo "musl: $(grep -c . musl.out) lines of check, glibc not found"
else
	echo "SKIP: no musl-gcc (apt-get install musl-tools): the musl check not run"
fi
echo ok
