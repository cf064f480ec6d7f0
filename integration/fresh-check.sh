#!/usr/bin/env bash
# Proves the README's test command works on a fresh machine: a Debian 12 root
# file system made by debootstrap from Debian's package registry, imported
# into a Docker engine started for the run, is the machine; Dockerfile.test
# puts a clean clone of this checkout's HEAD in it, with ../shared beside it
# and the host's Go (a fresh CI machine has Go at /usr/local/go and nothing
# else), and `bash .ci/run` runs inside, as CI runs it.
#
#   bash integration/fresh-check.sh      # `make fresh-check`, as root; about 20 minutes
#
# The container has every capability and no seccomp profile: the suite
# starts its own Docker engine and qemu, and builds hostile hosts with seccomp
# filters, as CI does on a real machine. Its /tmp is a volume, so the inner engine's overlay
# layers do not sit on the outer engine's overlay.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin
if [ "$(id -u)" -ne 0 ]; then
	echo "fresh-check: debootstrap and Docker's engine need root; run \`make fresh-check\` as root" >&2
	exit 1
fi
command -v debootstrap >/dev/null || {
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

# The machine: Debian 12 as debootstrap makes it, kept as a tarball so a
# second check starts at once (remove it after changing this part).
rootfs_tar=build/fresh/bookworm-rootfs-2.tar
if [ ! -s "$rootfs_tar" ]; then
	mkdir -p build/fresh
	rm -rf build/fresh/_rootfs
	echo "fresh-check: debootstrap bookworm"
	debootstrap --variant=minbase bookworm build/fresh/_rootfs http://deb.debian.org/debian >build/fresh/debootstrap.log 2>&1 || {
		tail -20 build/fresh/debootstrap.log >&2
		exit 1
	}
	# This machine's apt settings (its registry may serve an archive
	# snapshot whose Release files are past their Valid-Until).
	cp /etc/apt/apt.conf.d/99artifact-registry build/fresh/_rootfs/etc/apt/apt.conf.d/ 2>/dev/null || true
	# And its local CAs (a TLS-inspecting egress proxy's): ca-certificates,
	# once .ci/run installs it, adds them to the bundle as on this host.
	if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
		mkdir -p build/fresh/_rootfs/usr/local/share/ca-certificates
		cp /usr/local/share/ca-certificates/*.crt build/fresh/_rootfs/usr/local/share/ca-certificates/
	fi
	tar -C build/fresh/_rootfs --numeric-owner -cf "$rootfs_tar.tmp" .
	mv "$rootfs_tar.tmp" "$rootfs_tar"
	rm -rf build/fresh/_rootfs
fi

. integration/dockerd.sh
start_dockerd "$(mktemp -d /tmp/npf.XXXXXX)"
work=$dockerd_work
/usr/bin/docker import - np-fresh:bookworm <"$rootfs_tar" >/dev/null

# The build context: what CI gets (a clean clone and ../shared) plus Go.
ctx=$work/ctx
mkdir -p "$ctx"
git clone -q "$PWD" "$ctx/np"
cp -a ../shared "$ctx/shared"
cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v go)")")")" "$ctx/go"
/usr/bin/docker build -q -f "$ctx/np/Dockerfile.test" -t np-test "$ctx" >/dev/null
/usr/bin/docker volume create np-fresh-tmp >/dev/null

start=$SECONDS
set +e
# Every capability this host's root has (--privileged asks for all, and
# fails where root lacks one: here CAP_SYS_RESOURCE), no seccomp or AppArmor
# profile, /proc unmasked and the cgroup tree writable: what the suite needs
# to start its own engine and build hostile hosts.
caps=(--cap-add ALL)
names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
	NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT
	SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE
	AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ
	PERFMON BPF CHECKPOINT_RESTORE)
bnd=$((16#$(awk '/^CapBnd/ {print $2}' /proc/self/status)))
for i in "${!names[@]}"; do
	(((bnd >> i) & 1)) || caps+=(--cap-drop "${names[$i]}")
done
/usr/bin/docker run --rm "${caps[@]}" --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
	--security-opt systempaths=unconfined -v /sys/fs/cgroup:/sys/fs/cgroup --network host -v np-fresh-tmp:/tmp np-test 2>&1 | tee "$work/log"
rc=${PIPESTATUS[0]}
set -e
/usr/bin/docker volume rm -f np-fresh-tmp >/dev/null
echo "fresh-check: .ci/run in a fresh Debian 12 container: exit $rc, $((SECONDS - start)) s"
grep -E '^(integration|containers|kernels?)[ :[]' "$work/log" | tail -8 || true
exit "$rc"
