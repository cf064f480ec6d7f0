# What the test scripts share (sourced by bash scripts run from the
# repository's root): dropping to the test user, and summarising a go test
# run with integration/testsum.
export PATH=$PATH:/usr/sbin:/sbin # runuser, useradd

# test_user: sets AS_TEST_USER to the command prefix that runs a command as
# the unprivileged user nptest with a clean environment (its HOME, a plain
# PATH, LANG=C.UTF-8, TMPDIR=/tmp), creating the user if missing. np is
# permissionless, and a test run as root would prove nothing. Started as
# another user, the prefix is empty: the caller already is unprivileged.
# An array (not only the function below) because xargs needs it too.
test_user() {
	AS_TEST_USER=()
	[ "$(id -u)" -eq 0 ] || return 0
	id nptest >/dev/null 2>&1 || useradd --create-home --shell /bin/sh nptest
	TEST_USER_HOME=$(getent passwd nptest | cut -d: -f6)
	AS_TEST_USER=(runuser -u nptest -- env -i HOME="$TEST_USER_HOME" USER=nptest LOGNAME=nptest
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 TMPDIR=/tmp)
}

# as_test_user CMD...: runs CMD as the test user (see test_user).
as_test_user() {
	[ -n "${AS_TEST_USER+set}" ] || test_user
	"${AS_TEST_USER[@]}" "$@"
}

# testsum_build DIR: builds integration/testsum into DIR for summarise.
testsum_build() {
	go build -o "$1/testsum" ./integration/testsum
	TESTSUM=$1/testsum
}

# summarise NAME [COUNTS]: reads a test binary's -test.v=test2json output
# on stdin, writes its log as -test.v would and a last line "NAME: P
# passed, F failed (S skipped)"; appends "P F S" to COUNTS if given. Fails
# when a test failed or skipped, the binary did not end cleanly, or no test
# ran.
summarise() {
	go tool test2json -t -p "$1" | "$TESTSUM" -name "$1" ${2:+-counts "$2"}
}

# signal_tests: the -test.run pattern of the integration tests of signals,
# terminals and process lifetimes: every test of these files, which
# robust.sh runs and the kernels' signal steps run in each VM. A test
# belongs in one of these files; nothing lists it by name.
signal_tests() {
	env -u GOARCH go run ./integration/testsum -pattern integration/signals_test.go integration/lifetime_test.go \
		integration/terminal_test.go integration/interrupt_test.go
}

# ptrace_modes WHERE: the modes of integration/ptrace-modes.txt that run
# WHERE (host; kernels-steps.sh reads the file itself in the VM), one per
# line: "NAME RACE ENV...".
ptrace_modes() {
	local name where race env
	while read -r name where race env; do
		case $name in '' | '#'*) continue ;; esac
		[ "$where" = all ] || [ "$where" = "$1" ] || continue
		echo "$name $race $env"
	done <integration/ptrace-modes.txt
}
