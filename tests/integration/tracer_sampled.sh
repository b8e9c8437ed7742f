#!/bin/bash
# tracer_sampled.sh: `coretool trace --sample BYTES`: leak_a keeps K blocks
# of S bytes (tests/programs/trace_leaks.c sample), among 200k churned
# allocations.  Each block is recorded with probability
# p = 1 - exp(-S/BYTES); the reader's estimate (sum of 1/p over recorded
# blocks) is unbiased with relative standard deviation sqrt((1-p)/(K p)).
# With K = 20000, S = 256, BYTES = 16 KiB: p = 0.0155, sigma = 5.6%.
# Stated error: every seed within 25% (4.5 sigma) of the truth, the mean
# of 5 seeds within 12% (4.8 sigma of the mean); bytes the same, since
# all blocks have one size.
. "$top_srcdir/tests/lib.sh"

READ="$PROGS/read_trace"
LEAKS="$PROGS/trace_leaks"
K=20000 S=256 SAMPLE=16384
sum=0
for seed in 1 2 3 4 5; do
	dir="$hw_tmp/seed$seed"
	mkdir -p "$dir"
	HEAPWALK_TRACE_SEED=$seed hw_dump_core "$dir" "$CORETOOL" trace --sample $SAMPLE -- \
		"$LEAKS" sample $K $S >/dev/null || fail "seed $seed: no core"
	"$READ" "$dir"/core* function >"$dir/read" 2>"$dir/read.err" ||
		fail "seed $seed: read_trace: $(cat "$dir/read.err")"
	head -n 1 "$dir/read" | grep -q "^# mode sampled sample $SAMPLE .* problems 0 " ||
		fail "seed $seed: summary: $(head -n 1 "$dir/read")"
	# KEY COUNT BYTES EST_COUNT EST_BYTES
	line=$(awk -F'\t' '$1 == "leak_a"' "$dir/read")
	[[ -n $line ]] || fail "seed $seed: no sample of leak_a at all"
	est=$(echo "$line" | cut -f4)
	est_bytes=$(echo "$line" | cut -f5)
	churn=$(awk -F'\t' '$1 == "churn" { print $2 }' "$dir/read")
	[[ -z $churn ]] || fail "seed $seed: $churn freed churn blocks still in the table"
	awk -v e="$est" -v b="$est_bytes" -v k=$K -v s=$S 'BEGIN {
		if (e < 0.75 * k || e > 1.25 * k || b < 0.75 * k * s || b > 1.25 * k * s) exit 1 }' ||
		fail "seed $seed: estimate $est blocks / $est_bytes bytes, truth $K / $((K * S)) (25%)"
	# coretool's views weigh the same records alike: leak_a's estimate
	# is read_trace's, rounded; the total is the walk's, exact
	"$CORETOOL" top --group-by function --format json "$dir"/core* >"$dir/top.json" ||
		fail "seed $seed: coretool top"
	"$HW_PY" - "$dir/top.json" "$est" $SAMPLE $K "$est_bytes" <<'PY' || fail "seed $seed: coretool top's estimate"
import json, sys
d = json.load(open(sys.argv[1]))
est, sample, k, est_bytes = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
g = {x["key"]: x for x in d["groups"]}
assert d["estimates"] == {"sample_bytes": sample}, d["estimates"]
assert any("estimates from the tracer's sample" in n for n in d["notes"]), d["notes"]
assert g["leak_a"]["count"] == round(est), (g["leak_a"]["count"], est)
# bytes as requested: read_trace's estimate (usable bytes: each recorded
# block's own usable size weighed alike, at least the request)
assert abs(g["leak_a"]["requested_bytes"] - est_bytes) <= 1, (g["leak_a"], est_bytes)
assert g["leak_a"]["bytes"] >= g["leak_a"]["requested_bytes"], g["leak_a"]
assert d["total"]["count"] >= k, d["total"]
PY
	"$CORETOOL" summary "$dir"/core* | grep -q "site '?' for .* not in the sample" ||
		fail "seed $seed: summary does not say the '?' allocations are the unsampled ones"
	echo "ok seed $seed: $(echo "$line" | cut -f2) samples, estimate $est blocks (truth $K), coretool top the same"
	sum=$(awk -v a="$sum" -v e="$est" 'BEGIN { print a + e }')
