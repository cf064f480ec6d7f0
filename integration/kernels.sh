#!/usr/bin/env bash
# Runs np's tests on Debian's own kernels and on two older ones (CentOS
# 7.9's 3.10.0-1160.el7 and vanilla 4.4.178, built from public sources into
# ../shared/kernels: see its README), each booted under qemu without
# KVM (TCG) from an initramfs this script builds: busybox, bin/np, the
# compiled ptrace and integration tests, and an /init
# (integration/kernels-init.sh) that runs the steps of
# integration/kernels-steps.sh as the unprivileged user nptest and powers
# off. The host parses the markers the VM prints.
#
#   bash integration/kernels.sh smoke     # `make kernel-smoke`: 5.10, 3.10.0-el7 and 4.4.178, the short set (CI)
#   bash integration/kernels.sh full      # `make kernels`: every kernel, every step
#
# Environment:
#   ARCH=amd64|arm64      the guest architecture (arm64: qemu-system-aarch64 -M virt -cpu max,
#                         NP_BIN=bin/np-aarch64, a cross gcc for the ptrace tests' C fixture)
#   KERNELS="bullseye bookworm el7 v4.4"   the kernels that boot: Debian suites, and
#                         el7 (CentOS 7.9's 3.10.0-1160.el7) and v4.4 (4.4.178) from
#                         $OLD_KERNELS (default ../shared/kernels), amd64 only
#                         (default: smoke bullseye el7 v4.4, full all four; arm64 bookworm)
#   KFLAVOUR=cloud        Debian's kernel flavour: linux-image-$KFLAVOUR-$ARCH ("" for the generic one)
#   KTEST_ONLY=REGEX      only the steps whose name matches
#   KTEST_TIMEOUT=SECS    the host's limit on one VM (default: smoke 1800, full 7200)
#   KTEST_ACCEL=tcg       qemu's accelerator (kvm only to iterate faster; the target means TCG)
#   KERNELS_UPDATE=1      ask Debian for newer kernels; otherwise what build/kernels holds is used
#                         and a second run needs no network
#
# Kernels and userland come from Debian's archive through a private apt
# configuration under build/kernels/apt (the host's package state is never
# read or changed, nothing is installed). Exit status: 0 when every step of
# every kernel passed; 1 when a step failed, a VM did not finish or ran no
# step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. integration/lib.sh
export PATH=$PATH:/usr/sbin:/sbin

set_=${1:-smoke}
case $set_ in
smoke) kernels_default="bullseye el7 v4.4" timeout_default=1800 ;;
full) kernels_default="bullseye bookworm el7 v4.4" timeout_default=7200 ;;
*)
	echo "usage: $0 smoke|full" >&2
	exit 2
	;;
esac
ARCH=${ARCH:-amd64}
[ "$ARCH" = amd64 ] || kernels_default=bookworm
KERNELS=${KERNELS:-$kernels_default}
OLD_KERNELS=${OLD_KERNELS:-../shared/kernels}
KFLAVOUR=${KFLAVOUR-cloud}
KTEST_TIMEOUT=${KTEST_TIMEOUT:-$timeout_default}
KTEST_ACCEL=${KTEST_ACCEL:-tcg}
USERLAND_SUITE=bookworm # busybox, strace and the C library the fixture's loader comes from

case $ARCH in
amd64)
	goarch=amd64 qemu=qemu-system-x86_64 qemu_pkg=qemu-system-x86
	machine=(-machine q35 -cpu max) console=ttyS0
	cc=gcc loader=ld-linux-x86-64.so.2
	np_bin=${NP_BIN:-bin/np}
	;;
arm64)
	goarch=arm64 qemu=qemu-system-aarch64 qemu_pkg=qemu-system-arm
	machine=(-M virt -cpu max) console=ttyAMA0
	cc=aarch64-linux-gnu-gcc loader=ld-linux-aarch64.so.1
	np_bin=${NP_BIN:-bin/np-aarch64}
	;;
*)
	echo "kernels: ARCH=$ARCH: want amd64 or arm64" >&2
	exit 2
	;;
