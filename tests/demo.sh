#!/usr/bin/env bash
# The demo: a leaky Python service runs under the tracer; two real cores are
# taken some seconds apart; coretool summarises the second and names what
# grew between them, and writes the offline report of the two
# ($BUILD/demo/report.html).  Needs nothing but a build tree.
set -uo pipefail
build=${1:?usage: demo.sh BUILD_DIR}
src=$(cd "$(dirname "$0")/.." && pwd)
coretool="$build/coretool/coretool"
out="$build/demo"
py=/usr/bin/python3.11
[[ -x $py ]] || py=$(command -v python3)
rm -rf "$out"
mkdir -p "$out"

step() { if [[ -t 1 ]]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
failed=0
run() { # show a command, run it; a failure is said, and fails the demo at its end
	printf '$ %s\n' "${*/#$build\/coretool\//}"
	"$@"
	local rc=$?
	((rc == 0)) || { printf '(exit %d)\n' "$rc"; failed=1; }
	return 0
}

step "start the leaky service under the tracer"
"$coretool" trace -- "$py" "$src/tests/programs/leaky_service.py" "$out/ready" &
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
for _ in $(seq 100); do [[ -s $out/ready ]] && break; sleep 0.1; done
[[ -s $out/ready ]] || { echo "demo: the service did not start"; exit 1; }
# the service may run under a wrapper: take the python process itself
pypid=$(pgrep -n -P "$pid" 2>/dev/null || true)
[[ -n $pypid ]] || pypid=$pid

step "two cores of the running service, 3 seconds apart"
gdb -nx -batch -p "$pypid" -ex "gcore $out/old.core" >/dev/null 2>&1
sleep 3
gdb -nx -batch -p "$pypid" -ex "gcore $out/new.core" >/dev/null 2>&1
kill -9 "$pid" 2>/dev/null
ls -l "$out"/*.core

step "what the core is"
"$coretool" info "$out/new.core" >"$out/info.txt" || { echo "demo: coretool info failed"; failed=1; }
printf '$ coretool info %s\n' "$out/new.core"
sed -n '1,12p' "$out/info.txt"
step "summary"
run "$coretool" summary "$out/new.core"
step "top --group-by lineno"
run "$coretool" top --group-by lineno "$out/new.core"
step "diff old new"
run "$coretool" diff --group-by lineno "$out/old.core" "$out/new.core"

step "the leak"
# The line whose live bytes grew most between the two cores, from the JSON
# diff; the demo fails unless it is the service's leaking line.
leak=$("$coretool" diff --group-by lineno --format json "$out/old.core" "$out/new.core" |
	"${py}" -c 'import json,sys; g=json.load(sys.stdin)["groups"][0]; print("%s %+d bytes %+d allocations" % (g["key"], g["bytes_diff"], g["count_diff"]))')
echo "grew most: $leak"
want="leaky_service.py:$(grep -n '# the leak' "$src/tests/programs/leaky_service.py" | cut -d: -f1)"
case "$leak" in
*"$want "*) echo "that is the leaking line ($want): remember_request() keeps every third request forever" ;;
*)
	echo "demo: expected $want to grow most"
	exit 1
	;;
esac

step "the offline report"
run "$coretool" report "$out/new.core" --vs "$out/old.core" -o "$out/report.html"
[[ -s $out/report.html ]] || { echo "demo: no report written"; exit 1; }
echo "wrote $out/report.html: one self-contained page (summary, problems, the largest groups, what grew since old.core); open it in any browser"
((failed == 0)) || { echo "demo: a step above failed"; exit 1; }
