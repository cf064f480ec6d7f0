#!/usr/bin/env bash
# Runs np in real containers (integration/containers_test.go): starts Debian's
# Docker engine (docker.io) with a data root, exec root and socket of its own,
# no iptables and no bridge (this machine has no network to give containers),
# runs the tests against it, and stops it, leaving nothing behind.
#
#   bash integration/containers.sh [go test flags]      # `make containers`, as root
#
# Root is needed only to start dockerd; np itself runs inside the containers
# as their root and as uid 1000, under the engine's default seccomp profile.
# The last line is "containers: N passed, N failed"; a skipped test counts as
# failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin

if [ "$(id -u)" -ne 0 ]; then
	echo "containers: starting Docker's engine needs root; run \`make containers\` (or \`make test\`) as root" >&2
	exit 1
fi
. integration/dockerd.sh
start_dockerd "$(mktemp -d /tmp/npd.XXXXXX)"
work=$dockerd_work
echo "containers: $(/usr/bin/docker version -f 'Docker engine {{.Server.Version}}, seccomp default profile')"

go test -c -tags containers -o "$work/containers.test" ./integration
set +e
NP_BIN=$PWD/bin/np "$work/containers.test" -test.v -test.timeout 20m "$@" 2>&1 | tee "$work/log"
rc=${PIPESTATUS[0]}
set -e
passed=$(grep -c '^\s*--- PASS' "$work/log" || true)
failed=$(grep -c '^\s*--- FAIL' "$work/log" || true)
skipped=$(grep -c '^\s*--- SKIP' "$work/log" || true)
failed=$((failed + skipped))
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$passed" -eq 0 ]; then failed=$((failed + 1)); fi
echo "containers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
