#!/usr/bin/env bash
# coretool report: one self-contained HTML page, checked against coretool's
# own views (report_check.py): each section's text is byte for byte what
# `coretool summary`, `check`, `top --group-by KEY --limit 20` and `diff`
# print, each bar table holds the JSON view's groups in order, the page's
# tags nest, nothing is fetched or run (no script, no src, no link out),
# and every string from the target is escaped (mksnap --hostile: a type
# named <script>..., a frame <img onerror=...>, a problem "</pre><script>").
# On synthetic snapshots with sites and --vs, and on a kernel core without
# the tracer (no site sections).
. "$top_srcdir/tests/lib.sh"
py=$(command -v python3) || skip "python3 not found"
cd "$hw_tmp" || fail "no tmp"
"$PROGS/mksnap" old.hsnap old.json --seed 5 --count 3000 --hostile || fail "mksnap old"
"$PROGS/mksnap" new.hsnap new.json --seed 5 --count 3000 --grow 400 --hostile || fail "mksnap new"
"$CORETOOL" report new.hsnap --vs old.hsnap -o vs.html || fail "report --vs: exit $?"
"$py" "$top_srcdir/tests/integration/report_check.py" "$CORETOOL" vs.html new.hsnap old.hsnap ||
	fail "report --vs against the views"
# the hostile names are on the page, escaped (so the checks above were not vacuous)
for esc in '&lt;script&gt;alert(&quot;type&quot;)&lt;/script&gt;' '&lt;/pre&gt;&lt;script&gt;alert(2)' \
	'&lt;img src=x onerror=alert(1)&gt;' 'a&amp;b&lt;c&gt;&#39;d&#39;.py'; do
	grep -qF "$esc" vs.html || fail "report: '$esc' not on the page"
done
# to stdout without -o: the same page
"$CORETOOL" report --vs old.hsnap new.hsnap >stdout.html || fail "report to stdout: exit $?"
cmp -s vs.html stdout.html || fail "report to stdout differs from -o"

mkdir c
core=$(hw_dump_core "$hw_tmp/c" "$PROGS/glibc_heap" "$hw_tmp/c/truth" core) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
"$CORETOOL" report "$core" -o core.html || fail "report of a core: exit $?"
"$py" "$top_srcdir/tests/integration/report_check.py" "$CORETOOL" core.html "$core" ||
	fail "report of a core against the views"

# errors: no target (2), a target that is not one (3), --vs without a value (2)
"$CORETOOL" report -o x.html 2>/dev/null
(($? == 2)) || fail "report without a target: not a usage error"
echo "not a core" >bad
"$CORETOOL" report bad -o x.html 2>err
(($? == 3)) && (($(wc -l <err) == 1)) || fail "report of a bad file: $(cat err)"
"$CORETOOL" report new.hsnap --vs 2>/dev/null
(($? == 2)) || fail "--vs without a value: not a usage error"
exit 0
