package manpage

import (
	"strings"
	"testing"
)

const page = `.\" -*- mode: troff; coding: utf-8 -*-
.TH "nix-build" "1" ""
.SH Name
.LP
\f(CRnix-build\fR - build a Nix expression
.SH Synopsis
.LP
\f(CRnix-build\fR [\fIpaths…\fR]
[\f(CR--no-out-link\fR]
.SH Description
.LP
is essentially a wrapper around
.UR nix-instantiate.md
\f(CRnix-instantiate\fR
.UE
(to translate a high-level Nix expression to a low-level \c
.UR @docroot@/glossary.md
store derivation
.UE \c
) and more.
.IP "\(bu" 3
\f(CR--no-out-link\fR
.IP
Do not create a symlink.
.EX
nix-build '<nixpkgs>' -A firefox
.EE
`

func TestRenderNixPage(t *testing.T) {
	out, err := Render(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"NIX-BUILD(1)\n",
		"\nNAME\n       nix-build - build a Nix expression\n",
		"\nSYNOPSIS\n       nix-build [paths…] [--no-out-link]\n",
		"wrapper around nix-instantiate (to translate",
		"low-level store derivation) and more.",
		"       •  --no-out-link\n",
		"          Do not create a symlink.\n",
		"          nix-build '<nixpkgs>' -A firefox\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered page lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `\f`) || strings.Contains(out, ".UR") || strings.Contains(out, "docroot") {
		t.Errorf("roff left in the text:\n%s", out)
	}
}
