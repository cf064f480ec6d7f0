package ptrace

// nativeArch is the table data of the architecture np runs on.
var nativeArch = archAArch64
