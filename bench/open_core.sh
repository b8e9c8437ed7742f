#!/usr/bin/env bash
# Opening a 2 GiB core costs milliseconds: nothing is read until needed.
set -eu
: "${top_builddir:?}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(cd "$dir" && ulimit -c unlimited && "$top_builddir/bench/bigmem" "${BENCH_CORE_MIB:-2048}") >/dev/null 2>&1 || true
core=$(ls "$dir"/core* 2>/dev/null | head -n 1)
[[ -n $core ]] || { echo "open_core: no core written (core_pattern?)"; exit 0; }
"$top_builddir/bench/open_core" "$core" 20
