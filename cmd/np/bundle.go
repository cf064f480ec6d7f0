package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/np-portable/np/app/bundle"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/extract/pack"
	"github.com/np-portable/np/internal/proc"
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
	bundle.Options
	wantHelp bool
}

// parseBundleArgs takes np bundle's own options from anywhere before "--"
// and leaves everything else, in order, for nix build.
func parseBundleArgs(args []string) (*bundleArgs, error) {
	b := &bundleArgs{Options: bundle.Options{Level: pack.Max}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			b.NixArgs = append(b.NixArgs, args[i+1:]...)
			break
		}
		name, val, hasVal := strings.Cut(a, "=")
		switch name {
		case "-h", "--help":
			b.wantHelp = true
			continue
		case "-o", "--output", "--program", "--compress":
		default:
			b.NixArgs = append(b.NixArgs, a)
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
			b.Out = val
		case "--program":
			if val == "" || strings.Contains(val, "/") {
				return nil, &usageError{fmt.Sprintf("np bundle: --program %q is not a program name (a file name in bin/)", val)}
			}
			b.Program = val
		case "--compress":
			switch val {
			case "fast":
				b.Level = pack.Fast
			case "max":
				b.Level = pack.Max
			default:
				return nil, &usageError{fmt.Sprintf("np bundle: --compress %q is not a level; valid values: fast, max", val)}
			}
		}
	}
	if !b.wantHelp && len(b.NixArgs) == 0 {
		return nil, &usageError{"np bundle needs an installable: a flake reference, -f FILE ATTR, --expr EXPR or a store path"}
	}
	return b, nil
}

func cmdBundle(ap *app, args []string) (syscall.WaitStatus, error) {
	b, err := parseBundleArgs(args)
	if err != nil {
		return 0, err
	}
	if b.wantHelp {
		fmt.Printf("Usage: np bundle [-o FILE] [--program NAME] [--compress fast|max] INSTALLABLE\n\n%s\n", bundleHelpText)
		return proc.ExitStatus(0), nil
	}
	s, err := ap.session()
	if err != nil {
		return 0, err
	}
	w, err := bundle.Make(s, b.Options)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "np: %s\n", w.Summary())
	return proc.ExitStatus(0), nil
}

// runBundle is main's job when this executable is a bundle (package
// bundle).
func runBundle(ap *app, p *extract.Payload, args []string) (syscall.WaitStatus, error) {
	c, err := ap.config()
	if err != nil {
		p.Close()
		return 0, err
	}
	return bundle.Run(c, p, args, callerFDs(), version)
}
