#!/usr/bin/env bash
# heapsnap on a live inferior with 2 million chunks, against what reading
# the same heap through gdb costs (what gdb-heap and pwndbg's heap commands
# do): a chunk-header walk through Inferior.read_memory and through
# gdb.Value dereferences, timed on the first 20000 chunks and scaled.
set -eu
: "${top_builddir:?}" "${top_srcdir:?}"
n=${BENCH_CHUNKS:-2000000}
sample=20000
command -v gdb >/dev/null || { echo "gdb_heapsnap: gdb not installed"; exit 0; }
ls "$top_builddir"/gdb-plugin/.libs/_heapwalk*.so >/dev/null 2>&1 || { echo "gdb_heapsnap: plugin not built"; exit 0; }
cat >"${TMPDIR:-/tmp}/hw-bench-$$.py" <<PY
import time, gdb
def heap_start():
    for line in gdb.execute("info proc mappings", to_string=True).splitlines():
        if line.rstrip().endswith("[heap]"):
            return int(line.split()[0], 16)
t = time.perf_counter()
gdb.execute("heapsnap bench -o /dev/null")
snap = time.perf_counter() - t
inf = gdb.selected_inferior()
a = heap_start()
t = time.perf_counter()
addr = a
for _ in range($sample):
    size = int.from_bytes(inf.read_memory(addr + 8, 8), "little") & ~7
    addr += size
rm = (time.perf_counter() - t) * $n / $sample
ulong = gdb.lookup_type("unsigned long").pointer()
t = time.perf_counter()
addr = a
for _ in range($sample):
    size = int(gdb.Value(addr + 8).cast(ulong).dereference()) & ~7
    addr += size
gv = (time.perf_counter() - t) * $n / $sample
print("chunks:                         %d (live, stopped at a breakpoint)" % $n)
print("heapsnap (walk + snapshot):     %.3f s" % snap)
print("read_memory chunk walk, scaled: %.1f s  (%.0fx heapsnap)" % (rm, rm / snap))
print("gdb.Value chunk walk, scaled:   %.1f s  (%.0fx heapsnap)" % (gv, gv / snap))
PY
HEAPWALK_PLUGIN_PATH="$top_builddir/gdb-plugin/.libs" gdb -nx -batch \
	-ex "source $top_srcdir/gdb-plugin/heapwalk.py" -ex 'break bench_ready' \
	-ex "run $n" -ex "source ${TMPDIR:-/tmp}/hw-bench-$$.py" -ex kill \
	"$top_builddir/bench/many_chunks" 2>&1 | grep -E '^(chunks|heapsnap|read_memory|gdb.Value)'
rm -f "${TMPDIR:-/tmp}/hw-bench-$$.py"
