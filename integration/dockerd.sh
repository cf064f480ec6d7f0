# Sourced by integration/containers.sh and integration/fresh-check.sh: starts
# Debian's Docker engine (docker.io) for one run, with a data root, exec root
# and socket of its own under $1, no iptables and no bridge (containers get
# --network none or host), exports DOCKER_HOST, and stops it on exit with
# everything it mounted. Needs root.
#
#   . integration/dockerd.sh; start_dockerd "$(mktemp -d /tmp/npd.XXXXXX)"

start_dockerd() {
	dockerd_work=$1 # a short path: the engine's sockets must fit in 108 bytes
	if ! command -v dockerd >/dev/null || [ ! -x /usr/bin/docker ]; then
		echo "dockerd: installing Debian's docker.io"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
	fi
	local sock=$dockerd_work/docker.sock
	dockerd --iptables=false --ip6tables=false --bridge=none \
		--data-root "$dockerd_work/data" --exec-root "$dockerd_work/exec" --pidfile "$dockerd_work/dockerd.pid" \
		-H "unix://$sock" >"$dockerd_work/dockerd.log" 2>&1 &
	dockerd_pid=$!
	trap stop_dockerd EXIT
	export DOCKER_HOST=unix://$sock
	local i
	for i in $(seq 300); do
		/usr/bin/docker info >/dev/null 2>&1 && return 0
		if ! kill -0 "$dockerd_pid" 2>/dev/null; then break; fi
		sleep 0.1
	done
	echo "dockerd: the engine did not start; its log:" >&2
	tail -20 "$dockerd_work/dockerd.log" >&2
	return 1
}

stop_dockerd() {
	if [ -n "${dockerd_pid:-}" ]; then
		/usr/bin/docker ps -aq 2>/dev/null | xargs -r /usr/bin/docker rm -f >/dev/null 2>&1 || true
		kill "$dockerd_pid" 2>/dev/null || true
		local i
		for i in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$dockerd_pid" 2>/dev/null || true
		dockerd_pid=
	fi
	# The engine's own mounts (overlay layers, netns files) under its roots.
	grep -o " $dockerd_work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$dockerd_work"
}
