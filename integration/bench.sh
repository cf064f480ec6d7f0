#!/usr/bin/env bash
# make bench: np's runtimes against native and against their peers, in the
# same run, with hyperfine, as an unprivileged user (as root it drops to
# nptest, like the tests).
#
# Rows: native, np ns, np ptrace, np ptrace with seccomp but no user
# notifications (what RHEL 7/8's kernels, before 5.0, give), np ptrace
# without seccomp, bwrap given the
# same root np builds, proot 5.4 with and without seccomp (the release
# upstream nix-portable ships; PROOT54 names it, default
# ../shared/peers/proot-5.4, skipped with a note when absent), and Debian's
# proot where it works. A row whose command fails a short trial run first is
# left out with a note saying how it failed.
#
# Workloads (start-up is integration/bench-startup.sh's): a loop of execs of a store binary that
# stats store paths; a C build (gcc, make -j2) whose sources and outputs are
# under /nix; many nix-instantiate calls over generated .nix files. Ratios are
# of medians, to native, and for Nix (which has no native here) to bwrap.
#
# Knobs: NP_BENCH_LOOP (execs, 10000), NP_BENCH_C_FILES (120),
# NP_BENCH_EVAL (nix-instantiate calls, 200), NP_BENCH_RUNS (runs of the
# heavy workloads, 3), PROOT54.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin # runuser, useradd

proot54=${PROOT54:-../shared/peers/proot-5.4}
if [ -e "$proot54" ]; then
	proot54=$(realpath "$proot54")
fi

if [ "$(id -u)" -eq 0 ]; then
	missing=()
	for t in hyperfine:hyperfine bwrap:bubblewrap proot:proot gcc:gcc make:make; do
		command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	. integration/lib.sh
	test_user
	work=$(mktemp -d /tmp/np-bench.XXXXXX)
	chmod 755 "$work"
	cp bin/np integration/bench.sh "$work/"
	trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
	chown -R nptest "$work"
	cd "$work"
	as_test_user env NP_BENCH_NP="$work/np" PROOT54="$proot54" \
		NP_BENCH_LOOP="${NP_BENCH_LOOP:-}" NP_BENCH_C_FILES="${NP_BENCH_C_FILES:-}" \
		NP_BENCH_EVAL="${NP_BENCH_EVAL:-}" NP_BENCH_RUNS="${NP_BENCH_RUNS:-}" \
		bash "$work/bench.sh"
	exit
fi

np=${NP_BENCH_NP:-$PWD/bin/np}
loops=${NP_BENCH_LOOP:-10000}
cfiles=${NP_BENCH_C_FILES:-120}
evals=${NP_BENCH_EVAL:-200}
runs=${NP_BENCH_RUNS:-3}

