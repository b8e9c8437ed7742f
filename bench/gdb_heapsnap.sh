#!/usr/bin/env bash
# heapsnap on a live inferior with 2 million chunks, against what reading
# the same heap through gdb costs (what gdb-heap and pwndbg's heap commands
# do): a chunk-header walk through Inferior.read_memory and through
# gdb.Value dereferences, timed on the first 20000 chunks and scaled.
# Each is timed as wall clock and as the CPU time (user + sys) of gdb's
# main thread, where all of them run (gdb's worker threads index symbols
# in the background meanwhile: not ours); heapsnap's heap read of 32 MiB
# or more is split with a helper thread of its own, so its CPU time of all
# threads is shown too (it includes gdb's workers, if busy); the ratios are
# of main-thread CPU time (the
# wall clock on a loaded machine says more about the load).  The first
# heapsnap of the session is the one the target is about; a second one in
# the same gdb is shown too.  The load is printed with the numbers.  The
# first varies most from run to run (here 0.3 to 0.8 s CPU at loads of 1 to
# 3): it is the one that touches memory fresh to the process (the heap's
# copy, the snapshot); so it is run in BENCH_ROUNDS fresh gdbs (default 3)
# and the medians are printed too (the peers' walks run in the first).
set -eu
: "${top_builddir:?}" "${top_srcdir:?}"
n=${BENCH_CHUNKS:-2000000}
sample=20000
command -v gdb >/dev/null || { echo "gdb_heapsnap: gdb not installed"; exit 0; }
ls "$top_builddir"/gdb-plugin/.libs/_heapwalk*.so >/dev/null 2>&1 || { echo "gdb_heapsnap: plugin not built"; exit 0; }
py="${TMPDIR:-/tmp}/hw-bench-$$.py"
cat >"$py" <<PY
import os, resource, time, gdb
def clock():
    r = resource.getrusage(resource.RUSAGE_THREAD)
    p = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), r.ru_utime + r.ru_stime, p.ru_utime + p.ru_stime
def since(c):
    w, u, p = clock()
    return w - c[0], u - c[1], p - c[2]
def heap_start():
    for line in gdb.execute("info proc mappings", to_string=True).splitlines():
        if line.rstrip().endswith("[heap]"):
            return int(line.split()[0], 16)
c = clock()
gdb.execute("heapsnap bench -o /dev/null")
snap = since(c)
c = clock()
gdb.execute("heapsnap bench -o /dev/null")
again = since(c)
print("heapsnap (walk + snapshot):     %.3f s wall, %.3f s cpu, %.3f s cpu all threads" % snap)
print("heapsnap again, same session:   %.3f s wall, %.3f s cpu, %.3f s cpu all threads" % again)
if os.environ.get("HW_BENCH_PEERS") == "1":
    inf = gdb.selected_inferior()
    a = heap_start()
    c = clock()
    addr = a
    for _ in range($sample):
        size = int.from_bytes(inf.read_memory(addr + 8, 8), "little") & ~7
        addr += size
    rm = [x * $n / $sample for x in since(c)[:2]]
    ulong = gdb.lookup_type("unsigned long").pointer()
    c = clock()
    addr = a
    for _ in range($sample):
        size = int(gdb.Value(addr + 8).cast(ulong).dereference()) & ~7
        addr += size
    gv = [x * $n / $sample for x in since(c)[:2]]
    print("read_memory chunk walk, scaled: %.1f s wall, %.1f s cpu  (%.0fx heapsnap cpu)" % (rm[0], rm[1], rm[1] / snap[1]))
    print("gdb.Value chunk walk, scaled:   %.1f s wall, %.1f s cpu  (%.0fx heapsnap cpu)" % (gv[0], gv[1], gv[1] / snap[1]))
PY
rounds=${BENCH_ROUNDS:-3}
out="${TMPDIR:-/tmp}/hw-bench-$$.out"
: >"$out"
echo "chunks:                         $n (live, stopped at a breakpoint)"
for r in $(seq 1 "$rounds"); do
	echo "round $r, load:                 $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
	HW_BENCH_PEERS=$([ "$r" = 1 ] && echo 1 || echo 0) \
	HEAPWALK_PLUGIN_PATH="$top_builddir/gdb-plugin/.libs" gdb -nx -batch \
		-ex "source $top_srcdir/gdb-plugin/heapwalk.py" -ex 'break bench_ready' \
		-ex "run $n" -ex "source $py" -ex kill \
		"$top_builddir/bench/many_chunks" 2>&1 | grep -E '^(heapsnap|read_memory|gdb.Value)' |
		tee -a "$out"
done
# The medians over the rounds (by wall clock, with that round's CPU times).
for what in "heapsnap (walk" "heapsnap again"; do
	grep -F "$what" "$out" | sed 's/.*: *//; s/ s wall, / /; s/ s cpu, / /; s/ s cpu all threads//' |
		sort -n | awk -v w="$what" '{ a[NR] = $0 } END { if (!NR) exit; split(a[int((NR + 1) / 2)], f, " ");
			printf "median of %d, %-15s %s s wall, %s s cpu, %s s cpu all threads\n", NR, w ":", f[1], f[2], f[3] }'
done
rm -f "$out"
rm -f "$py"
