#!/bin/bash
# tracer_python.sh: on every CPython found (Debian's stripped python3.11 and
# the pyenv builds 3.8-3.13), a script whose line keeps exactly N objects
# alive (tests/programs/trace_lines.py prints FUNCTION@FILE:LINE<CALLER N)
# runs under `coretool trace`; the sites read back from its kernel core must
# give that line, its function and its caller with exactly N allocations.
# Python frames come from the recorded code objects' line tables, decoded
# per version.  Also a line calling libc's malloc directly under the GIL
# (ctypes.PyDLL): the malloc hook records the Python frames too.  A missing interpreter is a SKIP, never a silent pass.
. "$top_srcdir/tests/lib.sh"

READ="$PROGS/read_trace"
SCRIPT="$top_srcdir/tests/programs/trace_lines.py"
N=3000
found=0
# Each interpreter twice: single-threaded, and with a second thread
# started after the line's objects were made ("thread": n more made, the
# thread started, then those n freed).  The line's objects are pymalloc
# blocks, so in mode all they are recorded in the shadows of pymalloc's
# arenas: the reader must have found at least N entries there.
while read -r label py; do
	found=$((found + 1))
	for variant in "" thread; do
	label=${label%-thread}${variant:+-$variant}
	dir="$hw_tmp/$label"
	mkdir -p "$dir"
	hw_dump_core "$dir" "$CORETOOL" trace -- "$py" "$SCRIPT" $N $variant >/dev/null ||
		fail "$label: no core (stderr: $(head -c 300 "$dir/stderr"))"
	core=$(ls "$dir"/core* | head -n 1)
	[[ -s $dir/stderr ]] && fail "$label: stderr under the tracer: $(head -c 300 "$dir/stderr")"
	"$READ" "$core" stack2 >"$dir/read" 2>"$dir/read.err" ||
		fail "$label: read_trace: $(cat "$dir/read.err")"
	head -n 1 "$dir/read" | grep -q '^# mode all .* problems 0 python 30' ||
		fail "$label: summary: $(head -n 1 "$dir/read")"
	shadowed=$(head -n 1 "$dir/read" | sed -n 's/.* shadowed \([0-9]*\).*/\1/p')
	((${shadowed:-0} >= N)) ||
		fail "$label: ${shadowed:-no} entries from pymalloc arena shadows, fewer than the line's $N"
	while read -r key count size; do
		read="$dir/read"
		if [[ -n $size ]]; then
			read="$dir/read.$size"
			"$READ" "$core" stack2 "$size" >"$read" 2>"$dir/read.err" ||
				fail "$label: read_trace: $(cat "$dir/read.err")"
		fi
		got=$(awk -F'\t' -v k="$key" '$1 == k { print $2 }' "$read")
		[[ $got == "$count" ]] ||
			fail "$label: $key: tracer says '${got:-nothing}', the script kept $count${size:+ of $size bytes}" \
				"(lines of the script seen: $(grep -F "$SCRIPT" "$read" | head -n 5 | tr '\t\n' ' ;'))"
		echo "ok $label: $key $count${size:+ blocks of $size bytes}"
	done <"$dir/stdout"
	# the contract's surface: coretool top --group-by lineno shows the
	# script's line with its count (the truth's lines without a size)
	"$CORETOOL" top --group-by lineno --limit 0 --format json "$core" >"$dir/lineno.json" ||
		fail "$label: top --group-by lineno"
	"$HW_PY" - "$dir/lineno.json" "$dir/stdout" <<'PY' || fail "$label: coretool top --group-by lineno"
import json, sys
groups = {g["key"]: g["count"] for g in json.load(open(sys.argv[1]))["groups"]}
n = 0
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) != 2:
        continue
    where = f[0].split("@", 1)[1].split("<", 1)[0]  # FILE:LINE
    assert groups.get(where) == int(f[1]), (where, groups.get(where), f[1])
    n += 1
