# The test steps integration/kernels-init.sh runs in each kernel's VM
# (sourced by it; busybox sh). Each step is a shell command run as nptest
# with /ktest/env sourced; its time limit is generous for TCG (no KVM:
# everything runs 10-30x slower than on the host) yet ends a hang. The go
# test steps' own -test.timeout (35m) fires first and names the hung test.
#
# smoke: what CI runs on bullseye's 5.10 (where the ptrace runtime's
# nix-build once hung), 3.10.0-1160.el7 and 4.4.178; full: everything the
# issue asks for, per kernel. The old kernels (/init's $starved) boot with
# their entropy pool uninitialised: np's first install runs then, and must
# not wait for it.

# The test selections, which kernels.sh writes here from the tests'
# sources (a renamed or moved test stays selected; a set that selects
# nothing fails the run before a VM boots):
# - KTEST_SIGNALS: signals, job control, terminals and np as PID 1, the
#   tests integration/robust.sh runs on the host (lib.sh's signal_tests:
#   every test of their files);
# - KTEST_PTRACE_SMOKE_TESTS: the ptrace unit tests of the smoke set, the
#   probe, the tracer on its own fixture and the real Nix under it (the
#   build that hung on 5.10), marked //np:kernel-set smoke;
# - the hostile-host integration tests, run in the ns and the ptrace pass:
#   KTEST_HOSTILE_USERNS, those that build hosts with
#   user.max_user_namespaces = 0 (the old kernels choose their
#   subtests), KTEST_HOSTILE_NOTIFY, those that need seccomp
#   notifications (5.0), and KTEST_HOSTILE, the others (marked
#   hostile-userns, hostile-notify and hostile).
. /ktest/selection

# The smoke set's ptrace tests run with the seccomp filter, with and
# without notifications. Without seccomp every call is a ptrace stop,
# which TCG makes take minutes: the full set has it.
KTEST_PTRACE_SMOKE=$KTEST_PTRACE_SMOKE_TESTS'/^(seccomp|seccomp-ptrace-only)$'

# A host whose administrator disabled user namespaces (the sysctl, set as
# root for this step only): np's automatic choice must fall back to
# ptrace, build, and show /nix.
userns_off_fallback() {
	# 4.4.178 has no such sysctl (4.9 added it), hence no way to turn user
	# namespaces off there; el7 ran userns-default-off instead.
	[ -e /proc/sys/user/max_user_namespaces ] && [ -z "$userns_off" ] || return 0
	echo 0 >/proc/sys/user/max_user_namespaces || return 1
	step userns-off-fallback 900 'np doctor | tee /dev/stderr | grep -q "auto picks: ptrace" && ls_root auto && nix_build auto'
	echo 10000 >/proc/sys/user/max_user_namespaces
}

