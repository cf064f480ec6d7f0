# The steps of integration/nfs.sh's VM (sourced as root by
# integration/kernels-init.sh, which defines step; busybox sh). The server
# part runs as root here; every step runs as nptest with /ktest/env
# (integration/nfs-env.sh) sourced.
#
# The export: /tmp/export on the VM's ext2 /tmp (a loop-mounted image in
# RAM), its subdirectory v4 mounted over NFSv4.2 on /mnt/v4 and v3 over
# NFSv3 on /mnt/v3. The local disk the times are compared with is that
# same ext2 (/tmp/local): the difference is NFS alone.
#
# smoke (CI): NFSv4.2's set; full (`make nfs`): NFSv4.2 and NFSv3, and the
# local disk's times.

# root ERR-PREFIX CMD...: a setup command; its failure is a failed step.
nfs_fail() {
	failed=$((failed + 1))
	echo "KTEST-LOG-BEGIN $1"
	cat /tmp/nfs-setup.log
	echo "KTEST-LOG-END $1"
	echo "KTEST $1 FAIL 0"
}

# nfs_server: the modules, the daemons and the export. nfsd's grace
# period (90 s by default, in which it refuses new locks and opens) and
# the v4 lease are set to their minimum so the steps need not wait.
nfs_server() {
	set -x
	for m in $(cat /ktest/nfs/order); do
		insmod "/ktest/nfs/$m.ko" || return 1
	done
	mkdir -p /proc/fs/nfsd /var/lib/nfs/sm /var/lib/nfs/sm.bak /var/lib/nfs/v4recovery /run/rpcbind /run/rpc_pipefs \
		/tmp/export/v4 /tmp/export/v3 /tmp/local /mnt/v4 /mnt/v3 || return 1
	mount -t nfsd nfsd /proc/fs/nfsd || return 1
	mount -t rpc_pipefs rpc_pipefs /run/rpc_pipefs || return 1
	chown statd /var/lib/nfs/sm /var/lib/nfs/sm.bak
	touch /var/lib/nfs/etab /var/lib/nfs/rmtab
	chown 1000:1000 /tmp/export/v4 /tmp/export/v3 /tmp/local
	echo 10 >/proc/sys/fs/nfs/nlm_grace_period
	rpcbind -w || return 1
	rpc.statd --no-notify || return 1
	echo '/tmp/export 127.0.0.1(rw,sync,no_subtree_check) 127.0.0.2(rw,sync,no_subtree_check)' >/etc/exports
	exportfs -ra || return 1
	rpc.mountd || return 1
	rpc.nfsd --grace-time 10 --lease-time 10 8 || return 1
	cat /proc/fs/nfsd/versions
	# The grace period ends before the first step's first lock.
	sleep 11
	mount.nfs 127.0.0.1:/tmp/export/v4 /mnt/v4 -o vers=4.2 || return 1
	mount.nfs 127.0.0.1:/tmp/export/v3 /mnt/v3 -o vers=3 || return 1
	grep ' nfs' /proc/mounts
	set +x
}

# The NFSv3 mount whose locks fail: mounted with locking (NLM), then
# rpcbind and rpc.statd stop, so the client's lock manager can reach
# neither the server's lockd nor its own statd and every lock ends in
# ENOLCK, as on a node whose NFS locking is broken or firewalled. np
# doctor must say so in one line and exit 1; np's first run must fail
# with one line too, not hang or corrupt.
# The mount names the server as 127.0.0.2, not 127.0.0.1: the client's
# lock manager keeps one host record per server address, and once a lock
# to 127.0.0.1 has gone through (the other NFSv3 steps), that record
# stays bound to the server's lockd and already monitored by statd, so
# locks through any 127.0.0.1 mount keep working after the daemons stop.
# A fresh address is a server this client has never locked with, the
# case of a node whose locking never worked. These steps come last: the
# daemons stay stopped.
nolocks() {
	mkdir -p /mnt/v3nl /tmp/export/v3nl && chown 1000:1000 /tmp/export/v3nl || return 1
	mount.nfs 127.0.0.2:/tmp/export/v3nl /mnt/v3nl -o vers=3 || return 1
	grep v3nl /proc/mounts
	kill "$(pidof rpc.statd)" "$(pidof rpcbind)" || return 1
	sleep 1
}

# nolocks_steps: np doctor and a first run on the mount whose locks fail.
nolocks_steps() {
	if ! nolocks >/tmp/nfs-setup.log 2>&1; then
		nfs_fail v3-nolocks-mount
		return
	fi
	grep v3nl /proc/mounts | sed 's/^/KTEST-NOTE /'
	step v3-nolocks-doctor 300 'use /mnt/v3nl/d /mnt/v3nl/home; np doctor >/tmp/d.out; rc=$?; cat /tmp/d.out;
		grep "lock" /tmp/d.out | sed "s/^/KTEST-NOTE nolocks doctor: /" >>/tmp/ktest-times; [ $rc = 1 ] && grep "gives no file locks" /tmp/d.out'
	step v3-nolocks-run 300 'use /mnt/v3nl/d /mnt/v3nl/home; np nix-store --version 2>/tmp/r.err; rc=$?; cat /tmp/r.err;
		sed "s/^/KTEST-NOTE nolocks run (exit $rc): /" /tmp/r.err >>/tmp/ktest-times
		[ $rc = 125 ] && [ "$(wc -l </tmp/r.err)" -le 2 ] && grep -q "lock" /tmp/r.err'
}

