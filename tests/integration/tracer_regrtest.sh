#!/bin/bash
# tracer_regrtest.sh: the program's behaviour does not change under the
# tracer: a subset of CPython's own regression tests passes under
# `coretool trace` (all mode, Python frames, 8 native frames), on the
# CPythons that ship their test suite (the pyenv builds 3.11 and 3.12;
# Debian's python3.11 needs libpython3.11-testsuite, used when installed).
# The oracle is the test suite's own verdict.  When a test also fails
# without the tracer, that is this machine, not the tracer: reported, and
# the test is left out.  The first interpreter runs the subset once more
# in sampled mode at 256 bytes (a sample every few allocations: the heap
# blocks sampled are moved to page boundaries, tracer.h hwt_free_mask),
# without its slowest test (test_re).
. "$top_srcdir/tests/lib.sh"

TESTS_SUBSET=(test_dict test_list test_json test_unicode test_collections test_re test_gc)
SAMPLED_SUBSET=()
for t in "${TESTS_SUBSET[@]}"; do
	[[ $t == test_re ]] || SAMPLED_SUBSET+=("$t")
done

# run_subset LABEL PY LOG TRACE-OPTION... -- TEST...: the tests under the
# tracer; a failure counts only when the test passes without it
run_subset() {
	local label=$1 py=$2 log=$3
	shift 3
	local opts=()
	while [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	shift
	if "$CORETOOL" trace "${opts[@]}" -- "$py" -m test -q "$@" >"$log" 2>&1; then
		echo "ok $label ${opts[*]}: $* pass under the tracer ($(grep -m1 'Total tests' "$log"))"
		return 0
	fi
	# which failed, and do they fail without the tracer too?
	local failed t
	failed=$(sed -n 's/^test \(test_[a-z_0-9]*\) failed.*/\1/p' "$log" | sort -u)
	[[ -n $failed ]] ||
		fail "$label ${opts[*]}: the test run failed under the tracer: $(tail -n 5 "$log")"
	for t in $failed; do
		if "$py" -m test -q "$t" >"$log.$t" 2>&1; then
			fail "$label ${opts[*]}: $t passes without the tracer but fails under it: $(grep -m3 -E 'Error|FAIL' "$log")"
		fi
		echo "note: $label: $t fails without the tracer too (this machine); not counted"
	done
}

ran=0
while read -r label py; do
	case $label in
	pyenv-3.11 | pyenv-3.12 | debian-3.11) ;;
	*) continue ;;
	esac
	"$py" -c 'import test.regrtest, test.test_dict' 2>/dev/null || {
		hint=
		[[ $label == debian-* ]] && hint=" (libpython3.11-testsuite, which quickstart installs)"
		echo "SKIP: $label has no test suite$hint"
		continue
	}
	run_subset "$label" "$py" "$hw_tmp/$label.log" -- "${TESTS_SUBSET[@]}"
	((ran == 0)) && run_subset "$label" "$py" "$hw_tmp/$label.sampled.log" --sample 256 -- \
		"${SAMPLED_SUBSET[@]}"
	ran=$((ran + 1))
done < <(hw_pythons)
((ran)) || skip "no CPython with its test suite (pyenv 3.11/3.12, or libpython3.11-testsuite)"
exit 0
