#!/bin/bash
# tracer_c.sh: C programs whose allocation sites are known by construction
# (tests/programs/trace_leaks.c prints its own truth), run under
# `coretool trace`; the tracer's tables read back from the kernel core by
# tests/programs/read_trace must give exactly that truth per function:
#  - basic: malloc, calloc, realloc, posix_memalign sites, churn freed;
#  - paths: two stacks of the same depth that differ in their third frame,
#    interleaved: per full stack, exactly what the program made (the
#    tracer's per-thread stack cache checks what it cached);
#  - basic again with that cache off: the same stacks, frame for frame;
#  - threads: 16 threads allocating and freeing each other's blocks,
#    interrupted by signals all along;
#  - exec: a traced shell execs the program: the preload carries on;
#  - fork: the child's core holds the child's view of the table;
#  - live: the same read from the running process (--pid);
#  - the program's output is the same with and without the tracer.
. "$top_srcdir/tests/lib.sh"

READ="$PROGS/read_trace"
LEAKS="$PROGS/trace_leaks"

# check_truth DIR [TARGET]: every "function count bytes" line the program printed
# must be what the tracer's table says for that function (0 0 = absent).
check_truth() {
	local dir=$1 core=${2:-}
	[[ -n $core ]] || core=$(ls "$dir"/core* 2>/dev/null | head -n 1)
	[[ -n $core ]] || fail "$dir: no core (stderr: $(head -c 300 "$dir/stderr"))"
	"$READ" "$core" function >"$dir/read" 2>"$dir/read.err" ||
		fail "read_trace failed: $(cat "$dir/read.err")"
	grep -q '^# mode all .* problems 0 ' "$dir/read" || fail "summary: $(head -n 3 "$dir/read")"
	local fn count bytes got
	while read -r fn count bytes; do
		got=$(awk -F'\t' -v f="$fn" '$1 == f { print $2, $3 }' "$dir/read")
		[[ -z $got ]] && got="0 0"
		[[ $got == "$count $bytes" ]] ||
			fail "$(basename "$dir"): $fn: tracer says '$got', program kept '$count $bytes'"
		echo "ok $(basename "$dir"): $fn $count blocks, $bytes bytes"
	done <"$dir/stdout"
	[[ -s $dir/stdout ]] || fail "$dir: the program printed no truth"
}

run() { # name args...
	local name=$1
	shift
	mkdir -p "$hw_tmp/$name"
	hw_dump_core "$hw_tmp/$name" "$CORETOOL" trace -- "$LEAKS" "$@" >/dev/null
}

run basic basic 1000 48
check_truth "$hw_tmp/basic"
# a healthy traced heap: no tracer entry for a free block
"$CORETOOL" check "$(ls "$hw_tmp/basic"/core* | head -n 1)" >"$hw_tmp/basic/check" ||
	fail "basic: coretool check: $(head -n 3 "$hw_tmp/basic/check")"
grep -q tracer-entry-free "$hw_tmp/basic/check" &&
	fail "basic: $(grep tracer-entry-free "$hw_tmp/basic/check" | head -n 3)"

# blocks freed behind the tracer's back (the program calls glibc's
# __libc_free itself): each is a tracer-entry-free problem at the address
# the program printed, and no other
run stale stale 5 4000
core=$(ls "$hw_tmp/stale"/core* 2>/dev/null | head -n 1)
[[ -n $core ]] || fail "stale: no core"
"$CORETOOL" check "$core" >"$hw_tmp/stale/check"
rc=$?
[[ $rc == 1 ]] || fail "stale: coretool check exited $rc, not 1"
want=$(awk '$1 == "stale" { print $2 }' "$hw_tmp/stale/stdout" | sort)
got=$(awk '$1 == "tracer-entry-free" { print $2 }' "$hw_tmp/stale/check" | sort)
[[ $(echo "$want" | wc -l) == 5 && $want == "$got" ]] ||
	fail "stale: freed behind the tracer: $(echo $want); reported: $(echo $got)"
echo "ok stale: the 5 blocks freed behind the tracer are reported, nothing else"

run paths paths 500 40
check_truth "$hw_tmp/paths"
"$READ" "$(ls "$hw_tmp/paths"/core* | head -n 1)" stack >"$hw_tmp/paths/stack" ||
	fail "read_trace stack failed"
