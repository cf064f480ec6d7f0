#!/usr/bin/env bash
# Sets up what the build and the tests need on a fresh Debian 12 machine:
# Debian packages (installed only where missing) and the unprivileged user
# `nptest` the tests run np as. Run as root it installs; run as another
# user it only checks, and names what is missing and how to get it.
#
#   bash integration/setup.sh        # `make test-setup`; `make unit` and `make integration` run it
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
export DEBIAN_FRONTEND=noninteractive

# Debian package: what needs it.
packages=(
	patchelf       # the payload's ELF interpreters
	zstd           # the payload
	dpkg           # dpkg-deb unpacks Nix's packages
	util-linux     # runuser, unshare (hostile hosts)
	passwd         # useradd
	procps         # pgrep, in lifetime tests
	git            # NP_GIT tests
	gcc            # the ptrace tests' C fixture
	libc6-dev      # its headers
	perl           # Nix's manual pages tests
	strace         # the ptrace tests compare with it
	openssh-server # ssh-ng remote builds against a real sshd
	openssh-client
	debian-archive-keyring # the private apt configuration of assets/fetch-debs.sh
	ca-certificates
	xz-utils       # the Nix test suite fixture (integration/nixsuite)
	busybox-static # a static shell for fixtures; its cpio writes the kernels' initramfs
	docker.io      # real containers (make containers)
	podman
	qemu-system-x86 # make kernel-smoke, make kernels: Debian's kernels under TCG
	qemu-system-arm # the same with ARCH=arm64
	dpkg-dev       # dpkg-source unpacks Nix's source package (make nix-functional)
	bash-static    # Nix's functional suite: the sandbox shell Debian's Nix is built with
	jq             # Nix's functional suite
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "$(id -u)" -ne 0 ]; then
	problems=()
	[ ${#missing[@]} -eq 0 ] || problems+=("packages ${missing[*]} (as root: apt-get install ${missing[*]})")
	id nptest >/dev/null 2>&1 || problems+=("the user nptest (as root: useradd --create-home --shell /bin/sh nptest)")
	if [ ${#problems[@]} -gt 0 ]; then
		echo "test-setup: missing ${problems[*]}; or run make test as root, which sets them up" >&2
		exit 1
	fi
	exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "test-setup: installing ${missing[*]}"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! id nptest >/dev/null 2>&1; then
	echo "test-setup: creating the user nptest"
	useradd --create-home --shell /bin/sh nptest
fi
