package sysnum

// Native is the numbers of the architecture np runs on (built on first use).
func Native() map[string]int { return AArch64() }
