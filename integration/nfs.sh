#!/usr/bin/env bash
# Runs np with its data dir and HOME on NFS, for real: Debian bookworm's
# kernel boots under qemu (TCG) from an initramfs this script builds, with
# the kernel's NFS server (nfsd) and client in the same VM. The server
# exports a directory of an ext2 file system; the VM mounts it over NFSv4.2
# and over NFSv3 (with NLM locking, rpc.statd running), and the steps of
# integration/nfs-steps.sh run as the unprivileged user nptest with
# NP_LOCATION and HOME on the mounts. /init is integration/kernels-init.sh,
# the same as for the kernel runs; the host parses the markers it prints.
#
#   bash integration/nfs.sh smoke     # CI (.ci/run): NFSv4.2's short set
#   bash integration/nfs.sh full      # `make nfs`: NFSv4.2 and NFSv3, every step, times
#
# Why the kernel's nfsd and not unfs3: unfs3 serves NFSv3 only, and the
# homes np meets are mostly NFSv4; nfsd serves both, with the ACLs
# (system.nfs4_acl) and the locking (NLM for v3, v4's own) of a real
# filer's Linux client. Its user-space half (rpc.nfsd, rpc.mountd,
# exportfs, rpcbind, rpc.statd, mount.nfs) comes from Debian's
# nfs-kernel-server, nfs-common and rpcbind, unpacked into the initramfs.
#
# Environment: KTEST_ONLY, KTEST_TIMEOUT, KTEST_ACCEL, KERNELS_UPDATE as for
# integration/kernels.sh (whose functions this sources); KFLAVOUR=cloud
# (bookworm's cloud kernel carries the nfs and nfsd modules, as the generic
# one does). amd64 only.
set -euo pipefail
cd "$(dirname "$0")/.."

nfs_set=${1:-smoke}
case $nfs_set in
smoke) nfs_timeout=1500 ;;
full) nfs_timeout=5400 ;;
*)
	echo "usage: $0 smoke|full" >&2
	exit 2
	;;
esac
export ARCH=amd64 KTEST_TIMEOUT=${KTEST_TIMEOUT:-$nfs_timeout}
KERNELS_LIB=1 . integration/kernels.sh smoke
KERNELS=bookworm
set_=nfs-$nfs_set # the log's name and the kernel command line's ktest.set
N=$PWD/build/nfs
mkdir -p "$N"

