package nsbox

import (
	"sort"

	"golang.org/x/sys/unix"
)

// The set-up is a plan: a list of typed operations built by pure functions
// (scratchPlan, rootPlan) and run by one executor (runPlan). It happens in
// two halves because the second depends on what the host's root contains,
// which can only be listed once the first half has made it reachable.
//
// Paths during the set-up (after the first pivot):
//
//	/          the scratch tmpfs (mounted on the host's /tmp, then pivoted into)
//	/oldroot   the host's root
//	/newroot   the sandbox's root: a second tmpfs that the host entries are bound into
const (
	scratchDir = "/tmp" // always exists, and whatever it holds stays visible: the pivot moves the tmpfs off it
	oldRoot    = "/oldroot"
	newRoot    = "/newroot"
)

// opKind is what one set-up operation does.
type opKind int

const (
	opMount     opKind = iota // mount(Source, Target, FSType, Flags, Data)
	opUmount                  // umount2(Target, Flags)
	opMkdir                   // mkdir(Target, 0755)
	opCreate                  // create the empty file Target: a mount point for a file bind
	opSymlink                 // symlink(Source, Target): Source is the link's text
	opPivotRoot               // pivot_root(Source, Target); Fallback instead on EINVAL
	opChroot                  // chroot(Target)
	opChdir                   // chdir(Target)
)

var opNames = map[opKind]string{
	opMount: "mount", opUmount: "umount2", opMkdir: "mkdir", opCreate: "create",
	opSymlink: "symlink", opPivotRoot: "pivot_root", opChroot: "chroot", opChdir: "chdir",
}

func (k opKind) String() string { return opNames[k] }

// op is one step of the plan.
type op struct {
	Kind   opKind
	Source string
	Target string
	FSType string
	Flags  uintptr
	Data   string

	// Step says what the op is for, for errors: "mirroring host", "mounting nix directory".
	Step string
	// Path is the host path the op is about (the mirrored entry, the nix
	// directory), "" if none; it becomes launch.SetupError.Path.
	Path string
	// SkipIfGone: the host entry may have vanished since the root was
	// listed; on ENOENT the executor removes the mount point it made and
	// goes on.
	SkipIfGone bool
	// Fallback (opPivotRoot only) runs instead when pivot_root fails with
	// EINVAL, which it does when the host root is an initramfs.
	Fallback []op
}

// entryKind is the type of a host root entry, as getdents' d_type says.
type entryKind int

const (
	entryDir     entryKind = iota
	entrySymlink           // Link holds its text
	entryFile              // a regular file, socket, fifo, device or anything else: bound onto an empty file
)

// hostEntry is one entry of the host's root directory.
type hostEntry struct {
	Name string
	Kind entryKind
	Link string
}

