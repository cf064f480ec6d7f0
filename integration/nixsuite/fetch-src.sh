#!/usr/bin/env bash
# fetch-src.sh BUILDDIR DEBS_LIST
#
# Fetches the Debian source package of the Nix that np carries (the version
# of nix-bin in DEBS_LIST, the list assets/fetch-debs.sh writes) and unpacks
# it, Debian's patches applied, into BUILDDIR/nix-src. Apt runs with a private
# configuration under BUILDDIR/apt-src (deb-src lines only), so nothing of the
# host's package state changes and nothing is installed; apt still checks the
# archive's signatures.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILDDIR DEBS_LIST" >&2
	exit 2
fi
mkdir -p "$1"
B=$(cd "$1" && pwd)
A=$B/apt-src
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
LOG=$B/fetch-src.log

# nix-bin_2.34.8+dfsg-1+b1_amd64.deb -> 2.34.8+dfsg-1: a binNMU (+bN) is
# rebuilt from the same source, whose version lacks the suffix.
deb=$(grep -E '^nix-bin_' "$2" | head -n 1)
if [ -z "$deb" ]; then
	echo "fetch-src: no nix-bin in $2; build the payload first (make payload)" >&2
	exit 1
fi
binver=${deb#nix-bin_}
binver=${binver%%_*}
binver=${binver//%3a/:}
srcver=$(printf '%s\n' "$binver" | sed -E 's/\+b[0-9]+$//')
FIXTURE=$(cd "$(dirname "$0")" && pwd)/nix-${srcver%%+*}-tests.tar.xz

if [ -f "$B/nix-src.stamp" ] && [ "$(cat "$B/nix-src.stamp")" = "$srcver" ] &&
	[ -d "$B/nix-src/tests/functional" ] && [ -x "$B/jq-root/usr/bin/jq" ]; then
	exit 0
fi

: >"$LOG"
trap 'rc=$?; if [ $rc -ne 0 ]; then echo "fetch-src: failed, log follows:" >&2; tail -n 30 "$LOG" >&2; fi' EXIT

for t in dpkg-source patch; do
	if ! command -v "$t" >/dev/null; then
		echo "fetch-src: $t is missing; install dpkg-dev (apt-get install dpkg-dev)" >&2
		exit 1
	fi
done

# shellcheck source=../../assets/private-apt.sh
. "$(dirname "$0")/../../assets/private-apt.sh"
mirror=$(debian_mirror)

# Every suite that may carry the version: the payload's suite is one of them.
private_apt_options "$A"
: >"$A/sources.list"
for s in trixie forky sid; do
	echo "deb-src [signed-by=$KEYRING] $mirror $s main" >>"$A/sources.list"
done
# The suite's jq programs need jq >= 1.7 (Debian 12 has 1.6): trixie's,
# which suite.sh runs with the C library of np's Nix.
echo "deb [signed-by=$KEYRING] $mirror trixie main" >>"$A/sources.list"
apt-get "${O[@]}" -q update >>"$LOG" 2>&1

dl=$B/nix-src.dl
rm -rf "$dl" "$B/nix-src"
mkdir -p "$dl"
if (cd "$dl" && apt-get "${O[@]}" -q --download-only source "nix=$srcver") >>"$LOG" 2>&1; then
	dsc=$(ls "$dl"/*.dsc)
	# --no-check: apt verified the files against the signed Sources index.
	dpkg-source --no-check -x "$dsc" "$B/nix-src" >>"$LOG" 2>&1
	from="Debian's source package"
elif [ -f "$FIXTURE" ]; then
	# A mirror that lists the source but does not serve it (a partial
	# mirror, as this project's machines have): the suite of NixOS/nix's tag
	# of the same upstream version, kept beside this script (see
	# integration/nixsuite/README.md for where it comes from).
	mkdir -p "$B/nix-src"
	tar -xJf "$FIXTURE" -C "$B/nix-src" --strip-components=1
	from="$(basename "$FIXTURE") (NixOS/nix's tag ${srcver%%+*}; Debian's mirror did not serve the source)"
elif [ -n "${NIX_SRC_GIT:-}" ]; then
	# A mirror that lists the source but does not serve it (a partial
	# mirror): NixOS/nix's tag of the same upstream version, from a git
	# repository the caller has, without Debian's patches.
	tag=${srcver%%+*}
	mkdir -p "$B/nix-src"
	if ! git -C "$NIX_SRC_GIT" archive "$tag" | tar -x -C "$B/nix-src"; then
		echo "fetch-src: $NIX_SRC_GIT has no tag $tag" >&2
		exit 1
	fi
	from="tag $tag of $NIX_SRC_GIT (Debian's mirror did not serve the source)"
else
	have=$(apt-cache "${O[@]}" showsrc nix 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -u | tr '\n' ' ')
	if printf '%s\n' $have | grep -qxF "$srcver"; then
		echo "fetch-src: Debian's mirror lists the source of nix $srcver but did not serve it ($(grep -m1 -o 'Err:.*\|E: Failed.*' "$LOG")); use a full mirror, or NIX_SRC_GIT=<a clone of NixOS/nix> for its tag ${srcver%%+*}" >&2
	else
		echo "fetch-src: Debian's mirror has no source of nix $srcver (it has: ${have:-none}); rebuild the payload from a version it has" >&2
	fi
	exit 1
fi
rm -rf "$dl" "$B/jq-root"
mkdir -p "$dl" "$B/jq-root"
(cd "$dl" && apt-get "${O[@]}" -q download jq libjq1 libonig5) >>"$LOG" 2>&1
for d in "$dl"/*.deb; do dpkg -x "$d" "$B/jq-root"; done
rm -rf "$dl"
echo "$srcver" >"$B/nix-src.stamp"
echo "fetch-src: nix $srcver sources in $B/nix-src, from $from"
trap - EXIT
