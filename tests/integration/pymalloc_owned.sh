#!/usr/bin/env bash
# pymalloc_owned.sh: the blocks Python objects keep their contents in (a
# list's items, a dict's keys and values, a set's table, a bytearray's
# bytes) are named after their owner ("list items", "dict keys", ...), on
# every CPython on the machine, against the objects' own pointers
# (tests/programs/py_owned.py, read with ctypes; owned_check.py): every
# block the script's objects own gets its name, and the list items and set
# tables of the whole process are exactly those of the lists and sets
# gc.get_objects() sees.  Kernel cores of each; then, on one interpreter,
# the live process and the core under CPython's debug hooks (-X dev: the
# objects' pointers are 16 bytes into their blocks), and one with
# scribbled (cyclic) deque and OrderedDict chains.
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/integration/pymalloc_lib.sh"

SCRIPT="$top_srcdir/tests/programs/py_owned.py"
CHECK="$top_srcdir/tests/integration/owned_check.py"

mapfile -t pythons < <(pm_pythons)
((${#pythons[@]})) || skip "no CPython found (apt-get install python3.11; pyenv builds optional)"

# owned LABEL DIR PYTHON TARGET...: coretool chunks of the target against
# the script's pointers in DIR/out
owned() {
	local label=$1 dir=$2 minor
	minor=$("$3" -c 'import sys; print(sys.version_info[1])') || fail "$label: $3 does not run"
	shift 3
	"$CORETOOL" chunks --format json --state used "$@" >"$dir/chunks" 2>"$dir/chunks.err" ||
		fail "$label: coretool chunks failed: $(head -3 "$dir/chunks.err")"
	"$HW_PY" "$CHECK" "$label" "$dir/out" "$dir/chunks" "$minor" ||
		fail "$label: owned blocks misnamed"
}

for entry in "${pythons[@]}"; do
	read -r label py <<<"$entry"
	dir="$hw_tmp/$label"
	mkdir -p "$dir"
	core=$(hw_dump_core "$dir" "$py" "$SCRIPT" "$dir/out" core) ||
		fail "$label: no core written ($(tail -2 "$dir/stderr"))"
	owned "$label core" "$dir" "$py" "$core"
	rm -f "$core"
done

# One interpreter again, live and under the debug hooks: Debian's, else the
# first found.
read -r label py <<<"$(printf '%s\n' "${pythons[@]}" | grep -m1 '^debian-' || echo "${pythons[0]}")"
dir="$hw_tmp/$label-dev"
mkdir -p "$dir"
core=$(hw_dump_core "$dir" "$py" -X dev "$SCRIPT" "$dir/out" core) ||
	fail "$label -X dev: no core written ($(tail -2 "$dir/stderr"))"
owned "$label -X dev core" "$dir" "$py" "$core"
rm -f "$core"

# Scribbled chains: a deque whose last block links back to its first and
# an OrderedDict whose last node does, both claiming 2^40 items: the
# views end, in bounded memory (the chains are followed to their first
# repeated link), with every real block named.
dir="$hw_tmp/$label-cycles"
mkdir -p "$dir"
cat >"$dir/cycles.py" <<'PY'
import collections, ctypes, os
w = lambda a: ctypes.c_uint64.from_address(a)
d = collections.deque(range(1000))
od = collections.OrderedDict((str(i), i) for i in range(100))
b, k = w(id(d) + 24).value, 1
while b != w(id(d) + 32).value:
    b, k = w(b + 520).value, k + 1
print(k, len(od), flush=True)               # the blocks and nodes there are
first = w(id(od) + 48).value
n = first
while w(n + 16).value:
    n = w(n + 16).value
w(n + 16).value = first                      # the last node's next
w(w(id(d) + 32).value + 520).value = w(id(d) + 24).value  # right block -> left
w(id(d) + 32).value = 0                      # no right block to stop at
w(id(d) + 16).value = 1 << 40
w(id(od) + 16).value = 1 << 40
os.abort()
PY
core=$(hw_dump_core "$dir" "$py" "$dir/cycles.py") ||
	fail "$label cycles: no core ($(tail -2 "$dir/stderr"))"
# (in 1 GB of address space: a walk round the cycles to the claimed
# lengths took 2 GB and half a minute)
(ulimit -v 1000000 && exec "$CORETOOL" top --group-by type --limit 0 --format json "$core") \
	>"$dir/top.json" 2>"$dir/top.err" ||
	fail "$label cycles: coretool top failed: $(head -c 300 "$dir/top.err")"
read -r nblocks nnodes <"$dir/stdout"
"$HW_PY" - "$dir/top.json" "$nblocks" "$nnodes" <<'PY' ||
import json, sys
n = {g["key"]: g["count"] for g in json.load(open(sys.argv[1]))["groups"]}
blocks, nodes = n.get("collections.deque block", 0), n.get("collections.OrderedDict node", 0)
want_b, want_n = int(sys.argv[2]), int(sys.argv[3])
print("ok cycles: %d deque blocks (the chain's %d), %d OrderedDict nodes (%d) named"
      % (blocks, want_b, nodes, want_n))
# (the interpreter may hold a few deques and OrderedDicts of its own)
sys.exit(not (want_b <= blocks < want_b + 20 and want_n <= nodes < want_n + 50))
PY
	fail "$label cycles: the chains' blocks are not named once each"
rm -f "$core"

dir="$hw_tmp/$label-live"
mkdir -p "$dir"
"$py" "$SCRIPT" "$dir/out" live >"$dir/stdout" 2>"$dir/stderr" &
pid=$!
for ((n = 300; n > 0; n--)); do
	grep -q '^ready' "$dir/stdout" 2>/dev/null && break
	sleep 0.1
done
((n > 0)) || fail "$label live: the script did not get ready ($(tail -2 "$dir/stderr"))"
owned "$label live" "$dir" "$py" --pid "$pid"
kill -0 "$pid" 2>/dev/null || fail "$label live: the process died during the walk"
kill "$pid"
wait "$pid" 2>/dev/null || true
exit 0
