#!/usr/bin/env bash
# prev-np.sh COMMIT OUT: builds the np of an earlier commit of this
# repository (its own Makefile, its own Nix) into OUT, for the tests that a
# data dir works both ways between np versions (make compat). The sources
# come from git archive of COMMIT into build/, so the work tree is left
# alone; a finished OUT is reused. Fails naming the commit when this clone
# does not have it (a shallow clone: git fetch --unshallow).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ]; then
	echo "usage: $0 COMMIT OUT" >&2
	exit 2
fi
commit=$1
out=$2
if ! git rev-parse -q --verify "$commit^{commit}" >/dev/null; then
	echo "prev-np: commit $commit (the np before Nix 2.34) is not in this clone; fetch the full history (git fetch --unshallow) and run again" >&2
	exit 1
fi
if [ -x "$out" ] && [ "$(cat "$out.commit" 2>/dev/null)" = "$(git rev-parse "$commit")" ]; then
	exit 0
fi
src=build/prev-src-$commit
rm -rf "$src"
mkdir -p "$src"
git archive "$commit" | tar -x -C "$src"
# VERSION: git describe inside build/ would name this work tree's commit.
log=$(mktemp)
if ! make -C "$src" VERSION="$(git rev-parse --short "$commit")" bin/np >"$log" 2>&1; then
	echo "prev-np: building np at $commit failed; its log follows:" >&2
	tail -n 40 "$log" >&2
	rm -f "$log"
	exit 1
fi
rm -f "$log"
mkdir -p "$(dirname "$out")"
cp "$src/bin/np" "$out.tmp"
mv "$out.tmp" "$out"
git rev-parse "$commit" >"$out.commit"
rm -rf "$src"
echo "prev-np: built np at $commit: $out"
