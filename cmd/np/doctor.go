package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/np-portable/np/app/doctor"
	"github.com/np-portable/np/internal/proc"
)

func cmdDoctor(ap *app, args []string) (syscall.WaitStatus, error) {
	asJSON := false
	for _, a := range args {
		if a != "--json" {
			return 0, &usageError{fmt.Sprintf("np doctor: unknown option %q", a)}
		}
		asJSON = true
	}
	c, err := ap.config()
	if err != nil {
		return 0, err
	}
	r := doctor.Diagnose(c, version)
	if asJSON {
		out, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return 0, fmt.Errorf("encoding report: %w", err)
		}
		fmt.Println(string(out))
	} else {
		printReport(r)
	}
	// Uses is empty when no runtime works, or when the one NP_RUNTIME pins
	// does not: every command would then fail.
	if r.Uses == "" || r.Damaged {
		return proc.ExitStatus(1), nil
	}
	return proc.ExitStatus(0), nil
}

func printReport(r *doctor.Report) {
	fmt.Printf("np %s, nix %s, payload %s\n", r.NpVersion, r.NixVersion, r.Payload)
	fmt.Printf("data dir:   %s (%s)\n", r.DataDir, r.FSType)
	state := "not installed yet (the first command installs)"
	if r.Installed {
		state = "installed"
	}
	if r.Damaged {
		state = "unusable: see the warnings below"
	}
	fmt.Printf("install:    %s\n", state)
	for _, w := range r.Warnings {
		fmt.Printf("warning:    %s\n", w)
	}
	fmt.Println("runtimes:")
	for _, rt := range r.Runtimes {
		mark := "no "
		if rt.Available {
			mark = "yes"
		}
		fmt.Printf("  %-7s %s  %s\n", rt.Name, mark, rt.Detail)
		if rt.BuildSandbox != "" {
			fmt.Printf("          Nix build sandbox: %s\n", rt.BuildSandbox)
		}
	}
	auto := string(r.Auto)
	if auto == "" {
		auto = "none"
	}
	uses := string(r.Uses)
	if uses == "" {
		uses = "none"
	}
	if r.Uses != r.Auto {
		fmt.Printf("np uses:    %s (NP_RUNTIME=%s)\n", uses, os.Getenv("NP_RUNTIME"))
	}
	fmt.Printf("auto picks: %s (%s)\n", auto, r.AutoReason)
	fmt.Printf("CA bundle:  %s\n", r.CABundle)
	keys := make([]string, 0, len(r.Facts))
	for k := range r.Facts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Println("host:")
	for _, k := range keys {
		fmt.Printf("  %s = %s\n", k, r.Facts[k])
	}
	if r.NixConf != "" {
		fmt.Printf("nix.conf (%s):\n", r.NixConfPath)
		for _, l := range strings.Split(strings.TrimRight(r.NixConf, "\n"), "\n") {
			fmt.Printf("  %s\n", l)
		}
	}
}