assert n, "no line without a size in the truth"
PY
	echo "ok $label: coretool top --group-by lineno gives the script's line its count"
	# traced from its start, every allocation has a site: the hooks are
	# installed by the preload's constructor, before the interpreter
	# starts (what it made before sitecustomize had none: 11457 of a
	# small script's 14859 allocations under Debian's 3.11)
	unknown=$(hw_unknown_sites "$core") || fail "$label: summary: $unknown"
	[[ $unknown == "0 0" ]] || fail "$label: allocations without a site (count, bytes): $unknown"
	echo "ok $label: every allocation has a site"
	# CPython's allocator is not a site: a pool's arena map made for an
	# allocation goes to what asked for the allocation (it showed as
	# Objects/obmalloc.c:1459, 266 KB, under 3.11)
	"$CORETOOL" top --group-by filename --limit 0 --format json "$core" >"$dir/files.json" ||
		fail "$label: top --group-by filename"
	"$HW_PY" -c 'import json, sys
bad = [g["key"] for g in json.load(open(sys.argv[1]))["groups"] if g["key"].endswith("obmalloc.c")]
sys.exit("obmalloc.c groups: %s" % bad if bad else 0)' "$dir/files.json" || fail "$label: the allocator's own file as a site"
	done
done < <(hw_pythons)
((found)) || skip "no CPython found (hw_pythons)"

# Where the sitecustomize never runs (-I: PYTHONPATH ignored; -S) the
# hooks the constructor installed are all there is: the line's count is
# exact, every allocation has a site.  Where the interpreter replaces
# the allocators it started with (PYTHONMALLOC=pymalloc), the sitecustomize
# wraps the new ones (not wrapped: no Leaf has a site); where another
# wraps the tracer's (tracemalloc, started with the interpreter), it
# leaves them (wrapped again, the tracer's wrapper would call
# tracemalloc's, which calls the tracer's, which calls tracemalloc's:
# the interpreter spins at its first allocation).  Under CPython's debug
# hooks (-Xdev, PYTHONMALLOC=debug) the program's objects are 16 bytes into
# the blocks the walk finds: their types and sites are found there (none
# were before).
while read -r label py; do
	for how in -I -S PYTHONMALLOC=pymalloc PYTHONTRACEMALLOC=1 -Xdev PYTHONMALLOC=debug; do
		dir="$hw_tmp/$label$how"
		mkdir -p "$dir"
		if [[ $how == -* ]]; then
			hw_dump_core "$dir" "$CORETOOL" trace -- "$py" "$how" "$SCRIPT" $N >/dev/null
		else
			hw_dump_core "$dir" env "$how" "$CORETOOL" trace -- "$py" "$SCRIPT" $N >/dev/null
		fi || fail "$label $how: no core (stderr: $(head -c 300 "$dir/stderr"))"
		core=$(ls "$dir"/core* | head -n 1)
		"$CORETOOL" check "$core" >"$dir/check" 2>&1 || fail "$label $how: check: $(head -n 5 "$dir/check")"
		# (PYTHONMALLOC, -Xdev: what the interpreter makes between its
		# switch and the sitecustomize has no site, as before the
		# constructor installed anything)
		if [[ $how != PYTHONMALLOC=* && $how != -Xdev ]]; then
			unknown=$(hw_unknown_sites "$core") || fail "$label $how: summary: $unknown"
			[[ $unknown == "0 0" ]] ||
				fail "$label $how: allocations without a site (count, bytes): $unknown"
		fi
		"$CORETOOL" top --group-by lineno --limit 0 --format json "$core" >"$dir/lineno.json" ||
			fail "$label $how: top --group-by lineno"
		"$CORETOOL" top --group-by type --include '*/trace_lines.py' --limit 0 --format json \
			"$core" >"$dir/types.json" || fail "$label $how: top --group-by type"
		# The script's Leaf objects, all made at the line: exactly N with
		# a site in the script.  The line: those, and perhaps one object
		# its first run leaves behind, made there when no free list had
		# one (without the site module: on 3.8 under -I the frame object
		# Leaf.__init__'s code keeps; on 3.13 under -S a 48-byte object
		# of _PyObject_GC_NewVar); under tracemalloc also its own entries
		# for the objects (malloc under the GIL, so at the line: 9002 for
		# 3000 on Debian's 3.11).
		"$HW_PY" - "$dir/lineno.json" "$dir/types.json" "$dir/stdout" "$how" <<'PY' || fail "$label $how: the line's count"
