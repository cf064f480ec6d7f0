#!/usr/bin/env bash
# make bench, bundle rows: the size of a bundle of a small closure next to
# bin/np, and its first and later start-up times, with hyperfine. Offline:
# the bundled program is built by np's own Nix from its busybox. Run as an
# unprivileged user (as root it drops to nptest, like the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin # runuser, useradd
if [ "$(id -u)" -eq 0 ]; then
	command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
	. integration/lib.sh
	test_user
	work=$(mktemp -d /tmp/np-bench-bundle.XXXXXX)
	chmod 755 "$work"
	cp bin/np integration/bench-bundle.sh "$work/"
	trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
	chown -R nptest "$work"
	cd "$work"
	as_test_user env NP_BENCH_NP="$work/np" bash "$work/bench-bundle.sh"
	exit
fi

np=${NP_BENCH_NP:-$PWD/bin/np}
work=$(mktemp -d /tmp/np-bench-bundle-run.XXXXXX)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
export NP_LOCATION=$work/np-home NIX_CONFIG='substituters ='
mkdir -p "$NP_LOCATION"
"$np" nix --version >/dev/null # install once, outside the timings
bb=$(ls -d "$NP_LOCATION"/.nix-portable/nix/store/*-busybox-*)
bb=/nix/store/${bb##*/}

# greet: a script run by busybox's sh that calls another store path's
# program; the closure is greet, shout and busybox (2 MB unpacked).
cat >"$work/greet.nix" <<EOF
let
  bb = builtins.storePath "$bb";
  shout = derivation { name = "shout"; system = builtins.currentSystem; builder = "\${bb}/bin/sh";
    args = [ "-c" "\${bb}/bin/mkdir -p \$out/bin; echo '#!\${bb}/bin/sh' > \$out/bin/shout; echo 'exec \${bb}/bin/tr a-z A-Z' >> \$out/bin/shout; \${bb}/bin/chmod +x \$out/bin/shout" ]; };
in derivation { name = "greet"; system = builtins.currentSystem; builder = "\${bb}/bin/sh";
  args = [ "-c" "\${bb}/bin/mkdir -p \$out/bin; echo '#!\${bb}/bin/sh' > \$out/bin/greet; echo 'echo hello \"\$@\" | \${shout}/bin/shout' >> \$out/bin/greet; \${bb}/bin/chmod +x \$out/bin/greet" ]; }
EOF
cd "$work"
"$np" bundle -o greet --impure -f greet.nix
"$np" bundle -o greet-fast --compress fast --impure -f greet.nix
greet_path=$("$np" nix build --no-link --print-out-paths --impure -f greet.nix 2>/dev/null)
[ "$(./greet bench)" = "HELLO BENCH" ] || { echo "bench-bundle: the bundle does not work" >&2; exit 1; }

mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
echo "== bundle size =="
echo "bin/np:                               $(mb "$np")"
echo "bundle of greet (3 store paths), max: $(mb greet)"
echo "bundle of greet, --compress fast:     $(mb greet-fast)"

echo "== bundle start-up =="
# Later runs: the bundle's data dir holds its closure already.
hyperfine -N --warmup 5 --runs 100 \
	-n 'bundle, later run (ns)' "$work/greet bench" \
	-n 'np run of the same program (ns)' "$np run $greet_path/bin/greet bench"
# First run: an empty data dir, so the bundle checks the runtime, verifies
# and unpacks its payload, then runs the program.
hyperfine -N --runs 10 --prepare "sh -c 'chmod -R u+w $work/fresh 2>/dev/null; rm -rf $work/fresh; mkdir -p $work/fresh'" \
	-n 'bundle, first run into an empty data dir' "env NP_LOCATION=$work/fresh $work/greet bench"