# slow_link: the first install over NFSv4.2 with the VM's loopback slowed
# by netem (every packet 2 ms late, 20 Mbit/s), a filer far away or
# overloaded: it must finish, and the terminal must not fall silent for
# long (see slow_install). iproute2's /sbin/tc: busybox's tc (first in
# PATH) has no netem.
slow_link() {
	if ! /sbin/tc qdisc add dev lo root netem delay 2ms rate 20mbit >/tmp/nfs-setup.log 2>&1; then
		nfs_fail v4-slow-link-netem
		return
	fi
	/sbin/tc qdisc show dev lo | sed 's/^/KTEST-NOTE /'
	step v4-slow-link 1800 'use /mnt/v4/slow /mnt/v4/slowhome && slow_install v4-slow && nix_build slow'
	/sbin/tc qdisc del dev lo root
	rm -rf /mnt/v4/slow
}

# The steps that run on one NFS mount M (v4 or v3); SET smoke or full.
nfs_steps() {
	v=$1 M=/mnt/$1
	step "$v-first-install" 1200 "use $M/d $M/home && first_install $v"
	if [ "$2" = full ]; then
		step "$v-offline-build" 900 "use $M/d $M/home && nix_build trivial-$v && timed_build $v"
	else
		step "$v-offline-build" 900 "use $M/d $M/home && nix_build trivial-$v"
	fi
	step "$v-verify" 900 "use $M/d $M/home && verify"
	step "$v-doctor" 300 "use $M/d $M/home && np doctor >/tmp/d.out; rc=\$?; cat /tmp/d.out; [ \$rc = 0 ] && grep -q 'is on nfs' /tmp/d.out && np doctor --json | grep -q 'use-sqlite-wal = false'"
	step "$v-two-at-once" 1500 "use $M/two $M/home && two_at_once"
	rm -rf "$M/two"
	[ "$2" = full ] || return 0
	step "$v-interrupted-then-good" 1500 "use $M/kill $M/home && interrupted_then_good"
	rm -rf "$M/kill"
	step "$v-gc" 900 "use $M/d $M/home && gc_drops"
	step "$v-repair" 900 "use $M/d $M/home && repair_restores"
	step "$v-expose" 900 "use $M/d $M/home && expose_runs"
	step "$v-data-nfs-home-local" 1200 "use $M/dl /home/nptest/h-$v && first_install $v-home-local && nix_build dl-$v && verify"
	rm -rf "$M/dl"
	step "$v-home-nfs-data-local" 1200 "use /tmp/local/d-$v $M/h && first_install $v-data-local && nix_build hl-$v && verify"
	rm -rf "/tmp/local/d-$v"
}

run_steps() {
	if ! nfs_server >/tmp/nfs-setup.log 2>&1; then
		nfs_fail nfs-server
		return
	fi
	grep ' nfs' /proc/mounts | sed 's/^/KTEST-NOTE /'
	set_=${1#nfs-}
	[ "$set_" = full ] && step local-first-install 1200 "use /tmp/local/d /tmp/local/home && first_install local && timed_build local && du -sh \$NP_LOCATION"
	nfs_steps v4 "$set_"
	# system.nfs4_acl: NFSv4 shows every file's ACL as this attribute;
	# a file with an ACL beyond its mode bits goes into the store, whose
	# own files on NFS carry the attribute too.
	# (setfacl on the server's side: NFSv4 has no POSIX ACL calls.)
	step v4-nfs4-acl 900 'use /mnt/v4/d /mnt/v4/home && mkdir -p acl && echo acl >acl/f && setfacl -m u:1001:r /tmp/export/v4/home/acl/f &&
		getfattr -n system.nfs4_acl acl/f >/dev/null && p=$(np nix-store --add acl) && echo "$p" &&
		getfattr -n system.nfs4_acl "$NP_LOCATION/.nix-portable$p/f" && [ "$(np run cat "$p/f")" = acl ] && verify'
	# A data dir that np installed through one mount, used through
	# another (a second node of the cluster): nothing installs again, a
	# build already done is only looked up, programs run.
	mkdir -p /mnt/v4-by-v3
	if mount.nfs 127.0.0.1:/tmp/export/v4 /mnt/v4-by-v3 -o vers=3 >/tmp/nfs-setup.log 2>&1; then
		step v4-read-mostly-from-v3 900 'use /mnt/v4/d /mnt/v4/home && rooted_v4 && use /mnt/v4-by-v3/d /mnt/v4-by-v3/home && read_mostly'
	else
		nfs_fail v4-read-mostly-mount
	fi
	if [ "$set_" = full ]; then
		nfs_steps v3 full
		# nolock: the client keeps its locks to itself (what sites without
		# NLM do). np works on one machine; across machines nothing would
		# stop two writers, which the README says.
		mkdir -p /mnt/v3nolock /tmp/export/v3nolock && chown 1000:1000 /tmp/export/v3nolock
		if mount.nfs 127.0.0.1:/tmp/export/v3nolock /mnt/v3nolock -o vers=3,nolock >/tmp/nfs-setup.log 2>&1; then
			grep v3nolock /proc/mounts | sed 's/^/KTEST-NOTE /'
			step v3-nolock-mount 1200 'use /mnt/v3nolock/d /mnt/v3nolock/home && first_install v3-nolock && nix_build nolock && verify'
		else
			nfs_fail v3-nolock-mount
		fi
		slow_link
	fi
	# Last in both sets: it stops rpcbind and rpc.statd.
	nolocks_steps
	echo "KTEST-NOTE times:"
	cat /tmp/ktest-times 2>/dev/null
}
