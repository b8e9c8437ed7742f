# debs_lib.sh: Debian packages of other releases for the tests that run the
# walkers on glibcs and CPythons other than the machine's (sourced after
# tests/lib.sh; glibc_versions.sh, python_versions.sh).
#
# Packages come from Debian's archive (HW_DEBIAN_MIRROR, default
# deb.debian.org; Ubuntu's suites from HW_UBUNTU_MIRROR, default
# archive.ubuntu.com: a glibc no Debian release has), are kept in
# HW_DEB_CACHE (default $top_builddir/tests/debs) and checked against their
# SHA256.  A test pins the versions current when it
# was written (deb_pin); Debian's pool keeps only current versions, so when a
# pinned one is gone the suite's index says which is current.
deb_mirror=${HW_DEBIAN_MIRROR:-http://deb.debian.org/debian}
deb_ubuntu_mirror=${HW_UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}

# deb_mirror_of SUITE: the archive that has it
deb_mirror_of() {
	case $1 in
	questing | resolute) echo "$deb_ubuntu_mirror" ;;
	*) echo "$deb_mirror" ;;
	esac
}
deb_cache=${HW_DEB_CACHE:-$top_builddir/tests/debs}
mkdir -p "$deb_cache" || hard_error "cannot make $deb_cache"
command -v dpkg-deb >/dev/null || skip "no dpkg-deb to unpack Debian's packages"
declare -A deb_pins

# deb_pin SUITE PACKAGE POOL-PATH SHA256 (the path as the suite's index names it)
deb_pin() {
	deb_pins[$1/$2]="$3 $4"
}

deb_fetch() { # deb_fetch URL OUT
	rm -f "$2.part"
	if command -v curl >/dev/null; then
		curl -sSfL --connect-timeout 20 --max-time 300 -o "$2.part" "$1" 2>/dev/null
	else
		"$HW_PY" -c 'import sys, urllib.request
open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1], timeout=120).read())' \
			"$1" "$2.part" 2>/dev/null
	fi && mv "$2.part" "$2"
}

# deb_get SUITE PACKAGE: prints the path of the checked .deb in the cache.
deb_get() {
	local suite=$1 pkg=$2 file='' sum='' out='' mirror
	mirror=$(deb_mirror_of "$suite")
	read -r file sum <<<"${deb_pins[$suite/$pkg]:-}"
	[[ -n $file ]] && out=$deb_cache/${file##*/}
	if [[ -z $out ]] || { [[ ! -s $out ]] && ! deb_fetch "$mirror/$file" "$out"; }; then
		# not pinned, or superseded: the suite's index names the current one
		local idx=$deb_cache/Packages-$suite
		[[ -s $idx ]] || { deb_fetch "$mirror/dists/$suite/main/binary-amd64/Packages.xz" "$idx.xz" &&
			xz -dc "$idx.xz" >"$idx" && rm -f "$idx.xz"; } || return 1
		read -r file sum <<<"$(awk -v p="$pkg" '
			/^Package: / { hit = ($2 == p) }
			hit && /^Filename: / { f = $2 }
			hit && /^SHA256: / { s = $2 }
			/^$/ { if (hit && f != "") { print f, s; exit } hit = 0 }
			END { if (hit && f != "") print f, s }' "$idx")"
		[[ -n $file ]] || return 1
		out=$deb_cache/${file##*/}
		[[ -s $out ]] || deb_fetch "$mirror/$file" "$out" || return 1
	fi
	[[ $(sha256sum "$out" | cut -d' ' -f1) == "$sum" ]] || { rm -f "$out"; return 1; }
	echo "$out"
}

# deb_sysroot ROOT SUITE PACKAGES...: unpacks them into ROOT, with absolute
# symlinks (ld.so, libpthread.so) pointing into it and /lib, /lib64 where
# the packages are /usr-merged.  1 when a package could not be had.
deb_sysroot() {
	local root=$1 suite=$2 p d l t
	shift 2
	mkdir -p "$root"
	for p in "$@"; do
		d=$(deb_get "$suite" "$p") || return 1
		dpkg-deb -x "$d" "$root" || return 1
	done
	while read -r l; do
		t=$(readlink "$l")
		[[ $t == /* && $t != "$root"* ]] && ln -sfn "$root$t" "$l"
	done < <(find "$root" -type l)
	[[ -e $root/lib ]] || ln -s usr/lib "$root/lib"
	[[ -e $root/lib64 ]] || ln -s usr/lib64 "$root/lib64"
	return 0
}
