#!/bin/bash
# tracer_regrtest.sh: the program's behaviour does not change under the
# tracer: a subset of CPython's own regression tests passes under
# `coretool trace` (all mode, Python frames, 8 native frames), on the
# CPythons that ship their test suite (the pyenv builds 3.11 and 3.12;
# Debian's python3.11 needs libpython3.11-testsuite, used when installed).
# The oracle is the test suite's own verdict.  When a test also fails
# without the tracer, that is this machine, not the tracer: reported, and
# the test is left out.
. "$top_srcdir/tests/lib.sh"

TESTS_SUBSET=(test_dict test_list test_json test_unicode test_collections test_re test_gc)
ran=0
while read -r label py; do
	case $label in
	pyenv-3.11 | pyenv-3.12 | debian-3.11) ;;
	*) continue ;;
	esac
	"$py" -c 'import test.regrtest, test.test_dict' 2>/dev/null || {
		echo "note: $label has no test suite"
		continue
	}
	log="$hw_tmp/$label.log"
	if "$CORETOOL" trace -- "$py" -m test -q "${TESTS_SUBSET[@]}" >"$log" 2>&1; then
		echo "ok $label: ${TESTS_SUBSET[*]} pass under the tracer ($(grep -m1 'Total tests' "$log"))"
		ran=$((ran + 1))
		continue
	fi
	# which failed, and do they fail without the tracer too?
	failed=$(sed -n 's/^test \(test_[a-z_0-9]*\) failed.*/\1/p' "$log" | sort -u)
	[[ -n $failed ]] || fail "$label: the test run failed under the tracer: $(tail -n 5 "$log")"
	for t in $failed; do
		if "$py" -m test -q "$t" >"$hw_tmp/$label-$t.log" 2>&1; then
			fail "$label: $t passes without the tracer but fails under it: $(grep -m3 -E 'Error|FAIL' "$log")"
		fi
		echo "note: $label: $t fails without the tracer too (this machine); not counted"
	done
	ran=$((ran + 1))
done < <(hw_pythons)
((ran)) || skip "no CPython with its test suite (pyenv 3.11/3.12, or libpython3.11-testsuite)"
exit 0
