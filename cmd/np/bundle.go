package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/extract/pack"
	"github.com/np-portable/np/internal/launch"
)

// bundleUsage is short for np --help's list; the options are in the help.
const bundleUsage = "np bundle INSTALLABLE"

const bundleHelpText = `Builds INSTALLABLE (anything nix build takes: a flake reference, -f FILE
ATTR, --expr EXPR, a store path, with any nix build options) and writes FILE:
one executable that runs its program on any Linux host, through np's
runtimes, without Nix. It carries np's Go program and the program's
closure, compressed; not Nix, unless the program needs it.

Options:
  -o, --output FILE     where to write the bundle (default: the program's
                        name, in the current directory)
  --program NAME        the program to run, from bin/ of the installable or
                        of its dependencies (default: meta.mainProgram, or
                        the only program in bin/)
  --compress fast|max   max (default) is smallest; fast is quicker to make

These options may come anywhere before a "--"; everything else goes to
nix build. Running FILE runs the program with FILE's arguments,
environment, working directory and exit status; a link to FILE named
after another program of the closure runs that one; FILE --np-help says
what it is. The same closure always gives the same bytes.`

// bundleArgs is np bundle's command line.
type bundleArgs struct {
	out      string
	program  string
	level    pack.Level
	nixArgs  []string // the installable and nix build's options
	wantHelp bool
}

// parseBundleArgs takes np bundle's own options from anywhere before "--"
// and leaves everything else, in order, for nix build.
func parseBundleArgs(args []string) (*bundleArgs, error) {
	b := &bundleArgs{level: pack.Max}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			b.nixArgs = append(b.nixArgs, args[i+1:]...)
			break
		}
		name, val, hasVal := strings.Cut(a, "=")
		switch name {
		case "-h", "--help":
			b.wantHelp = true
			continue
		case "-o", "--output", "--program", "--compress":
		default:
			b.nixArgs = append(b.nixArgs, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, &usageError{fmt.Sprintf("np bundle: %s needs a value", name)}
			}
			i++
			val = args[i]
		}
		switch name {
		case "-o", "--output":
			b.out = val
		case "--program":
			if val == "" || strings.Contains(val, "/") {
				return nil, &usageError{fmt.Sprintf("np bundle: --program %q is not a program name (a file name in bin/)", val)}
			}
			b.program = val
		case "--compress":
			switch val {
			case "fast":
				b.level = pack.Fast
			case "max":
				b.level = pack.Max
			default:
				return nil, &usageError{fmt.Sprintf("np bundle: --compress %q is not a level; valid values: fast, max", val)}
			}
		}
	}
	if !b.wantHelp && len(b.nixArgs) == 0 {
		return nil, &usageError{"np bundle needs an installable: a flake reference, -f FILE ATTR, --expr EXPR or a store path"}
	}
	return b, nil
}

func cmdBundle(args []string) (syscall.WaitStatus, error) {
	b, err := parseBundleArgs(args)
	if err != nil {
		return 0, err
	}
	if b.wantHelp {
		fmt.Printf("Usage: np bundle [-o FILE] [--program NAME] [--compress fast|max] INSTALLABLE\n\n%s\n", bundleHelpText)
		return exitStatus(0), nil
	}
	s, err := prepare()
	if err != nil {
		return 0, err
	}
	built, err := s.output("building the installable", append([]string{s.m.Tool("nix"), "build", "--no-link", "--print-out-paths"}, b.nixArgs...), true)
	if err != nil {
		return 0, err
	}
	outputs := strings.Fields(built.out)
	if len(outputs) == 0 {
		return 0, errors.New("nix build printed no store path to bundle; check the installable")
	}
	for _, o := range outputs {
		if extract.StorePathOf(o) != o {
			return 0, fmt.Errorf("nix build printed %q, which is not a store path", o)
		}
	}
	store := filepath.Join(built.nixDir, "store")
	closure, err := s.closure(outputs)
	if err != nil {
		return 0, err
	}
	info := &extract.BundleInfo{Outputs: outputs, Programs: programsOf(store, outputs, closure)}
	if info.Program, err = s.chooseProgram(b, info); err != nil {
		return 0, err
	}
	m := &extract.Manifest{Version: 1, Paths: closure, Bundle: info}
	out := b.out
	if out == "" {
		out = path.Base(info.Program)
	}
	size, err := writeBundle(out, m, store, b.level)
	if err != nil {
		return 0, err
	}
	var narSize int64
	for _, p := range closure {
		narSize += p.NarSize
	}
	fmt.Fprintf(os.Stderr, "np: wrote %s (%.1f MB: np's program and %s, %.1f MB unpacked) running %s\n",
		out, float64(size)/1e6, storePaths(len(closure)), float64(narSize)/1e6, info.Program)
	return exitStatus(0), nil
}

