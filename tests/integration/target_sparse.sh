#!/usr/bin/env bash
# A process of 200 threads: 1.6 GB of thread stacks, almost none of it ever
# touched.  Its kernel core is sparse (the untouched pages are holes), and
# coretool must not read the holes: the scans of anonymous memory (glibc's
# mmapped chunks, pymalloc's pools, the tracer's root) skip them
# (hw_target_data_extent: SEEK_DATA), and the core is mapped without
# readahead but where a heap is walked in order.  Before, `coretool check`
# read all of it (4 GiB of zeros into the page cache for 500 threads, 1.1 s;
# now 0.11 s).  Asserted here: coretool's peak resident memory stays far
# below the core's size, also for the core compressed with zstd (its
# decompressed copy is written sparse).  Live, the walk must not change the process's page
# tables (VmPTE): before, reading the stacks mapped the zero page into all
# of them (+6 MB of page tables for 500 threads).  A gcore'd core of it
# has no holes: its stacks are skipped below each thread's stack pointer
# (1618 MiB peak RSS before, 34 MiB now).
. "$top_srcdir/tests/lib.sh"
n=200
maxrss() { # maxrss CMD...: the command's peak RSS in KiB on stdout
	"$HW_PY" - "$@" <<'PY'
import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
core=$(hw_dump_core "$hw_tmp" "$PROGS/threads_wait" "$n" abort) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
size=$(stat -c %s "$core")
disk=$(($(stat -c %b "$core") * $(stat -c %B "$core")))
echo "core: $((size >> 20)) MiB, $((disk >> 20)) MiB on disk"
((size > n * 7 << 20)) || fail "the core is smaller than $n stacks ($size bytes)"
((disk < size / 4)) || skip "the core is not sparse here ($disk of $size bytes on disk)"
for verb in check summary info; do
	read -r rc kib < <(maxrss "$CORETOOL" "$verb" "$core")
	echo "coretool $verb: exit $rc, peak RSS $((kib >> 10)) MiB"
	((rc == 0)) || fail "coretool $verb exited $rc"
	((kib < 512 << 10)) || fail "coretool $verb read the holes: peak RSS $((kib >> 10)) MiB for a $((size >> 20)) MiB core"
done
# systemd-coredump's form: decompressed into a copy that keeps the holes
if command -v zstd >/dev/null; then
	zstd -q "$core" -o "$hw_tmp/core.zst" || fail "zstd"
	read -r rc kib < <(maxrss "$CORETOOL" check "$hw_tmp/core.zst")
	echo "coretool check of the .zst: exit $rc, peak RSS $((kib >> 10)) MiB"
	((rc == 0)) || fail "coretool check of the .zst exited $rc"
	((kib < 512 << 10)) || fail "the .zst's copy was not sparse: peak RSS $((kib >> 10)) MiB"
	"$CORETOOL" summary --format json "$core" >"$hw_tmp/plain.json"
	"$CORETOOL" summary --format json "$hw_tmp/core.zst" | sed "s|$hw_tmp/core.zst|$core|g" >"$hw_tmp/zst.json"
	cmp -s "$hw_tmp/plain.json" "$hw_tmp/zst.json" || fail "the .zst's summary differs from the core's"
	rm -f "$hw_tmp/core.zst"
else
	echo "SKIP: no zstd tool: the compressed core not tried"
fi

"$PROGS/threads_wait" "$n" wait "$hw_tmp/ready" &
pid=$!
hw_wait_file "$hw_tmp/ready" || fail "threads_wait did not start"
# the threads go from the barrier to pause() after "ready" (a lazy binding's
# deep frame may reach a new page-table page): wait until it is all quiet
vmpte() { awk '/^VmPTE/ {print $2}' /proc/"$pid"/status; }
before=$(vmpte)
for _ in $(seq 50); do
	sleep 0.2
	now=$(vmpte)
	[[ $now == "$before" ]] && ! grep -qh '^State:.*R' /proc/"$pid"/task/*/status && break
	before=$now
done
"$CORETOOL" check --pid "$pid" >"$hw_tmp/check.out" 2>&1 || { cat "$hw_tmp/check.out"; kill -9 "$pid"; fail "coretool check --pid"; }
after=$(vmpte)
# gdb's gcore writes the untouched pages as zeros (no holes): the scans
# start each thread's stack at its stack pointer (hw_target_heap_floor)
free_kib=$(df -Pk "$hw_tmp" | awk 'NR == 2 {print $4}')
if ((free_kib < 6 << 20)); then
	echo "SKIP: less than 6 GiB free in $hw_tmp: the gcore'd core (2.5 GB) not tried"
elif command -v gdb >/dev/null && hw_gcore "$pid" "$hw_tmp/g.core"; then
	read -r rc kib < <(maxrss "$CORETOOL" check "$hw_tmp/g.core")
	echo "coretool check of a gcore'd core ($(($(stat -c %s "$hw_tmp/g.core") >> 20)) MiB): exit $rc, peak RSS $((kib >> 10)) MiB"
	((rc == 0)) || fail "coretool check of the gcore'd core exited $rc"
	((kib < 512 << 10)) || fail "the gcore'd core's stacks were read: peak RSS $((kib >> 10)) MiB"
	rm -f "$hw_tmp/g.core"
else
	echo "SKIP: no gdb/gcore: the gcore'd core not tried"
fi
kill -9 "$pid"
echo "live: VmPTE $before kB before, $after kB after"

# A thread whose stack is a malloc'd block (pthread_attr_setstack): its sp
# and fs_base are in a mmapped chunk, whose header below sp must still be
# found (check sound: mp_'s mmapped count met), live and gcore'd
"$PROGS/user_stack" "$hw_tmp/us.ready" &
upid=$!
hw_wait_file "$hw_tmp/us.ready" || fail "user_stack did not start"
stack=$(head -n 1 "$hw_tmp/us.ready")
for tgt in live gcore; do
	args=(--pid "$upid")
	if [[ $tgt == gcore ]]; then
		command -v gdb >/dev/null && hw_gcore "$upid" "$hw_tmp/us.core" || { echo "SKIP: no gcore"; break; }
		args=("$hw_tmp/us.core")
	fi
	"$CORETOOL" check "${args[@]}" >"$hw_tmp/us.check" 2>&1 || { cat "$hw_tmp/us.check"; kill -9 "$upid"; fail "user stack, $tgt: check"; }
	"$CORETOOL" show "${args[@]}" "$stack" >"$hw_tmp/us.show" 2>&1
	grep -q 'allocator  glibc-mmap' "$hw_tmp/us.show" || { cat "$hw_tmp/us.show"; kill -9 "$upid"; fail "user stack, $tgt: the stack's block not found"; }
	echo "user stack, $tgt: sound, the stack's block found"
done
kill -9 "$upid"
[[ $before == "$after" ]] || fail "walking the process changed its page tables ($before -> $after kB)"
echo ok