esac
[ -n "$KFLAVOUR" ] && flavour=$KFLAVOUR-$ARCH || flavour=$ARCH

K=$PWD/build/kernels
W=$K/$ARCH
mkdir -p "$W" "$K/logs"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() {
	echo "kernels: $*" >&2
	exit 1
}

# What the host needs; installed as root when missing, named otherwise.
need=()
command -v "$qemu" >/dev/null || need+=("$qemu_pkg")
command -v busybox >/dev/null || need+=(busybox-static) # its cpio writes the initramfs
command -v "$cc" >/dev/null || { [ "$ARCH" = arm64 ] && need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) || need+=(gcc libc6-dev); }
command -v dpkg-deb >/dev/null || need+=(dpkg)
[ -r "$KEYRING" ] || need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing ${need[*]} (as root: apt-get install ${need[*]})"
	echo "kernels: installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -x "$np_bin" ] || die "$np_bin is missing: run make first"

# The host's Debian mirrors are the ones known to be reachable here (as in
# assets/fetch-debs.sh); deb.debian.org otherwise.
host_uri() { # PATTERN: the first of the host's apt URIs matching it
	cat /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null |
		awk -v re="$1" '{ for (i = 1; i <= NF; i++) if ($i ~ /:\/\// && $i ~ re) { sub(/\/+$/, "", $i); print $i; exit } }' || true
}
mirror=$(host_uri '/debian$')
mirror=${mirror:-http://deb.debian.org/debian}
security=$(host_uri '/debian-security$')
security=${security:-http://deb.debian.org/debian-security}

# apt_for SUITE: sets O to a private apt configuration for SUITE and ARCH
# (its own sources, lists, cache and empty package state), updating its
# lists when they are missing or KERNELS_UPDATE=1.
apt_for() {
	local suite=$1 a=$K/apt/$1-$ARCH
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/prefs.d"
	{
		echo "deb [signed-by=$KEYRING] $mirror $suite main"
		echo "deb [signed-by=$KEYRING] $security $suite-security main"
	} >"$a/sources.list"
	: >"$a/preferences"
	: >"$a/status"
	O=(
		-o "Dir::Etc::SourceList=$a/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::Etc::Preferences=$a/preferences"
		-o "Dir::Etc::PreferencesParts=$a/prefs.d"
		-o "Dir::State::Lists=$a/lists"
		-o "Dir::State::Status=$a/status"
		-o "Dir::Cache=$a/cache"
		-o "APT::Architecture=$ARCH"
		-o "APT::Architectures=$ARCH"
		-o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
	)
	[ "$(id -u)" -ne 0 ] || O+=(-o "APT::Sandbox::User=root")
	if [ "${KERNELS_UPDATE:-}" = 1 ] || ! compgen -G "$a/lists/*_Packages*" >/dev/null; then
		apt-get "${O[@]}" -q update >"$a/update.log" 2>&1 || {
			tail -n 20 "$a/update.log" >&2
			die "apt-get update for $suite ($ARCH) failed"
		}
	fi
}

# download DIR PACKAGE...: the packages' .debs into DIR (kept: a second run
# is offline).
download() {
	local dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && apt-get "${O[@]}" -q download "$@") >"$dir/download.log" 2>&1 || {
		tail -n 20 "$dir/download.log" >&2
		die "apt-get download $* failed"
	}
}

# What the initramfs-only boot needs of a kernel, built in: a module
# would have to be loaded before /init can mount anything.
required_config=(TMPFS DEVTMPFS BLK_DEV_INITRD RD_GZIP PROC_FS SYSFS UNIX98_PTYS BINFMT_ELF BINFMT_SCRIPT
	USER_NS PID_NS SECCOMP SECCOMP_FILTER CROSS_MEMORY_ATTACH UNIX)
case $ARCH in
amd64) required_config+=(SERIAL_8250 SERIAL_8250_CONSOLE) ;;
arm64) required_config+=(SERIAL_AMBA_PL011 SERIAL_AMBA_PL011_CONSOLE) ;;
esac

