package suggest

import "testing"

func TestClosest(t *testing.T) {
	tools := []string{"nix", "nix-build", "nix-channel", "nix-env", "nix-shell", "nix-store"}
	for word, want := range map[string]string{
		"nix-buidl":      "nix-build", // swapped neighbours: one edit
		"nix-shel":       "nix-shell",
		"nix-evn":        "nix-env",
		"nixbuild":       "nix-build",
		"nix-bulid":      "nix-build",
		"make":           "",
		"nix-frobnicate": "",
	} {
		if got := Closest(word, tools, 2); got != want {
			t.Errorf("Closest(%q) = %q, want %q", word, got, want)
		}
	}
}
