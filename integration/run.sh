#!/usr/bin/env bash
# Runs the integration tests against bin/np as an unprivileged user.
# Started as root (as CI does), it creates the user `nptest` and drops to it:
# np is permissionless, and a test run as root would prove nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin # runuser, useradd

work=$(mktemp -d /tmp/np-integration.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cp bin/np "$work/np"
cp build/np-bare "$work/np-bare"
go test -c -tags integration -o "$work/integration.test" ./integration

run=()
if [ "$(id -u)" -eq 0 ]; then
	id nptest >/dev/null 2>&1 || useradd --create-home --shell /bin/sh nptest
	home=$(getent passwd nptest | cut -d: -f6)
	run=(runuser -u nptest -- env -i HOME="$home" USER=nptest LOGNAME=nptest
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 TMPDIR=/tmp)
fi

cd "$work"
set +e
"${run[@]}" env NP_BIN="$work/np" NP_BARE_BIN="$work/np-bare" \
	./integration.test -test.v -test.timeout 30m "$@" 2>&1 | tee "$work/log"
rc=${PIPESTATUS[0]}
set -e
passed=$(grep -c '^\s*--- PASS' "$work/log" || true)
failed=$(grep -c '^\s*--- FAIL' "$work/log" || true)
skipped=$(grep -c '^\s*--- SKIP' "$work/log" || true)
echo "integration: $passed passed, $failed failed, $skipped skipped"
if [ "$skipped" -ne 0 ]; then
	echo "integration: skipped tests count as failures" >&2
	rc=1
fi
exit "$rc"
