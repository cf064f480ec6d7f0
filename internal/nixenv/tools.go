package nixenv

import "slices"

// Tools are the programs of the bundled Nix that np runs by name.
var Tools = []string{
	"nix", "nix-build", "nix-channel", "nix-collect-garbage", "nix-copy-closure",
	"nix-daemon", "nix-env", "nix-hash", "nix-instantiate", "nix-prefetch-url",
	"nix-shell", "nix-store",
}

// IsTool says whether name is one of Tools.
func IsTool(name string) bool { return slices.Contains(Tools, name) }
