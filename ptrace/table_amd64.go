package ptrace

// nativeArch is the table data of the architecture np runs on.
var nativeArch = archX86_64
