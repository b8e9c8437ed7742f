# tests/lib.sh: sourced by the shell integration tests.
#
# Conventions: exit 0 pass, 1 fail, 77 SKIP (with the reason on stdout, so the
# log and quickstart's summary show it), 99 hard error.
set -u
: "${top_builddir:?run through make check}" "${top_srcdir:?run through make check}"
HW_PY=$(command -v python3 || command -v python3.11)
CORETOOL="$top_builddir/coretool/coretool"
PROGS="$top_builddir/tests/programs"

skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*"
	exit 1
}
hard_error() {
	echo "ERROR: $*"
	exit 99
}

# A scratch directory removed on exit (kept with HW_KEEP=1, for a look at a
# failure).
hw_tmp=$(mktemp -d "${TMPDIR:-/tmp}/heapwalk-test.XXXXXX")
hw_cleanup() {
	local pids
	pids=$(jobs -p 2>/dev/null || true)
	[[ -n $pids ]] && kill -9 $pids 2>/dev/null
	[[ -n ${HW_KEEP:-} ]] || rm -rf "$hw_tmp"
}
trap hw_cleanup EXIT
# stopped by the suite's timeout (Makefile.am, HW_TEST_TIMEOUT): say so,
# and clean up (the EXIT trap runs on exit, not on a signal's default)
trap 'echo "FAIL: stopped by SIGTERM (the suite timeout, HW_TEST_TIMEOUT)"; exit 124' TERM

# heapwalk's layout cache (per libc build-id) starts empty in every test, so
# each one takes the DWARF path once and writes an entry; the warm path has
# its own test (glibc_layout_cache.sh).  Never the user's ~/.cache.
export XDG_CACHE_HOME=$hw_tmp/cache

# hw_dump_core DIR CMD [ARGS...]: run CMD in DIR with an unlimited core size;
# CMD is expected to abort().  Prints the path of the core it left.  Falls
# back to nothing (returns 1) when the kernel wrote no core (core_pattern).
hw_dump_core() {
	local dir=$1
	shift
	(cd "$dir" && ulimit -c unlimited && exec "$@") >"$dir/stdout" 2>"$dir/stderr" || true
	local c
	for c in "$dir"/core "$dir"/core.*; do
		if [[ -f $c ]]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

# hw_unknown_sites CORE: "COUNT BYTES" of the used allocations the
# tracer gave no site (coretool summary's tracer.unknown_site).
hw_unknown_sites() {
	"$CORETOOL" summary --format json "$1" 2>&1 | "$HW_PY" -c '
import json, sys
t = json.load(sys.stdin)["tracer"]
print(t["unknown_site"]["count"], t["unknown_site"]["bytes"])' 2>&1
}

# hw_gcore PID OUT: a core of a running process through gdb's gcore.
hw_gcore() {
	gdb -nx -batch -p "$1" -ex "gcore $2" >/dev/null 2>&1 && [[ -f $2 ]]
}

# hw_wait_file FILE [SECONDS]: wait until FILE exists and is not empty.
hw_wait_file() {
	local f=$1 n=$((${2:-30} * 10))
	while ((n-- > 0)); do
		[[ -s $f ]] && return 0
		sleep 0.1
	done
	return 1
}

# hw_walk_truth LABEL OUT SYMBOLS TRUTH WALK-ARGS...: walk_glibc on a
# target (WALK-ARGS: a core or --pid N, and its options) against a
# glibc_heap truth file, malloc found as SYMBOLS says; its output in OUT;
# the test fails with that output where they differ.
hw_walk_truth() {
	local label=$1 out=$2 sym=$3 truth=$4
	shift 4
	"$PROGS/walk_glibc" --symbols "$sym" --truth "$truth" "$@" >"$out" 2>&1 ||
		{ cat "$out"; fail "$label: the walk differs from the truth"; }
}

# hw_pythons: every CPython on the machine, one "label path" per line:
# Debian's stripped python3.11 and the pyenv builds 3.8..3.13; or, when
# HW_PYTHONS is set, its lines instead (python_versions.sh: Debian's 3.14
# and 3.15 from a sysroot).
hw_pythons() {
	if [[ -n ${HW_PYTHONS:-} ]]; then # another set (python_versions.sh)
		printf '%s\n' "$HW_PYTHONS"
		return 0
	fi
	[[ -x /usr/bin/python3.11 ]] && echo "debian-3.11 /usr/bin/python3.11"
	local root
	root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
	local v
	for v in 3.8 3.9 3.10 3.11 3.12 3.13; do
		local d
		d=$(ls -d "$root"/versions/"$v".* 2>/dev/null | sort -V | tail -n 1)
		[[ -n $d && -x $d/bin/python$v ]] && echo "pyenv-$v $d/bin/python$v"
	done
	return 0
}
