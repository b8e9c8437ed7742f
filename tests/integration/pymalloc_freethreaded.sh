#!/usr/bin/env bash
# A free-threaded CPython (python3.13t, 3.14t: Py_GIL_DISABLED, mimalloc in
# place of pymalloc's pools, other object and interpreter layouts) is refused
# by name, never walked as pymalloc: by _Py_DebugOffsets.free_threaded at the
# start of _PyRuntime (3.13+), and by its module's name ("3.14t") when the
# file is gone.  No free-threaded CPython is at hand (Debian ships none, the
# pyenv builds are the default ones), so a stand-in library exports what
# the detection reads: PyType_Type, Py_Version, _PyRuntime with the cookie,
# the version and the flag; the same with the flag clear is not refused as
# free-threaded.
. "$top_srcdir/tests/lib.sh"
cc=${CC:-cc}
cd "$hw_tmp" || hard_error "no scratch directory"

stand_in() { # stand_in NAME FREE_THREADED: lib NAME and a program linked to it, in ./NAME.d
	mkdir -p "$1.d"
	cat >"$1.d/lib.c" <<EOF
#include <stdint.h>
struct { char cookie[8]; uint64_t version, free_threaded; char rest[4096]; } _PyRuntime = {
    "xdebugpy", 0x030e00f0, $2, {0}};
const unsigned long Py_Version = 0x030e00f0;
struct { uint64_t w[64]; } PyType_Type = {{1, (uint64_t)&PyType_Type}};
EOF
	cat >"$1.d/main.c" <<'EOF'
#include <stdlib.h>
extern const unsigned long Py_Version;
int main(void)
{
	volatile unsigned long v = Py_Version;
	(void)v;
	abort();
}
EOF
	$cc -shared -fPIC -o "$1.d/$1" "$1.d/lib.c" &&
		$cc -o "$1.d/prog" "$1.d/main.c" -L"$1.d" -l:"$1" -Wl,-rpath,"$PWD/$1.d" ||
		hard_error "cannot build the stand-in $1"
}

summary() { # summary DIR [rm FILE]: coretool summary of DIR's core (FILE removed after the dump)
	local core
	core=$(hw_dump_core "$1" ./prog) ||
		skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
	[[ ${2:-} == rm ]] && rm "$3"
	"$CORETOOL" summary "$core" >"$1/summary" 2>&1
	grep '^pymalloc' "$1/summary"
}

# the flag alone (a name without the t)
mkdir flag && cd flag || hard_error "no directory"
stand_in libpython3.14.so.1.0 1
summary libpython3.14.so.1.0.d
grep -q '^pymalloc: not walked (.*CPython 3.14 is a free-threaded build' libpython3.14.so.1.0.d/summary ||
	fail "free-threaded by _Py_DebugOffsets: not refused as such"
cd "$hw_tmp" || hard_error "no scratch directory"

# the file gone: by the module's name alone
stand_in libpython3.14t.so.1.0 1
summary libpython3.14t.so.1.0.d rm libpython3.14t.so.1.0.d/libpython3.14t.so.1.0
grep -q '^pymalloc: not walked (.*free-threaded build' libpython3.14t.so.1.0.d/summary ||
	fail "free-threaded, the file gone: not refused by the module's name"

# the default build: not refused as free-threaded
stand_in libpython3.14.so.1.0 0
summary libpython3.14.so.1.0.d
grep -q 'free-threaded' libpython3.14.so.1.0.d/summary && fail "the default build taken as free-threaded"
exit 0