// scratchPlan builds the first half of the set-up: a private scratch root
// holding the host root at /oldroot and an empty sandbox root at /newroot.
func scratchPlan() []op {
	step := "preparing scratch root"
	return []op{
		// Slave, not private: our mounts must not propagate to the host, but
		// host mounts made later (autofs homes, USB sticks) must still appear
		// inside; private propagation gives ELOOP on autofs (nixpkgs PR 136433).
		{Kind: opMount, Target: "/", Flags: unix.MS_REC | unix.MS_SLAVE, Step: "making / a slave mount"},
		// The scratch root lives in memory: a root made on the host disk
		// would be left behind when np is killed.
		{Kind: opMount, Source: "tmpfs", Target: scratchDir, FSType: "tmpfs",
			Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=0755", Step: step},
		{Kind: opMkdir, Target: scratchDir + oldRoot, Step: step},
		{Kind: opMkdir, Target: scratchDir + newRoot, Step: step},
		// Pivoting (rather than binding from under the tmpfs) takes the
		// tmpfs off the host's /tmp, so /oldroot/tmp shows the host's /tmp
		// again instead of our scratch files.
		{Kind: opPivotRoot, Source: scratchDir, Target: scratchDir + oldRoot, Step: "pivoting into scratch root",
			Fallback: initramfsFallback()},
		{Kind: opChdir, Target: "/", Step: "pivoting into scratch root"},
		// A mount of its own: pivot_root needs the new root to be a mount
		// point, and the read-only remount at the end must hit only it.
		{Kind: opMount, Source: "tmpfs", Target: newRoot, FSType: "tmpfs",
			Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=0755", Step: "mounting sandbox root"},
	}
}

// initramfsFallback replaces the first pivot_root where the host root is an
// initramfs (pivot_root says EINVAL there): move the scratch tmpfs over /
// and chroot into it. Plain chroot is used only here: the second pivot
// below makes the sandbox root the namespace's root again, so nested user
// namespaces (EPERM inside a chroot) still work.
func initramfsFallback() []op {
	step := "entering scratch root without pivot_root"
	return []op{
		// MS_MOVE leaves no old root behind: keep the host root reachable.
		{Kind: opMount, Source: "/", Target: scratchDir + oldRoot, Flags: unix.MS_BIND | unix.MS_REC, Step: step},
		// The recursive bind copied the scratch tmpfs too, hiding the host's /tmp.
		{Kind: opUmount, Target: scratchDir + oldRoot + scratchDir, Flags: unix.MNT_DETACH, Step: step},
		{Kind: opChdir, Target: scratchDir, Step: step},
		// Put the scratch tmpfs where "/" is, then make it our root.
		{Kind: opMount, Source: ".", Target: "/", Flags: unix.MS_MOVE, Step: step},
		{Kind: opChroot, Target: ".", Step: step},
	}
}

// rootPlan builds the second half: mirror each host root entry into
// /newroot, put nixDir (a host path without symlinks) at /nix, make /newroot
// the root and make it read-only. The host's own /nix is left out: the data
// directory replaces it.
func rootPlan(entries []hostEntry, nixDir string) []op {
	entries = append([]hostEntry(nil), entries...)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })

	var ops []op
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Name == "nix" || e.Name == "" || e.Name == "." || e.Name == ".." {
			continue
		}
		seen[e.Name] = true
		ops = append(ops, mirrorOps(e)...)
	}
	// /proc and /dev are binds of the host's whatever the listing said: a
	// fresh procfs would need a PID namespace (and Docker masks parts of
	// /proc); the whole /dev keeps /dev/pts/N, /dev/shm, fuse and GPUs.
	for _, name := range []string{"dev", "proc"} {
		if !seen[name] {
			ops = append(ops, mirrorOps(hostEntry{Name: name, Kind: entryDir})...)
			ops[len(ops)-1].SkipIfGone = false
		}
	}

	ops = append(ops,
		op{Kind: opMkdir, Target: newRoot + "/nix", Step: "mounting nix directory", Path: nixDir},
		// Recursive, like every bind here: a non-recursive bind of a tree
		// with locked submounts is EINVAL, and would expose what they cover.
		op{Kind: opMount, Source: oldRoot + nixDir, Target: newRoot + "/nix", Flags: unix.MS_BIND | unix.MS_REC,
			Step: "mounting nix directory", Path: nixDir},
		op{Kind: opChdir, Target: newRoot, Step: "pivoting into sandbox root"},
		// pivot_root(".", ".") stacks the scratch root on top of the new
		// one; never chroot: clone(CLONE_NEWUSER) is EPERM inside a chroot,
		// which would break nested sandboxes and Nix's build sandbox.
		op{Kind: opPivotRoot, Source: ".", Target: ".", Step: "pivoting into sandbox root"},
		// Detach the scratch root and the host tree under it: nothing
		// outside the sandbox root may stay reachable, and the tmpfs is freed.
		op{Kind: opUmount, Target: ".", Flags: unix.MNT_DETACH, Step: "pivoting into sandbox root"},
		op{Kind: opChdir, Target: "/", Step: "pivoting into sandbox root"},
		// A writable / lets Nix builds create /homeless-shelter and break;
		// nosuid and nodev are repeated or the remount would clear them.
		op{Kind: opMount, Target: "/", Flags: unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV,
			Step: "making sandbox root read-only"},
	)
	return ops
}

// mirrorOps makes host entry e appear at the same place in /newroot.
func mirrorOps(e hostEntry) []op {
	src, dst, path := oldRoot+"/"+e.Name, newRoot+"/"+e.Name, "/"+e.Name
	const step = "mirroring host"
	switch e.Kind {
	case entrySymlink:
		// The same link text keeps /bin -> usr/bin pointing into the mirror.
		return []op{{Kind: opSymlink, Source: e.Link, Target: dst, Step: step, Path: path}}
	case entryDir:
		return []op{
			{Kind: opMkdir, Target: dst, Step: step, Path: path},
			// Recursive: a non-recursive bind of a mount with locked
			// submounts is EINVAL, and would expose directories they cover.
			{Kind: opMount, Source: src, Target: dst, Flags: unix.MS_BIND | unix.MS_REC, Step: step, Path: path, SkipIfGone: true},
		}
	default:
		return []op{
			{Kind: opCreate, Target: dst, Step: step, Path: path},
			// A bind, not a copy: /.dockerenv, /swapfile and sockets stay the
			// host's own files (recursive for the same locked-mount reason).
			{Kind: opMount, Source: src, Target: dst, Flags: unix.MS_BIND | unix.MS_REC, Step: step, Path: path, SkipIfGone: true},
		}
	}
}

// withPivotFallback returns ops with every pivot_root that has a Fallback
// replaced by that fallback: what runPlan does when pivot_root says EINVAL.
func withPivotFallback(ops []op) []op {
	var out []op
	for _, o := range ops {
		if o.Kind == opPivotRoot && len(o.Fallback) > 0 {
			out = append(out, o.Fallback...)
			continue
		}
		out = append(out, o)
	}
	return out
}
