#!/usr/bin/env bash
# The glibc walker on glibcs other than the machine's, against the program's
# own ground truth: Debian's libc6, libc6-dev and libc6-dbg of bullseye (2.31:
# no safe-linking, the tcache entry's key the tcache itself, 32-byte
# heap_info), trixie (2.41: safe-linking, tcache_key, 48-byte heap_info,
# malloc_par's hugepage fields), Ubuntu 25.10 questing (2.42: 76 tcache bins
# counted in free slots; no Debian release has 2.42) and forky (2.43: no
# fastbins, 16 to a tcache bin, thp_mode in malloc_par, mmapped chunks sized
# without their trailing header) unpacked into sysroots; glibc_heap
# linked against each and run by that glibc's ld.so.  Each core is walked
# with that glibc's debug info, with heuristics only, and with the libc file
# gone (by shape); also its fork child, MALLOC_ARENA_MAX=1, the live
# process, and the program linked statically (symbols, then stripped).
# And a glibc newer than the layout tables (sid's, once newer than 2.43): a
# clean refusal, never a walk with the wrong layout.
#
# Needs Debian's archive (debs_lib.sh): SKIP without it (and a note for
# each suite it could not fetch: questing comes from Ubuntu's archive).
. "$top_srcdir/tests/lib.sh"
source "$top_srcdir/tests/integration/debs_lib.sh"
source "$top_srcdir/tests/integration/gdb_lib.sh"
walk="$PROGS/walk_glibc"

# the versions current when this was written
g=pool/main/g/glibc
deb_pin bullseye libc6 $g/libc6_2.31-13+deb11u11_amd64.deb 05f7264da867b37f4c5ce49266b558ea1e81e05a9464f623152fca70f3550282
deb_pin bullseye libc6-dev $g/libc6-dev_2.31-13+deb11u11_amd64.deb e7f7b45d9c5cfcf37609f0b6efd3c645272c812144703af89dfd32218fcb0fd3
deb_pin bullseye libc6-dbg $g/libc6-dbg_2.31-13+deb11u11_amd64.deb d34d4c479c3f508391edf56adc408626dff8c6d19bbfd7f2e33f5001057288de
deb_pin trixie libc6 $g/libc6_2.41-12+deb13u5_amd64.deb b59b0625cd1a791375d40dab23a4d5d3d0641e3d0a773501becdc3725b7f99cf
deb_pin trixie libc6-dev $g/libc6-dev_2.41-12+deb13u5_amd64.deb 858f4d477cc39324f3c6582cdebcf38928fb385bb17b40518c77a7dccd296428
deb_pin trixie libc6-dbg $g/libc6-dbg_2.41-12+deb13u5_amd64.deb d382b1f72fc0089aeeea8efe7db4719a436ce65cb6ce7f096e9c799d32ead275
deb_pin questing libc6 $g/libc6_2.42-0ubuntu3_amd64.deb 7c0850ba2c8ec4029970d869b08a4eb3131c3334d578dec173aa827118586876
deb_pin questing libc6-dev $g/libc6-dev_2.42-0ubuntu3_amd64.deb b3589e06d35f3cbeae9889f0af937eea3e62de72744485dbe073d6cfcc090847
deb_pin questing libc6-dbg $g/libc6-dbg_2.42-0ubuntu3_amd64.deb 1653aa2a965688822aa16b62c60bf03a43b37444613934d7ba677c1a74f1645e
deb_pin forky libc6 $g/libc6_2.43-7_amd64.deb 5c71715c51103beb4fbba9fe9f8dff604af6610dfa71c70bff342f54a7860803
deb_pin forky libc6-dev $g/libc6-dev_2.43-7_amd64.deb 7095b6c9cd209aac9bb54a03edf9f3544589f553f649b71eec29968ca8ea13ce
deb_pin forky libc6-dbg $g/libc6-dbg_2.43-7_amd64.deb 09519387f88a6896592d6593f750f569a90cf309d110ff49d7a68ff111a56cde

