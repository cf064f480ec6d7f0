#!/usr/bin/env bash
# make bench-startup (and the first part of make bench): what np costs
# before a program runs, in one run beside the floor and np's peers, as an
# unprivileged user (as root it sets up and drops to nptest, like the
# tests).
#
# Rows: a static Go "hello world" (fmt.Println) built by the same Go as np
# (the floor for any Go program here), native /bin/true, bwrap and proot 5.4
# (PROOT54, default ../shared/peers/proot-5.4) running /bin/true with the
# data dir at /nix, np --version, np run true in each runtime (ns, ptrace,
# ptrace without seccomp), an np expose wrapper calling a store program
# (busybox true, from the data dir's profile) and np nix --version. Each
# row: hyperfine's mean and median (-N, NP_BENCH_STARTUP_RUNS runs, 40,
# after 5 warm-ups), the median's ratio to the hello world, the mean CPU
# time (user + system, all processes), and the system calls of one run,
# all processes (strace -f -c): a regression in work done shows in the
# last two even when wall times are noisy. Under the tracers (np's ptrace,
# proot) strace cannot follow the tracees: the count is the tracer's own
# calls, marked "tracer". NP_BENCH_BIN benches another np binary (an older
# build, to compare) instead of bin/np.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin # runuser, useradd

proot54=${PROOT54:-../shared/peers/proot-5.4}
if [ -e "$proot54" ]; then
	proot54=$(realpath "$proot54")
fi

# build_hello DIR: the floor, built by the Go that builds np, static like
# np, as DIR/hello-go.
build_hello() {
	mkdir -p "$1/hello"
	printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello, world") }\n' >"$1/hello/main.go"
	printf 'module hello\n\ngo 1.21\n' >"$1/hello/go.mod"
	(cd "$1/hello" && CGO_ENABLED=0 ${GO:-go} build -trimpath -o "$1/hello-go" .)
}

if [ "$(id -u)" -eq 0 ]; then
	missing=()
	for t in hyperfine:hyperfine bwrap:bubblewrap strace:strace; do
		command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	. integration/lib.sh
	test_user
	work=$(mktemp -d /tmp/np-bench-startup.XXXXXX)
	chmod 755 "$work"
	trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
	cp "${NP_BENCH_BIN:-bin/np}" "$work/np"
	cp integration/bench-startup.sh "$work/"
	build_hello "$work"
	chown -R nptest "$work"
	cd "$work"
	# No descriptor of the caller's beyond stdio reaches the rows: np
	# hands inherited ones on, which costs a little and is not start-up.
	as_test_user env NP_BENCH_NP="$work/np" NP_BENCH_HELLO="$work/hello-go" PROOT54="$proot54" \
		NP_BENCH_STARTUP_RUNS="${NP_BENCH_STARTUP_RUNS:-}" \
		bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec bash "$0"' "$work/bench-startup.sh"
	exit
fi

np=${NP_BENCH_NP:-$PWD/bin/np}
runs=${NP_BENCH_STARTUP_RUNS:-40}

loc=$(mktemp -d /tmp/np-bench-startup-loc.XXXXXX)
out=$(mktemp -d /tmp/np-bench-startup-out.XXXXXX)
trap 'chmod -R u+w "$loc"; rm -rf "$loc" "$out"' EXIT
hello=${NP_BENCH_HELLO:-}
if [ -z "$hello" ]; then
	build_hello "$out"
	hello=$out/hello-go
fi
export NP_LOCATION=$loc
export NIX_CONFIG="substituters =" # offline: never wait on a binary cache
"$np" nix --version >/dev/null     # install once, outside the timings
store=$loc/.nix-portable/nix       # appears at /nix
bbpath=$(cd "$store/store" && ls -d ./*-busybox-* | head -1)
bbpath=/nix/store/${bbpath#./}
# An exposed program: np's own busybox installed into the data dir's
# profile (offline: it is in the store already), exposed in a directory.
"$np" nix-env -i "$bbpath" >/dev/null 2>&1
"$np" expose "$loc/exposed" >/dev/null
[ -x "$loc/exposed/busybox" ] || { echo "np expose wrote no busybox wrapper" >&2; exit 1; }
# Settle: a few runs, so that every row starts from the same state
# (stamps recorded, the build-sandbox probe done).
for _ in 1 2 3; do
	"$np" run true
	NP_RUNTIME=ptrace "$np" run true
done

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

# Each row: a name, an environment (VAR=value words or -), whether it
# runs under a tracer, and the command.
rows=(
	"hello-go|-|no|$hello"
	"native true|-|no|/bin/true"
	"bwrap true|-|no|${bw[*]} /bin/true"
	"proot-5.4 true|-|yes|$proot54 -b $store:/nix /bin/true"
	"np --version|-|no|$np --version"
	"np run true (ns)|NP_RUNTIME=ns|no|$np run true"
	"np run true (ptrace)|NP_RUNTIME=ptrace|yes|$np run true"
	"np run true (ptrace, no seccomp)|NP_RUNTIME=ptrace NP_PTRACE_NO_SECCOMP=1|yes|$np run true"
	"exposed wrapper: busybox true|-|no|$loc/exposed/busybox true"
	"np nix --version (ns)|NP_RUNTIME=ns|no|$np nix --version"
)

echo "np start-up: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, kernel $(uname -r), $runs runs each"
printf '%-34s %9s %9s %9s %9s %9s  %s\n' "command" "mean" "σ" "median" "/ hello" "cpu" "system calls"
base=
i=0
for row in "${rows[@]}"; do
	IFS='|' read -r name envs traced cmd <<<"$row"
	i=$((i + 1))
	[ "$envs" = - ] && envs=
	case $name in proot-5.4*)
		if [ ! -x "$proot54" ]; then
			printf '%-34s left out: no proot 5.4 at PROOT54=%s\n' "$name" "$proot54"
			continue
		fi
		;;
	esac
	# shellcheck disable=SC2086 # words, as hyperfine -N splits them
	if ! env $envs $cmd >/dev/null 2>"$out/err"; then
		printf '%-34s left out: fails (%s)\n' "$name" "$(tail -1 "$out/err" | cut -c1-120)"
		continue
	fi
	# shellcheck disable=SC2086
	env $envs hyperfine -N --style none -w 5 -r "$runs" --export-csv "$out/$i.csv" "$cmd" >/dev/null 2>&1
	flags=(-f)
	[ "$traced" = yes ] && flags=()
	# shellcheck disable=SC2086
	env $envs strace "${flags[@]}" -c -o "$out/$i.strace" $cmd >/dev/null 2>&1 || true
	calls=$(awk '$NF == "total" { print $4 }' "$out/$i.strace")
	[ "$traced" = yes ] && calls="$calls (tracer)"
	# The CSV's last seven fields are mean, stddev, median, user, system,
	# min and max (the command may hold commas).
	# cpu: user + system time of all its processes, less noisy than the
	# wall time where other work shares the cores.
	read -r mean sd median cpu < <(awk -F, 'NR == 2 { printf "%.2f %.2f %.2f %.2f\n", $(NF-6) * 1000, $(NF-5) * 1000, $(NF-4) * 1000, ($(NF-3) + $(NF-2)) * 1000 }' "$out/$i.csv")
	[ -n "$base" ] || base=$median
	ratio=$(awk -v a="$median" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
	printf '%-34s %6s ms %6s ms %6s ms %9s %6s ms  %s\n' "$name" "$mean" "$sd" "$median" "$ratio" "$cpu" "$calls"
done