for p in path_a path_b; do
	got=$(awk -F'\t' -v k="leak_p<mid<$p<" 'index($1, k) == 1 { c += $2 } END { print c + 0 }' \
		"$hw_tmp/paths/stack")
	[[ $got == 500 ]] || fail "paths: $got blocks under leak_p<mid<$p (the program made 500)"
	echo "ok paths: 500 blocks under leak_p<mid<$p"
done

# the stack cache gives what libunwind gives: the same stacks, cache off
mkdir -p "$hw_tmp/nocache"
HEAPWALK_TRACE_NATIVE_CACHE=0 hw_dump_core "$hw_tmp/nocache" "$CORETOOL" trace -- "$LEAKS" basic 1000 48 \
	>/dev/null
check_truth "$hw_tmp/nocache"
for d in basic nocache; do
	"$READ" "$(ls "$hw_tmp/$d"/core* | head -n 1)" stack | grep -v '^#' | sort >"$hw_tmp/$d/stacks" ||
		fail "read_trace stack failed"
done
[[ $(grep -c 'leak_a<main' "$hw_tmp/basic/stacks") -ge 1 ]] ||
	fail "no deep stacks: $(head -n 3 "$hw_tmp/basic/stacks")"
diff "$hw_tmp/nocache/stacks" "$hw_tmp/basic/stacks" >&2 ||
	fail "stacks differ with the stack cache on (+) and off (-)"
echo "ok stacks identical with the stack cache on and off ($(wc -l <"$hw_tmp/basic/stacks") stacks)"

# the tracer's own unwinder gives what libunwind gives: the same stacks
# with libunwind alone
mkdir -p "$hw_tmp/libunwind"
HEAPWALK_TRACE_UNWINDER=libunwind hw_dump_core "$hw_tmp/libunwind" "$CORETOOL" trace -- "$LEAKS" \
	basic 1000 48 >/dev/null
check_truth "$hw_tmp/libunwind"
"$READ" "$(ls "$hw_tmp/libunwind"/core* | head -n 1)" stack | grep -v '^#' | sort \
	>"$hw_tmp/libunwind/stacks" || fail "read_trace stack failed"
diff "$hw_tmp/libunwind/stacks" "$hw_tmp/basic/stacks" >&2 ||
	fail "stacks differ with the own unwinder (+) and libunwind alone (-)"
echo "ok stacks identical with the own unwinder and with libunwind alone"

run threads threads 500 40
check_truth "$hw_tmp/threads"
grep -q 'signals handled: [1-9]' "$hw_tmp/threads/stderr" ||
	fail "threads: no signal reached the workers ($(cat "$hw_tmp/threads/stderr"))"

# the same threads, every stack the own unwinder walks walked by libunwind
# too (HEAPWALK_TRACE_UNWIND_CHECK, reported at exit): none may differ
check=$(TRACE_LEAKS_EXIT=1 HEAPWALK_TRACE_UNWIND_CHECK=1 "$CORETOOL" trace -- "$LEAKS" threads 500 40 \
	2>&1 >/dev/null | grep 'unwind check:')
[[ $check =~ check:\ ([0-9]+)\ stacks\ compared,\ ([0-9]+)\ differ ]] ||
	fail "threads: no unwind check report"
((BASH_REMATCH[1] >= 16 && BASH_REMATCH[2] == 0)) || fail "threads: $check"
echo "ok threads: $check"

# allocations from a signal handler, on the thread's stack and on an
# alternate signal stack: their stacks cross a signal frame, which the own
# unwinder leaves to libunwind; the program runs to its end, and the
# stacks both walk still agree
for variant in main alt; do
	out=$(HEAPWALK_TRACE_UNWIND_CHECK=1 "$CORETOOL" trace -- "$PROGS/trace_signals" \
		${variant/main/} 2>"$hw_tmp/signals.err") ||
		fail "signals ($variant): exited $? ($(head -c 300 "$hw_tmp/signals.err"))"
	((out >= 1)) || fail "signals ($variant): the handler never allocated"
	check=$(grep 'unwind check:' "$hw_tmp/signals.err")
	[[ $check =~ ([0-9]+)\ stacks\ compared,\ ([0-9]+)\ differ,\ ([0-9]+)\ by ]] ||
		fail "signals ($variant): no unwind check report"
	((BASH_REMATCH[1] >= 1 && BASH_REMATCH[2] == 0 && BASH_REMATCH[3] >= 1)) ||
		fail "signals ($variant): $check"
	echo "ok signals ($variant): $out allocations from the handler; $check"
done

