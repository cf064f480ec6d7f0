#!/usr/bin/env bash
# run-one.sh SUITE DIR SCRIPT — one test of Nix's functional suite, started
# as meson starts it, through `np run` ($NP, with the caller's NP_LOCATION
# and NP_RUNTIME). Prints "SUITE/NAME pass|fail|skip SECONDS"; the test's
# output goes to $LOGS/SUITE-NAME.log.
set -u
suite=$1 dir=$2 script=$3
name=${script%.sh}
# meson's TEST_NAME: SUITE/NAME up to 2.2x; NAME with TEST_SUITE_NAME since.
test_name=$suite/$name
if grep -q TEST_SUITE_NAME "$FUNCTIONAL/meson.build"; then
	test_name=$name
fi
mkdir -p "$LOGS"
log=$LOGS/$suite-$name.log
start=$(date +%s)
# NIX_STORE is empty: the suite is not running inside a Nix build; shell
# is bash, as Nix's build environment (stdenv) has it for fmt.sh.
# TMPDIR under /nix: the test's root, its store and its builds are in np's
# /nix (NIXSUITE_TMPDIR elsewhere, to compare). --foreground keeps np in
# the suite's process group, so stopping the suite stops it (np ends the
# test's whole tree with it). The timeout is twice meson's (300 s): room
# for a loaded machine. $BUILD/tools (jq) comes first on PATH inside np.
(
	cd "$dir" &&
		timeout --foreground -k 20 600 "$NP" run sh -c 'PATH=$0:$PATH exec "$@"' "$BUILD/tools" env \
			_NIX_TEST_SOURCE_DIR="$FUNCTIONAL" \
			_NIX_TEST_BUILD_DIR="$BUILD" \
			TEST_SUITE_NAME="$suite" TEST_NAME="$test_name" NIX_REMOTE= NIX_STORE= shell="$(command -v bash)" TMPDIR="${NIXSUITE_TMPDIR:-/nix/var/np-nixsuite}" \
			PS4='+(${BASH_SOURCE[0]-$0}:$LINENO) ' \
			bash -x -e -u -o pipefail "$script"
) >"$log" 2>&1 </dev/null
rc=$?
case $rc in
0) st=pass ;;
77) st=skip ;;
*) st=fail ;;
esac
echo "exit $rc" >>"$log"
echo "$suite/$name $st $(($(date +%s) - start))"
