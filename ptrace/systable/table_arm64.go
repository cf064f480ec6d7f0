package systable

// Native is the Table data of the architecture np runs on.
func Native() *Arch { return AArch64() }
