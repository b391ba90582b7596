/*
 * The system call table, the argument fetchers and the dispatcher.
 *
 * The table is indexed by the x86-64 syscall number.  Every Linux call has
 * a name (for tracing and error messages); the ones implemented here also
 * have a handler and say how the tracer shows their arguments.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"
#include "policy.h"
#include "dunerun/abi.h"

#define NSYS 467

struct syscall {
	const char *name;
	struct sysent e;
};

/*
 * { name, { handler, how the tracer shows each argument, and the result } }.
 * Entries with a name only are Linux calls not offered here: -ENOSYS.
 * Numbers without a name (335-423 and past the end) are not Linux calls.
 */
static const struct syscall table[NSYS] = {
	[0] = { "read", { sys_read, { K_INT, K_PTR, K_ULONG }, K_LONG } },
	[1] = { "write", { sys_write, { K_INT, K_BUF, K_ULONG }, K_LONG } },
	[2] = { "open", { sys_open, { K_STR, K_HEX, K_OCT }, K_LONG } },
	[3] = { "close", { sys_close, { K_INT }, K_LONG } },
	[4] = { "stat", { sys_stat, { K_STR, K_PTR }, K_LONG } },
	[5] = { "fstat", { sys_fstat, { K_INT, K_PTR }, K_LONG } },
	[6] = { "lstat", { sys_lstat, { K_STR, K_PTR }, K_LONG } },
	[7] = { "poll", { sys_poll, { K_PTR, K_INT, K_LONG }, K_LONG } },
	[8] = { "lseek", { sys_lseek, { K_INT, K_LONG, K_HEX }, K_LONG } },
	[9] = { "mmap", { sys_mmap, { K_PTR, K_ULONG, K_HEX, K_HEX, K_INT, K_LONG }, K_HEX } },
	[10] = { "mprotect", { sys_mprotect, { K_PTR, K_ULONG, K_HEX }, K_LONG } },
	[11] = { "munmap", { sys_munmap, { K_PTR, K_ULONG }, K_LONG } },
	[12] = { "brk", { sys_brk, { K_PTR }, K_HEX } },
	[13] = { "rt_sigaction", { sys_rt_sigaction, { K_INT, K_PTR, K_PTR, K_ULONG }, K_LONG } },
	[14] = { "rt_sigprocmask", { sys_rt_sigprocmask, { K_INT, K_PTR, K_PTR, K_ULONG }, K_LONG } },
	[15] = { "rt_sigreturn" },
	[16] = { "ioctl", { sys_ioctl, { K_INT, K_HEX, K_PTR }, K_LONG } },
	[17] = { "pread64", { sys_pread64, { K_INT, K_PTR, K_ULONG, K_LONG }, K_LONG } },
	[18] = { "pwrite64", { sys_pwrite64, { K_INT, K_BUF, K_ULONG, K_LONG }, K_LONG } },
	[19] = { "readv", { sys_readv, { K_INT, K_PTR, K_INT }, K_LONG } },
	[20] = { "writev", { sys_writev, { K_INT, K_PTR, K_INT }, K_LONG } },
	[21] = { "access", { sys_access, { K_STR, K_OCT }, K_LONG } },
	[22] = { "pipe", { sys_pipe, { K_PTR }, K_LONG } },
	[23] = { "select", { sys_select, { K_INT, K_PTR, K_PTR, K_PTR, K_PTR }, K_LONG } },
	[24] = { "sched_yield", { sys_sched_yield, {  }, K_LONG } },
	[25] = { "mremap", { sys_mremap, { K_PTR, K_ULONG, K_ULONG, K_HEX, K_PTR }, K_HEX } },
	[26] = { "msync", { sys_msync, { K_PTR, K_ULONG, K_HEX }, K_LONG } },
	[27] = { "mincore" },
	[28] = { "madvise", { sys_madvise, { K_PTR, K_ULONG, K_INT }, K_LONG } },
	[29] = { "shmget" },
	[30] = { "shmat" },
	[31] = { "shmctl" },
	[32] = { "dup", { sys_dup, { K_INT }, K_LONG } },
	[33] = { "dup2", { sys_dup2, { K_INT, K_INT }, K_LONG } },
	[34] = { "pause", { sys_pause, {  }, K_LONG } },
	[35] = { "nanosleep", { sys_nanosleep, { K_PTR, K_PTR }, K_LONG } },
	[36] = { "getitimer", { sys_getitimer, { K_INT, K_PTR }, K_LONG } },
	[37] = { "alarm", { sys_alarm, { K_ULONG }, K_LONG } },
	[38] = { "setitimer", { sys_setitimer, { K_INT, K_PTR, K_PTR }, K_LONG } },
	[39] = { "getpid", { sys_getpid, {  }, K_LONG } },
	[40] = { "sendfile", { sys_sendfile, { K_INT, K_INT, K_PTR, K_ULONG }, K_LONG } },
	[41] = { "socket", { sys_socket, { K_INT, K_INT, K_INT }, K_LONG } },
	[42] = { "connect", { sys_connect, { K_INT, K_PTR, K_INT }, K_LONG } },
	[43] = { "accept", { sys_accept, { K_INT, K_PTR, K_PTR }, K_LONG } },
	[44] = { "sendto", { sys_sendto, { K_INT, K_PTR, K_ULONG, K_HEX, K_PTR, K_INT }, K_LONG } },
	[45] = { "recvfrom", { sys_recvfrom, { K_INT, K_PTR, K_ULONG, K_HEX, K_PTR, K_PTR }, K_LONG } },
	[46] = { "sendmsg", { sys_sendmsg, { K_INT, K_PTR, K_HEX }, K_LONG } },
	[47] = { "recvmsg", { sys_recvmsg, { K_INT, K_PTR, K_HEX }, K_LONG } },
	[48] = { "shutdown", { sys_shutdown, { K_INT, K_INT }, K_LONG } },
	[49] = { "bind", { sys_bind, { K_INT, K_PTR, K_INT }, K_LONG } },
	[50] = { "listen", { sys_listen, { K_INT, K_INT }, K_LONG } },
	[51] = { "getsockname", { sys_getsockname, { K_INT, K_PTR, K_PTR }, K_LONG } },
	[52] = { "getpeername", { sys_getpeername, { K_INT, K_PTR, K_PTR }, K_LONG } },
	[53] = { "socketpair", { sys_socketpair, { K_INT, K_INT, K_INT, K_PTR }, K_LONG } },
	[54] = { "setsockopt", { sys_setsockopt, { K_INT, K_INT, K_INT, K_PTR, K_INT }, K_LONG } },
	[55] = { "getsockopt", { sys_getsockopt, { K_INT, K_INT, K_INT, K_PTR, K_PTR }, K_LONG } },
	[56] = { "clone", { sys_clone, { K_HEX, K_PTR, K_PTR, K_PTR, K_HEX }, K_LONG } },
	[57] = { "fork", { sys_fork, {  }, K_LONG } },
	[58] = { "vfork", { sys_vfork, {  }, K_LONG } },
	[59] = { "execve", { sys_execve, { K_STR, K_PTR, K_PTR }, K_LONG } },
	[60] = { "exit", { sys_exit, { K_INT }, K_NONE } },
	[61] = { "wait4", { sys_wait4, { K_INT, K_PTR, K_HEX, K_PTR }, K_LONG } },
	[62] = { "kill", { sys_kill, { K_INT, K_INT }, K_LONG } },
	[63] = { "uname", { sys_uname, { K_PTR }, K_LONG } },
	[64] = { "semget" },
	[65] = { "semop" },
	[66] = { "semctl" },
	[67] = { "shmdt" },
	[68] = { "msgget" },
	[69] = { "msgsnd" },
	[70] = { "msgrcv" },
	[71] = { "msgctl" },
	[72] = { "fcntl", { sys_fcntl, { K_INT, K_HEX, K_HEX }, K_LONG } },
	[73] = { "flock", { sys_flock, { K_INT, K_HEX }, K_LONG } },
	[74] = { "fsync", { sys_fsync, { K_INT }, K_LONG } },
	[75] = { "fdatasync", { sys_fdatasync, { K_INT }, K_LONG } },
	[76] = { "truncate", { sys_truncate, { K_STR, K_LONG }, K_LONG } },
	[77] = { "ftruncate", { sys_ftruncate, { K_INT, K_LONG }, K_LONG } },
	[78] = { "getdents" },
	[79] = { "getcwd", { sys_getcwd, { K_PTR, K_ULONG }, K_LONG } },
	[80] = { "chdir", { sys_chdir, { K_STR }, K_LONG } },
	[81] = { "fchdir", { sys_fchdir, { K_INT }, K_LONG } },
	[82] = { "rename", { sys_rename, { K_STR, K_STR }, K_LONG } },
	[83] = { "mkdir", { sys_mkdir, { K_STR, K_OCT }, K_LONG } },
	[84] = { "rmdir", { sys_rmdir, { K_STR }, K_LONG } },
	[85] = { "creat", { sys_creat, { K_STR, K_OCT }, K_LONG } },
	[86] = { "link", { sys_link, { K_STR, K_STR }, K_LONG } },
	[87] = { "unlink", { sys_unlink, { K_STR }, K_LONG } },
	[88] = { "symlink", { sys_symlink, { K_STR, K_STR }, K_LONG } },
	[89] = { "readlink", { sys_readlink, { K_STR, K_PTR, K_ULONG }, K_LONG } },
	[90] = { "chmod", { sys_chmod, { K_STR, K_OCT }, K_LONG } },
	[91] = { "fchmod", { sys_fchmod, { K_INT, K_OCT }, K_LONG } },
	[92] = { "chown", { sys_chown, { K_STR, K_INT, K_INT }, K_LONG } },
	[93] = { "fchown", { sys_fchown, { K_INT, K_INT, K_INT }, K_LONG } },
	[94] = { "lchown", { sys_lchown, { K_STR, K_INT, K_INT }, K_LONG } },
	[95] = { "umask", { sys_umask, { K_OCT }, K_LONG } },
	[96] = { "gettimeofday", { sys_gettimeofday, { K_PTR, K_PTR }, K_LONG } },
	[97] = { "getrlimit", { sys_getrlimit, { K_INT, K_PTR }, K_LONG } },
	[98] = { "getrusage", { sys_getrusage, { K_INT, K_PTR }, K_LONG } },
	[99] = { "sysinfo", { sys_sysinfo, { K_PTR }, K_LONG } },
	[100] = { "times", { sys_times, { K_PTR }, K_LONG } },
	[101] = { "ptrace" },
	[102] = { "getuid", { sys_getuid, {  }, K_LONG } },
	[103] = { "syslog" },
	[104] = { "getgid", { sys_getgid, {  }, K_LONG } },
	[105] = { "setuid", { sys_setuid, { K_INT }, K_LONG } },
	[106] = { "setgid", { sys_setgid, { K_INT }, K_LONG } },
	[107] = { "geteuid", { sys_geteuid, {  }, K_LONG } },
	[108] = { "getegid", { sys_getegid, {  }, K_LONG } },
	[109] = { "setpgid", { sys_setpgid, { K_INT, K_INT }, K_LONG } },
	[110] = { "getppid", { sys_getppid, {  }, K_LONG } },
	[111] = { "getpgrp", { sys_getpgrp, {  }, K_LONG } },
	[112] = { "setsid", { sys_setsid, {  }, K_LONG } },
	[113] = { "setreuid", { sys_setreuid, { K_INT, K_INT }, K_LONG } },
	[114] = { "setregid", { sys_setregid, { K_INT, K_INT }, K_LONG } },
	[115] = { "getgroups", { sys_getgroups, { K_INT, K_PTR }, K_LONG } },
	[116] = { "setgroups", { sys_setgroups, { K_INT, K_PTR }, K_LONG } },
	[117] = { "setresuid", { sys_setresuid, { K_INT, K_INT, K_INT }, K_LONG } },
	[118] = { "getresuid", { sys_getresuid, { K_PTR, K_PTR, K_PTR }, K_LONG } },
	[119] = { "setresgid", { sys_setresgid, { K_INT, K_INT, K_INT }, K_LONG } },
	[120] = { "getresgid", { sys_getresgid, { K_PTR, K_PTR, K_PTR }, K_LONG } },
	[121] = { "getpgid", { sys_getpgid, { K_INT }, K_LONG } },
	[122] = { "setfsuid", { sys_setfsuid, { K_INT }, K_LONG } },
	[123] = { "setfsgid", { sys_setfsgid, { K_INT }, K_LONG } },
	[124] = { "getsid", { sys_getsid, { K_INT }, K_LONG } },
	[125] = { "capget" },
	[126] = { "capset" },
	[127] = { "rt_sigpending", { sys_rt_sigpending, { K_PTR, K_ULONG }, K_LONG } },
	[128] = { "rt_sigtimedwait", { sys_rt_sigtimedwait, { K_PTR, K_PTR, K_PTR, K_ULONG }, K_LONG } },
	[129] = { "rt_sigqueueinfo", { sys_rt_sigqueueinfo, { K_INT, K_INT, K_PTR }, K_LONG } },
	[130] = { "rt_sigsuspend", { sys_rt_sigsuspend, { K_PTR, K_ULONG }, K_LONG } },
	[131] = { "sigaltstack", { sys_sigaltstack, { K_PTR, K_PTR }, K_LONG } },
	[132] = { "utime" },
	[133] = { "mknod", { sys_mknod, { K_STR, K_OCT, K_HEX }, K_LONG } },
	[134] = { "uselib" },
	[135] = { "personality" },
	[136] = { "ustat" },
	[137] = { "statfs", { sys_statfs, { K_STR, K_PTR }, K_LONG } },
	[138] = { "fstatfs", { sys_fstatfs, { K_INT, K_PTR }, K_LONG } },
	[139] = { "sysfs" },
	[140] = { "getpriority", { sys_getpriority, { K_INT, K_INT }, K_LONG } },
	[141] = { "setpriority", { sys_setpriority, { K_INT, K_INT, K_INT }, K_LONG } },
	[142] = { "sched_setparam" },
	[143] = { "sched_getparam", { sys_sched_getparam, { K_INT, K_PTR }, K_LONG } },
	[144] = { "sched_setscheduler" },
	[145] = { "sched_getscheduler", { sys_sched_getscheduler, { K_INT }, K_LONG } },
	[146] = { "sched_get_priority_max" },
	[147] = { "sched_get_priority_min" },
	[148] = { "sched_rr_get_interval" },
	[149] = { "mlock" },
	[150] = { "munlock" },
	[151] = { "mlockall" },
	[152] = { "munlockall" },
	[153] = { "vhangup" },
	[154] = { "modify_ldt" },
	[155] = { "pivot_root" },
	[156] = { "_sysctl" },
	[157] = { "prctl", { sys_prctl, { K_INT, K_HEX, K_HEX, K_HEX, K_HEX }, K_LONG } },
	[158] = { "arch_prctl", { sys_arch_prctl, { K_HEX, K_PTR }, K_LONG } },
	[159] = { "adjtimex" },
	[160] = { "setrlimit", { sys_setrlimit, { K_INT, K_PTR }, K_LONG } },
	[161] = { "chroot", { sys_chroot, { K_STR }, K_LONG } },
	[162] = { "sync", { sys_sync, {  }, K_LONG } },
	[163] = { "acct" },
	[164] = { "settimeofday" },
	[165] = { "mount", { sys_mount, { K_STR, K_STR, K_STR, K_HEX, K_PTR }, K_LONG } },
	[166] = { "umount2", { sys_umount2, { K_STR, K_HEX }, K_LONG } },
	[167] = { "swapon" },
	[168] = { "swapoff" },
	[169] = { "reboot" },
	[170] = { "sethostname" },
	[171] = { "setdomainname" },
	[172] = { "iopl" },
	[173] = { "ioperm" },
	[174] = { "create_module" },
	[175] = { "init_module" },
	[176] = { "delete_module" },
	[177] = { "get_kernel_syms" },
	[178] = { "query_module" },
	[179] = { "quotactl" },
	[180] = { "nfsservctl" },
	[181] = { "getpmsg" },
	[182] = { "putpmsg" },
	[183] = { "afs_syscall" },
	[184] = { "tuxcall" },
	[185] = { "security" },
	[186] = { "gettid", { sys_gettid, {  }, K_LONG } },
	[187] = { "readahead" },
	[188] = { "setxattr", { sys_setxattr, { K_STR, K_STR, K_PTR, K_ULONG, K_HEX }, K_LONG } },
	[189] = { "lsetxattr", { sys_lsetxattr, { K_STR, K_STR, K_PTR, K_ULONG, K_HEX }, K_LONG } },
	[190] = { "fsetxattr", { sys_fsetxattr, { K_INT, K_STR, K_PTR, K_ULONG, K_HEX }, K_LONG } },
	[191] = { "getxattr", { sys_getxattr, { K_STR, K_STR, K_PTR, K_ULONG }, K_LONG } },
	[192] = { "lgetxattr", { sys_lgetxattr, { K_STR, K_STR, K_PTR, K_ULONG }, K_LONG } },
	[193] = { "fgetxattr", { sys_fgetxattr, { K_INT, K_STR, K_PTR, K_ULONG }, K_LONG } },
	[194] = { "listxattr", { sys_listxattr, { K_STR, K_PTR, K_ULONG }, K_LONG } },
	[195] = { "llistxattr", { sys_llistxattr, { K_STR, K_PTR, K_ULONG }, K_LONG } },
	[196] = { "flistxattr", { sys_flistxattr, { K_INT, K_PTR, K_ULONG }, K_LONG } },
	[197] = { "removexattr", { sys_removexattr, { K_STR, K_STR }, K_LONG } },
	[198] = { "lremovexattr", { sys_lremovexattr, { K_STR, K_STR }, K_LONG } },
	[199] = { "fremovexattr", { sys_fremovexattr, { K_INT, K_STR }, K_LONG } },
	[200] = { "tkill", { sys_tkill, { K_INT, K_INT }, K_LONG } },
	[201] = { "time", { sys_time, { K_PTR }, K_LONG } },
	[202] = { "futex", { sys_futex, { K_PTR, K_HEX, K_HEX, K_PTR, K_PTR, K_HEX }, K_LONG } },
	[203] = { "sched_setaffinity", { sys_sched_setaffinity, { K_INT, K_ULONG, K_PTR }, K_LONG } },
	[204] = { "sched_getaffinity", { sys_sched_getaffinity, { K_INT, K_ULONG, K_PTR }, K_LONG } },
	[205] = { "set_thread_area" },
	[206] = { "io_setup" },
	[207] = { "io_destroy" },
	[208] = { "io_getevents" },
	[209] = { "io_submit" },
	[210] = { "io_cancel" },
	[211] = { "get_thread_area" },
	[212] = { "lookup_dcookie" },
	[213] = { "epoll_create", { sys_epoll_create, { K_INT }, K_LONG } },
	[214] = { "epoll_ctl_old" },
	[215] = { "epoll_wait_old" },
	[216] = { "remap_file_pages" },
	[217] = { "getdents64", { sys_getdents64, { K_INT, K_PTR, K_ULONG }, K_LONG } },
	[218] = { "set_tid_address", { sys_set_tid_address, { K_PTR }, K_LONG } },
	[219] = { "restart_syscall" },
	[220] = { "semtimedop" },
	[221] = { "fadvise64", { sys_fadvise64, { K_INT, K_LONG, K_LONG, K_INT }, K_LONG } },
	[222] = { "timer_create" },
	[223] = { "timer_settime" },
	[224] = { "timer_gettime" },
	[225] = { "timer_getoverrun" },
	[226] = { "timer_delete" },
	[227] = { "clock_settime" },
	[228] = { "clock_gettime", { sys_clock_gettime, { K_INT, K_PTR }, K_LONG } },
	[229] = { "clock_getres", { sys_clock_getres, { K_INT, K_PTR }, K_LONG } },
	[230] = { "clock_nanosleep", { sys_clock_nanosleep, { K_INT, K_HEX, K_PTR, K_PTR }, K_LONG } },
	[231] = { "exit_group", { sys_exit_group, { K_INT }, K_NONE } },
	[232] = { "epoll_wait", { sys_epoll_wait, { K_INT, K_PTR, K_INT, K_INT }, K_LONG } },
	[233] = { "epoll_ctl", { sys_epoll_ctl, { K_INT, K_INT, K_INT, K_PTR }, K_LONG } },
	[234] = { "tgkill", { sys_tgkill, { K_INT, K_INT, K_INT }, K_LONG } },
	[235] = { "utimes" },
	[236] = { "vserver" },
	[237] = { "mbind" },
	[238] = { "set_mempolicy" },
	[239] = { "get_mempolicy" },
	[240] = { "mq_open" },
	[241] = { "mq_unlink" },
	[242] = { "mq_timedsend" },
	[243] = { "mq_timedreceive" },
	[244] = { "mq_notify" },
	[245] = { "mq_getsetattr" },
	[246] = { "kexec_load" },
	[247] = { "waitid", { sys_waitid, { K_INT, K_INT, K_PTR, K_HEX, K_PTR }, K_LONG } },
	[248] = { "add_key" },
	[249] = { "request_key" },
	[250] = { "keyctl" },
	[251] = { "ioprio_set" },
	[252] = { "ioprio_get" },
	[253] = { "inotify_init" },
	[254] = { "inotify_add_watch" },
	[255] = { "inotify_rm_watch" },
	[256] = { "migrate_pages" },
	[257] = { "openat", { sys_openat, { K_DIRFD, K_STR, K_HEX, K_OCT }, K_LONG } },
	[258] = { "mkdirat", { sys_mkdirat, { K_DIRFD, K_STR, K_OCT }, K_LONG } },
	[259] = { "mknodat", { sys_mknodat, { K_DIRFD, K_STR, K_OCT, K_HEX }, K_LONG } },
	[260] = { "fchownat", { sys_fchownat, { K_DIRFD, K_STR, K_INT, K_INT, K_HEX }, K_LONG } },
	[261] = { "futimesat" },
	[262] = { "newfstatat", { sys_newfstatat, { K_DIRFD, K_STR, K_PTR, K_HEX }, K_LONG } },
	[263] = { "unlinkat", { sys_unlinkat, { K_DIRFD, K_STR, K_HEX }, K_LONG } },
	[264] = { "renameat", { sys_renameat, { K_DIRFD, K_STR, K_DIRFD, K_STR }, K_LONG } },
	[265] = { "linkat", { sys_linkat, { K_DIRFD, K_STR, K_DIRFD, K_STR, K_HEX }, K_LONG } },
	[266] = { "symlinkat", { sys_symlinkat, { K_STR, K_DIRFD, K_STR }, K_LONG } },
	[267] = { "readlinkat", { sys_readlinkat, { K_DIRFD, K_STR, K_PTR, K_ULONG }, K_LONG } },
	[268] = { "fchmodat", { sys_fchmodat, { K_DIRFD, K_STR, K_OCT }, K_LONG } },
	[269] = { "faccessat", { sys_faccessat, { K_DIRFD, K_STR, K_OCT }, K_LONG } },
	[270] = { "pselect6", { sys_pselect6, { K_INT, K_PTR, K_PTR, K_PTR, K_PTR }, K_LONG } },
	[271] = { "ppoll", { sys_ppoll, { K_PTR, K_INT, K_PTR, K_PTR, K_ULONG }, K_LONG } },
	[272] = { "unshare" },
	[273] = { "set_robust_list", { sys_set_robust_list, { K_PTR, K_ULONG }, K_LONG } },
	[274] = { "get_robust_list", { sys_get_robust_list, { K_INT, K_PTR, K_PTR }, K_LONG } },
	[275] = { "splice" },
	[276] = { "tee" },
	[277] = { "sync_file_range" },
	[278] = { "vmsplice" },
	[279] = { "move_pages" },
	[280] = { "utimensat", { sys_utimensat, { K_DIRFD, K_STR, K_PTR, K_HEX }, K_LONG } },
	[281] = { "epoll_pwait", { sys_epoll_pwait, { K_INT, K_PTR, K_INT, K_INT, K_PTR, K_ULONG }, K_LONG } },
	[282] = { "signalfd" },
	[283] = { "timerfd_create" },
	[284] = { "eventfd", { sys_eventfd, { K_ULONG }, K_LONG } },
	[285] = { "fallocate", { sys_fallocate, { K_INT, K_HEX, K_LONG, K_LONG }, K_LONG } },
	[286] = { "timerfd_settime" },
	[287] = { "timerfd_gettime" },
	[288] = { "accept4", { sys_accept4, { K_INT, K_PTR, K_PTR, K_HEX }, K_LONG } },
	[289] = { "signalfd4" },
	[290] = { "eventfd2", { sys_eventfd2, { K_ULONG, K_HEX }, K_LONG } },
	[291] = { "epoll_create1", { sys_epoll_create1, { K_HEX }, K_LONG } },
	[292] = { "dup3", { sys_dup3, { K_INT, K_INT, K_HEX }, K_LONG } },
	[293] = { "pipe2", { sys_pipe2, { K_PTR, K_HEX }, K_LONG } },
	[294] = { "inotify_init1" },
	[295] = { "preadv", { sys_preadv, { K_INT, K_PTR, K_INT, K_LONG }, K_LONG } },
	[296] = { "pwritev", { sys_pwritev, { K_INT, K_PTR, K_INT, K_LONG }, K_LONG } },
	[297] = { "rt_tgsigqueueinfo" },
	[298] = { "perf_event_open" },
	[299] = { "recvmmsg" },
	[300] = { "fanotify_init" },
	[301] = { "fanotify_mark" },
	[302] = { "prlimit64", { sys_prlimit64, { K_INT, K_INT, K_PTR, K_PTR }, K_LONG } },
	[303] = { "name_to_handle_at" },
	[304] = { "open_by_handle_at" },
	[305] = { "clock_adjtime" },
	[306] = { "syncfs", { sys_syncfs, { K_INT }, K_LONG } },
	[307] = { "sendmmsg" },
	[308] = { "setns" },
	[309] = { "getcpu", { sys_getcpu, { K_PTR, K_PTR, K_PTR }, K_LONG } },
	[310] = { "process_vm_readv" },
	[311] = { "process_vm_writev" },
	[312] = { "kcmp" },
	[313] = { "finit_module" },
	[314] = { "sched_setattr" },
	[315] = { "sched_getattr" },
	[316] = { "renameat2", { sys_renameat2, { K_DIRFD, K_STR, K_DIRFD, K_STR, K_HEX }, K_LONG } },
	[317] = { "seccomp" },
	[318] = { "getrandom", { sys_getrandom, { K_PTR, K_ULONG, K_HEX }, K_LONG } },
	[319] = { "memfd_create", { sys_memfd_create, { K_STR, K_HEX }, K_LONG } },
	[320] = { "kexec_file_load" },
	[321] = { "bpf" },
	[322] = { "execveat", { sys_execveat, { K_DIRFD, K_STR, K_PTR, K_PTR, K_HEX }, K_LONG } },
	[323] = { "userfaultfd" },
	[324] = { "membarrier" },
	[325] = { "mlock2" },
	[326] = { "copy_file_range", { sys_copy_file_range, { K_INT, K_PTR, K_INT, K_PTR, K_ULONG, K_HEX }, K_LONG } },
	[327] = { "preadv2", { sys_preadv2, { K_INT, K_PTR, K_INT, K_LONG, K_HEX }, K_LONG } },
	[328] = { "pwritev2", { sys_pwritev2, { K_INT, K_PTR, K_INT, K_LONG, K_HEX }, K_LONG } },
	[329] = { "pkey_mprotect" },
	[330] = { "pkey_alloc" },
	[331] = { "pkey_free" },
	[332] = { "statx", { sys_statx, { K_DIRFD, K_STR, K_HEX, K_HEX, K_PTR }, K_LONG } },
	[333] = { "io_pgetevents" },
	[334] = { "rseq" },
	[424] = { "pidfd_send_signal" },
	[425] = { "io_uring_setup" },
	[426] = { "io_uring_enter" },
	[427] = { "io_uring_register" },
	[428] = { "open_tree" },
	[429] = { "move_mount" },
	[430] = { "fsopen" },
	[431] = { "fsconfig" },
	[432] = { "fsmount" },
	[433] = { "fspick" },
	[434] = { "pidfd_open" },
	[435] = { "clone3", { sys_clone3, { K_PTR, K_ULONG }, K_LONG } },
	[436] = { "close_range", { sys_close_range, { K_INT, K_INT, K_HEX }, K_LONG } },
	[437] = { "openat2" },
	[438] = { "pidfd_getfd" },
	[439] = { "faccessat2", { sys_faccessat2, { K_DIRFD, K_STR, K_OCT, K_HEX }, K_LONG } },
	[440] = { "process_madvise" },
	[441] = { "epoll_pwait2" },
	[442] = { "mount_setattr" },
	[443] = { "quotactl_fd" },
	[444] = { "landlock_create_ruleset" },
	[445] = { "landlock_add_rule" },
	[446] = { "landlock_restrict_self" },
	[447] = { "memfd_secret" },
	[448] = { "process_mrelease" },
	[449] = { "futex_waitv" },
	[450] = { "set_mempolicy_home_node" },
	[451] = { "cachestat" },
	[452] = { "fchmodat2" },
	[453] = { "map_shadow_stack" },
	[454] = { "futex_wake" },
	[455] = { "futex_wait" },
	[456] = { "futex_requeue" },
	[457] = { "statmount" },
	[458] = { "listmount" },
	[459] = { "lsm_get_self_attr" },
	[460] = { "lsm_set_self_attr" },
	[461] = { "lsm_list_modules" },
	[462] = { "mseal" },
	[463] = { "setxattrat" },
	[464] = { "getxattrat" },
	[465] = { "listxattrat" },
	[466] = { "removexattrat" },
};