import json, sys
groups = {g["key"]: g["count"] for g in json.load(open(sys.argv[1]))["groups"]}
types = {g["key"]: g["count"] for g in json.load(open(sys.argv[2]))["groups"]}
line = [l.split() for l in open(sys.argv[3]) if len(l.split()) == 2][0]
where, want = line[0].split("@", 1)[1].split("<", 1)[0], int(line[1])
assert types.get("__main__.Leaf") == want, ("Leaf", types.get("__main__.Leaf"), want)
got = groups.get(where)
most = 4 * want if "TRACEMALLOC" in sys.argv[4] else want + 1
assert got is not None and want <= got <= most, (where, got, want)
PY
		echo "ok $label $how: check clean, sites, the line's count"
	done
done < <(hw_pythons)

# --python-frames 0: no Python frames, but the hooks still give pymalloc's
# blocks their (native) sites: the line's N objects are in the shadows
# (they had no site at all: the hooks were not installed then)
read -r label py < <(hw_pythons)
dir="$hw_tmp/pf0"
mkdir -p "$dir"
hw_dump_core "$dir" "$CORETOOL" trace --python-frames 0 -- "$py" "$SCRIPT" $N >/dev/null ||
	fail "pf0: no core"
"$READ" "$(ls "$dir"/core* | head -n 1)" stack2 >"$dir/read" 2>"$dir/read.err" || fail "pf0: read_trace: $(cat "$dir/read.err")"
shadowed=$(head -n 1 "$dir/read" | sed -n 's/.* shadowed \([0-9]*\).*/\1/p')
((${shadowed:-0} >= N)) || fail "pf0 ($label): ${shadowed:-no} pymalloc blocks with a site, fewer than the line's $N"
echo "ok $label --python-frames 0: $shadowed pymalloc blocks with native sites"

