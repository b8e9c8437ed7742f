#!/usr/bin/env bash
# A free-threaded CPython (python3.13t, 3.14t: Py_GIL_DISABLED, mimalloc in
# place of pymalloc's pools, other object, frame and interpreter layouts) is
# refused as such, never walked as pymalloc: by _Py_DebugOffsets'
# free_threaded flag at the start of _PyRuntime (3.13+), and by its module's
# name ("3.14t") when the file is gone.  No free-threaded CPython is at hand
# (Debian ships none, the pyenv builds are default ones), so a stand-in
# library (tests/programs/py_standin.c) exports what the detection reads;
# with the flag clear it is not refused as free-threaded.  The tracer
# likewise sets no PyMem hook and reads no frame in a free-threaded
# interpreter (followed as the default build's, its frames would be garbage
# in the traced program): the stand-in's program calls the tracer's install
# under `coretool trace`.
. "$top_srcdir/tests/lib.sh"
cc=${CC:-cc}
src=$top_srcdir/tests/programs/py_standin.c
cd "$hw_tmp" || hard_error "no scratch directory"

stand_in() { # stand_in NAME FREE_THREADED: lib NAME and a program linked to it, in ./NAME.d
	mkdir -p "$1.d"
	$cc -shared -fPIC -DFT="$2" -o "$1.d/$1" "$src" &&
		$cc -DMAIN -o "$1.d/prog" "$src" -L"$1.d" -l:"$1" -Wl,-rpath,"$PWD/$1.d" -ldl ||
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

# the tracer's install: -4 and no hook where free-threaded, else both
# domains' hooks set
for ft in 1 0; do
	mkdir "trace$ft" && cd "trace$ft" || hard_error "no directory"
	stand_in libpython3.14.so.1.0 "$ft"
	got=$("$CORETOOL" trace -- libpython3.14.so.1.0.d/prog 2>&1)
	echo "tracer, free_threaded $ft: $got"
	if ((ft)); then want="install -4 set 0"; else want="install 0 set 2"; fi
	[[ $got == "$want" ]] || fail "the tracer's install with free_threaded $ft: '$got', not '$want'"
	cd "$hw_tmp" || hard_error "no scratch directory"
done
exit 0
