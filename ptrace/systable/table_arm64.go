package systable

// Native is the Table data of the architecture np runs on.
var Native = &AArch64
