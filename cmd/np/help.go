package main

import (
	"fmt"
	goruntime "runtime"
	"sort"
	"strings"
	"syscall"

	"github.com/np-portable/np/app/install"
	"github.com/np-portable/np/app/nixenv"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/proc"
)

func commandNames() []string {
	var names []string
	for n := range commands() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usageText() string {
	var b strings.Builder
	b.WriteString(`np runs Nix on any Linux host: no installation, no root.

Usage:
  np <nix tool> [ARGS...]   run a Nix tool: ` + strings.Join(nixenv.Tools, ", ") + `
`)
	for _, n := range commandNames() {
		c := commands()[n]
		fmt.Fprintf(&b, "  %-25s %s\n", c.usage, c.summary)
	}
	b.WriteString(`  np --version              print np's version, Nix's version and the payload

A link to np named after a Nix tool (see np link) runs that tool.

Environment:
  NP_LOCATION  directory holding np's data dir .nix-portable (default: $HOME)
  NP_RUNTIME   auto (default), ns, ptrace or native (aliases bwrap, proot, nix)
  NP_DEBUG     1: debug messages, 2: trace every decision
  NP_PTRACE_NO_SECCOMP  1: the ptrace runtime traces every system call
  NP_GIT       a git binary to put on PATH inside np

Exit status: the program's own; np's own failures 125, a program that is not
executable 126, not found 127.
`)
	return b.String()
}

func cmdHelp(_ *app, args []string) (syscall.WaitStatus, error) {
	if len(args) == 0 {
		fmt.Print(usageText())
		return proc.ExitStatus(0), nil
	}
	c, ok := commands()[args[0]]
	if !ok {
		if nixenv.IsTool(args[0]) {
			fmt.Printf("np %s ARGS... runs the bundled Nix's %s; see `np %s --help`.\n", args[0], args[0], args[0])
			return proc.ExitStatus(0), nil
		}
		return 0, &usageError{fmt.Sprintf("no help for %q; commands: %s", args[0], strings.Join(commandNames(), ", "))}
	}
	fmt.Printf("Usage: %s\n\n%s\n", c.usage, c.help)
	return proc.ExitStatus(0), nil
}

// machineName is uname -m's name of the architecture np was built for,
// the name its download carries (np-aarch64) and the one users compare
// with their host's.
func machineName() string {
	switch goruntime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return goruntime.GOARCH
}

func printVersion(ap *app) (syscall.WaitStatus, error) {
	fmt.Printf("np %s (linux %s)\n", version, machineName())
	payload, err := extract.OpenPayload("/proc/self/exe")
	if err != nil {
		fmt.Printf("payload: none (%v)\n", err)
		return proc.ExitStatus(0), nil
	}
	defer payload.Close()
	// The installed manifest when there is one; before the first run the
	// payload's own (its first entry, so only its start is decompressed).
	nixVersion := "unknown"
	if c := ap.c; c != nil {
		if m := install.Installed(c, payload); m != nil {
			nixVersion = m.NixVersion
		}
	}
	if nixVersion == "unknown" {
		if m, err := extract.ReadManifest(payload); err == nil {
			nixVersion = m.NixVersion
		}
	}
	fmt.Printf("nix (Nix) %s\npayload %s\n", nixVersion, payload.Trailer.Short())
	return proc.ExitStatus(0), nil
}
