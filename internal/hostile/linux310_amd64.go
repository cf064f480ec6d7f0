package hostile

// lastLinux310Syscall is finit_module (Linux 3.8), the highest x86_64 system
// call number of Linux 3.10; 314 (sched_setattr) came with 3.14.
const lastLinux310Syscall = 313
