#!/usr/bin/env bash
# make compat: a data dir goes back and forth between the previous np
# (PREV_COMMIT, the last one carrying Nix 2.26.3, built here by prev-np.sh)
# and this one, as the unprivileged user nptest (integration/compat_test.go).
#
#   bash integration/compat.sh [go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."
. integration/lib.sh
PREV_COMMIT=${PREV_COMMIT:-72ba05a}
bash integration/prev-np.sh "$PREV_COMMIT" "build/prev/np-$PREV_COMMIT"

work=$(mktemp -d /tmp/np-compat.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cp bin/np "$work/np"
cp build/np-bare "$work/np-bare"
cp "build/prev/np-$PREV_COMMIT" "$work/np-prev"
go test -c -tags integration,compat -o "$work/compat.test" ./integration
testsum_build "$work"
chmod 755 "$work/np" "$work/np-bare" "$work/np-prev" "$work/compat.test"
test_user
cd "$work"
start=$SECONDS
set +e
as_test_user env NP_TEST_RUNTIME=ns NP_BIN="$work/np" NP_BARE_BIN="$work/np-bare" NP_PREV_BIN="$work/np-prev" \
	NP_PREV_COMMIT="$PREV_COMMIT" ./compat.test -test.v=test2json -test.run 'Compat' -test.timeout 15m "$@" 2>&1 |
	summarise compat "$work/counts"
rc=("${PIPESTATUS[@]}")
set -e
read -r passed failed _ < <(tail -n 1 "$work/counts")
if [ "${rc[0]}" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "compat: $passed passed, $failed failed ($((SECONDS - start)) s)"
[ "$failed" -eq 0 ] && [ "${rc[1]}" -eq 0 ]
