package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/safedir"
)

// The data dir holds programs np runs, so a data dir, nix/ or conf/ that
// someone else owns or can write is refused: a group member who can swap
// conf/ can have a post-build-hook run as you. None of them may be a
// symbolic link, nor may np's own directories below (see safedir).

// privateDirs are the directories checked on every run, before anything
// in them is used.
func (c *Config) privateDirs() []string {
	return []string{string(c.DataDir), c.DataDir.Nix(), c.DataDir.Conf()}
}

// CheckDataDir refuses a data dir someone else could have filled; one that
// does not exist yet passes (np --version and np doctor create nothing).
func (c *Config) CheckDataDir() error {
	for _, d := range c.privateDirs() {
		if err := safedir.CheckPrivatePath(d, os.Geteuid()); err != nil {
			return fmt.Errorf("checking data dir: %w", err)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(c.DataDir.Nix(), &st); err == nil {
		return c.checkExec(&st)
	}
	return nil
}

// checkExec refuses a data dir on a file system mounted noexec: every
// program of np's Nix would fail there with 126, after unpacking 50 MB.
func (c *Config) checkExec(st *unix.Statfs_t) error {
	if st.Flags&unix.ST_NOEXEC != 0 {
		return fmt.Errorf("data dir %s is on a file system mounted noexec, where np's Nix cannot run; set NP_LOCATION to a directory on another file system", c.DataDir)
	}
	return nil
}

// makeLocation creates a missing NP_LOCATION, only its last directory and
// saying so: a mistyped NP_LOCATION would otherwise silently get a data dir
// of its own, parents and a 50 MB install included. A missing HOME (np's
// default location; a container's) is made as before.
func (c *Config) makeLocation() error {
	_, err := os.Stat(c.Location)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("checking %s: %w; set NP_LOCATION to a writable directory", c.Location, err)
	case !c.LocationSet:
		if err := os.MkdirAll(c.Location, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w; set NP_LOCATION to a writable directory", c.Location, err)
		}
		return nil
	}
	parent := filepath.Dir(c.Location)
	if _, err := os.Stat(parent); err != nil {
		return fmt.Errorf("NP_LOCATION %s does not exist, nor does %s; np creates only the last directory of NP_LOCATION: correct it, or create it first (mkdir -p %s)", c.Location, parent, c.Location)
	}
	if err := os.Mkdir(c.Location, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating %s: %w; set NP_LOCATION to a writable directory", c.Location, err)
	}
	fmt.Fprintf(os.Stderr, "np: NP_LOCATION %s did not exist: created it for a new data dir\n", c.Location)
	return nil
}

// MakeDataDir creates the data dir (0700), nix/ and conf/ when missing,
// each with mkdirat and checked through the descriptor it opened, so there
// is no window between the check and the creation for someone to plant a
// directory or link of their own.
func (c *Config) MakeDataDir() error {
	if err := c.makeLocation(); err != nil {
		return err
	}
	loc, err := unix.Open(c.Location, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w; set NP_LOCATION to a writable directory", c.Location, err)
	}
	defer unix.Close(loc)
	var st unix.Statfs_t
	if err := unix.Fstatfs(loc, &st); err == nil {
		if err := c.checkExec(&st); err != nil {
			return err
		}
	}
	uid := os.Geteuid()
	data, err := safedir.MkdirPrivate(loc, filepath.Base(string(c.DataDir)), string(c.DataDir), 0o700, uid)
	if err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	defer unix.Close(data)
	if err := unix.Fstatfs(data, &st); err == nil {
		if err := c.checkExec(&st); err != nil {
			return err
		}
	}
	for _, name := range []string{"nix", "conf"} {
		fd, err := safedir.MkdirPrivate(data, name, filepath.Join(string(c.DataDir), name), 0o755, uid)
		if err != nil {
			return fmt.Errorf("creating data dir: %w", err)
		}
		unix.Close(fd)
	}
	return nil
}