# old_kernel NAME: the file name (without -x86_64.bzImage) of one of the
# kernels in $OLD_KERNELS; fails for Debian's suites.
old_kernel() {
	case $1 in
	el7) echo linux-3.10.0-1160.el7 ;;
	v4.4) echo linux-4.4.178 ;;
	*) return 1 ;;
	esac
}

# fetch_old_kernel NAME: build/kernels/amd64/NAME/{vmlinuz,config,version}
# from $OLD_KERNELS. They have no modules: loop and ext4 are built in
# (4.4.178) or absent (el7, whose /tmp is a tmpfs then).
fetch_old_kernel() {
	local name=$1 d=$W/$1 base
	base=$(old_kernel "$name")
	[ "$ARCH" = amd64 ] || die "$name is an x86_64 kernel; ARCH=$ARCH"
	local img=$OLD_KERNELS/$base-x86_64.bzImage
	[ -s "$img" ] || die "$img is missing: the old kernels are test fixtures in ../shared/kernels (see its README)"
	rm -rf "$d"
	mkdir -p "$d"
	cp "$img" "$d/vmlinuz"
	cp "$OLD_KERNELS/$base-x86_64.config" "$d/config"
	echo "${base#linux-}" >"$d/release"
	echo "$base ($OLD_KERNELS)" >"$d/version"
}

