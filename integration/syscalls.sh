#!/usr/bin/env bash
# The system calls np's Nix makes: runs Nix's everyday work (an install into
# a profile, evaluation, builds, nix profile, nix copy to a file:// store, gc,
# flakes from a path and from a local git repository, the fetchers of local
# files, channels, nix-shell) under `strace -f` inside np's ns runtime as
# the unprivileged user nptest, and prints every call made, marking those the
# tracer's syscall table (ptrace/systable/table.go) has no row for. Each such call
# must have its reason to need none in ptrace/systable/pathless.txt; the script fails
# naming any call that has neither (a new Nix, a new library).
#
#   bash integration/syscalls.sh [BIN]      # BIN defaults to bin/np; as root (it drops to nptest)
#
# Output: one line per call, "name count [table|pathless|UNKNOWN]", and the
# census in build/syscalls-<arch>.txt (a call strace has no name for is named
# from the table's numbers, or stays syscall_0xNNN and is UNKNOWN).
set -euo pipefail
cd "$(dirname "$0")/.."
. integration/lib.sh
test_user
np_src=${1:-bin/np}
command -v strace >/dev/null || { echo "syscalls: strace is missing (apt-get install strace)" >&2; exit 1; }
command -v git >/dev/null || { echo "syscalls: git is missing (apt-get install git)" >&2; exit 1; }

work=$(mktemp -d /tmp/np-syscalls.XXXXXX)
chmod 755 "$work"
mkdir "$work/w"
chown nptest "$work/w"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp "$np_src" "$work/np"
chmod 755 "$work/np"

cat >"$work/workload.sh" <<'EOF'
# Runs as nptest; every Nix command runs under strace inside np (ns).
set -euo pipefail
W=$1
export HOME=$W/home NP_LOCATION=$W/loc NP_RUNTIME=ns NIX_CONFIG="substituters =
flake-registry =
experimental-features = nix-command flakes"
mkdir -p "$HOME" "$NP_LOCATION" "$W/out" "$W/src"
np=$2
"$np" nix --version >/dev/null # np's own install: not Nix's work
n=0
t() { # t CMD...: one Nix command under strace, its trace in out/N.sc
	n=$((n + 1))
	if ! "$np" run strace -f -qq -o "$W/out/$n.sc" "$@" >"$W/out/$n.log" 2>&1; then
		echo "syscalls: failed: $*" >&2
		cat "$W/out/$n.log" >&2
		exit 1
	fi
}
prog='{ name ? "census", system ? builtins.currentSystem }: derivation { inherit name system; builder = "/bin/sh";
  args = [ "-c" "mkdir -p $out/bin; printf \"#!/bin/sh\necho $name\n\" > $out/bin/$name; chmod +x $out/bin/$name" ]; }'
echo "$prog" >"$W/src/prog.nix"
mkdir -p "$W/src/chan/nixpkgs" "$W/src/flake" "$W/src/git" "$W/src/tree"
echo "{ ... }: { hello = import $W/src/prog.nix { name = \"hello-chan\"; }; }" >"$W/src/chan/nixpkgs/default.nix"
tar -C "$W/src/chan" -cJf "$W/src/chan.tar.xz" nixpkgs
echo data >"$W/src/tree/file"
flake='{ outputs = { self }: { packages.SYS.default = import ./prog.nix { name = "from-flake"; system = "SYS"; }; }; }'
for d in flake git; do
	echo "${flake//SYS/$(uname -m)-linux}" >"$W/src/$d/flake.nix"
	cp "$W/src/prog.nix" "$W/src/$d/prog.nix"
done
git -C "$W/src/git" init -q
git -C "$W/src/git" add .
git -C "$W/src/git" -c user.name=np -c user.email=np@example.org commit -q -m census

t nix-instantiate --eval --strict -E 'builtins.map (x: x * 2) [ 1 2 3 ]'
t nix-build --no-out-link "$W/src/prog.nix"
t nix-build --no-out-link --check "$W/src/prog.nix"
t nix-env -i -f "$W/src/prog.nix"
t nix-env -q
t nix-channel --add "file://$W/src/chan.tar.xz" nixpkgs
t nix-channel --update
t nix-env -iA nixpkgs.hello
t nix-env --rollback
t nix profile add --impure --expr "import $W/src/prog.nix { name = \"census-profile\"; }"
t nix profile list
t nix profile remove census-profile
t nix profile rollback
t nix build --no-link "path:$W/src/flake"
t nix build --no-link "git+file://$W/src/git"
t nix flake metadata "git+file://$W/src/git"
t nix eval --impure --expr "builtins.readFile (builtins.fetchurl \"file://$W/src/tree/file\")"
t nix eval --impure --expr "(builtins.fetchTarball \"file://$W/src/chan.tar.xz\") + \"\""
t nix eval --impure --expr "(builtins.fetchGit \"$W/src/git\").outPath"
t nix eval --impure --expr "(builtins.path { path = $W/src/tree; }) + \"\""
t nix-prefetch-url "file://$W/src/tree/file"
t nix hash path "$W/src/tree"
t nix copy --to "file://$W/cache" --impure --expr "import $W/src/prog.nix { }"
t nix copy --from "file://$W/cache" --no-check-sigs --impure --expr "import $W/src/prog.nix { }"
t nix store verify --all --no-trust
t nix-store --verify --check-contents
t nix-store --optimise
t nix-shell -E "import $W/src/prog.nix { }" --run true
t nix-collect-garbage -d
echo "$n"
EOF

as_test_user bash "$work/workload.sh" "$work/w" "$work/np" >/dev/null

# Every trace's call names, counted. strace -c is not used: it leaves out
# the calls it has no name for (bookworm's strace 6.1 prints fchmodat2 as
# syscall_0x1c4), which are the new ones this census is for. Those are named
# here by the table's own numbers for this architecture.
census=build/syscalls-$(uname -m).txt
mkdir -p build
case $(uname -m) in
x86_64) numbers=internal/sysnum/x86_64.go ;;
aarch64) numbers=internal/sysnum/aarch64.go ;;
esac
cat "$work"/w/out/*.sc | sed -nE 's/^[0-9]+ +([a-z_0-9]+)\(.*/\1/p' | sort | uniq -c |
	while read -r count name; do
		if [[ $name == syscall_0x* ]]; then
			nr=$((16#${name#syscall_0x}))
			known=$(grep -oE '"[a-z0-9_]+": +'"$nr"'[,}]' "$numbers" | cut -d'"' -f2 || true)
			name=${known:-$name}
		fi
		echo "$name $count"
	done | LC_ALL=C sort >"$census"

# The table's rows: every name quoted at the start of a row in table.go.
known=$(grep -oE '(Name: |row\(|rowf\()"[a-z0-9_]+"' ptrace/systable/table.go | grep -oE '"[a-z0-9_]+"' | tr -d '"' | sort -u)
pathless=$(sed '/^#/d; /^$/d' ptrace/systable/pathless.txt | awk '{ print $1 }' | sort -u)
unknown=0
while read -r name count; do
	if grep -qxF "$name" <<<"$known"; then
		echo "$name $count table"
	elif grep -qxF "$name" <<<"$pathless"; then
		echo "$name $count pathless"
	else
		echo "$name $count UNKNOWN"
		unknown=$((unknown + 1))
	fi
done <"$census"
echo "syscalls: $(wc -l <"$census") calls made, $unknown with neither a table row nor a reason in ptrace/systable/pathless.txt"
[ "$unknown" -eq 0 ]