# The NFS user space from bookworm: its libraries and tools, without the
# maintainer scripts' interpreters (perl, python, debconf) the closure
# drags in but nothing here runs. bsdutils brings script(1): the progress
# bar is drawn only on a terminal. attr and acl: getfattr, setfacl.
# iproute2: tc, which slows the VM's loopback (netem) for the slow-link
# step.
nfs_pkgs="nfs-kernel-server nfs-common rpcbind bsdutils attr acl iproute2"
fetch_nfs_userland() {
	local u=$N/userland
	if [ "${KERNELS_UPDATE:-}" != 1 ] && [ -f "$u/stamp" ] && [ -x "$u/root/usr/sbin/rpc.nfsd" ] &&
		compgen -G "$u/root/*sbin/tc" >/dev/null; then
		return 0
	fi
	apt_for bookworm
	local pkgs
	# shellcheck disable=SC2086 # the package list splits on purpose
	pkgs=$(apt-cache "${O[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances --no-pre-depends $nfs_pkgs 2>/dev/null |
		grep -E '^[a-z0-9][a-z0-9.+-]*(:[a-z0-9]+)?$' | sed 's/:.*//' | sort -u |
		grep -Ev '^(perl|perl-base|perl-modules-.*|libperl.*|python3.*|libpython3.*|debconf|cdebconf|ucf|adduser|dpkg|install-info|passwd|mailcap|media-types|mime-support|sensible-utils|tar|readline-common|libdebian-installer.*|libnewt.*|libslang.*|libtextwrap.*)$')
	[ -n "$pkgs" ] || die "no dependency closure for $nfs_pkgs in bookworm"
	rm -rf "$u"
	# shellcheck disable=SC2086
	download "$u/debs" $pkgs
	mkdir -p "$u/root"
	local deb
	for deb in "$u"/debs/*.deb; do
		dpkg-deb -x "$deb" "$u/root"
	done
	# /etc keeps netconfig, rpc, services and protocols, which libtirpc
	# and the daemons read; the init scripts and defaults go.
	rm -rf "$u/root/usr/share" "$u/root/etc/init.d" "$u/root/etc/default" "$u/root/lib/systemd" "$u/root/usr/lib/systemd"
	[ -x "$u/root/usr/sbin/rpc.nfsd" ] && [ -x "$u/root/sbin/mount.nfs" ] && [ -r "$u/root/etc/netconfig" ] ||
		die "the NFS user space lacks rpc.nfsd, mount.nfs or /etc/netconfig"
	echo "$pkgs" >"$u/stamp"
}

# modules_in_order MODDIR MODULE...: the modules and what they depend on
# (each module's own depends= field), dependencies first.
declare -A mod_path mod_seen
modules_in_order() {
	local dir=$1 f m
	shift
	while IFS= read -r f; do
		mod_path[$(basename "$f" .ko)]=$f
	done < <(find "$dir" -name '*.ko')
	for m in "$@"; do
		visit_module "$m"
	done
}
visit_module() {
	local m=$1 deps d
	[ -z "${mod_seen[$m]:-}" ] || return 0
	mod_seen[$m]=1
	[ -n "${mod_path[$m]:-}" ] || die "the kernel has no module $m"
	deps=$(tr '\0' '\n' <"${mod_path[$m]}" | sed -n 's/^depends=//p' | head -n 1)
	for d in ${deps//,/ }; do
		visit_module "$d"
	done
	echo "$m"
}

# The kernel's NFS client and server modules and netem (the slow link),
# copied with their load order.
fetch_nfs_modules() {
	local k=$W/bookworm x=$N/modules
	rm -rf "$x" "$N/kx"
	mkdir -p "$x"
	dpkg-deb -x "$k"/debs/*.deb "$N/kx"
	modules_in_order "$N/kx/lib/modules" nfsv3 nfsv4 nfsd sch_netem >"$x/order"
	local m
	while read -r m; do
		cp "${mod_path[$m]}" "$x/"
	done <"$x/order"
	rm -rf "$N/kx"
}

build_nfs_initramfs() {
	local r=$N/initramfs rel
	rm -rf "$r"
	mkdir -p "$r/ktest/nfs" "$r/np/bin" "$r/root"
	cp -a "$W/userland/root/." "$r/"
	cp -a "$N/userland/root/." "$r/"
	rel=$(cat "$W/bookworm/release")
	mkdir -p "$r/lib/modules/$rel"
	cp "$W/bookworm"/loop.ko* "$r/lib/modules/$rel/"
	cp "$N/modules/"* "$r/ktest/nfs/"
	cp integration/kernels-init.sh "$r/init"
	cp integration/nfs-steps.sh "$r/ktest/steps"
	cp integration/nfs-env.sh "$r/ktest/env"
	cp "$np_bin" "$r/np/bin/np"
	chmod 755 "$r/init" "$r/np/bin/np"
	# The daemons' users: rpcbind runs as _rpc, rpc.statd as statd.
	cat >"$r/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		nptest:x:1000:1000:np tests:/home/nptest:/bin/sh
		other:x:1001:1001:another user:/home/other:/bin/sh
		_rpc:x:100:65534::/run/rpcbind:/bin/false
		statd:x:101:65534::/var/lib/nfs:/bin/false
		nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	cat >"$r/etc/group" <<-'EOF'
		root:x:0:
		nptest:x:1000:
		other:x:1001:
		nogroup:x:65534:
	EOF
	echo /bin/sh >"$r/etc/shells"
	(cd "$r" && find . | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -1) >"$N/initramfs.cpio.gz.new"
	mv "$N/initramfs.cpio.gz.new" "$N/initramfs.cpio.gz"
}

t0=$SECONDS
fetch_userland
fetch_kernel bookworm
check_config bookworm
fetch_nfs_userland
fetch_nfs_modules
build_nfs_initramfs
echo "nfs: initramfs $(($(stat -c %s "$N/initramfs.cpio.gz") / 1000000)) MB, prepared in $((SECONDS - t0)) s"
KTEST_INITRD=$N/initramfs.cpio.gz
boot bookworm
printf '%s\n' "${results[@]}"
# The times the steps measured, for the README.
grep '^KTEST-TIME' "$K/logs/$ARCH-bookworm-$set_.log" || true
echo "nfs: $nfs_set set in $((SECONDS - t0)) s, $total_failed failed"
[ "$total_failed" -eq 0 ]
