#!/usr/bin/env bash
# An offline example end to end: a fresh NP_LOCATION, the first-run install,
# a Nix build, and programs inside the sandbox. Needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."
loc=$(mktemp -d /tmp/np-demo.XXXXXX)
trap 'chmod -R u+w "$loc"; rm -rf "$loc"' EXIT
export NP_LOCATION=$loc
export NIX_CONFIG="substituters ="  # offline: never wait on a binary cache
step() { printf '\n$ %s\n' "$*"; "$@"; }
step bin/np --version
step bin/np nix --version
step bin/np nix-build --no-out-link -E 'derivation { name = "hello-np"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo hello from a Nix build > $out"]; }'
out=$(bin/np nix-build --no-out-link -E 'derivation { name = "hello-np"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo hello from a Nix build > $out"]; }')
step cat "$loc/.nix-portable/nix/store/${out#/nix/store/}"
step bin/np run sh -c 'echo "inside np: uid $(id -u), /nix holds: $(ls /nix)"'
step bin/np doctor