# The test program's object, compiled as the build compiles it, against
# the machine's headers; linked below against each sysroot's libc.
cc=${CC:-cc}
$cc -O0 -fno-builtin -g -w -c -o "$hw_tmp/heap.o" "$top_srcdir/tests/programs/glibc_heap.c" ||
	hard_error "cannot compile glibc_heap.c"

sysroot() { # sysroot SUITE PACKAGES...: unpacks them into $hw_tmp/SUITE, links heap there
	local suite=$1 root=$hw_tmp/$1
	shift
	deb_sysroot "$root" "$suite" "$@" || return 1
	local libdir=$root/usr/lib/x86_64-linux-gnu
	$cc --sysroot="$root" -B"$libdir/" -L"$libdir" -L"$root/lib/x86_64-linux-gnu" -pthread \
		-o "$root/glibc_heap" "$hw_tmp/heap.o" \
		-Wl,--dynamic-linker="$root/lib64/ld-linux-x86-64.so.2" \
		-Wl,--disable-new-dtags,-rpath,"$root/lib/x86_64-linux-gnu" ||
		hard_error "$suite: cannot link glibc_heap against its libc"
}

check() { # check LABEL TRUTH SYMBOLS WALK-ARGS...
	local label=$1 truth=$2 sym=$3
	shift 3
	hw_walk_truth "$label" "$hw_tmp/$label.out" "$sym" "$truth" "$@"
	echo "$label: $(grep -E '^(glibc|truth)' "$hw_tmp/$label.out" | tr '\n' ' ')"
}

# heapsnap_in gdb|lldb DIR CORE EXE: heapsnap's summary in that debugger,
# told to look for separate debug files in DIR
heapsnap_in() {
	local dbgr=$1 dir=$2 core=$3 exe=$4
	if [[ $dbgr == gdb ]]; then
		timeout 120 gdb -nx -batch -iex "set debug-file-directory $dir" \
			-ex "source $HW_GDB_PY" -ex 'heapsnap' "$exe" "$core" 2>&1
	else
		printf 'settings set target.debug-file-search-paths %s\nheapsnap --core %s\n' \
			"$dir" "$core" >"$hw_tmp/lldb.cmds"
		hw_lldb "$hw_tmp/lldb.cmds" -c "$core" "$exe"
	fi
}

# debugger_dirs gdb|lldb WHAT: on $core of $root/idle (2.43), symbols from
# debug info with the debugger's setting at that glibc's debug files ($dbg),
# heuristics with it at /nonexistent
debugger_dirs() {
	local dbgr=$1 what=$2 dir want out=$hw_tmp/$suite-idle/$1
	for dir in "$dbg" /nonexistent; do
		heapsnap_in "$dbgr" "$dir" "$core" "$root/idle" >"$out"
		want=debuginfo
		[[ $dir == /nonexistent ]] && want=heuristic
		grep -q "^glibc 2.43 (symbols: $want)" "$out" || { cat "$out"; fail "$what $dir: not $want"; }
	done
	echo "$suite-idle: the $what as the debugger has it"
}

run_core() { # run_core SUITE NAME MODE [ENV...]: sets core to the core's path
	local suite=$1 name=$2 mode=$3 dir=$hw_tmp/$1-$2
	shift 3
	mkdir -p "$dir"
	core=$(hw_dump_core "$dir" env "$@" "$hw_tmp/$suite/glibc_heap" "$dir/truth" "$mode") ||
		skip "the kernel wrote no core (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
}