# fetch_kernel SUITE: build/kernels/ARCH/SUITE/{vmlinuz,config,version}.
fetch_kernel() {
	local suite=$1 d=$W/$1
	if old_kernel "$suite" >/dev/null; then
		fetch_old_kernel "$suite"
		return
	fi
	if [ "${KERNELS_UPDATE:-}" != 1 ] && [ -s "$d/vmlinuz" ] && [ -s "$d/version" ] && [ -s "$d/release" ]; then
		return 0
	fi
	apt_for "$suite"
	local meta=linux-image-$flavour pkg
	pkg=$(apt-cache "${O[@]}" depends "$meta" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || die "$suite has no $meta ($ARCH) depending on a kernel image"
	rm -rf "$d.new"
	mkdir -p "$d.new/debs"
	download "$d.new/debs" "$pkg"
	dpkg-deb -x "$d.new"/debs/*.deb "$d.new/x"
	local img cfg
	img=$(ls "$d.new"/x/boot/vmlinuz-* 2>/dev/null | head -n 1)
	cfg=$(ls "$d.new"/x/boot/config-* 2>/dev/null | head -n 1)
	[ -n "$img" ] && [ -n "$cfg" ] || die "$pkg holds no /boot/vmlinuz-* and config-*"
	cp "$img" "$d.new/vmlinuz"
	# loop: /init puts /tmp on an ext2 image (tmpfs has no user xattrs
	# before 6.6, and a ptrace test needs them).
	local ko
	ko=$(find "$d.new/x/lib/modules" -name 'loop.ko*' | head -n 1)
	[ -n "$ko" ] || die "$pkg has no loop module"
	cp "$ko" "$d.new/"
	echo "$(basename "$(dirname "$(dirname "$(dirname "$(dirname "$ko")")")")")" >"$d.new/release"
	cp "$cfg" "$d.new/config"
	echo "$pkg $(dpkg-deb -f "$d.new"/debs/*.deb Version)" >"$d.new/version"
	rm -rf "$d.new/x" "$d"
	mv "$d.new" "$d"
}

check_config() { # SUITE
	local c=$W/$1/config missing=() opt
	for opt in "${required_config[@]}"; do
		# 4.4.178's small config has no process_vm_readv: np reads its
		# tracees through /proc/<pid>/mem there, a fallback it has anyway.
		[ "$1/$opt" != v4.4/CROSS_MEMORY_ATTACH ] || continue
		grep -q "^CONFIG_$opt=y" "$c" || missing+=("$opt ($(grep -E "^(# )?CONFIG_$opt[= ]" "$c" || echo unset))")
	done
	[ ${#missing[@]} -eq 0 ] || die "$(cat "$W/$1/version") lacks, built in: ${missing[*]}"
}

# The initramfs's userland from Debian for ARCH: busybox-static, strace
# (a ptrace test runs it under the tracer), bash (another runs its [[ ]]
# file tests) and their libraries, which bring the C library and loader
# the ptrace fixture copies into its /nix; and util-linux's unshare alone
# (the PID 1 tests' --kill-child; the rest of util-linux, su among it,
# would shadow busybox's).
userland_pkgs="busybox-static strace bash +unshare"
fetch_userland() {
	local u=$W/userland
	if [ "${KERNELS_UPDATE:-}" != 1 ] && [ -f "$u/stamp" ] && [ -x "$u/root/bin/bash" ] &&
		[ "$(cat "$u/request" 2>/dev/null)" = "$userland_pkgs" ]; then
		return 0
	fi
	apt_for "$USERLAND_SUITE"
	local pkgs
	pkgs=$(apt-cache "${O[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances busybox-static strace bash 2>/dev/null |
		grep -E '^[a-z0-9][a-z0-9.+-]*(:[a-z0-9]+)?$' | sed 's/:.*//' | sort -u)
	[ -n "$pkgs" ] || die "no dependency closure for busybox-static strace bash in $USERLAND_SUITE"
	rm -rf "$u"
	# shellcheck disable=SC2086 # the package list splits on purpose
	download "$u/debs" $pkgs
	mkdir -p "$u/root"
	local deb
	for deb in "$u"/debs/*.deb; do
		dpkg-deb -x "$deb" "$u/root"
	done
	# Documentation, locales and the like only make the VM's RAM disk bigger.
	rm -rf "$u/root/usr/share" "$u/root/etc"
	[ -x "$u/root/bin/busybox" ] || die "busybox-static ($ARCH) has no /bin/busybox"
	download "$u/util-linux" util-linux
	dpkg-deb -x "$u"/util-linux/util-linux_*.deb "$u/util-linux/x"
	mkdir -p "$u/root/usr/bin"
	cp "$u/util-linux/x/usr/bin/unshare" "$u/root/usr/bin/unshare"
	rm -rf "$u/util-linux/x"
	echo "$pkgs" >"$u/stamp"
	echo "$userland_pkgs" >"$u/request"
}

# The compiled tests and the C fixture, for ARCH.
build_tests() {
	local b=$W/bin
	mkdir -p "$b"
	CGO_ENABLED=0 GOARCH=$goarch go test -c -tags prepared -o "$b/ptrace.test" ./ptrace
	CGO_ENABLED=0 GOARCH=$goarch go test -c -tags integration -o "$b/integration.test" ./integration
	# What counts the go test steps' results in the VM (kernels.sh's gotest).
	CGO_ENABLED=0 GOARCH=$goarch go build -o "$b/testsum" ./integration/testsum
	CGO_ENABLED=0 GOARCH=$goarch go build -o "$b/test2json" cmd/test2json
	if [ "$ARCH" = amd64 ] && [ -x build/np-bare ]; then
		cp build/np-bare "$b/np-bare"
	else
		CGO_ENABLED=0 GOARCH=$goarch go build -trimpath -ldflags "-s -w" -o "$b/np-bare" ./cmd/np
	fi
	# As ptrace/fixture_test.go's buildPathops would: one for the host's
	# loader, one whose loader and libraries are in the fixture's /nix.
	"$cc" -O2 -static -Wall -o "$b/kernels-entropy" integration/testdata/kernels-entropy.c
	"$cc" -O2 -o "$b/pathops" ptrace/testdata/pathops.c -lpthread
	"$cc" -O2 -o "$b/pathops-nix" ptrace/testdata/pathops.c -lpthread \
		-Wl,--dynamic-linker=/nix/store/glibc/lib/$loader -Wl,-rpath,/nix/store/glibc/lib
}

# kernel_set NAME FILE...: the -test.run pattern of the tests in FILEs
# marked //np:kernel-set NAME; fails when none is.
kernel_set() {
	local set=$1
	shift
	env -u GOARCH go run ./integration/testsum -pattern -set "$set" "$@"
}

# The initramfs: userland, np, the tests, /init and the users.
build_initramfs() {
	local r=$W/initramfs
	rm -rf "$r"
	mkdir -p "$r/ktest/pathops" "$r/np/bin" "$r/np/ptrace/testdata" "$r/etc" "$r/root"
	cp -a "$W/userland/root/." "$r/"
	cp integration/kernels-init.sh "$r/init"
	local s
	for s in $KERNELS; do
		old_kernel "$s" >/dev/null && continue
		mkdir -p "$r/lib/modules/$(cat "$W/$s/release")"
		cp "$W/$s"/loop.ko* "$r/lib/modules/$(cat "$W/$s/release")/"
	done
	cp integration/kernels-steps.sh "$r/ktest/steps"
	cp "$W/bin/ptrace.test" "$W/bin/integration.test" "$W/bin/testsum" "$W/bin/test2json" "$r/ktest/"
	# The steps' test selections: the ptrace modes, the signal tests
	# (those of the files robust.sh runs) and the sets marked in the
	# tests' doc comments (//np:kernel-set NAME, read by testsum -set:
	# the ptrace smoke tests, the hostile-host tests). A set or file that
	# selects nothing stops the run here.
	cp integration/ptrace-modes.txt "$r/ktest/"
	local signals smoke hostile userns notify
	signals=$(signal_tests)
	smoke=$(kernel_set smoke ptrace/*_test.go)
	hostile=$(kernel_set hostile integration/*_test.go)
	userns=$(kernel_set hostile-userns integration/*_test.go)
	notify=$(kernel_set hostile-notify integration/*_test.go)
	cat >"$r/ktest/selection" <<-EOF
		KTEST_SIGNALS='$signals'
		KTEST_PTRACE_SMOKE_TESTS='$smoke'
		KTEST_HOSTILE='$hostile'
		KTEST_HOSTILE_USERNS='$userns'
		KTEST_HOSTILE_NOTIFY='$notify'
	EOF
	cp "$W/bin/pathops" "$W/bin/pathops-nix" "$r/ktest/pathops/"
	cp "$W/bin/kernels-entropy" "$r/ktest/"
	# What kernels-entropy credits the old kernels' pools with: the host's
	# randomness, new for each initramfs.
	head -c 512 /dev/urandom >"$r/ktest/entropy-seed"
	chmod 600 "$r/ktest/entropy-seed"
	cp "$np_bin" "$r/np/bin/np"
	cp "$W/bin/np-bare" "$r/np/bin/np-bare"
	cp ptrace/testdata/* "$r/np/ptrace/testdata/"
	chmod 755 "$r/init" "$r/ktest/"*.test "$r/ktest/testsum" "$r/ktest/test2json" "$r/ktest/kernels-entropy" "$r/ktest/pathops/"* "$r/np/bin/"*
	cat >"$r/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		nptest:x:1000:1000:np tests:/home/nptest:/bin/sh
	EOF
	cat >"$r/etc/group" <<-'EOF'
		root:x:0:
		nptest:x:1000:
	EOF
	echo /bin/sh >"$r/etc/shells"
	# What every step runs with (as nptest), and its helpers.
	cat >"$r/ktest/env" <<-'EOF'
		export HOME=/home/nptest USER=nptest LOGNAME=nptest LANG=C.UTF-8 TMPDIR=/tmp
		export PATH=/np/bin:/usr/bin:/bin:/usr/sbin:/sbin
		export NP_LOCATION=/home/nptest/loc NIX_CONFIG='substituters ='
		export NP_PTRACE_TEST_SRC=/np/ptrace NP_PTRACE_TEST_PATHOPS=/ktest/pathops
		cd "$HOME" || exit 1
		# nix_build RUNTIME: an offline build whose output lands in the data dir.
		nix_build() {
			out=$(NP_RUNTIME=$1 np nix-build --no-out-link -E "derivation { name = \"k-$1\"; system = builtins.currentSystem; builder = \"/bin/sh\"; args = [\"-c\" \"echo built-by-$1 > \$out\"]; }") || return 1
			echo "output: $out"
			got=$(cat "$NP_LOCATION/.nix-portable$out") || return 1
			[ "$got" = "built-by-$1" ] || { echo "output holds '$got'"; return 1; }
		}
		# ls_root RUNTIME: np run sees the host's root plus /nix.
		ls_root() {
			l=$(NP_RUNTIME=$1 np run ls /) || return 1
			echo "$l"
			echo "$l" | grep -qx nix
		}
		# gotest BINARY ARGS: a go test binary whose skipped tests fail too
		# and which must have run a test, counted by integration/testsum
		# (as in integration/run.sh); its log reads as -test.v's.
		gotest() {
			{ "$@" -test.v=test2json 2>&1; echo $? >/tmp/gotest.rc; } |
				/ktest/test2json -t -p gotest | /ktest/testsum -name gotest >/tmp/gotest.log
			sum=$?
			cat /tmp/gotest.log
			[ "$sum" = 0 ] && [ "$(cat /tmp/gotest.rc)" = 0 ]
		}
		# entropy_starved: the kernel's pool is still uninitialised.
		entropy_starved() {
			e=$(/ktest/kernels-entropy state)
			[ "$e" = starved ] || { echo "entropy pool: $e, want starved"; return 1; }
		}
		# within SECS CMD...: runs CMD, which must end within SECS; if not,
		# says what each of nptest's processes waits in (its system call
		# number: 318 is getrandom) and kills them.
		within() {
			secs=$1
			shift
			"$@" &
			pid=$!
			i=0
			while kill -0 "$pid" 2>/dev/null && [ "$i" -lt "$secs" ]; do
				sleep 1
				i=$((i + 1))
			done
			if kill -0 "$pid" 2>/dev/null; then
				echo "still running after ${secs}s: $*"
				for p in /proc/[0-9]*; do
					[ "$(stat -c %u "$p" 2>/dev/null)" = 1000 ] || continue
					echo "  ${p#/proc/} syscall=$(cut -d' ' -f1 "$p/syscall" 2>/dev/null) wchan=$(cat "$p/wchan" 2>/dev/null) $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-120)"
				done
				kill -9 "$pid"
				return 1
			fi
			wait "$pid"
		}
		# userns_default_off: el7 as booted, user.max_user_namespaces = 0.
		userns_default_off() {
			[ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ] || { echo "user.max_user_namespaces is not 0"; return 1; }
			d=$(np doctor 2>&1)
			echo "$d"
			echo "$d" | grep -Eq '^  ns +no .*user\.max_user_namespaces is 0 .*sysctl -w user\.max_user_namespaces=' ||
				{ echo "doctor does not name user.max_user_namespaces for ns"; return 1; }
			echo "$d" | grep -q '^auto picks: ptrace' || { echo "auto does not pick ptrace"; return 1; }
			! echo "$d" | grep -E '^  ns |^auto picks' | grep -Eiq 'ambient|older than|refuses to create' ||
				{ echo "doctor gives a false cause"; return 1; }
			o=$(NP_RUNTIME=ns np run true 2>&1)
			rc=$?
			echo "NP_RUNTIME=ns np run true: exit $rc: $o"
			[ "$rc" = 125 ] && echo "$o" | grep -q 'user\.max_user_namespaces is 0' && ! echo "$o" | grep -Eiq 'ambient|older than' ||
				{ echo "a forced ns does not name the sysctl (or names a false cause)"; return 1; }
			ls_root auto && nix_build auto
		}
		ptrace_unit() { cd /tmp && gotest /ktest/ptrace.test -test.timeout 35m "$@"; }
		integration() {
			rt=$1
			shift
			cd /tmp && NP_TEST_RUNTIME=$rt NP_BIN=/np/bin/np NP_BARE_BIN=/np/bin/np-bare gotest /ktest/integration.test -test.timeout 35m "$@"
		}
	EOF
	(cd "$r" && find . | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -1) >"$W/initramfs.cpio.gz.new"
	mv "$W/initramfs.cpio.gz.new" "$W/initramfs.cpio.gz"
}

# boot SUITE: runs the VM, prints its markers, and records the result.
results=()
total_failed=0
boot() {
	# A KTEST_ONLY run keeps its own log: a whole set's, perhaps still
	# being written, stays as it is.
	local suite=$1 log=$K/logs/$ARCH-$1-$set_${KTEST_ONLY:+-only}.log start=$SECONDS rc=0
	local append="console=$console quiet panic=-1 random.trust_cpu=on ktest.set=$set_"
	[ -z "${KTEST_ONLY:-}" ] || append+=" ktest.only=$KTEST_ONLY"
	# Under TCG a program takes 10-30x longer to start than on the host:
	# the tests' bounds on waiting (NP_TEST_TIME_SCALE) stretch by 10.
	[ "$KTEST_ACCEL" = kvm ] || append+=" ktest.timescale=10"
	# 4.4.178 has no random.trust_cpu (4.19) and no virtio-rng built in:
	# it boots with its entropy pool uninitialised, which /init checks,
	# runs np's first install in (np must not wait for it), then seeds.
	# el7 boots as CentOS 7 does, with user.max_user_namespaces = 0.
	case $suite in
	# el7's getrandom is ready at boot (RDRAND), but its input pool holds
	# a few bits (entropy_avail 2-3 under TCG), so /dev/random never polls
	# readable; a booted CentOS 7 host's has hundreds. /init credits it.
	el7) append+=" ktest.kernel=el7 ktest.userns_off=1 ktest.seed=1" ;;
	v4.4) append+=" ktest.starved=1 ktest.kernel=v4.4" ;;
	*) append+=" ktest.kernel=$suite" ;;
	esac
	echo "=== kernel $suite: $(cat "$W/$suite/version") ($ARCH, $KTEST_ACCEL, set $set_)"
	set +e
	timeout -k 10 "$KTEST_TIMEOUT" "$qemu" "${machine[@]}" -accel "$KTEST_ACCEL" -smp 2 -m 4G \
		-nographic -no-reboot -monitor none -serial stdio -display none \
		-kernel "$W/$suite/vmlinuz" -initrd "${KTEST_INITRD:-$W/initramfs.cpio.gz}" -append "$append" </dev/null 2>&1 |
		sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' | tee "$log" | sed -n -u '/KTEST-START/,$p'
	rc=${PIPESTATUS[0]}
	set -e
	local secs=$((SECONDS - start)) passed failed summary
	passed=$(grep -c '^KTEST [^ ]* PASS' "$log" || true)
	failed=$(grep -c '^KTEST [^ ]* FAIL' "$log" || true)
	summary=$(grep '^KTEST-SUMMARY' "$log" | tail -n 1 || true)
	local verdict=ok
	if [ -z "$summary" ]; then
		verdict="VM did not finish (qemu exit $rc; log $log)"
		[ "$rc" -eq 124 ] && verdict="VM timed out after ${KTEST_TIMEOUT}s (log $log)"
		tail -n 30 "$log" | sed 's/^/  | /'
		failed=$((failed + 1))
	elif [ "$passed" -eq 0 ]; then
		verdict="no step ran"
		failed=$((failed + 1))
	elif [ "$failed" -gt 0 ]; then
		verdict="FAILED"
	fi
	local uname
	uname=$(sed -n 's/^KTEST-SUMMARY kernel=\([^ ]*\).*/\1/p' "$log" | tail -n 1)
	results+=("kernel $suite ${uname:-?} ($ARCH): $passed passed, $failed failed, ${secs} s: $verdict")
	total_failed=$((total_failed + failed))
}

# integration/nfs.sh sources this file for its functions (apt, kernels,
# userland, boot) and runs its own initramfs and steps.
[ "${KERNELS_LIB:-}" = 1 ] && return 0

t0=$SECONDS
fetch_userland
for s in $KERNELS; do
	fetch_kernel "$s"
	check_config "$s"
done
build_tests
build_initramfs
echo "kernels: initramfs $(($(stat -c %s "$W/initramfs.cpio.gz") / 1000000)) MB, prepared in $((SECONDS - t0)) s"
for s in $KERNELS; do
	boot "$s"
done
printf '%s\n' "${results[@]}"
echo "kernels: $set_ set on ${KERNELS// /, } ($ARCH) in $((SECONDS - t0)) s, $total_failed failed"
[ "$total_failed" -eq 0 ]
