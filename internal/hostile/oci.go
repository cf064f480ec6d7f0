package hostile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
	"github.com/np-portable/np/internal/sysnum"
)

// A container engine's seccomp profile (Docker's default.json, Podman's
// seccomp.json), compiled here the way the engine and runc would for this
// machine, so tests can run np under exactly what those engines refuse.
//
// What the engine does (moby/profiles/seccomp's setupSeccomp, which
// containers-common copies): keep the archMap entry of the native
// architecture and its sub-architectures; drop a rule whose
// excludes.arches names the native arch, whose excludes.caps holds any cap
// of the container, or whose excludes.minKernel the kernel reaches; drop a
// rule whose includes.arches misses the native arch, whose includes.caps
// are not all the container's, or whose includes.minKernel the kernel does
// not reach.
//
// What runc and libseccomp then do, and this compiler too:
//   - names this architecture does not have are skipped;
//   - a rule whose action is the default action is skipped (libseccomp
//     refuses it);
//   - a call's rules are ORed, a rule's argument comparisons ANDed, each
//     comparison on all 64 bits; an unconditional rule wins over those
//     after it (see addRule);
//   - calls of an architecture the filter does not list get libseccomp's
//     bad-arch action, SCMP_ACT_KILL (kill the thread): runc never changes
//     it, and libseccomp's db_col_reset sets it;
//   - unless the default action is an allow or ENOSYS, runc prepends a stub
//     answering ENOSYS to native calls numbered above the highest the
//     profile names (patchbpf's generateEnosysStub), so a libc falls back
//     from calls newer than the profile instead of failing with EPERM.
//
// Where this compiler is stricter than the engine: calls of a listed
// sub-architecture (i386 on x86_64, 32-bit ARM on arm64) get the default
// action, and x32 calls on x86_64 get the stub's ENOSYS (or the default),
// because only the native table is compiled. np and Nix make native calls
// only.

// Profile is a seccomp profile as the engines write it.
type Profile struct {
	DefaultAction   string        `json:"defaultAction"`
	DefaultErrnoRet *uint         `json:"defaultErrnoRet"`
	Architectures   []string      `json:"architectures"`
	ArchMap         []ProfileArch `json:"archMap"`
	Syscalls        []ProfileRule `json:"syscalls"`
}

// ProfileArch is one archMap entry: an architecture and the ones whose
// calls a task of it can also make.
type ProfileArch struct {
	Arch      string   `json:"architecture"`
	SubArches []string `json:"subArchitectures"`
}

// ProfileRule gives calls an action, possibly only for some arguments and
// only for some containers.
type ProfileRule struct {
	Name     string       `json:"name"` // old profiles: one name
	Names    []string     `json:"names"`
	Action   string       `json:"action"`
	ErrnoRet *uint        `json:"errnoRet"`
	Args     []ProfileArg `json:"args"`
	Includes *RuleFilter  `json:"includes"`
	Excludes *RuleFilter  `json:"excludes"`
}

// ProfileArg compares argument Index with Value (for SCMP_CMP_MASKED_EQ:
// the argument masked with Value equals ValueTwo).
type ProfileArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo"`
	Op       string `json:"op"`
}

// RuleFilter says which containers a rule is for.
type RuleFilter struct {
	Caps      []string `json:"caps"`
	Arches    []string `json:"arches"`
	MinKernel string   `json:"minKernel"`
}

// Container is what a profile is compiled for.
type Container struct {
	Caps   []string // the bounding set, CAP_* names
	Kernel [2]int   // major, minor, for minKernel
}

// DockerDefaultCaps are the capabilities Docker (and Podman) give a
// container that asks for none.
var DockerDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// LoadProfile reads a profile file.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading seccomp profile: %w", err)
	}
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("parsing seccomp profile %s: %w", path, err)
	}
	if p.DefaultAction == "" {
		return nil, fmt.Errorf("parsing seccomp profile %s: no defaultAction", path)
	}
	return &p, nil
}

// compiledRule is one rule that applies, its names resolved.
type compiledRule struct {
	args    []ProfileArg
	verdict uint32
}

