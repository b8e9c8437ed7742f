#!/usr/bin/env bash
# The snapshot model on BENCH_ALLOCS (default 10 million) synthetic
# allocations (bench/snapshot), and the size of what tracemalloc's
# Snapshot.dump writes for as many traces with as many distinct tracebacks,
# per allocation, for comparison.
set -eu
: "${top_builddir:?}"
n=${BENCH_ALLOCS:-10000000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$("$top_builddir/bench/snapshot" "$n" "$dir")
echo "$out"
hsnap=$(echo "$out" | sed -n 's/^.hsnap size: *[0-9]* bytes, \([0-9.]*\) bytes per allocation.*/\1/p')
py=$(command -v python3 || true)
if [[ -z $py ]]; then
	echo "python3 not found: no tracemalloc comparison"
	exit 0
fi
# tracemalloc: 1 million traces (its dump of 10 million needs gigabytes of
# pickling memory), 5000 distinct tracebacks of 1-6 frames as above; bytes
# per trace hardly depend on the count.
"$py" - "$dir/tm.pickle" "$hsnap" <<'PY'
import os, random, sys, tracemalloc
random.seed(1)
n = 1_000_000
tbs = []
for i in range(5000):
    tbs.append(tuple((f"pkg/mod{random.randrange(300)}.py", random.randrange(1, 900))
                     for _ in range(random.randrange(1, 7))))
traces = [(0, 24 + 16 * random.randrange(200), tbs[random.randrange(16) if random.randrange(4) else random.randrange(5000)], 1)
          for _ in range(n)]
snap = tracemalloc.Snapshot(traces, 6)
snap.dump(sys.argv[1])
size = os.path.getsize(sys.argv[1])
hs = float(sys.argv[2]) if sys.argv[2] else float("nan")
print(f"tracemalloc dump:     {size / n:.2f} bytes per trace ({n} traces, no addresses)")
print(f"ratio .hsnap/tracemalloc: {hs / (size / n):.2f}")
PY
