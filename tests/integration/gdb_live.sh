#!/usr/bin/env bash
# heapsnap in gdb on a live inferior stopped at breakpoints: the plugin opens
# the process itself (/proc/PID/mem, registers from gdb), the inferior runs
# on correctly after every command, and `heapsnap diff` between the two
# breakpoints shows exactly what the program says it allocated there (its
# own count and malloc_usable_size of each block: the oracle).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/gdb_lib.sh"
hw_need_plugin
truth="$hw_tmp/truth"
out="$hw_tmp/gdb.out"

hw_gdb -ex 'break hw_bp_first' -ex 'break hw_bp_second' -ex "run $truth" \
	-ex 'echo @@target\n' -ex 'heapsnap target' -ex 'echo @@fs_base\n' -ex 'p/x $fs_base' \
	-ex 'echo @@take1\n' -ex 'heapsnap before' -ex 'echo @@end\n' \
	-ex 'continue' \
	-ex 'echo @@take2\n' -ex 'heapsnap after' -ex 'echo @@end\n' \
	-ex 'echo @@list\n' -ex 'heapsnap list' -ex 'echo @@end\n' \
	-ex "heapsnap chunks --state free --format json -o $hw_tmp/free.json" \
	-ex 'echo @@freed\n' -ex 'p/x hw_freed' -ex 'echo @@end\n' \
	-ex "heapsnap diff --group-by size --limit 0 --format json -o $hw_tmp/diff.json" \
	-ex 'echo @@gate\n' -ex 'heapsnap diff before after --max-growth 1KiB -o /dev/null' \
	-ex 'heapsnap diff before after --max-growth 1GiB -o /dev/null' -ex 'echo @@end\n' \
	-ex "heapsnap before --format json -o $hw_tmp/sum1.json" \
	-ex 'heapsnap via --through-debugger' \
	-ex "heapsnap chunks after -o $hw_tmp/chunks.direct" -ex "heapsnap chunks via -o $hw_tmp/chunks.via" \
	-ex 'echo @@show\n' -ex 'heapsnap show fresh[3]' -ex 'echo @@end\n' \
	-ex 'echo @@errors\n' -ex 'heapsnap top nosuch' -ex 'heapsnap diff --group-by nokey' \
	-ex 'heapsnap 42' -ex 'heapsnap show nosuchsymbol' -ex 'heapsnap load /nonexistent.hsnap' \
	-ex 'echo @@end\n' \
	-ex 'continue' \
	"$INFERIOR" >"$out"
hw_no_traceback "$out"

# 1. the inferior ran on after every command and checked its own blocks
grep -q '^ok 2$' "$out" || fail "the inferior did not finish correctly: $(tail -5 "$out")"
grep -q 'exited normally' "$out" || fail "the inferior did not exit normally"

# 2. the plugin opened the process itself, with gdb's registers
hw_between "$out" @@target @@fs_base >"$hw_tmp/target"
grep -q '^kind: live$' "$hw_tmp/target" || fail "not opened as a live process: $(cat "$hw_tmp/target")"
fs=$(hw_between "$out" @@fs_base @@take1 | sed -n 's/^\$1 = //p')
[[ -n $fs ]] || fail "gdb printed no fs_base"
grep -q "fs_base $fs\$" "$hw_tmp/target" || fail "fs_base $fs not passed on: $(cat "$hw_tmp/target")"

# --max-growth: an error after the output when the growth is above it
[[ $(hw_between "$out" @@gate @@end) == 'heapsnap diff: the total growth is above --max-growth' ]] ||
	fail "--max-growth: $(hw_between "$out" @@gate @@end)"

# 3. every error is one line naming the subcommand
errs=$(hw_between "$out" @@errors @@end)
n=$(printf '%s\n' "$errs" | grep -c .)
[[ $n == 5 ]] || fail "expected 5 error lines, got $n: $errs"
printf '%s\n' "$errs" | grep -v -q '^heapsnap' && fail "an error line not from heapsnap: $errs"

# 4. the snapshots and the exact diff
hw_between "$out" @@take1 @@end | grep -q '^snapshot 1 (before) of pid ' || fail "first snapshot not announced"
hw_between "$out" @@list @@end | grep -q -E '^ +2  after ' || fail "list lacks 'after': $(hw_between "$out" @@list @@end)"
hw_check_diff "$truth" "$hw_tmp/diff.json" "$hw_tmp/sum1.json" || exit 1
# reading through gdb (Inferior.read_memory: remote targets' path) finds the same
cmp "$hw_tmp/chunks.direct" "$hw_tmp/chunks.via" || fail "chunks through gdb differ from chunks through /proc/PID/mem"
grep -q '^snapshot [0-9]* (via) of pid [0-9]* through the debugger' "$out" || fail "the via snapshot not announced"
hw_between "$out" @@freed @@end >"$hw_tmp/freed"
hw_check_freed "$hw_tmp/freed" "$hw_tmp/free.json" || exit 1
# show: the block the program holds at fresh[3] is a used glibc chunk
hw_between "$out" @@show @@end | grep -q -i 'used' || fail "show fresh[3]: $(hw_between "$out" @@show @@end)"
echo "ok"