// Compile turns p into the filter the engine would install for c.
func (p *Profile) Compile(c Container) ([]unix.SockFilter, error) {
	dflt, err := verdict(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("compiling the default action: %w", err)
	}
	subArches, err := p.subArches()
	if err != nil {
		return nil, err
	}
	rules := map[uint32][]compiledRule{}
	var highest uint32
	for i, r := range p.Syscalls {
		names := r.Names
		if r.Name != "" {
			if len(names) != 0 {
				return nil, fmt.Errorf("syscalls[%d]: both name and names", i)
			}
			names = []string{r.Name}
		}
		keep, err := r.appliesTo(c)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d] (%s): %w", i, strings.Join(names, ","), err)
		}
		if !keep {
			continue
		}
		v, err := verdict(r.Action, r.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d] (%s): %w", i, strings.Join(names, ","), err)
		}
		for _, a := range r.Args {
			if a.Index > 5 {
				return nil, fmt.Errorf("syscalls[%d] (%s): argument index %d (calls have 6)", i, strings.Join(names, ","), a.Index)
			}
		}
		for _, name := range names {
			nr, ok := syscallNumber(name)
			if !ok {
				continue // not a call of this architecture
			}
			// runc's stub counts every name libseccomp knows, whatever
			// its rule's action.
			highest = max(highest, nr)
			if v == dflt {
				continue
			}
			rules[nr] = addRule(rules[nr], compiledRule{args: r.Args, verdict: v})
		}
	}
	stub := dflt != unix.SECCOMP_RET_ALLOW && dflt != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) && highest > 0

	var prog bpf.Program
	prog.LoadArch()
	prog.JumpIf(auditArch, "native")
	for _, a := range subArches {
		prog.JumpIf(a, "sub-arch")
	}
	prog.Return(unix.SECCOMP_RET_KILL_THREAD) // libseccomp's bad-arch action
	prog.Label("sub-arch")
	prog.Return(dflt)

	prog.Label("native")
	prog.LoadNr()
	if stub {
		prog.JumpIfAbove(highest, "enosys")
		prog.Jump("dispatch")
		prog.Label("enosys")
		prog.Return(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	}
	prog.Label("dispatch")
	// One block per call, in number order (the common calls are the low
	// ones): a call's number test skips its block, and every block ends in
	// a verdict of its own, so no conditional jump spans more than one
	// block. A block holds the call's rules in profile order.
	nrs := make([]uint32, 0, len(rules))
	for nr := range rules {
		nrs = append(nrs, nr)
	}
	slices.Sort(nrs)
	for _, nr := range nrs {
		next := fmt.Sprintf("after-%d", nr)
		prog.JumpIfNot(nr, next)
		for i, r := range rules[nr] {
			fail := fmt.Sprintf("nr%d-rule%d-fails", nr, i)
			for j, a := range r.args {
				if err := compare(&prog, a, fail, fmt.Sprintf("nr%d-rule%d-arg%d", nr, i, j)); err != nil {
					return nil, fmt.Errorf("system call %d: %w", nr, err)
				}
			}
			prog.Return(r.verdict)
			prog.Label(fail)
		}
		prog.Return(dflt)
		prog.Label(next)
	}
	prog.Return(dflt)
	filter, err := prog.Assemble()
	if err != nil {
		return nil, fmt.Errorf("assembling the profile: %w", err)
	}
	if len(filter) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("assembling the profile: %d instructions, the kernel takes %d", len(filter), unix.BPF_MAXINSNS)
	}
	return filter, nil
}

// subArches are the audit arches, other than the native one, the profile
// lists for this machine.
func (p *Profile) subArches() ([]uint32, error) {
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return nil, fmt.Errorf("both architectures and archMap given")
	}
	listed := p.Architectures
	for _, a := range p.ArchMap {
		if a.Arch == ociArch {
			listed = append([]string{a.Arch}, a.SubArches...)
		}
	}
	var out []uint32
	for _, a := range listed {
		if audit, ok := ociSubArches[a]; ok {
			out = append(out, audit)
		}
	}
	return out, nil
}