/* The Dune calls, from DUNE_SYS_WINDOW on (include/dune.h). */
static const struct syscall dune_table[] = {
	{ "dune_window", { sys_dune_window, { 0 }, K_HEX } },
	{ "dune_batch", { sys_dune_batch, { K_PTR, K_INT }, K_LONG } },
	{ "dune_trap", { sys_dune_trap, { K_PTR, K_HEX }, K_LONG } },
};

static const struct syscall *lookup(uint64_t nr)
{
	if (nr < NSYS)
		return &table[nr];
	if (nr - DUNE_SYS_WINDOW < sizeof dune_table / sizeof dune_table[0])
		return &dune_table[nr - DUNE_SYS_WINDOW];
	return NULL;
}

const char *sys_name(uint64_t nr)
{
	const struct syscall *s = lookup(nr);

	return s ? s->name : NULL;
}

int argstr(struct proc *p, uint64_t gva, char *buf)
{
	long r = mm_copy_str(p->mm, buf, gva, PATH_MAX);
	return r < 0 ? (int)r : 0;
}

/* Parses a guest descriptor number as procfs spells it: decimal, no sign,
 * no leading zero.  Sets *end past the digits.  -1 if there is none. */
static int parse_fd(const char *s, const char **end)
{
	long n = 0;
	const char *q = s;

	while (*q >= '0' && *q <= '9' && q - s < 6)
		n = n * 10 + (*q++ - '0');
	*end = q;
	if (q == s || (*s == '0' && q - s > 1) || (*q && *q != '/'))
		return -1;
	return (int)n;
}

