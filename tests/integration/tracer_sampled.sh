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
	echo "ok seed $seed: $(echo "$line" | cut -f2) samples, estimate $est blocks (truth $K)"
	sum=$(awk -v a="$sum" -v e="$est" 'BEGIN { print a + e }')
done
mean=$(awk -v a="$sum" 'BEGIN { print a / 5 }')
awk -v m="$mean" -v k=$K 'BEGIN { if (m < 0.88 * k || m > 1.12 * k) exit 1 }' ||
	fail "mean estimate over 5 seeds $mean, truth $K (12%)"
echo "ok mean of 5 seeds: $mean (truth $K)"

# Python buffers reallocated (and moved) under sampling: a recorded block
# that moves into an unsampled one must leave no entry for the freed old
# block (the PyMem realloc hook once put it back: 12 such entries with this
# seed on pyenv's 3.11.7).  Oracle: the walk, which finds those blocks free.
dir="$hw_tmp/grow"
mkdir -p "$dir"
HEAPWALK_TRACE_SEED=7 hw_dump_core "$dir" "$CORETOOL" trace --sample 4KiB -- \
	"$HW_PY" "$top_srcdir/tests/programs/trace_grow.py" >/dev/null || fail "grow: no core"
core=$(ls "$dir"/core* | head -n 1)
"$CORETOOL" check "$core" >"$dir/check"
grep -q tracer-entry-free "$dir/check" &&
	fail "grow: entries for freed blocks: $(grep -c tracer-entry-free "$dir/check")"
"$CORETOOL" summary "$core" | grep -q '^tracer: mode sampled' ||
	fail "grow: the core has no sampled tracer table"
echo "ok grow: no tracer entry for a block the walk finds free"
exit 0
