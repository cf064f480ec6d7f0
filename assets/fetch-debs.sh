#!/usr/bin/env bash
# fetch-debs.sh BUILDDIR [ARCH]
#
# Downloads Debian forky's nix-bin, at exactly the version assets/nix-version
# names (the one place np's Nix version is pinned), with its whole Depends
# closure, plus busybox-static and ca-certificates, and unpacks every .deb into
# BUILDDIR/root. Apt runs with a private configuration under BUILDDIR/apt so
# the host's package state is never touched; nothing is installed, which
# matters because installing nix-bin would create /nix on the host.
# ARCH is a Debian architecture (amd64, the default, or arm64): the private
# configuration names it as apt's only architecture, so a foreign one needs
# no dpkg --add-architecture on the host and nothing of it is executed here.
#
# Outputs:
#   BUILDDIR/debs/*.deb   the downloaded packages
#   BUILDDIR/debs.list    sorted .deb file names (they carry versions); this
#                         feeds the payload's store-path hashes
#   BUILDDIR/root/        every package extracted with dpkg -x
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 BUILDDIR [ARCH]" >&2
	exit 2
fi

mkdir -p "$1"
B=$(cd "$1" && pwd)
A=$B/apt
DEBS=$B/debs
ROOT=$B/root
# forky (testing), not sid: a package reaches it only after it has built on
# every architecture and passed its migration checks, and it changes less
# often than sid, so the pinned version stays served longer.
SUITE=forky
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=private-apt.sh
. "$HERE/private-apt.sh"
NIX_PIN=$(tr -d ' \n' <"$HERE/nix-version")
ARCH=${2:-amd64}
case $ARCH in
amd64 | arm64) ;;
*)
	echo "fetch-debs: unsupported architecture $ARCH (amd64 or arm64)" >&2
	exit 2
	;;
esac
ROOTS="nix-bin busybox-static ca-certificates"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
LOG=$B/fetch-debs.log

# Everything noisy goes to the log; on failure show it so the cause is visible.
: >"$LOG"
trap 'rc=$?; if [ $rc -ne 0 ]; then echo "fetch-debs: failed, log follows:" >&2; tail -n 50 "$LOG" >&2; fi' EXIT

# Build tools this pipeline needs (patchelf and zstd are for mkpayload,
# which runs next). Installing them is only attempted as root
# and only for what is actually missing, so a prepared machine is left alone.
need=()
command -v apt-get >/dev/null || need+=(apt)
command -v dpkg >/dev/null || need+=(dpkg)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v patchelf >/dev/null || need+=(patchelf)
command -v zstd >/dev/null || need+=(zstd)
if [ ! -r "$KEYRING" ]; then need+=(debian-archive-keyring); fi
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "fetch-debs: missing tools (${need[*]}) and not root to install them" >&2
		exit 1
	fi
	echo "fetch-debs: installing ${need[*]}"
	{
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
	} >>"$LOG" 2>&1
fi

mirror=$(debian_mirror)

# The stamp records what was asked for; a matching stamp plus an existing
# list means the previous run completed, so a rebuild costs nothing.
want="suite=$SUITE arch=$ARCH nix-bin=$NIX_PIN roots=$ROOTS"
if [ -f "$B/fetch.stamp" ] && [ "$(cat "$B/fetch.stamp")" = "$want" ] &&
	[ -f "$B/debs.list" ] && [ -d "$ROOT/usr/bin" ]; then
	trap - EXIT
	exit 0
fi
rm -f "$B/fetch.stamp"

mkdir -p "$DEBS"
private_apt_options "$A"
echo "deb [signed-by=$KEYRING] $mirror $SUITE main" >"$A/sources.list"
# A foreign architecture needs no dpkg --add-architecture on the host: the
# private configuration names it as apt's only one.
O+=(-o "APT::Architecture=$ARCH" -o "APT::Architectures=$ARCH")

apt-get "${O[@]}" -q update >>"$LOG" 2>&1

# The pinned Nix must be the one the suite serves: a suite keeps only its
# current version, so when Debian moves on the build stops here, saying what
# it wanted, what is served, and the change that moves np to it.
served=$(apt-cache "${O[@]}" madison nix-bin 2>>"$LOG" | awk -F' *[|] *' '{ print $2 }')
if ! printf '%s\n' $served | grep -qxF -- "$NIX_PIN"; then
	trap - EXIT
	have=$(printf '%s\n' $served | head -n 1)
	echo "fetch-debs: np pins nix-bin $NIX_PIN but Debian $SUITE ($ARCH) serves ${have:-no nix-bin}; to move np to it: echo '$have' > assets/nix-version" >&2
	exit 1
fi

# apt-cache prints each reached package at column 0 and its dependencies
# indented; virtual packages appear as <name> and are satisfied by a real
# provider that is listed separately, so only unindented plain names count.
closure=$(apt-cache "${O[@]}" depends --recurse --no-recommends --no-suggests \
	--no-conflicts --no-breaks --no-replaces --no-enhances "nix-bin=$NIX_PIN" 2>>"$LOG" |
	grep -E '^[a-z0-9][a-z0-9.+-]*(:[a-z0-9]+)?$' | sed 's/:.*//' | sort -u)
if [ -z "$closure" ]; then
	echo "fetch-debs: empty dependency closure for nix-bin" >&2
	exit 1
fi
pkgs=$(printf '%s\n' $closure busybox-static ca-certificates | grep -vx nix-bin | sort -u)
pkgs="nix-bin=$NIX_PIN $pkgs"

# A fresh download directory keeps stale versions from a previous run out of
# debs.list.
rm -f "$DEBS"/*.deb
# shellcheck disable=SC2086 # word splitting of the package list is intended
(cd "$DEBS" && apt-get "${O[@]}" -q download $pkgs) >>"$LOG" 2>&1

(cd "$DEBS" && ls -1 -- *.deb | LC_ALL=C sort) >"$B/debs.list"
n=$(wc -l <"$B/debs.list")
want_n=$(printf '%s\n' $pkgs | wc -l)
if [ "$n" -ne "$want_n" ]; then
	echo "fetch-debs: asked for $want_n packages, got $n .deb files" >&2
	exit 1
fi

rm -rf "$ROOT"
mkdir -p "$ROOT"
while read -r deb; do
	dpkg -x "$DEBS/$deb" "$ROOT"
done <"$B/debs.list"

echo "$want" >"$B/fetch.stamp"
echo "fetch-debs: fetched $n packages from $mirror ($SUITE)"
trap - EXIT