/* The rest of path after a prefix naming the program's own /proc
 * directory (/proc/self/, /proc/thread-self/, /proc/PID/), or NULL.  The
 * launcher's /proc entries stand in for the program's. */
static const char *proc_self(struct proc *p, const char *path)
{
	static const char *const prefix[] = { "/proc/self/", "/proc/thread-self/" };
	const char *q;
	long pid = 0;
	size_t i;

	for (i = 0; i < sizeof prefix / sizeof prefix[0]; i++)
		if (strncmp(path, prefix[i], strlen(prefix[i])) == 0)
			return path + strlen(prefix[i]);
	if (strncmp(path, "/proc/", 6) != 0)
		return NULL;
	for (q = path + 6; *q >= '0' && *q <= '9' && q - path < 16; q++)
		pid = pid * 10 + (*q - '0');
	if (q == path + 6 || *q != '/' || pid != p->pid)
		return NULL;
	return q + 1;
}

/*
 * Paths that name descriptors (/proc/self/fd/N, /dev/fd/N, /dev/stdin...)
 * would reach the launcher's descriptor N through the host's procfs.
 * They are rewritten to name the host descriptor behind the program's N,
 * and /proc/self/exe to name the program instead of the launcher.  This
 * gives programs the right files; it is not a confinement boundary (other
 * spellings of the same paths reach the launcher's procfs unchanged).
 */
