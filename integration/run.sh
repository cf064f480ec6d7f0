#!/usr/bin/env bash
# Runs the integration tests against bin/np as an unprivileged user, once per
# runtime: the compiled suite runs in one pass per runtime with
# NP_TEST_RUNTIME=ns, ptrace, ptrace-noseccomp (the tests give every np they
# start NP_RUNTIME and, for the last, NP_PTRACE_NO_SECCOMP=1). Each pass is its
# own process with its own shared NP_LOCATION.
#
#   bash integration/run.sh [go test flags, e.g. -test.run REGEX]
#   NP_TEST_RUNTIMES="ns" bash integration/run.sh ...   # some passes only, while iterating
#
# Started as root (as CI does), it creates the user `nptest` and drops to it:
# np is permissionless, and a test run as root would prove nothing. A pass
# that cannot run (its runtime missing or broken) fails the suite; skipped
# tests count as failures. The last line is "integration: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin # runuser, useradd

runtimes=${NP_TEST_RUNTIMES:-ns ptrace ptrace-noseccomp}

work=$(mktemp -d /tmp/np-integration.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cp bin/np "$work/np"
cp build/np-bare "$work/np-bare"
# The engines' seccomp profiles (make profiles), found beside the test binary.
cp -r build/profiles "$work/profiles"
go test -c -tags integration -o "$work/integration.test" ./integration
# The caller's umask (077, say) must not lock the test user out.
chmod 755 "$work/np" "$work/np-bare" "$work/integration.test"

run=()
if [ "$(id -u)" -eq 0 ]; then
	id nptest >/dev/null 2>&1 || useradd --create-home --shell /bin/sh nptest
	home=$(getent passwd nptest | cut -d: -f6)
	run=(runuser -u nptest -- env -i HOME="$home" USER=nptest LOGNAME=nptest
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 TMPDIR=/tmp)
fi

cd "$work"
total_passed=0
total_failed=0
summary=()
for rt in $runtimes; do
	echo "=== integration pass: runtime $rt"
	start=$SECONDS
	set +e
	"${run[@]}" env NP_TEST_RUNTIME="$rt" NP_BIN="$work/np" NP_BARE_BIN="$work/np-bare" \
		./integration.test -test.v -test.timeout 30m "$@" 2>&1 | tee "$work/log-$rt"
	rc=${PIPESTATUS[0]}
	set -e
	passed=$(grep -c '^\s*--- PASS' "$work/log-$rt" || true)
	failed=$(grep -c '^\s*--- FAIL' "$work/log-$rt" || true)
	skipped=$(grep -c '^\s*--- SKIP' "$work/log-$rt" || true)
	failed=$((failed + skipped)) # a skipped test counts as a failure
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
		# The pass died without a failing test (it could not start, panicked
		# or timed out): that is a failure too, never a silent pass.
		failed=1
	fi
	if [ "$rc" -eq 0 ] && [ "$passed" -eq 0 ]; then
		failed=1 # a pass that ran no test proves nothing
	fi
	summary+=("integration [$rt]: $passed passed, $failed failed ($skipped skipped), exit $rc, $((SECONDS - start)) s")
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
done
printf '%s\n' "${summary[@]}"
echo "integration: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
