#!/bin/busybox sh
# /init of the initramfs integration/kernels.sh boots each kernel with. It runs under busybox only: it mounts what np and Nix need, runs
# each test step as the unprivileged user nptest with a timeout of its own,
# prints one marker line per step and a summary the host parses, then
# powers off. A step that outlives its timeout is killed and fails: a hang
# must show up as a failure, never as a VM that never finishes.
#
#   KTEST <name> PASS|FAIL <seconds>
#   KTEST-SUMMARY kernel=<uname -r> passed=N failed=N
#
# The kernel command line chooses the set: ktest.set=smoke|full, and
# ktest.only=REGEX keeps only the steps whose name matches; ktest.kernel
# names the kernel (bullseye, el7, v4.4 ...), ktest.starved=1 says it boots
# with its entropy pool uninitialised (4.4.178), ktest.seed=1 that its
# input pool is nearly empty (el7: /init credits it), ktest.userns_off=1
# that user.max_user_namespaces stays 0 until a step raises it (el7),
# ktest.timescale=N how much the go tests' bounds on waiting stretch
# (NP_TEST_TIME_SCALE: the VM runs under TCG).
/bin/busybox mkdir -p /proc /sys /dev /tmp /home /run /usr/bin /usr/sbin /sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mount -t tmpfs -o mode=0755 dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
# The data dirs, Nix's builds and the tests' temporary files all live in
# RAM: the home directory on a tmpfs, /tmp below.
# /tmp is an ext2 image on a tmpfs, loop-mounted: the ptrace tests'
# fixture needs user extended attributes, which tmpfs lacks before 6.6.
mkdir -p /run/disk
mount -t tmpfs -o mode=0700,size=75% disk /run/disk
ko=$(ls /lib/modules/$(uname -r)/loop.ko* 2>/dev/null | head -n 1)
# loop built in (4.4.178) needs no module; el7 has neither loop nor ext4
# built in: its /tmp is a tmpfs.
if { [ -e /sys/module/loop ] || { [ -n "$ko" ] && insmod "$ko"; }; } && dd if=/dev/zero of=/run/disk/tmp.img bs=1M count=0 seek=2500 2>/dev/null &&
	mke2fs -q -F -m 0 -N 400000 /run/disk/tmp.img && mount -o loop,user_xattr /run/disk/tmp.img /tmp; then
	chmod 1777 /tmp
else
	echo "KTEST-NOTE no loop-mounted /tmp (module $ko): a tmpfs instead"
	mount -t tmpfs -o mode=1777,size=50% tmp /tmp
fi
mount -t tmpfs -o mode=0755,size=25% home /home
mkdir -p /home/nptest
chown 1000:1000 /home/nptest
chmod 0700 /home/nptest
ip link set lo up 2>/dev/null
hostname ktest

# Debian's kernels before 6.x gate unprivileged user namespaces behind
# its own sysctl; np's ns runtime needs them, as any Debian 11 host has
# them (the default there is 1, this only makes sure).
[ -w /proc/sys/kernel/unprivileged_userns_clone ] && echo 1 >/proc/sys/kernel/unprivileged_userns_clone
set_=smoke
only=
kname=
starved=
seed=
userns_off=
for arg in $(cat /proc/cmdline); do
	case $arg in
	ktest.set=*) set_=${arg#ktest.set=} ;;
	ktest.only=*) only=${arg#ktest.only=} ;;
	ktest.kernel=*) kname=${arg#ktest.kernel=} ;;
	ktest.starved=1) starved=1 ;;
	ktest.userns_off=1) userns_off=1 ;;
	ktest.seed=1) seed=1 ;;
	ktest.timescale=*) echo "export NP_TEST_TIME_SCALE=${arg#ktest.timescale=}" >>/ktest/env ;;
	esac