done
mean=$(awk -v a="$sum" 'BEGIN { print a / 5 }')
awk -v m="$mean" -v k=$K 'BEGIN { if (m < 0.88 * k || m > 1.12 * k) exit 1 }' ||
	fail "mean estimate over 5 seeds $mean, truth $K (12%)"
echo "ok mean of 5 seeds: $mean (truth $K)"

# 16 threads sampled at 16 bytes: each of their 40-byte blocks is
# recorded with p = 1 - exp(-40/16) = 0.918, independently of the others,
# so of the 32000 kept the estimate's sigma is sqrt((1-p)/(K p)) = 0.17%:
# every seed within 0.8% (4.7 sigma).  (The threads' random sequences
# were once one sequence shifted by a draw per thread: the estimates then
# spread 4 times wider, -1.0% with seeds 1 and 2.)  Tens of thousands of
# recorded blocks also grow the frees' filter (tracer.h) twice while other
# threads free theirs, half of them across threads: a free the filter
# wrongly waved through would leave an entry for a freed block, and the
# walk, which finds those blocks free, is the oracle.
for seed in 1 2 3; do
	dir="$hw_tmp/threads$seed"
	mkdir -p "$dir"
	HEAPWALK_TRACE_SEED=$seed hw_dump_core "$dir" "$CORETOOL" trace --sample 16 -- \
		"$LEAKS" threads 2000 40 >/dev/null || fail "threads: no core"
	core=$(ls "$dir"/core* | head -n 1)
	"$CORETOOL" check "$core" >"$dir/check" || fail "threads: coretool check: $(head -n 3 "$dir/check")"
	grep -q tracer-entry-free "$dir/check" &&
		fail "threads: entries for freed blocks: $(grep -c tracer-entry-free "$dir/check")"
	"$READ" "$core" function >"$dir/read" 2>"$dir/read.err" ||
		fail "threads: read_trace: $(cat "$dir/read.err")"
	head -n 1 "$dir/read" | grep -q "^# mode sampled sample 16 .* problems 0 " ||
		fail "threads: summary: $(head -n 1 "$dir/read")"
	truth=$(awk '$1 == "leak_thread" { print $2 }' "$dir/stdout")
	est=$(awk -F'\t' '$1 == "leak_thread" { print $4 }' "$dir/read")
	[[ -n $truth && -n $est ]] || fail "threads: no leak_thread (truth '$truth', estimate '$est')"
	awk -v e="$est" -v k="$truth" 'BEGIN { if (e < 0.992 * k || e > 1.008 * k) exit 1 }' ||
		fail "threads seed $seed: estimate $est blocks, truth $truth (0.8%)"
	echo "ok threads seed $seed: estimate $est blocks (truth $truth), no entry for a freed block"
done

# Two children forked from one state (as a pre-forking server's workers)
# keep the same 20000 blocks of 16..1015 bytes: each samples with a
# sequence of its own (they once went on with their parent's, and so
# recorded the very same blocks).  Oracle: the blocks recorded differ
# between the children (their recorded bytes), and each child's estimate
# is within 10% of the truth (p = 1 - exp(-size/4096), ~12% on average:
# sigma ~2%).
dir="$hw_tmp/forks"
mkdir -p "$dir/child1" "$dir/child2"
(cd "$dir" && ulimit -c unlimited && HEAPWALK_TRACE_SEED=5 exec "$CORETOOL" trace --sample 4096 -- \
	"$LEAKS" forks 20000 0) >"$dir/stdout" 2>"$dir/stderr" || fail "forks: the parent failed"
truth=$(awk '$1 == "leak_varied" { print $2 }' "$dir/stdout")
[[ -n $truth ]] || fail "forks: no truth printed: $(cat "$dir/stdout")"
for c in child1 child2; do
	core=$(ls "$dir/$c"/core* 2>/dev/null | head -n 1)
	[[ -n $core ]] || fail "forks: $c left no core"
	"$READ" "$core" function >"$dir/$c.read" 2>"$dir/$c.err" ||
		fail "forks: read_trace $c: $(cat "$dir/$c.err")"
	head -n 1 "$dir/$c.read" | grep -q "^# mode sampled sample 4096 .* problems 0 " ||
		fail "forks: $c summary: $(head -n 1 "$dir/$c.read")"
	est=$(awk -F'\t' '$1 == "leak_varied" { print $4 }' "$dir/$c.read")
	awk -v e="${est:-0}" -v k="$truth" 'BEGIN { if (e < 0.9 * k || e > 1.1 * k) exit 1 }' ||
		fail "forks: $c estimate ${est:-none} blocks, truth $truth (10%)"
