package ptrace

import "golang.org/x/sys/unix"

// How the notification server answers a call, whichever file decided it
// (notify.go, rootdir.go, redo.go): let it through untouched, fail it with
// an errno, or write a result into the caller and return a value; a call
// answered by installing an fd is marked answered.

var letThrough = seccompNotifResp{flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}

// reply writes b at addr in the caller and returns val, unless the call
// was abandoned meanwhile (its memory may be another process's now).
func (n *notifier) reply(req *seccompNotif, addr uint64, b []byte, val int64) seccompNotifResp {
	if !notifValid(n.fd, req.id) {
		return seccompNotifResp{}
	}
	if err := writeMem(int(req.pid), addr, b); err != nil {
		return failWith(unix.EFAULT)
	}
	return seccompNotifResp{val: val}
}

func failWith(errno unix.Errno) seccompNotifResp {
	return seccompNotifResp{error: -int32(errno)}
}

// answered marks a call already answered (by ADDFD's SEND flag).
const answered = 1 << 31