// outputResult is a helper program's captured stdout and where its /nix was.
type outputResult struct {
	out    string
	nixDir string
}

// output runs argv inside np like np run does, but captures its stdout;
// stderr is the user's when show is set (a build's progress), else it is
// kept for the error message.
func (s *session) output(what string, argv []string, show bool) (outputResult, error) {
	dir, err := os.Getwd()
	if err != nil {
		return outputResult{}, fmt.Errorf("finding the current directory: %w", err)
	}
	w := watchInterrupts()
	defer w.Stop()
	out, errOut := &capture{}, &capture{}
	ws, rt, err := s.ch.start(func(rt runtime) (launch.Spec, error) {
		out.Reset()
		errOut.Reset()
		env, err := s.runEnv(rt, argv, false)
		if err != nil {
			return launch.Spec{}, err
		}
		j := launch.Spec{Argv: argv, Env: env, Dir: dir,
			Stdin: strings.NewReader(""), Stdout: out}
		if !show {
			j.Stderr = errOut
		}
		return j, nil
	}, false)
	if err := w.Check(); err != nil {
		return outputResult{}, err
	}
	if err := captured(ws, err, path.Base(argv[0])+" "+argv[1], errOut); err != nil {
		var none *noRuntimeError
		if errors.As(err, &none) {
			return outputResult{}, err
		}
		return outputResult{}, fmt.Errorf("%s: %w", what, err)
	}
	return outputResult{out: out.String(), nixDir: rt.nixDir()}, nil
}

// pathInfo is one entry of `nix path-info --json` (Nix >= 2.19: an object
// keyed by store path).
type pathInfo struct {
	NarHash    string   `json:"narHash"`
	NarSize    int64    `json:"narSize"`
	References []string `json:"references"`
}

// closure asks Nix for the closure of outputs with what registering it
// needs.
func (s *session) closure(outputs []string) ([]extract.PathEntry, error) {
	r, err := s.output("reading the closure", append([]string{s.m.Tool("nix"), "path-info", "--recursive", "--json"}, outputs...), false)
	if err != nil {
		return nil, err
	}
	return parsePathInfo([]byte(r.out))
}

