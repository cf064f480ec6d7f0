package sysnum

// Native is the numbers of the architecture np runs on.
var Native = X86_64
