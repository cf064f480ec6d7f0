package ptrace

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The forked child hands its notification listener to the tracer over a unix
// socket (SCM_RIGHTS) rather than letting the tracer copy it with
// pidfd_getfd: container profiles refuse pidfd_getfd without
// CAP_SYS_PTRACE, and no profile refuses sendmsg.

// listenerSocket returns the tracer's end (non-blocking: the child has sent
// before it stops for the probe, so nothing waits) and the child's end.
func listenerSocket() (tracerEnd int, childEnd *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("creating the listener socket: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return -1, nil, fmt.Errorf("creating the listener socket: %w", err)
	}
	return fds[0], os.NewFile(uintptr(fds[1]), "listener socket"), nil
}

// recvFD receives the one fd the child sent (close-on-exec in this process).
func recvFD(sock int) (int, error) {
	b := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(sock, b, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("receiving the notification listener: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("receiving the notification listener: no fd in the message (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("receiving the notification listener: %d fds (%v)", len(fds), err)
	}
	return fds[0], nil
}
