#!/usr/bin/env bash
# make unit: every package's tests with the host prepared (-tags prepared:
# bin/np, the engines' profiles from make profiles, the user nptest), the
# race detector on the packages with concurrency (internal/proc, extract's
# installers, ptrace), and the ptrace suite once per host mode of
# integration/ptrace-modes.txt, as the unprivileged user nptest. Each run
# is summarised by integration/testsum; the last line is
# "unit: N passed, N failed".
#
#   bash integration/unit.sh          # as `make unit` runs it
set -euo pipefail
cd "$(dirname "$0")/.."
. integration/lib.sh
test_user

work=$(mktemp -d /tmp/np-unit.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
testsum_build "$work"
counts=$work/counts
summary=()
status=0

# gotest NAME ARGS...: go test -json ARGS, summarised.
gotest() {
	local name=$1 start=$SECONDS
	shift
	go test -json -tags prepared "$@" 2>&1 | "$TESTSUM" -name "$name" -counts "$counts" || status=1
	summary+=("$(tail -n 1 "$counts" | { read -r p f s; echo "$name: $p passed, $f failed ($s skipped), $((SECONDS - start)) s"; })")
}

# Every package but ptrace (run below as nptest, once per mode), as the
# caller; the race detector on internal/proc and extract.
gotest "unit" $(go list ./... | grep -v '/ptrace$')
gotest "unit -race" -race -count=1 ./internal/proc ./extract

# The ptrace suite as nptest, built once plain and once with -race.
go test -c -tags prepared -o "$work/ptrace.test" ./ptrace
go test -c -race -tags prepared -o "$work/ptrace-race.test" ./ptrace
chmod 755 "$work"/ptrace*.test
while read -r name race env; do
	bin=$work/ptrace.test
	[ "$race" != race ] || bin=$work/ptrace-race.test
	echo "=== ptrace unit tests: mode $name${env:+ ($env)}$([ "$race" != race ] || echo ", -race")"
	start=$SECONDS
	# In ptrace/, as go test would run it.
	# shellcheck disable=SC2086 # env is a list of assignments
	(cd ptrace && as_test_user env $env NP_PTRACE_TEST_SRC="$PWD" NP_TEST_PROFILES="$PWD/../build/profiles" \
		"$bin" -test.v=test2json -test.count=1 -test.timeout 30m 2>&1) |
		summarise "ptrace [$name]" "$counts" || status=1
	summary+=("$(tail -n 1 "$counts" | { read -r p f s; echo "ptrace [$name]: $p passed, $f failed ($s skipped), $((SECONDS - start)) s"; })")
done < <(ptrace_modes host)

printf '%s\n' "${summary[@]}"
awk '{p += $1; f += $2} END {printf "unit: %d passed, %d failed\n", p, f}' "$counts"
exit $status
