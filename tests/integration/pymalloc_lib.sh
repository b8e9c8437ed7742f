# pymalloc_lib.sh: helpers shared by the pymalloc integration tests (sourced
# after tests/lib.sh).
WALK="$PROGS/walk_pymalloc"
POPULATION="$top_srcdir/tests/programs/pymalloc_population.py"

# pm_oracle STDERR: sys._debugmallocstats()'s per-class lines and current
# arenas as "class IDX SIZE POOLS IN_USE AVAIL" / "arenas N", sorted.  Several
# reports (one per pymalloc state: isolated subinterpreters) are summed.
pm_oracle() {
	awk '/^class +size +num pools/ { on = 1; next }
	     on && /^ *[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ *$/ {
		size[$1] = $2; pools[$1] += $3; used[$1] += $4; avail[$1] += $5; next }
	     on && !/^-/ { on = 0 }
	     /^# arenas allocated current/ { arenas += $NF; seen = 1 }
	     END { for (i in size) print "class", i, size[i], pools[i], used[i], avail[i]
		   if (seen) print "arenas", arenas }' "$1" | sort
}

# pm_walked WALK_OUTPUT: the same lines from walk_pymalloc's output.
pm_walked() {
	grep -E '^(class|arenas) ' "$1" | sort
}

# pm_compare_summary LABEL STDERR WALK_OUTPUT: summary per size class and
# arenas exactly as the oracle, a nonempty oracle, no problem reported.
pm_compare_summary() {
	local label=$1 oracle=$2 walked=$3 exp got
	exp=$(pm_oracle "$oracle")
	got=$(pm_walked "$walked")
	[[ $exp == *class* && $exp == *arenas* ]] || fail "$label: no _debugmallocstats output in $oracle"
	if [[ $exp != "$got" ]]; then
		diff <(echo "$exp") <(echo "$got") | head -20
		fail "$label: pymalloc summary differs from sys._debugmallocstats() (< oracle, > walker)"
	fi
	if grep -q '^problem' "$walked"; then
		grep '^problem' "$walked" | head -5
		fail "$label: problems reported on an intact heap"
	fi
	echo "ok $label: $(grep -c '^class' "$walked") size classes, $(grep '^arenas' "$walked"), symbols $(awk '/^symbols/{print $2}' "$walked")"
}

# pm_compare LABEL STDERR WALK_OUTPUT STDOUT: pm_compare_summary, then every
# "expect NAME N" of the script's stdout (summed by name) exactly N times as
# a type, every "atleast NAME N" at least N times.
pm_compare() {
	local label=$1 oracle=$2 walked=$3 expect=$4
	pm_compare_summary "$@"
	grep -q '^glibc walked' "$walked" ||
		fail "$label: the glibc walk (large objects) failed: $(grep '^glibc' "$walked")"
	local name n c
	while read -r name n; do
		c=$(awk -v n="$name" '$1 == "type" && $2 == n { s += $3 } END { print s + 0 }' "$walked")
		[[ $c == "$n" ]] || fail "$label: $c objects of type $name, the script made $n"
	done < <(awk '$1 == "expect" { n[$2] += $3 } END { for (k in n) print k, n[k] }' "$expect")
	grep -q '^expect ' "$expect" || fail "$label: the script printed no expectations"
	while read -r _ name n; do
		c=$(awk -v n="$name" '$1 == "type" && $2 == n { s += $3 } END { print s + 0 }' "$walked")
		((c >= n)) || fail "$label: $c objects of type $name, the script keeps $n"
	done < <(grep '^atleast ' "$expect")
	echo "ok $label: types"
}

# pm_pythons: hw_pythons, plus the older pyenv builds the walker also reads
# (3.6, 3.7) when present, in the same "label path" form.
pm_pythons() {
	local root v d
	root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
	for v in 3.6 3.7; do
		d=$(ls -d "$root"/versions/"$v".* 2>/dev/null | sort -V | tail -n 1)
		[[ -n $d && -x $d/bin/python$v ]] && echo "pyenv-$v $d/bin/python$v"
	done
	hw_pythons
}

# pm_coretool_view CORE OUT: coretool's own view of the same core, in
# walk_pymalloc's line format: `summary --format json`'s pymalloc part
# (classes with pools, arenas) and `top --group-by type --format json`'s
# groups as "type NAME COUNT" (the contract's surface, ORACLES.md).
pm_coretool_view() {
	local core=$1 out=$2
	"$CORETOOL" summary --format json "$core" >"$out.summary" 2>"$out.err" || return 1
	"$CORETOOL" top --group-by type --format json --limit 0 "$core" >"$out.top" 2>>"$out.err" || return 1
	python3 - "$out.summary" "$out.top" >"$out" <<'PY' || return 1
import json, sys
s = json.load(open(sys.argv[1]))["pymalloc"]
print("symbols", s["symbols"])
print("arenas", s["arenas"])
for i, c in enumerate(s["size_classes"]):
    if c["pools"]:
        print("class", i, c["size"], c["pools"], c["blocks_in_use"], c["free_blocks"])
for g in json.load(open(sys.argv[2]))["groups"]:
    print("type", g["key"], g["count"])
# the glibc walk's part: its summary, and no problem of its own
full = json.load(open(sys.argv[1]))
if full["glibc"] and not [p for p in full["problems"] if p["kind"].startswith("glibc")]:
    print("glibc walked")
PY
}
