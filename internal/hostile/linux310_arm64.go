package hostile

// lastLinux310Syscall is finit_module (Linux 3.8), the highest arm64 (generic
// table) system call number of Linux 3.10; 274 (sched_setattr) came with 3.14.
const lastLinux310Syscall = 273
