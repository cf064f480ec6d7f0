package config

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The file system a data dir lives on decides what Nix may do there.

// fsMagic names the file systems whose quirks matter to np.
var fsMagic = map[int64]string{
	unix.EXT4_SUPER_MAGIC: "ext4", unix.XFS_SUPER_MAGIC: "xfs", unix.BTRFS_SUPER_MAGIC: "btrfs",
	unix.TMPFS_MAGIC: "tmpfs", unix.NFS_SUPER_MAGIC: "nfs", unix.OVERLAYFS_SUPER_MAGIC: "overlay",
	unix.FUSE_SUPER_MAGIC: "fuse", 0x2fc12fc1: "zfs", 0x0bd00bd0: "lustre", 0x47504653: "gpfs",
	unix.CIFS_SUPER_MAGIC: "cifs", unix.SMB2_SUPER_MAGIC: "smb2",
}

// NetworkFS names the network file systems: slow, and without the shared
// memory SQLite's WAL needs.
var NetworkFS = map[string]bool{"nfs": true, "lustre": true, "gpfs": true, "cifs": true, "smb2": true}

// FSType names the file system holding dir.
func FSType(dir string) (string, unix.Statfs_t, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown", st, err
	}
	name, ok := fsMagic[int64(st.Type)]
	if !ok {
		name = fmt.Sprintf("0x%x", st.Type)
	}
	return name, st, nil
}

// OnNetworkFS reports whether dir (or its nearest existing parent) lives on
// a network file system.
func OnNetworkFS(dir string) bool {
	name, _, _ := FSType(ResolveExisting(dir))
	return NetworkFS[name]
}

// NearestExisting is dir or its nearest parent that exists.
func NearestExisting(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// DirExists says whether p is a directory.
func DirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
