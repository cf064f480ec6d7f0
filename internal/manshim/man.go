// Package manshim is np run as `man`, for Nix's manuals. The legacy Nix
// tools answer --help by running `man <tool>` with
// MANPATH set to a directory compiled into Nix (Debian's /usr/share/man),
// where the host has no Nix pages. So np puts itself on PATH inside as
// `man` (a link in the data dir's bin): for a page Nix carries (under
// $NIX_DATA_DIR/man, which np sets) it runs the host's man on Nix's pages,
// or, when the host has no man, prints the page as plain text itself; any
// other page goes to the host's man unchanged.
package manshim

import (
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/manpage"
	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/internal/symlink"
)

// manSections are the sections Nix's pages are in.
var manSections = []string{"1", "5", "8"}

// exitManNotFound is man's status for a page that does not exist.
const exitManNotFound = 16

// LinkMan makes np reachable as `man` in the data dir's bin.
func LinkMan(c *config.Config) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding np's own path: %w", err)
	}
	link := filepath.Join(c.DataDir.Bin(), "man")
	if t, err := os.Readlink(link); err == nil && t == self {
		return nil
	}
	if err := os.MkdirAll(c.DataDir.Bin(), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", c.DataDir.Bin(), err)
	}
	if err := symlink.Replace(self, link); err != nil {
		return fmt.Errorf("linking np as man: %w", err)
	}
	return nil
}

// Run is np called as `man`.
func Run(args []string) (syscall.WaitStatus, error) {
	pages := ""
	if d := os.Getenv("NIX_DATA_DIR"); d != "" {
		pages = filepath.Join(d, "man")
	}
	page := ""
	if len(args) == 1 && !strings.HasPrefix(args[0], "-") && pages != "" {
		page = nixPage(pages, args[0])
	}
	host := hostMan()
	switch {
	case page != "" && host != "":
		env := proc.SetEnv(os.Environ(), "MANPATH", pages)
		// man-db confines its filters with a seccomp filter of its own,
		// which refuses the calls the ptrace runtime (without seccomp)
		// turns a program's calls into: every filter fails with ENOSYS.
		// The pages are np's own, from its payload.
		env = proc.SetEnv(env, "MAN_DISABLE_SECCOMP", "1")
		if !utf8Locale(os.Getenv) {
			// Nix's pages hold characters such as "…" that groff cannot
			// render in a non-UTF-8 locale: it prints an error per
			// character. C.UTF-8 where the host has it, else np's own
			// rendering.
			if _, err := os.Stat("/usr/lib/locale/C.utf8"); err != nil {
				return showPage(page)
			}
			env = proc.SetEnv(env, "LC_ALL", "C.UTF-8")
		}
		return 0, proc.Exec([]string{"man", args[0]}, host, env)
	case page != "":
		return showPage(page)
	case host != "":
		return 0, proc.Exec(append([]string{"man"}, args...), host, os.Environ())
	}
	fmt.Fprintf(os.Stderr, "No manual entry for %s (np carries Nix's pages only, and this host has no man)\n", strings.Join(args, " "))
	return proc.ExitStatus(exitManNotFound), nil
}

// nixPage is the file of Nix's page name, or "".
func nixPage(pages, name string) string {
	if strings.Contains(name, "/") {
		return ""
	}
	for _, s := range manSections {
		f := filepath.Join(pages, "man"+s, name+"."+s+".gz")
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return ""
}

// utf8Locale says whether the locale in effect (LC_ALL, else LC_CTYPE,
// else LANG, as setlocale reads them) has UTF-8 characters.
func utf8Locale(getenv func(string) string) bool {
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v := getenv(k); v != "" {
			v = strings.ToLower(v)
			return strings.Contains(v, "utf-8") || strings.Contains(v, "utf8")
		}
	}
	return false
}

// hostMan finds a man on PATH that is not np.
func hostMan() string {
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		return ""
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			continue
		}
		f := filepath.Join(dir, "man")
		st, err := os.Stat(f)
		if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 || os.SameFile(st, self) {
			continue
		}
		return f
	}
	return ""
}

// showPage prints a gzip-compressed man page as plain text.
func showPage(file string) (syscall.WaitStatus, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("reading man page: %w", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("reading man page %s: %w", file, err)
	}
	text, err := manpage.Render(z)
	if err != nil {
		return 0, err
	}
	fmt.Print(text)
	return proc.ExitStatus(0), nil
}
