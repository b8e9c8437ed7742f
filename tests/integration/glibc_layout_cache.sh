#!/usr/bin/env bash
# The glibc layout cache (libheapwalk/glibc/layout_cache.c): the layout read
# from libc's DWARF is kept under $XDG_CACHE_HOME/heapwalk per build-id.
# Against glibc_heap's ground truth (mallinfo2 and its pointer lists): the
# walk is exact with an empty cache (the entry is written), with the entry
# (read), with a damaged, cut or stale entry (ignored, rewritten), and with
# HEAPWALK_NO_CACHE (nothing written).  An entry that matches the debug
# file is really used: the same entry with malloc_state.top moved makes the
# walk disagree with the truth.
. "$top_srcdir/tests/lib.sh"
heap="$PROGS/glibc_heap"
walk="$PROGS/walk_glibc"
[[ -r /usr/lib/debug/.build-id ]] || skip "no /usr/lib/debug (libc6-dbg): no DWARF layout to cache"

mkdir "$hw_tmp/plain"
core=$(hw_dump_core "$hw_tmp/plain" "$heap" "$hw_tmp/plain/truth" core) ||
	skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
cache=$hw_tmp/cache
export XDG_CACHE_HOME=$cache

exact() { # exact WHAT: the walk agrees with the truth, through libc's debug info
	"$walk" --symbols debuginfo --truth "$hw_tmp/plain/truth" "$core" >"$hw_tmp/out" 2>&1 ||
		{ cat "$hw_tmp/out"; fail "$1: the walk differs from the truth"; }
}
entry() { # the one cache entry
	local e=("$cache"/heapwalk/glibc-*.layout)
	[[ ${#e[@]} == 1 && -f ${e[0]} ]] || fail "$1: not one cache entry: ${e[*]}"
	echo "${e[0]}"
}

HEAPWALK_NO_CACHE=1 exact "no cache"
[[ ! -e $cache ]] || fail "HEAPWALK_NO_CACHE: something was written under $cache"

exact "empty cache"
e=$(entry "after the first walk")
grep -q '^heapwalk-glibc-layout 2$' "$e" && grep -q '^ms_top [0-9]' "$e" && grep -q '^end$' "$e" ||
	fail "the entry is not what it should be: $(cat "$e")"
cp "$e" "$hw_tmp/good"
exact "cache filled"
cmp -s "$e" "$hw_tmp/good" || fail "a valid entry was rewritten"

# Used: top moved by 8 in a matching entry breaks the walk.
sed 's/^ms_top \([0-9]*\)$/echo ms_top $((\1 + 8))/e' "$hw_tmp/good" >"$e"
grep -q "^ms_top $(($(sed -n 's/^ms_top //p' "$hw_tmp/good") + 8))$" "$e" || fail "could not edit the entry"
if "$walk" --symbols debuginfo --truth "$hw_tmp/plain/truth" "$core" >"$hw_tmp/out" 2>&1; then
	fail "an entry with a wrong malloc_state.top was not used (or not read)"
fi

# Ignored and rewritten: garbage, a cut entry, another debug file.
for damage in garbage cut stale; do
	case $damage in
	garbage) head -c 300 /dev/urandom >"$e" ;;
	cut) head -n 10 "$hw_tmp/good" >"$e" ;;
	stale) sed 's/^\(debug [^\t]*\t\)[0-9]*/\11/' "$hw_tmp/good" >"$e" ;;
	esac
	cmp -s "$e" "$hw_tmp/good" && fail "$damage: the entry did not change"
	exact "$damage entry"
	cmp -s "$e" "$hw_tmp/good" || fail "$damage: the entry was not rewritten: $(cat "$e")"
done

# Deleting the cache is safe.
rm -rf "$cache"
exact "cache deleted"
exit 0
