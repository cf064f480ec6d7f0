#!/usr/bin/env bash
# Fetches the container engines' default seccomp profiles that
# internal/hostile compiles ("oci:*" filters) into DIR, from the Go module
# proxy (they ship inside Go modules; none is added to go.mod):
#
#   docker-current.json  github.com/moby/profiles/seccomp: Docker's now
#   docker-20.10.json    github.com/docker/docker 20.10: the engine on hand
#   podman.json          github.com/containers/common: Podman's
#
#   bash integration/profiles.sh build/profiles
set -euo pipefail
dir=${1:?usage: profiles.sh DIR}
mkdir -p "$dir"

# fetch MODULE@VERSION FILE-IN-MODULE NAME
fetch() {
	local json mod
	# Outside any module, so go.mod is neither read nor changed.
	json=$(cd / && GO111MODULE=on GOFLAGS=-mod=mod go mod download -json "$1") || {
		echo "profiles.sh: go mod download $1 failed:" >&2
		echo "$json" >&2
		exit 1
	}
	mod=$(printf '%s\n' "$json" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	if [ -z "$mod" ] || [ ! -f "$mod/$2" ]; then
		echo "profiles.sh: $1 has no $2 (go mod download said: $json)" >&2
		exit 1
	fi
	cp "$mod/$2" "$dir/$3.tmp"
	chmod 644 "$dir/$3.tmp"
	mv "$dir/$3.tmp" "$dir/$3"
	echo "profiles.sh: $dir/$3 from $1/$2"
}

fetch github.com/moby/profiles/seccomp@v0.3.0 default.json docker-current.json
fetch github.com/docker/docker@v20.10.24+incompatible profiles/seccomp/default.json docker-20.10.json
fetch github.com/containers/common@v0.64.2 pkg/seccomp/seccomp.json podman.json
