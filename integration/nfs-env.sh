# /ktest/env of integration/nfs.sh's VM: what every step runs with (as
# nptest, sourced by busybox sh), and its helpers. A step first calls
# `use DATA HOME` to put NP_LOCATION and HOME where it wants them.
export USER=nptest LOGNAME=nptest LANG=C.UTF-8 TMPDIR=/tmp
export PATH=/np/bin:/usr/bin:/bin:/usr/sbin:/sbin
export NIX_CONFIG='substituters ='
export HOME=/home/nptest NP_LOCATION=/home/nptest/loc

# use DATA HOME: the data dir and the home directory of this step.
use() {
	export NP_LOCATION=$1 HOME=$2
	mkdir -p "$NP_LOCATION" "$HOME" && cd "$HOME"
}

# record WHAT LABEL SECONDS: a time for the host's summary.
record() { echo "KTEST-TIME $1 $2 ${3}s" >>/tmp/ktest-times; }

# on_tty OUT CMD: CMD with its output on a terminal (as a user at a
# prompt sees it), the terminal's output in OUT; CMD's status.
on_tty() {
	out=$1
	shift
	script -qec "$*" /dev/null </dev/null >"$out" 2>&1
}

# first_install LABEL: the first run in an empty data dir, timed, drawing
# its progress bar on the terminal.
first_install() {
	[ ! -e "$NP_LOCATION/.nix-portable" ] || { echo "$NP_LOCATION is installed already"; return 1; }
	s=$(date +%s)
	on_tty /tmp/first.out np nix-store --version
	rc=$?
	secs=$(($(date +%s) - s))
	tr '\r' '\n' </tmp/first.out
	[ "$rc" -eq 0 ] || { echo "first run: exit $rc"; return 1; }
	grep -q 'np: installing .* (first run) \[[#.]*\] *[0-9]*%' /tmp/first.out || { echo "no progress bar"; return 1; }
	grep -q 'nix-store (Nix) [0-9]' /tmp/first.out || { echo "no Nix version"; return 1; }
	record first-install "$1" "$secs"
}

# nix_build NAME [FILES]: an offline build whose output lands in the data
# dir; with FILES, the output is a directory of that many small files (a
# store path's files are what a network file system makes slow).
nix_build() {
	n=${2:-0}
	out=$(np nix-build --no-out-link -E "derivation { name = \"$1\"; system = builtins.currentSystem; builder = \"/bin/sh\"; args = [\"-c\" \"if [ $n = 0 ]; then echo built-$1 > \$out; exit; fi; mkdir \$out; i=0; while [ \$i -lt $n ]; do echo \$i > \$out/f\$i; i=\$((i+1)); done; echo built-$1 > \$out/done\"]; }") || return 1
	echo "output: $out"
	f=$NP_LOCATION/.nix-portable$out
	[ "$n" = 0 ] || f=$f/done
	got=$(cat "$f") || return 1
	[ "$got" = "built-$1" ] || { echo "output holds '$got'"; return 1; }
}

# timed_build LABEL: nix_build of 300 files, timed.
timed_build() {
	s=$(date +%s)
	nix_build "files-$1" 300 || return 1
	record offline-build "$1" $(($(date +%s) - s))
}

verify() { np nix-store --verify --check-contents; }

# gc_drops: an unrooted build's output goes at np gc, np's own Nix stays.
gc_drops() {
	nix_build "garbage-$$" || return 1
	p=$NP_LOCATION/.nix-portable$out
	[ -e "$p" ] || return 1
	np gc || return 1
	[ ! -e "$p" ] || { echo "$out survived np gc"; return 1; }
	np nix-store --version && verify
}