loc=$(mktemp -d /tmp/np-bench-loc.XXXXXX)
results=$(mktemp -d /tmp/np-bench-results.XXXXXX)
trap 'chmod -R u+w "$loc"; rm -rf "$loc" "$results"' EXIT
export NP_LOCATION=$loc
export NIX_CONFIG="substituters =" # offline: never wait on a binary cache
"$np" nix --version >/dev/null     # install once, outside the timings
store=$loc/.nix-portable/nix       # appears at /nix
nixpath=$(cd "$store/store" && ls -d ./*-nix-2.* | head -1)
nixpath=/nix/store/${nixpath#./}
bbpath=$(cd "$store/store" && ls -d ./*-busybox-* | head -1)
bb=/nix/store/${bbpath#./}/bin/busybox
host() { echo "$store${1#/nix}"; } # a /nix path's host path
bench=/nix/var/np-bench            # the workloads' files, under /nix
mkdir -p "$(host $bench)"

# bwrap cannot create /nix on the host root, so give it what np builds: a
# fresh root with every top-level host entry bound in, plus /nix (as
# upstream nix-portable does).
bw=(bwrap)
for e in /*; do
	name=${e#/}
	case $name in nix | proc | dev) continue ;; esac
	if [ -L "$e" ]; then
		bw+=(--symlink "$(readlink "$e")" "$e")
	elif [ -d "$e" ]; then
		bw+=(--bind "$e" "$e")
	elif [ -f "$e" ]; then
		bw+=(--ro-bind "$e" "$e")
	fi
done
bw+=(--dev-bind /dev /dev --bind /proc /proc --bind "$store" /nix)

# The environments, each a command prefix; "native" runs on host paths.
envs=(native np-ns np-ptrace np-ptrace-nonotify np-ptrace-noseccomp bwrap proot-5.4 proot-5.4-noseccomp proot-debian)
prefix() {
	case $1 in
	native) echo "" ;;
	np-ns) echo "env NP_RUNTIME=ns $np run" ;;
	np-ptrace) echo "env NP_RUNTIME=ptrace $np run" ;;
	np-ptrace-nonotify) echo "env NP_RUNTIME=ptrace NP_PTRACE_NO_NOTIFY=1 $np run" ;;
	np-ptrace-noseccomp) echo "env NP_RUNTIME=ptrace NP_PTRACE_NO_SECCOMP=1 $np run" ;;
	bwrap) echo "${bw[*]}" ;;
	proot-5.4) echo "$proot54 -b $store:/nix" ;;
	proot-5.4-noseccomp) echo "env PROOT_NO_SECCOMP=1 $proot54 -b $store:/nix" ;;
	proot-debian) echo "proot -b $store:/nix" ;;
	esac
}
notes=()
available=()
for e in "${envs[@]}"; do
	case $e in
	proot-5.4*) [ -x "$proot54" ] || { notes+=("$e: left out, no proot 5.4 at PROOT54=$proot54"); continue; } ;;
	proot-debian) command -v proot >/dev/null || { notes+=("$e: left out, Debian's proot is not installed"); continue; } ;;
	esac
	available+=("$e")
done

# The peers get the environment np gives Nix (NIX_CONF_DIR and friends), so
# Nix does the same work under each.
while IFS= read -r -d '' kv; do
	case $kv in NIX_* | SSL_CERT_FILE=*) export "$kv" ;; esac
done < <("$np" run env -0)

# Workload files. The exec/stat loop: busybox sh runs busybox stat of two
# store paths, LOOPS times.
cat >"$(host $bench)/loop.sh" <<'EOF'
bb=$1 target=$2 n=$3 i=0
while [ $i -lt "$n" ]; do "$bb" stat -c %s "$target" "$target/bin/nix" >/dev/null || exit 1; i=$((i + 1)); done
EOF

# The C build: CFILES sources sharing a header, compiled and linked by make.
cdir=$bench/cbuild
mkdir -p "$(host $cdir)/src"
cat >"$(host $cdir)/src/common.h" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct item { char name[32]; double weight; long count; };
static inline long mix(long a, long b) { return (a * 31 + b) ^ (a >> 3); }
EOF
for i in $(seq 0 $((cfiles - 1))); do
	cat >"$(host $cdir)/src/f$i.c" <<EOF
#include "common.h"
static int cmp$i(const void *a, const void *b) {
	const struct item *x = a, *y = b;
	return (x->weight > y->weight) - (x->weight < y->weight);
}
long work$i(int n) {
	struct item *items = calloc(n, sizeof *items);
	long acc = $i;
	for (int k = 0; k < n; k++) {
		snprintf(items[k].name, sizeof items[k].name, "item-%d-%d", $i, k);
		items[k].weight = (double)mix(k, $i) / (k + 1);
		items[k].count = strlen(items[k].name) + k;
	}
	qsort(items, n, sizeof *items, cmp$i);
	for (int k = 0; k < n; k++) acc = mix(acc, items[k].count);
	free(items);
	return acc;
}
EOF
done
{
	echo '#include "common.h"'
	for i in $(seq 0 $((cfiles - 1))); do echo "long work$i(int n);"; done
	echo 'int main(void) { long acc = 0;'
	for i in $(seq 0 $((cfiles - 1))); do echo "acc = mix(acc, work$i(100));"; done
	echo 'printf("%ld\n", acc); return 0; }'
} >"$(host $cdir)/src/main.c"
cat >"$(host $cdir)/Makefile" <<'EOF'
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=obj/%.o)
prog: $(OBJS)
	gcc -o $@ $^
obj/%.o: src/%.c src/common.h | obj
	gcc -O2 -Wall -c $< -o $@
obj:
	mkdir -p obj
EOF

# The Nix workload: 40 library files importing each other and EVALS
# top-level files, each importing three of them, computing over lists and
# strings and instantiating a derivation (written to the store).
edir=$bench/eval
mkdir -p "$(host $edir)/lib"
for k in $(seq 0 39); do
	if [ "$k" -eq 0 ]; then base='{ h = 1; }'; else base="import ./m$((k / 2)).nix"; fi
	cat >"$(host $edir)/lib/m$k.nix" <<EOF
let other = $base; in rec {
  h = other.h + $k;
  f = i: builtins.substring 0 8 (builtins.hashString "sha256" "m$k-\${toString (i * $k + h)}");
  table = builtins.listToAttrs (builtins.genList (i: { name = "k\${toString i}"; value = i * $k; }) 50);
}
EOF
done
for n in $(seq 0 $((evals - 1))); do
	cat >"$(host $edir)/e$n.nix" <<EOF
let
  a = import ./lib/m$((n % 40)).nix; b = import ./lib/m$(((n * 7) % 40)).nix; c = import ./lib/m$(((n * 13) % 40)).nix;
  xs = builtins.genList (i: i * $n + a.h) 3000;
  sorted = builtins.sort (x: y: x > y) (map (x: x * 7 - b.h) xs);
  strs = builtins.concatStringsSep "," (builtins.genList a.f 200);
in derivation {
  name = "eval-$n"; system = builtins.currentSystem; builder = "/bin/sh";
  args = [ "-c" "echo \${toString (builtins.foldl' (s: x: s + x) 0 sorted)} \${builtins.hashString "md5" strs} \${toString (builtins.attrValues c.table)} > \$out" ];
}
EOF
done
cat >"$(host $edir)/run.sh" <<'EOF'
nixbin=$1 dir=$2 n=$3 i=0
while [ $i -lt "$n" ]; do "$nixbin/nix-instantiate" "$dir/e$i.nix" >/dev/null || exit 1; i=$((i + 1)); done
EOF

# command ENV WORKLOAD [SCALE]: the command line of a workload in an
# environment; SCALE small makes the trial run.
command_of() {
	local e=$1 w=$2 small=${3:-}
	local p b=$bb d=$bench n=$nixpath
	p=$(prefix "$e")
	if [ "$e" = native ]; then b=$(host $bb) d=$(host $bench) n=$(host $nixpath); fi
	case $w in
	startup) echo "$p /bin/true" ;;
	loop) echo "$p $b sh $d/loop.sh $b $n ${small:-$loops}" ;;
	cbuild)
		if [ -n "$small" ]; then
			echo "$p gcc -O2 -c $d/cbuild/src/f0.c -o $d/cbuild/trial.o"
		else
			echo "$p make -s -j2 -C $d/cbuild"
		fi
		;;
	eval) echo "$p $b sh $d/eval/run.sh $n/bin $d/eval ${small:-$evals}" ;;
	esac
}

# fail ENV WORKLOAD MESSAGE records a failed trial run; the notes list each
# environment's failures once per message.
declare -A failures=()
failed_envs=()
fail() {
	local key="$1: fails ($3) on"
	[ -n "${failures[$key]:-}" ] || failed_envs+=("$key")
	failures[$key]="${failures[$key]:-} $2"
}

# run_workload TITLE WORKLOAD BASELINE HYPERFINE-ARGS...: a trial run of
# each environment, then hyperfine over those that work, then a table of
# means and ratios to BASELINE.
run_workload() {
	local title=$1 w=$2 baseline=$3
	shift 3
	local args=() e cmd err
	echo
	echo "== $title =="
	for e in "${available[@]}"; do
		[ "$w" = eval ] && [ "$e" = native ] && continue # Nix has no native /nix here
		err=$(mktemp)
		# shellcheck disable=SC2046 # the command is words, as hyperfine -N splits it
		if ! timeout 120 $(command_of "$e" "$w" 3) >/dev/null 2>"$err"; then
			fail "$e" "$w" "$(grep -v '^\s*$' "$err" | tail -1 | cut -c1-200)"
			rm -f "$err"
			continue
		fi
		rm -f "$err"
		args+=(-n "$e" "$(command_of "$e" "$w")")
	done
	if [ ${#args[@]} -eq 0 ]; then
		echo "no environment could run it"
		return
	fi
	hyperfine -N --style basic "$@" --export-csv "$results/$w.csv" "${args[@]}" >"$results/$w.log" 2>&1 ||
		{ cat "$results/$w.log"; notes+=("$title: hyperfine failed"); return; }
	# Ratios compare medians: on a shared 2-core machine one disturbed run
	# moves a mean of three far more than a median.
	awk -F, -v base="$baseline" '
		NR == 1 { next }
		{ name[NR] = $1; mean[NR] = $2; sd[NR] = $3; med[NR] = $4; if ($1 == base) b = $4 }
		END {
			printf "%-22s %12s %10s %12s  %s\n", "environment", "mean", "σ", "median", "median / " base
			for (i = 2; i <= NR; i++) {
				r = b ? sprintf("%.2f", med[i] / b) : "-"
				printf "%-22s %10.1f ms %7.1f ms %9.1f ms  %s\n", name[i], mean[i] * 1000, sd[i] * 1000, med[i] * 1000, r
			}
			if (!b) print "(no " base " row to compare with)"
		}' "$results/$w.csv"
}

echo "np bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, kernel $(uname -r)"
# On a VM that does not poll when idle, every wake-up of an idle CPU costs
# a VM exit and an IPI: what a ptrace stop or a notification costs depends
# on it (see the README's Benchmarks).
if [ -r /sys/module/haltpoll/parameters/guest_halt_poll_ns ]; then
	echo "guest halt polling: up to $(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns) ns"
fi
echo "environments: ${available[*]}"

# Start-up (run true, np --version, ...) is integration/bench-startup.sh's,
# which make bench runs first.
run_workload "exec/stat loop: $loops execs of a store busybox, each stat-ing two store paths" loop native --runs "$runs"
run_workload "C build: $cfiles files, gcc -O2, make -j2, sources and objects under /nix" cbuild native \
	--runs "$runs" --prepare "rm -rf $(host $cdir)/obj $(host $cdir)/prog"
# Instantiate once, outside the timings, so no row pays for writing the
# .drv files the others then find.
$(prefix np-ns) "$bb" sh "$edir/run.sh" "$nixpath/bin" "$edir" "$evals" >/dev/null 2>&1 || true
run_workload "Nix: $evals nix-instantiate calls over $((evals + 40)) generated .nix files" eval bwrap --runs "$runs"

echo
echo "== first run: install into an empty NP_LOCATION =="
hyperfine -N --style basic --runs 5 --prepare "sh -c 'chmod -R u+w $loc/fresh 2>/dev/null; rm -rf $loc/fresh; mkdir -p $loc/fresh'" \
	-n 'np first run' "env NP_LOCATION=$loc/fresh $np nix --version" | grep -E 'Time|Range'

for key in "${failed_envs[@]}"; do
	notes+=("$key${failures[$key]}")
done
if [ ${#notes[@]} -gt 0 ]; then
	echo
	echo "== notes =="
	printf '%s\n' "${notes[@]}"
fi
