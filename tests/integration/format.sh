#!/usr/bin/env bash
# One formatter configuration for all C code: every C/C++ file the project
# tracks must be as clang-format (.clang-format at the top) writes it.
. "$top_srcdir/tests/lib.sh"
command -v clang-format >/dev/null || skip "clang-format not installed"
cd "$top_srcdir" || hard_error "no source tree"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h' '*.cc')
else # a release tarball
	files=$(find . -path ./build -prune -o \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -print | grep -v -e '/build' -e 'config.h')
fi
bad=$(for f in $files; do clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
[[ -z $bad ]] || fail "not formatted (run clang-format -i on them): $(echo $bad)"
echo "ok: $(echo "$files" | wc -w) files formatted"
