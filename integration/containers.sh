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
if ! command -v dockerd >/dev/null || [ ! -x /usr/bin/docker ]; then
	echo "containers: installing Debian's docker.io"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

# A short path: the engine's sockets must fit in 108 bytes.
work=$(mktemp -d /tmp/npd.XXXXXX)
sock=$work/docker.sock
dockerd_pid=
cleanup() {
	if [ -n "$dockerd_pid" ]; then
		DOCKER_HOST=unix://$sock /usr/bin/docker ps -aq 2>/dev/null | xargs -r /usr/bin/docker -H "unix://$sock" rm -f >/dev/null 2>&1 || true
		kill "$dockerd_pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$dockerd_pid" 2>/dev/null || true
	fi
	# The engine's own mounts (overlay layers, netns files) under its roots.
	grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

dockerd --iptables=false --ip6tables=false --bridge=none \
	--data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
	-H "unix://$sock" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
export DOCKER_HOST=unix://$sock
for i in $(seq 300); do
	/usr/bin/docker info >/dev/null 2>&1 && break
	if ! kill -0 "$dockerd_pid" 2>/dev/null || [ "$i" -eq 300 ]; then
		echo "containers: dockerd did not start; its log:" >&2
		tail -20 "$work/dockerd.log" >&2
		exit 1
	fi
	sleep 0.1
done
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