tested=()
for sv in bullseye:2.31 trixie:2.41 questing:2.42 forky:2.43; do
	suite=${sv%:*} want=${sv#*:}
	if ! sysroot "$suite" libc6 libc6-dev libc6-dbg; then
		echo "SKIP: $suite's glibc packages could not be fetched from $(deb_mirror_of "$suite"): not tested"
		continue
	fi
	root=$hw_tmp/$suite dbg=$hw_tmp/$suite/usr/lib/debug
	run_core "$suite" plain core
	truth=$hw_tmp/$suite-plain/truth
	[[ -s $truth ]] || fail "$suite: the test program wrote no truth"
	check "$suite-debuginfo" "$truth" debuginfo --debug-dir "$dbg" "$core"
	grep -q "^glibc $want " "$hw_tmp/$suite-debuginfo.out" || fail "$suite: not glibc $want"
	check "$suite-heuristic" "$truth" heuristic --nodebug "$core"
	"$CORETOOL" check --debug-dir "$dbg" "$core" >"$hw_tmp/$suite-check.out" 2>&1 ||
		{ cat "$hw_tmp/$suite-check.out"; fail "$suite: coretool check"; }

	# the libc file gone (a core from elsewhere): found by its data's
	# shape, the version a range that holds the real one
	mv "$root" "$root.gone"
	check "$suite-fileless" "$truth" heuristic --nodebug "$core"
	range=$(awk '/^glibc /{print $2; exit}' "$hw_tmp/$suite-fileless.out")
	lo=${range%-*} hi=${range#*-}
	[[ $(printf '%s\n' "$lo" "$want" "$hi" | sort -V | tr '\n' ' ') == "$lo $want $hi " ]] ||
		fail "$suite: file-less version $range does not hold $want"
	mv "$root.gone" "$root"

	run_core "$suite" fork fork
	check "$suite-fork" "$hw_tmp/$suite-fork/truth" debuginfo --debug-dir "$dbg" "$core"
	run_core "$suite" arena1 core MALLOC_ARENA_MAX=1
	check "$suite-arena1" "$hw_tmp/$suite-arena1/truth" heuristic --nodebug "$core"
	grep -q '^glibc [0-9.-]* symbols [a-z]* arenas 1 ' "$hw_tmp/$suite-arena1.out" ||
		fail "$suite: MALLOC_ARENA_MAX=1: not one arena"
	if [[ $want == 2.4[23] ]]; then
		# the tcache's large bins in use (glibc_heap labels its frees
		# from 1 KiB to 64 KiB "tcache" then)
		run_core "$suite" tcmax core GLIBC_TUNABLES=glibc.malloc.tcache_max=65536
		awk '$1 == "free" && $4 == "tcache" && $3 > 1040 { n++ } END { exit n < 9 }' \
			"$hw_tmp/$suite-tcmax/truth" || fail "$suite: tcache_max: no large tcache'd chunk in the truth"
		check "$suite-tcmax" "$hw_tmp/$suite-tcmax/truth" debuginfo --debug-dir "$dbg" "$core"
		check "$suite-tcmax-heuristic" "$hw_tmp/$suite-tcmax/truth" heuristic --nodebug "$core"
		# a tcache bin's num_slots scribbled past tcache_count: said,
		# and the bin's chunks still found in it (the truth holds)
		"$walk" --debug-dir "$dbg" --print "$hw_tmp/$suite-plain/core" >"$hw_tmp/slots.print" 2>&1
		read -r tc arena < <(awk '$1 == "chunk" && $3 == 760 && $5 == "meta" { print $2, $8; exit }' \
			"$hw_tmp/slots.print")
		usable=$(awk -v a="$arena" '$5 == "free" && $6 == "tcache" && $8 == a && $3 < 1000 { print $3; exit }' \
			"$hw_tmp/slots.print")
		[[ -n $tc && -n $usable ]] || fail "$suite: no main-thread tcache with a tcache'd chunk to scribble"
		bin=$(((usable + 8 - 32) / 16))
		cp "$hw_tmp/$suite-plain/core" "$hw_tmp/slots.core"
		"$HW_PY" - "$hw_tmp/slots.core" $((tc + 2 * bin)) <<'PY' || fail "$suite: cannot scribble the core"
import struct, sys
path, addr = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
phoff, = struct.unpack_from("<Q", data, 32)
phnum, = struct.unpack_from("<H", data, 56)
for i in range(phnum):
    p_type, _, off, vaddr, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + 56 * i)
    if p_type == 1 and vaddr <= addr < vaddr + filesz:
        struct.pack_into("<H", data, off + addr - vaddr, 0xffff)
        open(path, "wb").write(data)
        sys.exit(0)
sys.exit(1)
PY
		"$walk" --debug-dir "$dbg" --allow-problems --truth "$hw_tmp/$suite-plain/truth" "$hw_tmp/slots.core" \
			>"$hw_tmp/slots.out" 2>&1 || { cat "$hw_tmp/slots.out"; fail "$suite: num_slots scribbled: the walk lost the bin"; }
		grep -q "bin $bin: 65535 free slots, more than mp_.tcache_count" "$hw_tmp/slots.out" ||
			{ cat "$hw_tmp/slots.out"; fail "$suite: num_slots scribbled: not said"; }
		echo "$suite-slots: bin $bin scribbled, $(grep -E '^truth' "$hw_tmp/slots.out")"
	fi
	if [[ $want == 2.43 ]]; then
		# a thread that never called malloc: its tcache pointer is
		# __tcache_dummy, in libc's read-only data, not a tcache
		printf '%s\n' '#include <pthread.h>' '#include <stdlib.h>' '#include <unistd.h>' \
			'static void *idle(void *a) { (void)a; for (;;) pause(); return NULL; }' \
			'int main(void) { pthread_t t; pthread_create(&t, NULL, idle, NULL);' \
			'for (int i = 0; i < 50; i++) free(malloc(40 + i)); usleep(100000); abort(); }' \
			>"$hw_tmp/idle.c"
		libdir=$root/usr/lib/x86_64-linux-gnu
		$cc -c -o "$hw_tmp/idle.o" "$hw_tmp/idle.c" &&
			$cc --sysroot="$root" -B"$libdir/" -L"$libdir" -pthread -o "$root/idle" "$hw_tmp/idle.o" \
				-Wl,--dynamic-linker="$root/lib64/ld-linux-x86-64.so.2" \
				-Wl,--disable-new-dtags,-rpath,"$root/lib/x86_64-linux-gnu" ||
			hard_error "$suite: cannot build the idle-thread program"
		mkdir "$hw_tmp/$suite-idle"
		core=$(hw_dump_core "$hw_tmp/$suite-idle" "$root/idle") || fail "$suite: no core of idle"
		for d in "--debug-dir $dbg" "--debug-dir /nonexistent"; do
			# shellcheck disable=SC2086 # (two words)
			"$CORETOOL" check $d "$core" >"$hw_tmp/$suite-idle/check" 2>&1 ||
				{ cat "$hw_tmp/$suite-idle/check"; fail "$suite: a thread without a tcache ($d)"; }
		done
		echo "$suite-idle: $(tail -n 1 "$hw_tmp/$suite-idle/check")"
		# the debuggers' glue looks where each debugger does: gdb's
		# debug-file-directory, lldb's target.debug-file-search-paths
		if command -v gdb >/dev/null && ls "$HW_EXT_DIR"/_heapwalk*.so >/dev/null 2>&1; then
			debugger_dirs gdb "gdb plugin, debug-file-directory"
		else
			echo "SKIP: no gdb or no plugin: gdb's debug-file-directory not checked"
		fi
		if command -v lldb-14 >/dev/null && [[ -d /usr/lib/llvm-14/lib/python3.11/dist-packages/lldb ]] &&
			ls "$HW_EXT_DIR"/_heapwalk*.so >/dev/null 2>&1; then
			debugger_dirs lldb "lldb glue, target.debug-file-search-paths"
		else
			echo "SKIP: no lldb-14, its Python module or the plugin: lldb's debug-file-search-paths not checked"
		fi
	fi

	# live: stopped, walked, resumed
	"$root/glibc_heap" "$hw_tmp/$suite-live.truth" pause &
	pid=$!
	hw_wait_file "$hw_tmp/$suite-live.truth" || fail "$suite: live: no truth"
	check "$suite-live" "$hw_tmp/$suite-live.truth" debuginfo --debug-dir "$dbg" --pid "$pid"
	check "$suite-live-heuristic" "$hw_tmp/$suite-live.truth" heuristic --nodebug --pid "$pid"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null

	# linked statically (that glibc's libc.a): its symbols from the
	# executable's .symtab, and stripped by heuristics.  (The machine's
	# libgcc_eh wants glibc 2.35's _dl_find_object: not below.)
	libdir=$root/usr/lib/x86_64-linux-gnu
	if $cc --sysroot="$root" -B"$libdir/" -L"$libdir" -static -pthread -o "$root/glibc_heap" \
		"$hw_tmp/heap.o" 2>"$hw_tmp/$suite-static.err"; then
		run_core "$suite" static core
		check "$suite-static" "$hw_tmp/$suite-static/truth" symtab --nodebug "$core"
		strip "$root/glibc_heap"
		run_core "$suite" stripped core
		check "$suite-static-stripped" "$hw_tmp/$suite-stripped/truth" heuristic --nodebug "$core"
	else
		echo "SKIP: $suite: no static link here ($(grep -m1 -o 'undefined reference to .*' "$hw_tmp/$suite-static.err"))"
	fi
	tested+=("$want")
done

# Newer than the tables (2.43 when written; sid's glibc, once it moves
# on): refused, whichever way libc is found, never walked with a layout
# that is not its own.
known="2.26-2.43"
if sysroot sid libc6 libc6-dev; then
	ver=$(strings "$hw_tmp/sid/lib/x86_64-linux-gnu/libc.so.6" | sed -n 's/^GNU C Library .* version \([0-9.]*\)\..*/\1/p' | head -n 1)
	if [[ $(printf '%s\n' "$ver" 2.43 | sort -V | tail -n 1) == 2.43 ]]; then
		echo "SKIP: sid's glibc is $ver, not newer than 2.43: the refusal of a newer one is not tested"
	else
		run_core sid plain core
		"$walk" "$core" >"$hw_tmp/sid.out" 2>&1 && { cat "$hw_tmp/sid.out"; fail "sid: glibc $ver walked"; }
		grep -q "glibc $ver: only $known are known" "$hw_tmp/sid.out" ||
			{ cat "$hw_tmp/sid.out"; fail "sid: not refused by version"; }
		"$CORETOOL" summary "$core" >"$hw_tmp/sid-summary.out" 2>&1
		grep -q "glibc-unsupported .*only $known" "$hw_tmp/sid-summary.out" &&
			grep -q "^glibc: not walked (.*glibc $ver: only $known are known)" "$hw_tmp/sid-summary.out" ||
			{ cat "$hw_tmp/sid-summary.out"; fail "sid: summary does not say why"; }
		mv "$hw_tmp/sid" "$hw_tmp/sid.gone"
		"$walk" --nodebug "$core" >"$hw_tmp/sid-fileless.out" 2>&1 &&
			{ cat "$hw_tmp/sid-fileless.out"; fail "sid: file-less glibc $ver walked"; }
		echo "sid: glibc $ver refused: $(head -n 1 "$hw_tmp/sid.out"); file-less: $(head -n 1 "$hw_tmp/sid-fileless.out")"
		tested+=("$ver refused")
	fi
else
	echo "SKIP: sid's glibc packages could not be fetched from $deb_mirror: not tested"
fi

((${#tested[@]})) || skip "no glibc could be fetched from $deb_mirror"
echo "tested: ${tested[*]}"
exit 0
