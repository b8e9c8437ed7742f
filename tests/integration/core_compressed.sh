#!/usr/bin/env bash
# A kernel core compressed as systemd-coredump stores it (zstd): every view
# reads it as the core itself (summary JSON identical but for the path);
# the stream cut short reads as a truncated core (core-truncated, check
# exits 1); an xz core is refused with how to decompress it (exit 3).
. "$top_srcdir/tests/lib.sh"
command -v zstd >/dev/null || skip "zstd not installed (apt-get install zstd)"
py=$(command -v python3) || skip "python3 not found"
mkdir "$hw_tmp/z"
core=$(hw_dump_core "$hw_tmp/z" "$PROGS/glibc_heap" "$hw_tmp/z/truth" core) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
zstd -q -19 --long "$core" -o "$hw_tmp/z/core.zst" 2>/dev/null || zstd -q "$core" -o "$hw_tmp/z/core.zst" ||
	fail "zstd failed"
"$CORETOOL" summary --format json "$core" >"$hw_tmp/z/plain.json" || fail "summary of the core"
"$CORETOOL" summary --format json "$hw_tmp/z/core.zst" >"$hw_tmp/z/zst.json" ||
	fail "summary of the zstd core: exit $?"
"$py" - "$hw_tmp/z/plain.json" "$hw_tmp/z/zst.json" <<'PY' || fail "the zstd core's summary differs from the core's"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert b["target"]["path"].endswith(".zst"), b["target"]
a["target"]["path"] = b["target"]["path"] = None
assert a == b, "summaries differ"
assert a["glibc"]["mallinfo2"]["arena"] > 0 and not a["problems"], a["problems"]
print("zstd core: same summary,", a["allocations"]["glibc"]["used"]["count"], "used chunks")
PY
"$CORETOOL" check "$hw_tmp/z/core.zst" >/dev/null || fail "check of the zstd core: exit $?"
# --long needs as much on decompression; a plain one for the cut
zstd -q -1 "$core" -o "$hw_tmp/z/plain1.zst" || fail "zstd failed"
size=$(stat -c %s "$hw_tmp/z/plain1.zst")
head -c $((size / 2)) "$hw_tmp/z/plain1.zst" >"$hw_tmp/z/cut.zst"
"$CORETOOL" check "$hw_tmp/z/cut.zst" >"$hw_tmp/z/cut.check" 2>&1
rc=$?
((rc == 1)) || { cat "$hw_tmp/z/cut.check"; fail "check of a cut zstd core: exit $rc, expected 1"; }
grep -q core-truncated "$hw_tmp/z/cut.check" || fail "a cut zstd core is not reported truncated"
"$CORETOOL" info "$hw_tmp/z/cut.zst" | grep -q "zstd stream ends early" ||
	fail "info does not say the zstd stream ends early"
if command -v xz >/dev/null; then
	xz -0 -T1 -c "$core" >"$hw_tmp/z/core.xz"
	"$CORETOOL" summary "$hw_tmp/z/core.xz" 2>"$hw_tmp/z/xz.err"
	rc=$?
	((rc == 3)) && grep -q "xz -dk" "$hw_tmp/z/xz.err" && (($(wc -l <"$hw_tmp/z/xz.err") == 1)) ||
		fail "an xz core: exit $rc, $(cat "$hw_tmp/z/xz.err")"
else
	echo "SKIP: no xz tool: an xz-compressed core not checked"
fi
exit 0