# A CPython whose frames the tracer does not know (pyenv's 3.6 and 3.7 here:
# it reads 3.8 on) runs as before, with native sites only, and the user is
# told so in one line instead of finding the Python sites missing later.
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
old=$(ls -d "$root"/versions/3.7.* "$root"/versions/3.6.* 2>/dev/null | sort -V | tail -n 1)
if [[ -z ${HW_PYTHONS:-} && -n $old ]]; then
	v=$(basename "$old" | cut -d. -f1,2)
	# (once for the whole tree: a child interpreter says nothing more)
	out=$("$CORETOOL" trace -- "$old/bin/python$v" -c 'import subprocess, sys
subprocess.run([sys.executable, "-c", "print(\"child ran\")"])
print("ran")' 2>&1)
	[[ $out == *"heapwalk-trace: CPython $v: its frames are not known to this tracer"*"child ran"*ran* ]] ||
		fail "python$v under the tracer: '$out'"
	(($(grep -c 'heapwalk-trace:' <<<"$out") == 1)) || fail "python$v: the notice more than once: '$out'"
	echo "ok pyenv-$v: said once, then ran: $(head -n 1 <<<"$out")"
elif [[ -z ${HW_PYTHONS:-} ]]; then
	echo "SKIP: no pyenv CPython 3.6 or 3.7: the notice for an unknown CPython not checked"
fi

# The thread state is read where the getter's code says it is (python.c,
# tstate_decode), not through a call: on x86-64, a global up to 3.11
# (1), a thread-local from 3.12 (2: shared libpython; 3: in the
# executable).  The sites above, exact on every interpreter and with a
# second thread, are the oracle that what is read is the thread state.
if [[ $(uname -m) == x86_64 ]]; then
	while read -r label py; do
		how=$("$CORETOOL" trace -- "$py" -c '
import ctypes, sys
print(sys.version_info[1], ctypes.c_int.in_dll(ctypes.PyDLL(None), "heapwalk_trace_tstate_read").value)')
		read -r minor way <<<"$how"
		[[ -n $way ]] || fail "$label: no tstate_read: $how"
		if ((minor <= 11)); then want=1; else want="2 3"; fi
		[[ " $want " == *" $way "* ]] ||
			fail "$label: the thread state read by way $way, not ${want// / or } (0: by calling the getter)"
		echo "ok $label: the thread state read directly (way $way)"
	done < <(hw_pythons)
fi

# Past 16 arenas pymalloc grows its array of arenas with PyMem_RawRealloc,
# inside a Python allocation (the thread busy in the tracer): the old array
# must lose its entry, or the walk finds a free block the tracer still
# holds (tracer-entry-free, on 3.8-3.13 before the fix).  The whole core
# must check clean.
while read -r label py; do
	dir="$hw_tmp/arenas-$label"
	mkdir -p "$dir"
	hw_dump_core "$dir" "$CORETOOL" trace -- "$py" -c '
import os
x = [{"i": i} for i in range(200000)]
os.abort()' >/dev/null || fail "$label: no core (stderr: $(head -c 300 "$dir/stderr"))"
	core=$(ls "$dir"/core* | head -n 1)
	"$CORETOOL" check "$core" >"$dir/check" ||
		fail "$label: check of a core past 16 arenas: $(grep -v '^target' "$dir/check" | head -n 3)"
	echo "ok $label: past 16 arenas, the heap checks clean"
	# The same growth from reallocs alone: 100000 empty lists, then their
	# item arrays (pymalloc blocks) grown by realloc, which make every
	# arena after the first few.  What pymalloc allocates for itself
	# inside such a realloc (the array of arenas, the arena map's nodes)
	# has a site (on 3.8 the array of arenas, 12296 bytes, had none when
	# only fresh allocations recorded pymalloc's own: 2 runs in 36 of
	# trace_lines.py on 3.10 lost an arena map node that way).
	dir="$hw_tmp/arenas-realloc-$label"
	mkdir -p "$dir"
	hw_dump_core "$dir" "$CORETOOL" trace -- "$py" -c '
import os
lists = [[] for _ in range(100000)]
for l in lists:
    l.extend(range(40))
os.abort()' >/dev/null || fail "$label: no core (stderr: $(head -c 300 "$dir/stderr"))"
	core=$(ls "$dir"/core* | head -n 1)
	"$CORETOOL" check "$core" >"$dir/check" ||
		fail "$label: check of arenas grown by realloc: $(grep -v '^target' "$dir/check" | head -n 3)"
	unknown=$(hw_unknown_sites "$core") || fail "$label: summary: $unknown"
	[[ $unknown == "0 0" ]] ||
		fail "$label: arenas grown by realloc: allocations without a site (count, bytes): $unknown"
	echo "ok $label: arenas grown by realloc, every allocation has a site"
done < <(hw_pythons)

# The own unwinder against libunwind on every interpreter: JSON in a
# thread and in the main thread, every stack walked both ways
# (HEAPWALK_TRACE_UNWIND_CHECK): none may differ.
while read -r label py; do
	check=$(HEAPWALK_TRACE_UNWIND_CHECK=1 "$CORETOOL" trace -- "$py" -c '
import json, threading
doc = json.dumps([{"k%d" % i: [i, str(i)]} for i in range(3000)])
t = threading.Thread(target=json.loads, args=(doc,))
t.start()
json.loads(doc)
t.join()' 2>&1 >/dev/null | grep 'unwind check:')
	[[ $check =~ check:\ ([0-9]+)\ stacks\ compared,\ ([0-9]+)\ differ ]] ||
		fail "$label: no unwind check report"
	((BASH_REMATCH[1] >= 100 && BASH_REMATCH[2] == 0)) || fail "$label: $check"
	echo "ok $label: $check"
done < <(hw_pythons)
exit 0
