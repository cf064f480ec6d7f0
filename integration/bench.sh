#!/usr/bin/env bash
# make bench: np's start-up cost against native and against its peers
# (bubblewrap, proot) in the same run, with hyperfine. Run as an unprivileged
# user (as root it drops to nptest, like the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin # runuser, useradd
if [ "$(id -u)" -eq 0 ]; then
	missing=()
	for t in hyperfine bwrap proot; do command -v $t >/dev/null || missing+=("$t"); done
	if [ ${#missing[@]} -gt 0 ]; then
		apt-get update -qq && apt-get install -y -qq hyperfine bubblewrap proot >/dev/null
	fi
	id nptest >/dev/null 2>&1 || useradd --create-home --shell /bin/sh nptest
	work=$(mktemp -d /tmp/np-bench.XXXXXX)
	chmod 755 "$work"
	cp bin/np integration/bench.sh "$work/"
	trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
	chown -R nptest "$work"
	cd "$work"
	runuser -u nptest -- env -i HOME="$(getent passwd nptest | cut -d: -f6)" PATH=/usr/local/bin:/usr/bin:/bin NP_BENCH_NP="$work/np" bash "$work/bench.sh"
	exit
fi

np=${NP_BENCH_NP:-$PWD/bin/np}
loc=$(mktemp -d /tmp/np-bench-loc.XXXXXX)
trap 'chmod -R u+w "$loc"; rm -rf "$loc"' EXIT
export NP_LOCATION=$loc
"$np" nix --version >/dev/null # install once, outside the timings
nixbin=$(ls -d "$loc"/.nix-portable/nix/store/*-nix-*/bin | head -1)
nix=/nix/store/${nixbin#"$loc"/.nix-portable/nix/store/}/nix
store=$loc/.nix-portable/nix

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
bwrap_cmd="${bw[*]}"

echo "== start-up: run /bin/true =="
hyperfine -N --warmup 5 --runs 100 \
	-n native '/bin/true' \
	-n 'np --version (one Go start, no sandbox)' "$np --version" \
	-n 'np run (ns)' "$np run /bin/true" \
	-n 'bwrap' "$bwrap_cmd /bin/true" \
	-n 'proot' "proot -b $store:/nix /bin/true"

# The peers get the environment np gives Nix (NIX_CONF_DIR and friends), so
# Nix does the same work under each.
while IFS= read -r -d '' kv; do
	case $kv in NIX_* | SSL_CERT_FILE=*) export "$kv" ;; esac
done < <("$np" run env -0)

echo "== Nix: nix --version =="
hyperfine -N --warmup 3 --runs 30 \
	-n 'np nix (ns)' "$np nix --version" \
	-n 'bwrap' "$bwrap_cmd $nix --version" \
	-n 'proot' "proot -b $store:/nix $nix --version"

echo "== first run: install into an empty NP_LOCATION =="
hyperfine -N --runs 5 --prepare "sh -c 'chmod -R u+w $loc/fresh 2>/dev/null; rm -rf $loc/fresh; mkdir -p $loc/fresh'" \
	-n 'np first run' "env NP_LOCATION=$loc/fresh $np nix --version"
