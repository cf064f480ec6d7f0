package main

import (
	"errors"
	"slices"
	"testing"

	"github.com/np-portable/np/extract/pack"
)

func TestParseBundleArgs(t *testing.T) {
	b, err := parseBundleArgs([]string{"-f", "x.nix", "-o", "out", "--program=greet", "attr", "--compress", "fast", "--", "-o", "--program"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Out != "out" || b.Program != "greet" || b.Level != pack.Fast {
		t.Fatalf("options: %+v", b)
	}
	// Everything that is not np bundle's own goes to nix build, in order;
	// after "--" nothing is np bundle's.
	if want := []string{"-f", "x.nix", "attr", "-o", "--program"}; !slices.Equal(b.NixArgs, want) {
		t.Fatalf("nix args %q, want %q", b.NixArgs, want)
	}
	if b, _ := parseBundleArgs([]string{"nixpkgs#hello"}); b.Level != pack.Max || b.Out != "" {
		t.Fatalf("defaults: %+v", b)
	}
	for _, bad := range [][]string{{}, {"-o"}, {"--compress", "ultra", "x"}, {"--program", "a/b", "x"}, {"-o", "f"}} {
		var ue *usageError
		if _, err := parseBundleArgs(bad); !errors.As(err, &ue) {
			t.Errorf("parseBundleArgs(%q) = %v, want a usage error", bad, err)
		}
	}
}
