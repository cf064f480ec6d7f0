#!/usr/bin/env bash
# make compat: a data dir goes back and forth between the previous np
# (PREV_COMMIT, the last one carrying Nix 2.26.3, built here by prev-np.sh)
# and this one, as the unprivileged user nptest (integration/compat_test.go).
#
#   bash integration/compat.sh [go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin
PREV_COMMIT=${PREV_COMMIT:-72ba05a}
bash integration/prev-np.sh "$PREV_COMMIT" "build/prev/np-$PREV_COMMIT"

work=$(mktemp -d /tmp/np-compat.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cp bin/np "$work/np"
cp build/np-bare "$work/np-bare"
cp "build/prev/np-$PREV_COMMIT" "$work/np-prev"
go test -c -tags integration,compat -o "$work/compat.test" ./integration
chmod 755 "$work/np" "$work/np-bare" "$work/np-prev" "$work/compat.test"

run=()
if [ "$(id -u)" -eq 0 ]; then
	id nptest >/dev/null 2>&1 || useradd --create-home --shell /bin/sh nptest
	home=$(getent passwd nptest | cut -d: -f6)
	run=(runuser -u nptest -- env -i HOME="$home" USER=nptest LOGNAME=nptest
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 TMPDIR=/tmp)
fi
cd "$work"
start=$SECONDS
set +e
"${run[@]}" env NP_TEST_RUNTIME=ns NP_BIN="$work/np" NP_BARE_BIN="$work/np-bare" NP_PREV_BIN="$work/np-prev" \
	NP_PREV_COMMIT="$PREV_COMMIT" ./compat.test -test.v -test.run 'Compat' -test.timeout 15m "$@" 2>&1 | tee "$work/log"
rc=${PIPESTATUS[0]}
set -e
passed=$(grep -c '^\s*--- PASS' "$work/log" || true)
failed=$(grep -c '^\s*--- \(FAIL\|SKIP\)' "$work/log" || true)
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi # nothing ran: a failure
echo "compat: $passed passed, $failed failed ($((SECONDS - start)) s)"
[ "$failed" -eq 0 ]
