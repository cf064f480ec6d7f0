package ptrace

import (
	"os"
	"strings"

	"github.com/np-portable/np/ptrace/guestpath"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// sunPathMax is the size of sockaddr_un.sun_path.
const sunPathMax = 108

// sockDirs makes socket paths too long for sun_path short. The socket's
// directory gets a short alias, a symlink to it in a directory of np's
// own under /tmp (/tmp/np-sock<random>/<n>, mode 0700), which the kernel
// follows like any directory on the way to the socket's name. Not the
// tracer's /proc/<pid>/fd/<n>/<name>, as before: following another
// process's fd link needs ptrace access to it, which Landlock refuses a
// process it restricts (Nix 2.34 restricts its builders; a recursive-Nix
// builder's connect to its daemon socket got EACCES). That alias is left
// only for hosts where /tmp is not writable.
type sockDirs struct {
	links map[string]string // host dir -> its short alias
	fds   map[string]int    // host dir -> tracer's O_PATH fd (fallback)
	names map[string]string // short name -> long host path
	dir   string            // np's directory of aliases, made on first use
	noDir bool              // making it failed: the fd fallback
}

func (s *sockDirs) shortName(host string) (string, error) {
	dir, name := guestpath.ParentDir(host), host[strings.LastIndexByte(host, '/')+1:]
	if s.fds == nil {
		s.fds, s.links, s.names = map[string]int{}, map[string]string{}, map[string]string{}
	}
	short := ""
	if alias, ok := s.links[dir]; ok {
		short = alias + "/" + name
	} else if alias, ok := s.makeLink(dir); ok {
		short = alias + "/" + name
	} else {
		fd, ok := s.fds[dir]
		if !ok {
			var err error
			fd, err = unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return "", err
			}
			s.fds[dir] = fd
		}
		short = "/proc/" + itoa(os.Getpid()) + "/fd/" + itoa(fd) + "/" + name
	}
	if len(short) >= sunPathMax {
		return "", unix.ENAMETOOLONG
	}
	s.names[short] = host
	return short, nil
}

// makeLink makes the short alias of dir.
func (s *sockDirs) makeLink(dir string) (string, bool) {
	if s.noDir {
		return "", false
	}
	if s.dir == "" {
		d, err := os.MkdirTemp("/tmp", "np-sock")
		if err != nil {
			logrus.Debugf("ptrace: no directory for short socket paths: %v", err)
			s.noDir = true
			return "", false
		}
		s.dir = d
	}
	alias := s.dir + "/" + itoa(len(s.links))
	if err := os.Symlink(dir, alias); err != nil {
		logrus.Debugf("ptrace: short socket path: %v", err)
		return "", false
	}
	s.links[dir] = alias
	return alias, true
}

func (s *sockDirs) longName(p string) string {
	if long, ok := s.names[p]; ok {
		return long
	}
	return p
}

func (s *sockDirs) close() {
	for _, fd := range s.fds {
		_ = unix.Close(fd)
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