// appliesTo says whether the engine keeps r for c (see setupSeccomp).
func (r ProfileRule) appliesTo(c Container) (bool, error) {
	if x := r.Excludes; x != nil {
		if slices.Contains(x.Arches, ociArchName) {
			return false, nil
		}
		for _, cp := range x.Caps {
			if slices.Contains(c.Caps, cp) {
				return false, nil
			}
		}
		if x.MinKernel != "" {
			ok, err := kernelAtLeast(c.Kernel, x.MinKernel)
			if err != nil || ok {
				return false, err
			}
		}
	}
	if in := r.Includes; in != nil {
		if len(in.Arches) > 0 && !slices.Contains(in.Arches, ociArchName) {
			return false, nil
		}
		for _, cp := range in.Caps {
			if !slices.Contains(c.Caps, cp) {
				return false, nil
			}
		}
		if in.MinKernel != "" {
			ok, err := kernelAtLeast(c.Kernel, in.MinKernel)
			if err != nil || !ok {
				return false, err
			}
		}
	}
	return true, nil
}

// kernelAtLeast compares a kernel's major.minor with a profile's "4.8".
func kernelAtLeast(k [2]int, want string) (bool, error) {
	maj, min, ok := strings.Cut(want, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil {
		return false, fmt.Errorf("minKernel %q is not major.minor", want)
	}
	return k[0] > a || k[0] == a && k[1] >= b, nil
}

// RunningKernel is this machine's kernel as minKernel compares it.
func RunningKernel() ([2]int, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return [2]int{}, fmt.Errorf("reading the kernel version: %w", err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	var k [2]int
	if _, err := fmt.Sscanf(release, "%d.%d", &k[0], &k[1]); err != nil {
		return [2]int{}, fmt.Errorf("reading the kernel version %q: %w", release, err)
	}
	return k, nil
}

// verdict is the filter's return value for an action, as runc asks
// libseccomp for it: errno and trace default to EPERM.
func verdict(action string, errnoRet *uint) (uint32, error) {
	data := uint32(unix.EPERM)
	if errnoRet != nil {
		if *errnoRet > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errnoRet %d does not fit a verdict", *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch action {
	case "SCMP_ACT_ALLOW":
		return unix.SECCOMP_RET_ALLOW, nil
	case "SCMP_ACT_ERRNO":
		return unix.SECCOMP_RET_ERRNO | data, nil
	case "SCMP_ACT_TRACE":
		return unix.SECCOMP_RET_TRACE | data, nil
	case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD":
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case "SCMP_ACT_KILL_PROCESS":
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case "SCMP_ACT_TRAP":
		return unix.SECCOMP_RET_TRAP, nil
	case "SCMP_ACT_LOG":
		return unix.SECCOMP_RET_LOG, nil
	}
	return 0, fmt.Errorf("action %q is not one this compiler knows", action)
}

// addRule adds r to a call's rules as libseccomp's db_rule_add merges
// them: once a call has an unconditional rule, later rules of any action
// are dropped (the first one wins); an unconditional rule after
// conditional ones replaces them. Conditional rules are kept in profile
// order; the engines' profiles make those of different actions disjoint
// (Podman's socket rules: EINVAL for the audit netlink, allowed else).
// Podman's setns is the case that matters: allowed by its big list, then
// refused without CAP_SYS_ADMIN by a later rule that libseccomp drops.
func addRule(rs []compiledRule, r compiledRule) []compiledRule {
	if len(rs) > 0 && len(rs[0].args) == 0 {
		return rs
	}
	if len(r.args) == 0 {
		return []compiledRule{r}
	}
	return append(rs, r)
}

// compare emits code that falls through when argument a.Index satisfies a
// and jumps to fail when not. Each 64-bit comparison looks at the high
// word, then the low one. Labels are made from prefix.
func compare(p *bpf.Program, a ProfileArg, fail, prefix string) error {
	i := int(a.Index)
	hi, lo := uint32(a.Value>>32), uint32(a.Value)
	ok := prefix + "-ok"
	switch a.Op {
	case "SCMP_CMP_EQ":
		p.LoadArgHigh(i)
		p.JumpIfNot(hi, fail)
		p.LoadArgLow(i)
		p.JumpIfNot(lo, fail)
	case "SCMP_CMP_NE":
		p.LoadArgHigh(i)
		p.JumpIfNot(hi, ok)
		p.LoadArgLow(i)
		p.JumpIf(lo, fail)
	case "SCMP_CMP_MASKED_EQ":
		want := a.ValueTwo
		p.LoadArgHigh(i)
		p.And(hi)
		p.JumpIfNot(uint32(want>>32), fail)
		p.LoadArgLow(i)
		p.And(lo)
		p.JumpIfNot(uint32(want), fail)
	case "SCMP_CMP_GT", "SCMP_CMP_GE":
		p.LoadArgHigh(i)
		p.JumpIfAbove(hi, ok)
		p.JumpIfNot(hi, fail)
		p.LoadArgLow(i)
		if a.Op == "SCMP_CMP_GT" {
			p.JumpIfAbove(lo, ok)
		} else {
			p.JumpIfAtLeast(lo, ok)
		}
		p.Jump(fail)
	case "SCMP_CMP_LT", "SCMP_CMP_LE":
		p.LoadArgHigh(i)
		p.JumpIfAbove(hi, fail)
		p.JumpIfNot(hi, ok)
		p.LoadArgLow(i)
		if a.Op == "SCMP_CMP_LT" {
			p.JumpIfAtLeast(lo, fail)
		} else {
			p.JumpIfAbove(lo, fail)
		}
	default:
		return fmt.Errorf("comparison %q is not one this compiler knows", a.Op)
	}
	p.Label(ok)
	return nil
}

// ociProfiles are the profiles tests can run under (as "oci:NAME" and, with
// CAP_SYS_PTRACE added, "oci:NAME+ptrace"), each a file of the profile
// directory (make profiles fetches them: integration/profiles.sh).
var ociProfiles = map[string]string{
	"docker-current": "docker-current.json", // moby/profiles/seccomp, what Docker ships now
	"docker-20.10":   "docker-20.10.json",   // Docker 20.10's, as on this machine's engine
	"podman":         "podman.json",         // containers-common's pkg/seccomp
}

func init() {
	for name, file := range ociProfiles {
		ptrace := append(slices.Clone(DockerDefaultCaps), "CAP_SYS_PTRACE")
		Filters["oci:"+name] = ociFilter(file, DockerDefaultCaps)
		Filters["oci:"+name+"+ptrace"] = ociFilter(file, ptrace)
	}
}

// ociFilter compiles the profile file for a container with caps on this
// kernel.
func ociFilter(file string, caps []string) func() ([]unix.SockFilter, error) {
	return func() ([]unix.SockFilter, error) {
		dir, err := ProfileDir()
		if err != nil {
			return nil, err
		}
		p, err := LoadProfile(filepath.Join(dir, file))
		if err != nil {
			return nil, err
		}
		k, err := RunningKernel()
		if err != nil {
			return nil, err
		}
		return p.Compile(Container{Caps: caps, Kernel: k})
	}
}

// ProfileDir finds the fetched profiles: $NP_TEST_PROFILES, else profiles/
// beside the running executable (where integration/run.sh puts them), else
// build/profiles of the source tree holding the working directory.
func ProfileDir() (string, error) {
	if dir := os.Getenv("NP_TEST_PROFILES"); dir != "" {
		return dir, nil
	}
	var tried []string
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Join(filepath.Dir(exe), "profiles")
		if isDir(dir) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir := filepath.Join(d, "build", "profiles")
				if isDir(dir) {
					return dir, nil
				}
				tried = append(tried, dir)
				break
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	sort.Strings(tried)
	return "", fmt.Errorf("finding the seccomp profiles: none in %s and NP_TEST_PROFILES unset (run make profiles)", strings.Join(tried, ", "))
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// syscallNumber is name's number on this architecture, from np's one list
// of numbers (internal/sysnum, generated from golang.org/x/sys/unix).
func syscallNumber(name string) (uint32, bool) {
	nr, ok := sysnum.Native()[name]
	return uint32(nr), ok
}