static int rewrite_path(struct proc *p, struct hpath *hp)
{
	char tmp[PATH_MAX];
	const char *rest = proc_self(p, hp->path), *tail = "";
	int fd = -1, h = -1;

	if (rest) {
		if (strcmp(rest, "exe") == 0 && p->exe) {
			if (strlen(p->exe) >= PATH_MAX)
				return -ENAMETOOLONG;
			strcpy(hp->path, p->exe);
			hp->dir = AT_FDCWD; /* p->exe is relative to the launch directory */
			hp->exe = 1;
			return 0;
		}
		if (strcmp(rest, "maps") == 0)
			return procfs_maps(p, hp);
		if (strcmp(rest, "status") == 0)
			return procfs_status(p, hp);
		if (strcmp(rest, "fd") == 0 || strcmp(rest, "fd/") == 0 ||
		    strcmp(rest, "fd/.") == 0) {
			hp->fd_dir = 1;
			return 0;
		}
		if (strcmp(rest, "fd/..") == 0)
			return 0;       /* the launcher's /proc/self, as the rest */
		if (strncmp(rest, "cwd", 3) == 0 && (rest[3] == 0 || rest[3] == '/')) {
			h = p->cwd;
			tail = rest + 3;
			goto build;
		}
		if (strncmp(rest, "fd/", 3) != 0)
			return 0;
		fd = parse_fd(rest + 3, &tail);
	} else if (strncmp(hp->path, "/dev/fd/", 8) == 0) {
		fd = parse_fd(hp->path + 8, &tail);
	} else {
		static const char *const std[] = { "/dev/stdin", "/dev/stdout", "/dev/stderr" };
		size_t n = 0;
		for (fd = 0; fd < 3; fd++) {
			n = strlen(std[fd]);
			if (strncmp(hp->path, std[fd], n) == 0 &&
			    (hp->path[n] == 0 || hp->path[n] == '/'))
				break;
		}
		if (fd == 3)
			return 0;
		tail = hp->path + n;
	}
	if (fd < 0 || (h = fd_host(p, fd)) < 0)
		return -ENOENT;
build:
	if (proc_fd_path(p, h, tail, tmp, &hp->dir) < 0)
		return -ENAMETOOLONG;
	strcpy(hp->path, tmp);
	return 0;
}

