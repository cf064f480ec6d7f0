#!/usr/bin/env bash
# Runs the integration tests that depend on signals, terminals and process
# lifetimes (lib.sh's signal_tests: every test of their files) in the
# environment a careless start gives them: SIGHUP ignored (nohup), SIGINT
# ignored (a background job of a non-interactive shell), umask 077, no
# controlling terminal and stdin from /dev/null. They must pass there too,
# within a bound, leaving no process behind.
#
#   bash integration/robust.sh          # as `make robust` runs it
set -euo pipefail
cd "$(dirname "$0")/.."
. integration/lib.sh
tests=$(signal_tests)
# Any test hanging ends the pass in 10 minutes, not the suite's 30.
( umask 077; trap '' HUP INT; exec setsid -w bash integration/run.sh -test.run "$tests" -test.timeout 10m ) </dev/null