done
# CentOS 7 keeps user namespaces off (user.max_user_namespaces = 0): on el7
# the steps see that first and raise it themselves (userns_raise).
max_userns_at_boot=$(cat /proc/sys/user/max_user_namespaces 2>/dev/null)
userns_raise() {
	[ -w /proc/sys/user/max_user_namespaces ] && [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ] &&
		echo 10000 >/proc/sys/user/max_user_namespaces
	return 0
}
[ -n "$userns_off" ] || userns_raise
# The entropy pool's state at boot, before anything read from it.
entropy_at_boot=$(/ktest/kernels-entropy state)

kernel=$(uname -r)
echo # the firmware's last line may lack its newline
echo "KTEST-START kernel=$kernel set=$set_ arch=$(uname -m) cpus=$(nproc) entropy=$entropy_at_boot max_user_namespaces=${max_userns_at_boot:-absent}"
passed=0
failed=0

# step NAME TIMEOUT SHELL-COMMAND: runs the command as nptest, in a login-
# free environment (ktest-env), killed after TIMEOUT seconds. Its output
# goes to the console only when it fails (what a go test did not pass).
step() {
	name=$1 limit=$2 cmd=$3
	if [ -n "$only" ] && ! echo "$name" | grep -Eq -- "$only"; then
		return 0
	fi
	log=/tmp/ktest-$name.log
	start=$(date +%s)
	timeout -s KILL "$limit" su -s /bin/sh nptest -c ". /ktest/env; $cmd" >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	# Whatever the step left behind (a hung Nix, a tracer) ends with it.
	su -s /bin/sh nptest -c 'kill -9 -1' 2>/dev/null
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		# A go test step lists its tests and their times.
		grep -E '^ *--- (PASS|FAIL|SKIP)' "$log" | sed 's/^/  /'
		echo "KTEST $name PASS $secs"
	else
		failed=$((failed + 1))
		if [ "$rc" -eq 137 ] && [ "$secs" -ge "$limit" ]; then
			echo "KTEST-NOTE $name: killed after its ${limit}s timeout"
			# A go test killed so prints nothing: its log so far does.
			[ /tmp/gotest.log -nt "$log" ] || [ ! -s "$log" ] && [ -f /tmp/gotest.log ] &&
				grep -v 'np\[debug\]' /tmp/gotest.log | tail -n 40
		fi
		echo "KTEST-LOG-BEGIN $name (exit $rc)"
		# A go test's -test.v output without what passed: the failures,
		# their messages and the test's last words.
		grep -Ev -e '^=== (RUN|PAUSE|CONT|NAME)' -e '^ *--- PASS' "$log" | tail -n 150
		# A go test past its -test.timeout names the tests still running;
		# killed by the step's timeout, its last started tests name the hang.
		grep -A8 '^panic: test timed out' "$log"
		grep '^=== RUN' "$log" | tail -n 5
		echo "KTEST-LOG-END $name"
		echo "KTEST $name FAIL $secs"
	fi
}

# root_step NAME COMMAND: a step of /init's own, run as root (seeding the
# entropy pool), with the same markers.
root_step() {
	if [ -n "$only" ] && ! echo "$1" | grep -Eq -- "$only"; then
		return 0
	fi
	out=$(sh -c "$2" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "$out" | sed 's/^/  /'
		echo "KTEST $1 PASS 0"
	else
		failed=$((failed + 1))
		echo "KTEST-LOG-BEGIN $1 (exit $rc)"
		echo "$out"
		echo "KTEST-LOG-END $1"
		echo "KTEST $1 FAIL 0"
	fi
}

# entropy_seed: on a kernel booted starved, or whose input pool is nearly
# empty (ktest.seed=1: el7), credits its pool (the steps after it run with
# it seeded, as on a booted host).
entropy_seed() {
	[ -n "$starved$seed" ] || return 0
	# Whatever ktest.only keeps: every later step needs it.
	only_kept=$only
	only=
	root_step entropy-seed '/ktest/kernels-entropy seed /ktest/entropy-seed'
	only=$only_kept
}

. /ktest/steps
run_steps "$set_"

echo "KTEST-SUMMARY kernel=$kernel passed=$passed failed=$failed"
sync
poweroff -f
# poweroff -f does not return; should it fail, the kernel's panic=-1 and
# qemu's -no-reboot end the VM when init exits.
exit 1