func parsePathInfo(data []byte) ([]extract.PathEntry, error) {
	var infos map[string]*pathInfo
	if err := json.Unmarshal(data, &infos); err != nil {
		return nil, fmt.Errorf("reading nix path-info's JSON: %w", err)
	}
	var out []extract.PathEntry
	for p, info := range infos {
		if info == nil {
			return nil, fmt.Errorf("nix path-info: %s is not valid in the store", p)
		}
		sum, err := narHashHex(info.NarHash)
		if err != nil {
			return nil, fmt.Errorf("nix path-info: %s: %w", p, err)
		}
		refs := slices.Clone(info.References)
		if refs == nil {
			refs = []string{}
		}
		sort.Strings(refs)
		out = append(out, extract.PathEntry{Path: p, NarHash: sum, NarSize: info.NarSize, References: refs})
	}
	if len(out) == 0 {
		return nil, errors.New("nix path-info listed no store paths")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// narHashHex turns Nix's "sha256-<base64>" (or "sha256:<hex>") into the
// lower-case hex the manifest holds.
func narHashHex(h string) (string, error) {
	if b64, ok := strings.CutPrefix(h, "sha256-"); ok {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != sha256.Size {
			return "", fmt.Errorf("malformed narHash %q", h)
		}
		return hex.EncodeToString(raw), nil
	}
	if hx, ok := strings.CutPrefix(h, "sha256:"); ok && len(hx) == 64 {
		if _, err := hex.DecodeString(hx); err == nil {
			return strings.ToLower(hx), nil
		}
	}
	return "", fmt.Errorf("narHash %q is not a SHA-256 this np reads", h)
}

// programsOf lists the executables in bin/ of the outputs, then of the rest
// of the closure in store-path order, as /nix/store/... paths. store is the
// host directory holding the store.
func programsOf(store string, outputs []string, closure []extract.PathEntry) []string {
	order := slices.Clone(outputs)
	for _, p := range closure {
		if !slices.Contains(outputs, p.Path) {
			order = append(order, p.Path)
		}
	}
	var progs []string
	for _, sp := range order {
		hostBin := filepath.Join(store, path.Base(sp), "bin")
		ents, err := os.ReadDir(hostBin)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if isProgram(store, path.Join(sp, "bin", e.Name())) {
				progs = append(progs, path.Join(sp, "bin", e.Name()))
			}
		}
	}
	return progs
}

// isProgram says whether the store file p (a /nix/store path) is an
// executable regular file, following symlinks as they resolve at run time:
// an absolute target is read below store, not on the host.
func isProgram(store, p string) bool {
	for range 40 {
		host := filepath.Join(store, strings.TrimPrefix(p, extract.StoreDir+"/"))
		if !strings.HasPrefix(p, extract.StoreDir+"/") {
			return false
		}
		st, err := os.Lstat(host)
		if err != nil {
			return false
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			return st.Mode().IsRegular() && st.Mode().Perm()&0o100 != 0
		}
		t, err := os.Readlink(host)
		if err != nil {
			return false
		}
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		p = t
	}
	return false
}

// chooseProgram picks what the bundle runs: --program, else the outputs'
// only program, else their meta.mainProgram.
func (s *session) chooseProgram(b *bundleArgs, info *extract.BundleInfo) (string, error) {
	var own []string // the outputs' programs
	for _, p := range info.Programs {
		if slices.Contains(info.Outputs, extract.StorePathOf(p)) {
			own = append(own, p)
		}
	}
	names := func(ps []string) string {
		var n []string
		for _, p := range ps {
			n = append(n, path.Base(p))
		}
		if len(n) > 12 {
			n = append(n[:12], "...")
		}
		return strings.Join(n, ", ")
	}
	if b.program != "" {
		for _, p := range info.Programs {
			if path.Base(p) == b.program {
				return p, nil
			}
		}
		return "", fmt.Errorf("--program %s: no program of that name in bin/ of %s or its dependencies; it has: %s", b.program, strings.Join(info.Outputs, " "), names(own))
	}
	if len(own) == 1 {
		return own[0], nil
	}
	main := s.mainProgram(b.nixArgs)
	for _, p := range own {
		if main != "" && path.Base(p) == main {
			return p, nil
		}
	}
	if len(own) == 0 {
		return "", fmt.Errorf("%s has no program in bin/; name one of its dependencies' with --program NAME", strings.Join(info.Outputs, " "))
	}
	return "", fmt.Errorf("cannot tell which program to run: %s has %d programs in bin/ (%s) and no meta.mainProgram names one; choose with --program NAME", strings.Join(info.Outputs, " "), len(own), names(own))
}

// mainProgram evaluates the installable's meta.mainProgram, or "" where it
// cannot be evaluated (a store path) or is unset.
func (s *session) mainProgram(nixArgs []string) string {
	argv := append([]string{s.m.Tool("nix"), "eval", "--raw"}, nixArgs...)
	argv = append(argv, "--apply", `p: p.meta.mainProgram or ""`)
	r, err := s.output("evaluating meta.mainProgram", argv, false)
	if err != nil {
		logrus.Debugf("no meta.mainProgram: %v", err)
		return ""
	}
	return strings.TrimSpace(r.out)
}

// writeBundle writes FILE: np's Go program (this executable without its
// Nix payload), the compressed closure and a bundle trailer, through a
// temporary file and a rename. It returns FILE's size. An existing file is
// replaced only when it is a bundle itself.
func writeBundle(out string, m *extract.Manifest, store string, level pack.Level) (int64, error) {
	if st, err := os.Stat(out); err == nil {
		if st.IsDir() {
			return 0, fmt.Errorf("writing bundle: %s is a directory; name the file with -o FILE", out)
		}
		if !isBundleFile(out) {
			return 0, fmt.Errorf("writing bundle: %s exists and is not a bundle; remove it or choose another name with -o FILE", out)
		}
	}
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("opening own executable: %w", err)
	}
	defer self.Close()
	t, err := extract.ReadTrailer(self)
	if err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return 0, fmt.Errorf("writing bundle %s: %w", out, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, io.NewSectionReader(self, 0, t.Offset)); err != nil {
		return 0, fmt.Errorf("writing bundle %s: %w", out, err)
	}
	var narSize int64
	for _, p := range m.Paths {
		narSize += p.NarSize
	}
	h := sha256.New()
	counter := &countWriter{}
	// ^C while writing ends np by the signal, without a temporary file
	// left behind: the next write fails and the deferred removal runs.
	w := watchInterrupts()
	defer w.Stop()
	zw, err := pack.Compress(io.MultiWriter(stopOnInterrupt{w}, f, h, counter), level, narSize)
	if err != nil {
		return 0, err
	}
	if err := pack.WriteTar(zw, m, store); err != nil {
		return 0, fmt.Errorf("writing bundle %s: %w", out, err)
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("writing bundle %s: %w", out, err)
	}
	bt := extract.Trailer{Offset: t.Offset, Length: counter.n, Bundle: true}
	copy(bt.Sum[:], h.Sum(nil))
	if _, err := f.Write(bt.Marshal()); err != nil {
		return 0, fmt.Errorf("writing bundle %s: %w", out, err)
	}
	if err := f.Chmod(0o755); err != nil {
		return 0, fmt.Errorf("writing bundle %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("writing bundle %s: %w", out, err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return 0, fmt.Errorf("writing bundle: %w", err)
	}
	return t.Offset + counter.n + extract.TrailerSize, nil
}

// isBundleFile says whether the file at p is a bundle.
func isBundleFile(p string) bool {
	b, err := extract.OpenBundle(p)
	if err != nil {
		return false
	}
	b.Close()
	return true
}

// stopOnInterrupt fails a write once an interrupting signal has arrived.
type stopOnInterrupt struct{ w *interruptWatch }

func (s stopOnInterrupt) Write(p []byte) (int, error) {
	if err := s.w.Check(); err != nil {
		return 0, err
	}
	return len(p), nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// bundleSummary is what --np-help and the tests read: the manifest's
// bundle part, said in words.
func bundleSummary(m *extract.Manifest) string {
	var b bytes.Buffer
	var narSize int64
	for _, p := range m.Paths {
		narSize += p.NarSize
	}
	fmt.Fprintf(&b, "It runs %s\n", m.Bundle.Program)
	fmt.Fprintf(&b, "from the closure of %s: %s, %.1f MB unpacked.\n", strings.Join(m.Bundle.Outputs, " "), storePaths(len(m.Paths)), float64(narSize)/1e6)
	return b.String()
}

func storePaths(n int) string {
	if n == 1 {
		return "1 store path"
	}
	return fmt.Sprintf("%d store paths", n)
}