int proc_fd_path(struct proc *p, int h, const char *tail, char *buf, int *dir)
{
	const char *proc = p->procfd >= 0 ? "" : "/proc/";

	*dir = p->procfd >= 0 ? p->procfd : AT_FDCWD;
	if (snprintf(buf, PATH_MAX, "%sself/fd/%d%s", proc, h, tail) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int argpath(struct proc *p, int dirfd, uint64_t gva, int accept,
	    struct hpath *hp)
{
	int r;

	hp->exe = hp->fd_dir = 0;
	if (gva == 0 && (accept & PATH_NULL)) {
		hp->path[0] = 0;
	} else if ((r = argstr(p, gva, hp->path)) < 0) {
		return r;
	}
	if (hp->path[0] == 0 && !(accept & PATH_EMPTY))
		return -ENOENT;
	if (hp->path[0] == '/') {
		/* Linux ignores dirfd for absolute paths, even a bad one. */
		hp->dir = p->cwd;
		return rewrite_path(p, hp);
	}
	if (dirfd == AT_FDCWD) {
		hp->dir = p->cwd;
		return 0;
	}
	r = fd_host(p, dirfd);
	if (r < 0)
		return r;
	hp->dir = r;
	return 0;
}

/* The calls that write file data, whose EFBIG means RLIMIT_FSIZE. */
static int writes(uint64_t nr)
{
	switch (nr) {
	case SYS_write: case SYS_writev: case SYS_pwrite64: case SYS_pwritev:
	case SYS_pwritev2: case SYS_sendfile: case SYS_copy_file_range:
	case SYS_splice: case SYS_fallocate: case SYS_ftruncate: case SYS_truncate:
		return 1;
	}
	return 0;
}

/* Whether the guest path at gva lies under /tmp, lexically: absolute,
 * below /tmp, with no ".." that could climb out.  (A symlink under /tmp
 * is followed as written; docs/policy.md says so.) */
static int tmp_path(struct proc *p, uint64_t gva)
{
	char path[PATH_MAX];
	const char *q;

	if (argstr(p, gva, path) < 0 || strncmp(path, "/tmp", 4) != 0 ||
	    (path[4] != '/' && path[4] != 0))
		return 0;
	for (q = path; (q = strstr(q, "..")) != NULL; q += 2)
		if (q[-1] == '/' && (q[2] == '/' || q[2] == 0))
			return 0;
	return 1;
}

/*
 * A shared library's code: a private, never writable mapping of a file
 * opened read-only on a read-only mount (the image's files, or a
 * read-only bind).  Loading it is part of starting a dynamic program, so
 * it needs no prot_exec; W^X holds, since neither the mapping nor the
 * file can be written, and adding PROT_EXEC later (mprotect) still needs
 * the promise.
 */
static int library_code(struct proc *p, uint64_t nr, const uint64_t arg[6])
{
	int prot = argint(arg[2]), flags = argint(arg[3]), h, mode;
	struct statfs sf;

	if (nr != SYS_mmap || !(prot & PROT_EXEC) || (prot & PROT_WRITE) ||
	    (flags & MAP_ANONYMOUS) || (flags & 0xf) != MAP_PRIVATE ||
	    (h = fd_host(p, argint(arg[4]))) < 0)
		return 0;
	mode = fcntl(h, F_GETFL);
	return mode >= 0 && (mode & O_ACCMODE) == O_RDONLY &&
	       fstatfs(h, &sf) == 0 && (sf.f_flags & ST_RDONLY);
}

static int allowed(struct proc *p, uint64_t nr, const uint64_t arg[6])
{
	unsigned paths = policy_path_args((long)nr);
	int i;

	if (policy_allows(p->policy, (long)nr, arg))
		return 1;
	if (library_code(p, nr, arg)) {
		uint64_t data[6];
		memcpy(data, arg, sizeof data);
		data[2] &= ~(uint64_t)PROT_EXEC;
		return policy_allows(p->policy, (long)nr, data);
	}
	if (!paths)
		return 0;
	for (i = 0; i < 6; i++)
		if ((paths & (1u << i)) && !tmp_path(p, arg[i]))
			return 0;
	return policy_allows_tmp(p->policy, (long)nr, arg);
}

/* Reports a denied call: once per name on stderr, every time in the
 * audit log.  Returns what the program sees. */
static long deny(struct proc *p, uint64_t nr, const uint64_t arg[6])
{
	const char *name = sys_name(nr), *promise = policy_missing(p->policy, (long)nr, arg);
	int kill = p->policy->on_deny == ON_DENY_KILL;
	char line[256], num[24];

	p->ndenied++;
	snprintf(num, sizeof num, "syscall %llu", (unsigned long long)nr);
	if (!name)
		name = num;
	if (nr >= sizeof p->denied_seen * 8 || !(p->denied_seen[nr / 8] & (1u << nr % 8))) {
		if (nr < sizeof p->denied_seen * 8)
			p->denied_seen[nr / 8] |= 1u << nr % 8;
		dprintf(p->trace_fd, "dunerun: denied: %s (%s%s)%s\n", name,
			promise ? "needs ALLOW " : "no promise allows it",
			promise ? promise : "", kill ? ": killing the program" : "");
	}
	if (p->audit_fd >= 0) {
		int n = snprintf(line, sizeof line, "{\"syscall\":\"%s\",\"nr\":%llu,"
				 "\"promise\":%s%s%s,\"action\":\"%s\"}\n", name,
				 (unsigned long long)nr, promise ? "\"" : "",
				 promise ? promise : "null", promise ? "\"" : "",
				 kill ? "kill" : "eperm");
		if (write(p->audit_fd, line, n) != n) {
			/* A full disk must not hide denials: say so once. */
			dprintf(p->trace_fd, "dunerun: cannot write the audit log\n");
			p->audit_fd = -1;
		}
	}
	if (kill)
		sig_kill(p, SIGSYS);
	return -EPERM;
}

/* A kick (SIG_KICK) for a signal that runs no handler, ignored or still
 * blocked, interrupted a host call: on Linux the call would have gone
 * on, so it is made again. */
static int spurious_eintr(struct proc *p)
{
	sig_take_host(p);
	return !p->exited && !sig_ready(p);
}

long sys_call(struct proc *p, uint64_t nr, const uint64_t arg[6])
{
	/* Unknown calls are traced with six raw arguments. */
	static const struct sysent unknown = {
		NULL, { K_HEX, K_HEX, K_HEX, K_HEX, K_HEX, K_HEX }, K_LONG
	};
	const struct syscall *s = lookup(nr);
	const struct sysent *e = s && s->e.fn ? &s->e : &unknown;
	char line[1024];
	int len = 0;
	long r;

	/* In a process with several threads, a call that would block on
	 * its descriptor parks the thread; the monitor makes it again. */
	if (thread_many(p) && thread_probe(p, nr, arg))
		goto parked;
	p->nforwarded++;
	if (p->trace)
		len = trace_begin(p, s ? s->name : NULL, nr, e, arg, line, sizeof line);
	sig_take_host(p);
	if (p->policy && !allowed(p, nr, arg)) {
		r = deny(p, nr, arg);
	} else if (e->fn) {
		do
			r = e->fn(p, arg);
		while (r == -EINTR && spurious_eintr(p));
	} else {
		p->nunknown++;
		r = -ENOSYS;
	}
	if (r == -EPARK)
		goto parked;
	/* Linux sends SIGPIPE with every EPIPE from a broken pipe; the host
	 * sent it to the launcher, which ignores it. */
	if (r == -EPIPE && !p->exited && !p->no_sigpipe)
		sig_send(p, SIGPIPE, SI_USER);
	p->no_sigpipe = 0;
	/* So does a write past RLIMIT_FSIZE, with SIGXFSZ. */
	if (r == -EFBIG && !p->exited && writes(nr)) {
		p->limit_hit = "fsize";
		sig_send(p, SIGXFSZ, SI_USER);
	}
	if (p->trace)
		trace_end(p, e, r, line, len, sizeof line);
	return r;
parked:
	/* The call's result comes when it is made again or woken. */
	if (p->trace)
		dprintf(p->trace_fd, "%s(...) parks thread %d [host]\n",
			s && s->name ? s->name : "?", (int)p->tid);
	p->threads->t[p->threads->cur].park.nr = nr;
	memcpy(p->threads->t[p->threads->cur].park.arg, arg, sizeof p->threads->t[0].park.arg);
	return -EPARK;
}