# repair_restores: a file of np's Nix deleted, named by the next run (125,
# np repair), restored by np repair.
repair_restores() {
	store=$NP_LOCATION/.nix-portable/nix/store
	victim=
	for d in "$store"/*-nix-*; do
		case $d in *.drv) ;; *) [ -e "$d/bin/nix" ] && victim=$d/bin/nix ;; esac
	done
	[ -n "$victim" ] || { echo "no np Nix in $store"; return 1; }
	chmod 755 "${victim%/nix}" && rm "$victim" && chmod 555 "${victim%/nix}" || return 1
	np run true 2>/tmp/damaged.err
	rc=$?
	cat /tmp/damaged.err
	[ "$rc" -eq 125 ] && grep -q 'run `np repair`' /tmp/damaged.err || { echo "damage not named (exit $rc)"; return 1; }
	np doctor >/tmp/doctor.out
	rc=$?
	[ "$rc" -eq 1 ] || { cat /tmp/doctor.out; echo "doctor on a damaged store: exit $rc"; return 1; }
	np repair 2>&1 | tee /tmp/repair.out
	grep -q repaired /tmp/repair.out && np run true && verify
}

# expose_runs: a profile's program, exposed in a directory on the data
# dir's file system, runs from the host's shell.
expose_runs() {
	out=$(np nix-build --no-out-link -E 'derivation { name = "nfs-hello"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "mkdir -p $out/bin; printf \"#!/bin/sh\necho hello-from-nfs\n\" > $out/bin/nfs-hello; chmod 755 $out/bin/nfs-hello"]; }') || return 1
	np nix-env -i "$out" || return 1
	np expose "$HOME/np-bin" || return 1
	got=$("$HOME/np-bin/nfs-hello") || { echo "exposed program failed"; return 1; }
	[ "$got" = hello-from-nfs ] || { echo "exposed program said '$got'"; return 1; }
}

# interrupted_then_good: a first run killed (SIGKILL, as a batch system's
# time limit or a lost node does) while it installs, then a good one.
interrupted_then_good() {
	np nix-store --version >/tmp/killed.out 2>&1 &
	pid=$!
	i=0
	T=$NP_LOCATION/.nix-portable/nix/var/np/tmp
	# Killed once the staging tree holds a hundred files: mid-extraction.
	until [ "$(find "$T" 2>/dev/null | wc -l)" -ge 100 ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "the first run never began installing"; cat /tmp/killed.out; return 1; }
		kill -0 "$pid" 2>/dev/null || { echo "the first run ended before it could be killed"; cat /tmp/killed.out; return 1; }
		sleep 0.2
	done
	kill -KILL "$pid"
	wait "$pid"
	echo "killed while installing; left behind: $(find "$T" | wc -l) files in $T"
	np nix-store --version && nix_build after-kill && verify
}

# two_at_once: two np processes install and build at once in one empty
# data dir; one waits for the other's install, both build, the store
# verifies.
two_at_once() {
	on_tty /tmp/a.out np nix-build --no-out-link -E "'derivation { name = \"a\"; system = builtins.currentSystem; builder = \"/bin/sh\"; args = [\"-c\" \"echo a > \$out\"]; }'" &
	a=$!
	on_tty /tmp/b.out np nix-build --no-out-link -E "'derivation { name = \"b\"; system = builtins.currentSystem; builder = \"/bin/sh\"; args = [\"-c\" \"echo b > \$out\"]; }'" &
	b=$!
	wait $a
	ra=$?
	wait $b
	rb=$?
	tr '\r' '\n' </tmp/a.out
	tr '\r' '\n' </tmp/b.out
	[ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] || { echo "exit $ra and $rb"; return 1; }
	grep -q 'another np is installing' /tmp/a.out /tmp/b.out || { echo "neither waited for the other"; return 1; }
	for n in a b; do
		p=$(tr -d '\r' </tmp/$n.out | grep -x "/nix/store/[a-z0-9]*-$n")
		[ "$(cat "$NP_LOCATION/.nix-portable$p")" = $n ] || { echo "output $n ($p) wrong"; return 1; }
	done
	verify
}

# read_mostly: a data dir installed through another mount (a second node
# of the cluster): np runs a program without installing again, a build
# done and rooted there (rooted_v4) is only looked up, queries work.
read_mostly() {
	on_tty /tmp/rm.out np run ls -1 /
	rc=$?
	tr -d '\r' </tmp/rm.out
	[ "$rc" -eq 0 ] || { echo "np run ls -1 /: exit $rc"; return 1; }
	tr -d '\r' </tmp/rm.out | grep -qx nix || { echo "no nix in /"; return 1; }
	! grep -q 'np: installing' /tmp/rm.out || { echo "installed again"; return 1; }
	nix_build rooted-v4 2>/tmp/rm.err
	rc=$?
	cat /tmp/rm.err
	[ "$rc" -eq 0 ] || return 1
	! grep -q 'will be built' /tmp/rm.err || { echo "built again"; return 1; }
	np nix-store -q --references "$out"
}

# rooted_v4: a build in the NFSv4.2 data dir, rooted so that np gc keeps it.
rooted_v4() {
	nix_build rooted-v4 && np nix-store -r --add-root "$HOME/rooted-v4" "$out"
}

# slow_install LABEL: first_install on a slow link, with a sampler noting
# every second how many bytes the terminal has shown. The longest stretch
# in which nothing new appears is what a user watching the install takes
# for a hang (upstream nix-portable's issue 152: "extracting missing store
# paths" on slow NFS, which was only slow).
slow_install() {
	: >/tmp/first.out
	(while :; do echo "$(date +%s) $(wc -c </tmp/first.out)"; sleep 1; done) >/tmp/watch.log 2>/dev/null &
	w=$!
	first_install "$1"
	rc=$?
	kill "$w"
	wait "$w" 2>/dev/null
	awk -v label="$1" 'NR == 1 { t0 = $1; lt = $1; lb = $2 }
		$2 != lb { if ($1 - lt > gap) { gap = $1 - lt; at = lt - t0 } lt = $1; lb = $2 }
		END { if ($1 - lt > gap) { gap = $1 - lt; at = lt - t0 }
			printf "KTEST-NOTE slow link %s: %d s in all; the terminal showed nothing new for %d s from second %d\n", label, $1 - t0, gap, at }' \
		/tmp/watch.log | tee -a /tmp/ktest-times
	[ "$rc" -eq 0 ] || return 1
	# The steps after the bar are named (np: installing Nix (first run): STEP).
	grep -q "(first run): registering np's store paths with Nix" /tmp/first.out || { echo "the steps after unpacking were not named"; return 1; }
}
