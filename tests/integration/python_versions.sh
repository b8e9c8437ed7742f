#!/usr/bin/env bash
# The walkers, the type namer and the tracer on CPythons as Debian ships them
# (stripped, CPython linked into the executable) and newer than the pyenv
# builds: trixie's python3.13, forky's python3.14 and python3.15, run by
# trixie's glibc 2.41 from a sysroot.
#  - pymalloc and types against sys._debugmallocstats() and the population
#    script's own instance counts (pymalloc_lib.sh): on cores with the
#    interpreter's symbol table, with its debug info (Debian's python3.X-dbg
#    carries the release interpreter's too), with the pool scan alone,
#    through coretool's views, with the files gone (found by name and
#    shape), and live;
#  - then tracer_python.sh (sites exact to the line, threads, the thread
#    state read directly, past 16 arenas, the unwinder) and
#    pymalloc_subinterp.sh (one state per subinterpreter) on the same
#    interpreters (HW_PYTHONS).
# Needs Debian's archive (debs_lib.sh): SKIP without it.
source "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/integration/pymalloc_lib.sh"
source "$top_srcdir/tests/integration/debs_lib.sh"

# the versions current when this was written
deb_pin trixie libc6 pool/main/g/glibc/libc6_2.41-12+deb13u5_amd64.deb b59b0625cd1a791375d40dab23a4d5d3d0641e3d0a773501becdc3725b7f99cf
deb_pin trixie zlib1g pool/main/z/zlib/zlib1g_1.3.dfsg+really1.3.1-1+deb13u1_amd64.deb 8c27c342230503b73dfde629642c3b352e87b554e06d60cf58772f236a305ceb
deb_pin trixie libexpat1 pool/main/e/expat/libexpat1_2.9.0-1~deb13u1_amd64.deb feff874772cae904ae4d24e917b35664952bec4b4ae9100a4edda5a7fa746832
deb_pin trixie libzstd1 pool/main/libz/libzstd/libzstd1_1.5.7+dfsg-1_amd64.deb 2f6a2aeacfc925eba8b00ac9139bc4bfccf8cacb09eb93de067074b26948eef9
deb_pin trixie libgcc-s1 pool/main/g/gcc-14/libgcc-s1_14.2.0-19_amd64.deb 3c71917b490d1a17aed43196a2787a256ecf060526cdb20216a74bedc061b150
deb_pin trixie libffi8 pool/main/libf/libffi/libffi8_3.4.8-2_amd64.deb 0ebdc340de33333639c3c63874cd4b15ac2e83dfa1ef3053b7eefaf4919f4f68
p=pool/main/p
deb_pin trixie python3.13-minimal $p/python3.13/python3.13-minimal_3.13.5-2+deb13u5_amd64.deb c1fda9e7b1bf15b2fa75a238d8a8710e142fe14c722fc650c5fc614f078c9073
deb_pin trixie libpython3.13-minimal $p/python3.13/libpython3.13-minimal_3.13.5-2+deb13u5_amd64.deb a4aa6a9a8c77f87bfe545e1d14ec42c001d189ace90e3aa75deec882b39dee49
deb_pin trixie libpython3.13-stdlib $p/python3.13/libpython3.13-stdlib_3.13.5-2+deb13u5_amd64.deb db161322a3481d2c0c3b9a3b9a03c3ab0e2b1718f54b88755fb4a3f939165b84
deb_pin trixie python3.13-dbg $p/python3.13/python3.13-dbg_3.13.5-2+deb13u5_amd64.deb 7eb0f35e066e7c5e2e44a5faae0770c68c38ed02ac997b02faca451cb1976965
deb_pin forky python3.14-minimal $p/python3.14/python3.14-minimal_3.14.8-1_amd64.deb 06e82c1b5c9d6f3ff6a25e0eb4c136fb10cedd93d51ec378ff163c9bee584270
deb_pin forky libpython3.14-minimal $p/python3.14/libpython3.14-minimal_3.14.8-1_amd64.deb 149d1ff143259f6a5a405522d40143595fdedbf6d8e01123ea798603f895c93d
deb_pin forky libpython3.14-stdlib $p/python3.14/libpython3.14-stdlib_3.14.8-1_amd64.deb abfa1b45e311461a4f8ee110d203efbc18808fada340af7036235b0d0c4cfd9a
deb_pin forky python3.14-dbg $p/python3.14/python3.14-dbg_3.14.8-1_amd64.deb eaac73d6dfa40ae2d90547a3210a297d17381b9beb43d71d232ad2bfac837bf2
deb_pin forky python3.15-minimal $p/python3.15/python3.15-minimal_3.15.0-1_amd64.deb 77b8d464d26c95db0138259b58ec5f3fefc91daeb287692f609a624bbc13a965
deb_pin forky libpython3.15-minimal $p/python3.15/libpython3.15-minimal_3.15.0-1_amd64.deb 0fae5a4767b545d4a8e6fcbdfb48772c41353a2bb18cad7de37cc8f2cccfa257
deb_pin forky libpython3.15-stdlib $p/python3.15/libpython3.15-stdlib_3.15.0-1_amd64.deb b4c6ba0262dc89dc8de7232ad29d94c3ab22203cf740303b166e1f8afa270ea3
deb_pin forky python3.15-dbg $p/python3.15/python3.15-dbg_3.15.0-1_amd64.deb 9681b4f866ea2f44f400b9513ed890a84525a5a508818fc5dbc20a344946d01f

