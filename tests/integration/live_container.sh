#!/usr/bin/env bash
# A live process in its own mount namespace with its own root, as in a
# container: /proc/PID/maps names its files by the paths it sees (here libc
# is /opt/l/libc.so.6, which the host does not have; in a container the
# host may have another file at the same path).  The walk must read the
# files under /proc/PID/root, the process's own root, and be exact against
# the program's truth.  (Before: "glibc: not found".)  Needs root (a mount
# namespace and pivot_root).
. "$top_srcdir/tests/lib.sh"
[[ $(id -u) == 0 ]] || skip "not root: no mount namespace to make"
command -v unshare >/dev/null || skip "no unshare(1)"
libc=$(ldd "$PROGS/glibc_heap" | awk '/libc\.so\.6/ {print $3}')
ld=$(ldd "$PROGS/glibc_heap" | awk '/ld-linux/ {print $1}')
[[ -f $libc && -f $ld ]] || skip "cannot find the test program's libc and loader"
root=$hw_tmp/root
mkdir -p "$root/opt/l" "$root$(dirname "$ld")" "$root/old"
cp "$libc" "$root/opt/l/"
cp "$ld" "$root$ld"
cp "$PROGS/glibc_heap" "$root/prog"
unshare -m --propagation private sh -c "mount --bind '$root' '$root' && cd '$root' &&
	pivot_root . old && cd / && LD_LIBRARY_PATH=/opt/l exec /prog /truth pause" &
pid=$!
hw_wait_file "$root/truth" || { kill -9 "$pid"; skip "could not start a program under a new root (unshare, pivot_root)"; }
grep -q ' /opt/l/libc.so.6$' /proc/"$pid"/maps || { kill -9 "$pid"; fail "the process does not map /opt/l/libc.so.6"; }
[[ -e /opt/l/libc.so.6 ]] && { kill -9 "$pid"; skip "this machine has /opt/l/libc.so.6: the test would not tell"; }
for mode in "debuginfo" "heuristic --nodebug"; do
	read -r sym flag <<<"$mode"
	"$PROGS/walk_glibc" --symbols "$sym" --truth "$root/truth" $flag --pid "$pid" >"$hw_tmp/walk.out" 2>&1 ||
		{ cat "$hw_tmp/walk.out"; kill -9 "$pid"; fail "walk ($sym) differs from the truth"; }
	grep -E '^(glibc|truth)' "$hw_tmp/walk.out"
done
"$CORETOOL" check --pid "$pid" >"$hw_tmp/check.out" 2>&1 || { cat "$hw_tmp/check.out"; kill -9 "$pid"; fail "coretool check"; }
"$CORETOOL" summary --pid "$pid" >"$hw_tmp/summary.out" 2>&1
grep -q '^glibc 2\.' "$hw_tmp/summary.out" || { cat "$hw_tmp/summary.out"; kill -9 "$pid"; fail "coretool summary found no glibc"; }
# heapsnap in gdb attached to it: gdb names the file "target:/prog"
if command -v gdb >/dev/null && ls "$top_builddir"/gdb-plugin/.libs/_heapwalk*.so >/dev/null 2>&1; then
	HEAPWALK_PLUGIN_PATH="$top_builddir/gdb-plugin/.libs" timeout 120 gdb -nx -batch \
		-ex "source $top_srcdir/gdb-plugin/heapwalk.py" -p "$pid" -ex heapsnap >"$hw_tmp/gdb.out" 2>&1
	grep -q "^target: live (pid $pid, /prog)$" "$hw_tmp/gdb.out" &&
		grep -q '^glibc 2\.[0-9]* (symbols: debuginfo)' "$hw_tmp/gdb.out" ||
		{ cat "$hw_tmp/gdb.out"; kill -9 "$pid"; fail "heapsnap in gdb attached to the process"; }
else
	echo "SKIP: no gdb or no plugin: heapsnap not tried"
fi
kill -9 "$pid"
echo ok