# either PATTERN PATTERN: one -test.run pattern selecting the tests of
# both, each ^(A|B)$ as testsum -pattern writes them (one go test run, one
# install of its data dir).
either() {
	a=${1#^(} b=${2#^(}
	echo "^(${a%)\$}|${b%)\$})\$"
}

run_steps() {
	if [ -n "$starved" ]; then
		# np with the pool uninitialised: its probes and its own start
		# must not wait for it (Nix does: libsodium's initialisation
		# waits for the pool, so the first install cannot run here). The
		# pool must be starved before (or the step proves nothing) and
		# still be after.
		# np doctor says that Nix may wait for the pool, and the fix.
		step unseeded 300 'entropy_starved && within 120 np doctor >/tmp/doctor.out; rc=$?; cat /tmp/doctor.out
			[ "$rc" = 0 ] && grep -q "^warning: *the kernel.s entropy pool is not initialised yet: Nix may wait for it .*rngd" /tmp/doctor.out &&
			within 30 np --version && entropy_starved'
		entropy_seed
	fi
	# el7: its input pool credited before Nix first runs (see no-entropy).
	[ -z "$seed" ] || entropy_seed
	step install 600 'np nix-store --version'
	if [ -n "$userns_off" ]; then
		# CentOS 7's default: auto must choose ptrace by itself, doctor
		# and a forced ns name the sysctl (and nothing false); then root
		# raises it and ns must work and be chosen.
		step userns-default-off 900 'userns_default_off'
		userns_raise
		step userns-raised 300 'np doctor | tee /dev/stderr | grep -q "auto picks: ns" && ls_root auto'
	fi
	step nix-build-ns 600 'nix_build ns'
	step nix-build-ptrace 600 'nix_build ptrace'
	step ls-root-ns 300 'ls_root ns'
	step ls-root-ptrace 300 'ls_root ptrace'
	step verify-ns 600 'NP_RUNTIME=ns np nix-store --verify --check-contents'
	# 32-bit (i386, AArch32) programs' calls refused, in every mode.
	step compat-refused 600 "ptrace_unit -test.run '^TestCompatCallsAreRefused\$'"
	userns_off_fallback
	# np's first install, build and run where getrandom answers as a
	# starved pool does (the no-entropy filter: a call that would block
	# fails): on kernels without the vDSO's getrandom (< 6.11, all of
	# these) every blocking read of np's would fail it.
	# Where getrandom fails, Nix's libsodium polls /dev/random until the
	# kernel's input pool holds 64 bits, which np cannot change: on el7
	# booted under TCG it held 2-3 bits and Nix's first nix-store (np's
	# install) sat in poll past 900 s. Hence el7's pool is credited at
	# boot (ktest.seed), as a booted host's is; on el7 this runs in the
	# full set only (the smoke set keeps its CI time).
	# Not on arm64 yet: there Nix 2.34's nix-build aborts ("Fatal glibc
	# error: cannot get entropy for arc4random"): the filter's EIO, which
	# no kernel gives (a starved one blocks), is fatal to glibc's
	# arc4random. The filter must block, or refuse np alone, to run there.
	[ "$kname/$1" = el7/smoke ] || [ "$(uname -m)" = aarch64 ] ||
		step no-entropy 900 "integration ns -test.run '^TestStartsWithoutTheKernelsEntropy\$'"
	if [ "$1" = smoke ]; then
		# Without notifications (before 5.0: el7, 4.4) the seccomp mode is
		# the ptrace-only one: running both would double the time for
		# nothing.
		smoke_set=$KTEST_PTRACE_SMOKE
		case $kname in el7 | v4.4) smoke_set=${KTEST_PTRACE_SMOKE%/*}/^seccomp-ptrace-only\$ ;; esac
		step ptrace-unit-smoke 900 "ptrace_unit -test.run '$smoke_set'"
		return
	fi
	step verify-ptrace 900 'NP_RUNTIME=ptrace np nix-store --verify --check-contents'
	# Before 4.9 (4.4.178) there is no user.max_user_namespaces: the
	# hostile hosts made by setting it to 0 in a user namespace cannot be
	# built there (nothing else turns user namespaces off for one user),
	# so the tests that make them run their docker-seccomp hosts alone
	# (which refuse user namespaces by filter). Before 5.0 (el7, 4.4)
	# there are no notifications for a refused pidfd_getfd to spare.
	# (-test.run only: the suite's -test.skip is its own.)
	hostile=$KTEST_HOSTILE
	case $kname in el7 | v4.4) ;; *) hostile=$(either "$hostile" "$KTEST_HOSTILE_NOTIFY") ;; esac
	for rt in ns ptrace; do
		if [ -e /proc/sys/user/max_user_namespaces ]; then
			run="integration $rt -test.run '$(either "$hostile" "$KTEST_HOSTILE_USERNS")'"
		else
			run="integration $rt -test.run '$hostile' && integration $rt -test.run '$KTEST_HOSTILE_USERNS/^docker-seccomp'"
		fi
		step "hostile-$rt" 2400 "$run"
	done
	# -test.timeout below the step's limit: a hang is named by go test.
	step signals-ns 1200 "integration ns -test.run '$KTEST_SIGNALS' -test.timeout 18m"
	step signals-ptrace 1200 "integration ptrace -test.run '$KTEST_SIGNALS' -test.timeout 18m"
	step signals-ptrace-noseccomp 1200 "integration ptrace-noseccomp -test.run '$KTEST_SIGNALS' -test.timeout 18m"
	# el7 has no file system with user extended attributes built in
	# (tmpfs has them from 6.6, ext4 and loop are modules there), which
	# TestExtendedAttributesUnderNix needs; it runs on every other kernel.
	xattr_skip=
	[ "$kname" != el7 ] || xattr_skip="-test.skip '^TestExtendedAttributesUnderNix\$'"
	# The ptrace unit tests in each mode of integration/ptrace-modes.txt
	# marked all: by default, and on the fallbacks the ptrace runtime takes
	# on older or locked-down hosts: tracee memory through PTRACE_PEEKDATA
	# only (so no notifications, as on kernels before 5.0: RHEL 7 and 8),
	# and through /proc/<pid>/mem with two notification servers.
	while read -r mode where _ env; do
		case $mode in '' | '#'*) continue ;; esac
		[ "$where" = all ] || continue
		name=ptrace-unit
		[ "$mode" = default ] || name=ptrace-unit-$mode
		step "$name" 2400 "$env ptrace_unit $xattr_skip"
	done </ktest/ptrace-modes.txt
}
