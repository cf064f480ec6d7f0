package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/np-portable/np/app/install"
)

const gcHelp = `Runs Nix's garbage collector on np's store (nix-store --gc). np's own Nix
stays: every np version that installed into this data dir keeps GC roots of
its own (nix/var/nix/gcroots/np/<payload>/), so a collection run by one np
never deletes another version's Nix.

--versions first forgets every other np version that used this data dir
(its install record and GC roots; the running np's are kept), so the
collection frees what only they used. A forgotten np reinstalls its Nix
when it runs again. The np versions that installed into this data dir are
the directories of DATA_DIR/nix/var/nix/gcroots/np/, one per payload (np
--version prints this np's); np gc --versions names each one it forgets.`

// cmdGC is `np gc [--versions]`.
func cmdGC(ap *app, args []string) (syscall.WaitStatus, error) {
	versions := false
	for _, a := range args {
		switch a {
		case "--versions":
			versions = true
		default:
			return 0, &usageError{fmt.Sprintf("np gc: unknown argument %q; usage: np gc [--versions]", a)}
		}
	}
	s, err := ap.session()
	if err != nil {
		return 0, err
	}
	if versions {
		keep, forgot, err := install.ForgetOthers(s.Ch.Current().NixDir())
		if err != nil {
			return 0, err
		}
		for _, fp := range forgot {
			fmt.Fprintf(os.Stderr, "np: forgot np version with payload %s\n", fp[:12])
		}
		fmt.Fprintf(os.Stderr, "np: %d other np versions forgotten; keeping payload %s (this np)\n", len(forgot), keep[:12])
	}
	return s.Exec([]string{s.M.Tool("nix-store"), "--gc"})
}
