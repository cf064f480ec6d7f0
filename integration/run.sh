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
# Started as root (as CI does), it drops to the user `nptest` (lib.sh's
# test_user): np is permissionless, and a test run as root would prove
# nothing. integration/testsum counts each pass: one that cannot run (its
# runtime missing or broken) or runs no test fails the suite; skipped tests
# count as failures. The last line is "integration: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. integration/lib.sh

runtimes=${NP_TEST_RUNTIMES:-ns ptrace ptrace-noseccomp}

work=$(mktemp -d /tmp/np-integration.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cp bin/np "$work/np"
cp build/np-bare "$work/np-bare"
# The engines' seccomp profiles (make profiles), found beside the test binary.
cp -r build/profiles "$work/profiles"
go test -c -tags integration -o "$work/integration.test" ./integration
testsum_build "$work"
# The caller's umask (077, say) must not lock the test user out.
chmod 755 "$work/np" "$work/np-bare" "$work/integration.test"
test_user

cd "$work"
status=0
summary=()
for rt in $runtimes; do
	echo "=== integration pass: runtime $rt"
	start=$SECONDS
	set +e
	as_test_user env NP_TEST_RUNTIME="$rt" NP_BIN="$work/np" NP_BARE_BIN="$work/np-bare" \
		./integration.test -test.v=test2json -test.timeout 30m "$@" 2>&1 | summarise "integration [$rt]" "$work/counts"
	rc=("${PIPESTATUS[@]}")
	set -e
	read -r passed failed skipped < <(tail -n 1 "$work/counts")
	if [ "${rc[0]}" -ne 0 ] && [ "$failed" -eq 0 ]; then
		# The binary failed with every test passing (its TestMain's own
		# check, say): a failure too, never a silent pass.
		failed=1
		echo "0 1 0" >>"$work/counts"
	fi
	if [ "${rc[1]}" -ne 0 ] || [ "$failed" -ne 0 ]; then
		status=1
	fi
	summary+=("integration [$rt]: $passed passed, $failed failed ($skipped skipped), exit ${rc[0]}, $((SECONDS - start)) s")
done
printf '%s\n' "${summary[@]}"
awk '{p += $1; f += $2} END {printf "integration: %d passed, %d failed\n", p, f}' "$work/counts"
exit $status