done
b1=$(awk -F'\t' '$1 == "leak_varied" { print $2 "/" $3 }' "$dir/child1.read")
b2=$(awk -F'\t' '$1 == "leak_varied" { print $2 "/" $3 }' "$dir/child2.read")
[[ $b1 != "$b2" ]] || fail "forks: both children recorded the same blocks ($b1 samples/bytes)"
echo "ok forks: the children sampled apart ($b1 and $b2 samples/bytes), estimates within 10% of $truth"

# Every allocating function of the malloc family, sampled at 1 byte (each
# block of 300 bytes or more is then recorded with p = 1 - e^-300: all of
# them): a sampled heap block is moved to a page boundary, which is all
# that free's fast path looks at (tracer.h, hwt_free_mask).  Oracles: the
# program's own checks (calloc's zeros, contents kept by realloc and by
# the move, alignments asked for, usable sizes as glibc rounds requests
# plus at most memalign's 32-byte spare end: it exits 1 without a core
# when one fails); the exact count and bytes per function; no entry for the blocks
# made and freed as many again (fam_freed), through free, realloc(p, 0)
# and reallocarray(p, 0, 0), and none the walk finds free.  A block
# recorded where it was made (no move) would be freed past the tracer:
# 1300 such entries for reallocarray alone, with seed 1.
dir="$hw_tmp/family"
mkdir -p "$dir"
HEAPWALK_TRACE_SEED=1 hw_dump_core "$dir" "$CORETOOL" trace --sample 1 -- \
	"$LEAKS" family 2000 300 >/dev/null || fail "family: no core (the program's checks: $(cat "$dir/stderr" 2>/dev/null))"
core=$(ls "$dir"/core* | head -n 1)
"$READ" "$core" function >"$dir/read" 2>"$dir/read.err" ||
	fail "family: read_trace: $(cat "$dir/read.err")"
head -n 1 "$dir/read" | grep -q "^# mode sampled sample 1 .* problems 0 " ||
	fail "family: summary: $(head -n 1 "$dir/read")"
while read -r fn count bytes; do
	got=$(awk -F'\t' -v f="$fn" '$1 == f { print $2 " " $3 }' "$dir/read")
	[[ $got == "$count $bytes" || ($count == 0 && -z $got) ]] ||
		fail "family: $fn recorded '${got:-nothing}', truth $count $bytes"
done <"$dir/stdout"
"$CORETOOL" check "$core" >"$dir/check" || fail "family: coretool check: $(head -n 3 "$dir/check")"
grep -q tracer-entry-free "$dir/check" &&
	fail "family: entries for freed blocks: $(grep -c tracer-entry-free "$dir/check")"
echo "ok family: every function's blocks exact, none freed left, the program saw what glibc gives"

# Python buffers reallocated (and moved) under sampling: a recorded block
# that moves into an unsampled one must leave no entry for the freed old
# block (the PyMem realloc hook once put it back: 12 such entries with this
# seed on pyenv's 3.11.7).  Oracle: the walk, which finds those blocks free.
dir="$hw_tmp/grow"
mkdir -p "$dir"
HEAPWALK_TRACE_SEED=7 hw_dump_core "$dir" "$CORETOOL" trace --sample 4KiB -- \
	"$HW_PY" "$top_srcdir/tests/programs/trace_grow.py" >/dev/null || fail "grow: no core"
core=$(ls "$dir"/core* | head -n 1)
"$CORETOOL" check "$core" >"$dir/check" || fail "grow: coretool check: $(head -n 3 "$dir/check")"
grep -q tracer-entry-free "$dir/check" &&
	fail "grow: entries for freed blocks: $(grep -c tracer-entry-free "$dir/check")"
"$CORETOOL" summary "$core" | grep -q '^tracer: mode sampled' ||
	fail "grow: the core has no sampled tracer table"
echo "ok grow: no tracer entry for a block the walk finds free"
exit 0