root=$hw_tmp/root
deb_sysroot "$root" trixie libc6 zlib1g libexpat1 libzstd1 libgcc-s1 libffi8 ||
	skip "trixie's glibc could not be fetched from $deb_mirror"
dbg=$root/usr/lib/debug

# run_py VERSION ARGS... &: Debian's interpreter under the sysroot's glibc,
# in the background job's place (exec: $! is the interpreter's pid)
run_py() {
	local v=$1
	shift
	PYTHONHOME=$root/usr exec "$root/lib64/ld-linux-x86-64.so.2" \
		--library-path "$root/usr/lib/x86_64-linux-gnu" "$root/usr/bin/python$v" "$@"
}

walk_check() { # walk_check LABEL DIR WALK-ARGS...: walk_pymalloc --types --glibc, against the truth
	local label=$1 dir=$2
	shift 2
	"$WALK" --types --glibc "$@" >"$dir/$label.walk" 2>"$dir/walk.err" ||
		fail "$label: walk_pymalloc failed: $(cat "$dir/walk.err")"
	pm_compare "$label" "$dir/stderr" "$dir/$label.walk" "$dir/stdout"
}

tested=()
for sv in trixie:3.13 forky:3.14 forky:3.15; do
	suite=${sv%:*} v=${sv#*:}
	if ! deb_sysroot "$root" "$suite" "python$v-minimal" "libpython$v-minimal" "libpython$v-stdlib" \
		"python$v-dbg"; then
		echo "SKIP: $suite's python$v could not be fetched from $deb_mirror"
		continue
	fi
	dir=$hw_tmp/$v
	mkdir -p "$dir"
	core=$(hw_dump_core "$dir" env PYTHONHOME="$root/usr" "$root/lib64/ld-linux-x86-64.so.2" \
		--library-path "$root/usr/lib/x86_64-linux-gnu" "$root/usr/bin/python$v" "$POPULATION" core) ||
		skip "no core written (core_pattern $(cat /proc/sys/kernel/core_pattern))"
	walk_check "$v-symtab" "$dir" "$core"
	grep -q "^python $v\.[0-9]" "$dir/$v-symtab.walk" || fail "$v: not CPython $v"
	grep -q '^symbols symtab' "$dir/$v-symtab.walk" || fail "$v: not by the symbol table"
	walk_check "$v-debuginfo" "$dir" --debug-dir "$dbg" "$core"
	grep -q '^symbols debuginfo' "$dir/$v-debuginfo.walk" || fail "$v: the debug info was not used"
	"$WALK" --heuristic "$core" >"$dir/heuristic.walk" 2>"$dir/walk.err" ||
		fail "$v: walk_pymalloc --heuristic failed: $(cat "$dir/walk.err")"
	pm_compare_summary "$v-heuristic" "$dir/stderr" "$dir/heuristic.walk"
	pm_coretool_view "$core" "$dir/coretool" || fail "$v: coretool summary/top failed: $(cat "$dir/coretool.err")"
	pm_compare "$v-coretool" "$dir/stderr" "$dir/coretool" "$dir/stdout"

	# the files gone: CPython by its name and shape, glibc by shape
	mv "$root" "$root.gone"
	walk_check "$v-fileless" "$dir" "$core"
	grep -q '^symbols heuristic' "$dir/$v-fileless.walk" || fail "$v: file-less, yet not by heuristics"
	mv "$root.gone" "$root"

	# live: stopped, walked, resumed
	mkdir -p "$dir/live"
	run_py "$v" "$POPULATION" live >"$dir/live/stdout" 2>"$dir/live/stderr" &
	pid=$!
	n=300
	until grep -q '^ready' "$dir/live/stdout" 2>/dev/null; do
		((n-- > 0)) || fail "$v: live: the script did not get ready"
		sleep 0.1
	done
	walk_check "$v-live" "$dir/live" --pid "$pid"
	grep -q '^State:.*[tT]' "/proc/$pid/status" && fail "$v: live: the process was left stopped"
	kill "$pid"
	wait "$pid" 2>/dev/null
	# a command for the tests that take a path (hw_pythons)
	mkdir -p "$hw_tmp/bin"
	printf '#!/bin/sh\nPYTHONHOME=%s/usr exec %s/lib64/ld-linux-x86-64.so.2 --library-path %s/usr/lib/x86_64-linux-gnu %s/usr/bin/python%s "$@"\n' \
		"$root" "$root" "$root" "$root" "$v" >"$hw_tmp/bin/python$v"
	chmod +x "$hw_tmp/bin/python$v"
	tested+=("$v")
done
((${#tested[@]})) || skip "no CPython could be fetched from $deb_mirror"

pythons=$(for v in "${tested[@]}"; do echo "debian-$v $hw_tmp/bin/python$v"; done)
for t in tracer_python.sh pymalloc_subinterp.sh pymalloc_owned.sh; do
	rc=0
	HW_PYTHONS=$pythons bash "$top_srcdir/tests/integration/$t" >"$hw_tmp/$t.log" 2>&1 || rc=$?
	grep -E '^(ok|SKIP|FAIL)' "$hw_tmp/$t.log" | sed "s/^/$t: /"
	((rc == 0)) || { tail -n 20 "$hw_tmp/$t.log"; fail "$t on ${tested[*]}: exit $rc"; }
done
echo "tested: ${tested[*]}"
exit 0