# threads whose first allocation is inside pthread_getattr_np (which holds
# the thread's lock): no hang, and their stacks are the own unwinder's
# (the trampoline of pthread_create noted each thread's stack)
out=$(HEAPWALK_TRACE_UNWIND_CHECK=1 timeout 60 "$CORETOOL" trace -- "$PROGS/trace_getattr" \
	2>"$hw_tmp/getattr.err")
rc=$?
[[ $rc == 0 && $out == ok ]] || fail "getattr: exited $rc${out:+ ($out)} (124: hung)"
check=$(grep 'unwind check:' "$hw_tmp/getattr.err")
[[ $check =~ ([0-9]+)\ stacks\ compared,\ ([0-9]+)\ differ ]] || fail "getattr: no unwind check report"
((BASH_REMATCH[1] >= 8 && BASH_REMATCH[2] == 0)) || fail "getattr: $check"
echo "ok getattr: 8 threads allocating first inside pthread_getattr_np; $check"

# exec: the preload carries on into the program a traced shell execs
mkdir -p "$hw_tmp/exec"
hw_dump_core "$hw_tmp/exec" "$CORETOOL" trace -- sh -c 'exec "$0" basic 300 24' "$LEAKS" >/dev/null
check_truth "$hw_tmp/exec"

# fork: the parent exits 0 once its child dumped core
mkdir -p "$hw_tmp/fork"
(cd "$hw_tmp/fork" && ulimit -c unlimited && exec "$CORETOOL" trace -- "$LEAKS" fork 1000 64) \
	>"$hw_tmp/fork/stdout" 2>"$hw_tmp/fork/stderr" || fail "fork: parent failed"
check_truth "$hw_tmp/fork"

# a live process: the same tables read through /proc/PID/mem (stopped,
# read, resumed)
mkdir -p "$hw_tmp/live"
"$CORETOOL" trace -- "$LEAKS" live 700 40 >"$hw_tmp/live/stdout" 2>"$hw_tmp/live/stderr" &
livepid=$!
for ((i = 0; i < 100; i++)); do
	[[ -f $hw_tmp/live/stdout && $(wc -l <"$hw_tmp/live/stdout") -ge 6 ]] && break
	sleep 0.1
done
check_truth "$hw_tmp/live" "--pid=$livepid"
kill -0 $livepid || fail "live: the process did not survive being read"
kill $livepid
wait $livepid 2>/dev/null

# An arena shadow nothing was written to: the kernel leaves its mapping
# out of the core (no anon_vma), and the reader must take it as empty, not
# as damage (the tracer covers "arenas" that hold no pymalloc block: 3.11+
# takes its frames' data stack chunks from the arena allocator; one such
# shadow, in a mapping no written neighbour absorbed, failed
# tracer_python.sh on Debian's 3.15 one run in twelve).  The tables are
# tests/unit/synthtrace.h's, 40 + 25 entries in shards and 1 in the shadow.
mkdir -p "$hw_tmp/unwritten"
core=$(hw_dump_core "$hw_tmp/unwritten" "$PROGS/trace_unwritten") ||
	fail "unwritten shadow: no core ($(cat "$hw_tmp/unwritten/stderr"))"
shadow=$(sed -n 's/^shadow 0x//p' "$hw_tmp/unwritten/stdout")
"$CORETOOL" info "$core" | grep -q "^ *0*$shadow-[0-9a-f]* *rw-p no " ||
	fail "unwritten shadow: the premise failed, the kernel dumped the page at 0x$shadow"
"$READ" "$core" stack2 >"$hw_tmp/unwritten/read" 2>&1 || fail "unwritten shadow: read_trace failed"
head -n 1 "$hw_tmp/unwritten/read" | grep -q '^# mode all sample 0 live 65 sites 3 problems 0 ' ||
	fail "unwritten shadow: $(head -n 2 "$hw_tmp/unwritten/read" | tr '\n' ' ')"
echo "ok a shadow the kernel left out of the core (never written) is empty, no problem"

# behaviour unchanged: same output with and without the tracer
want=$(printf 'b\na\nc\n' | sort | sha256sum)
got=$(printf 'b\na\nc\n' | "$CORETOOL" trace -- sort | sha256sum)
[[ $want == "$got" ]] || fail "sort's output changed under the tracer"
"$CORETOOL" trace -- sh -c 'exit 7'
[[ $? -eq 7 ]] || fail "the command's exit status is not passed through"
echo "ok output and exit status unchanged"
exit 0
