#!/usr/bin/env bash
# Runs np in real containers (integration/containers_test.go): starts Debian's
# Docker engine (docker.io) with a data root, exec root and socket of its own,
# no iptables and no bridge (this machine has no network to give containers),
# gives Debian's podman a state directory of its own, runs the tests against
# both, and stops the engine, leaving nothing behind.
#
#   bash integration/containers.sh [go test flags]      # `make containers`, as root
#
# Root is needed only to start dockerd; np itself runs inside the containers
# as their root and as uid 1000, under the engine's default seccomp profile.
# integration/testsum counts the tests; the last line is "containers: N
# passed, N failed"; a skipped test counts as failed.
set -euo pipefail
cd "$(dirname "$0")/.."
. integration/lib.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "containers: starting Docker's engine needs root; run \`make containers\` (or \`make test\`) as root" >&2
	exit 1
fi
. integration/dockerd.sh
start_dockerd "$(mktemp -d /tmp/npd.XXXXXX)"
work=$dockerd_work
echo "containers: $(/usr/bin/docker version -f 'Docker engine {{.Server.Version}}, seccomp default profile')"

# Podman (Debian's podman) keeps its images and containers under the work dir.
if ! command -v podman >/dev/null; then
	echo "containers: installing Debian's podman"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman >/dev/null
fi
mkdir -p "$work/podman/tmp"
echo "containers: $(podman --version)"
cleanup_podman() {
	podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp" rm -af >/dev/null 2>&1 || true
	podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp" system reset -f >/dev/null 2>&1 || true
	stop_dockerd
}
trap cleanup_podman EXIT

go test -c -tags containers -o "$work/containers.test" ./integration
testsum_build "$work"
set +e
NP_BIN=$PWD/bin/np NP_PODMAN_DIR=$work/podman "$work/containers.test" -test.v=test2json -test.timeout 20m "$@" 2>&1 |
	summarise containers "$work/counts"
rc=("${PIPESTATUS[@]}")
set -e
read -r passed failed _ < <(tail -n 1 "$work/counts")
if [ "${rc[0]}" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "containers: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "${rc[1]}" -eq 0 ]
