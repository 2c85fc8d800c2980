/* The kernel ABI numbers the restorer (Sources/CkptRestore) uses, named from the system
 * headers that define them: Swift's Glibc module does not export <sys/syscall.h>,
 * <sys/ptrace.h>, <sys/prctl.h>, <asm/prctl.h> or the memfd flags.
 * Enumerators, because Swift imports those (and not every macro). */
#ifndef CKPT_RESTORE_ABI_H
#define CKPT_RESTORE_ABI_H
#include <asm/prctl.h>
#include <elf.h>
#include <linux/memfd.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <linux/capability.h>
#include <linux/ioctl.h>
#include <linux/types.h>

enum {
	CKPT_SYS_MMAP = SYS_mmap,
	CKPT_SYS_MUNMAP = SYS_munmap,
	CKPT_SYS_OPEN = SYS_open,
	CKPT_SYS_CLOSE = SYS_close,
	CKPT_SYS_DUP2 = SYS_dup2,
	CKPT_SYS_LSEEK = SYS_lseek,
	CKPT_SYS_PRCTL = SYS_prctl,
	CKPT_SYS_ARCH_PRCTL = SYS_arch_prctl,
	CKPT_SYS_SETGROUPS = SYS_setgroups,
	CKPT_SYS_SETRESUID = SYS_setresuid,
	CKPT_SYS_SETRESGID = SYS_setresgid,
	CKPT_SYS_SETFSUID = SYS_setfsuid,
	CKPT_SYS_SETFSGID = SYS_setfsgid,
	CKPT_SYS_SETSID = SYS_setsid,
	CKPT_SYS_SETPGID = SYS_setpgid,
	CKPT_SYS_EXIT_GROUP = SYS_exit_group,
	CKPT_SYS_TGKILL = SYS_tgkill,
	CKPT_SYS_RT_SIGTIMEDWAIT = SYS_rt_sigtimedwait,
	CKPT_SYS_RT_SIGACTION = SYS_rt_sigaction,
	CKPT_SYS_CLONE = SYS_clone,
	CKPT_SYS_CLONE3 = SYS_clone3,
	CKPT_SYS_SIGALTSTACK = SYS_sigaltstack,
	CKPT_SYS_PIPE2 = SYS_pipe2,
	CKPT_SYS_RT_SIGQUEUEINFO = SYS_rt_sigqueueinfo,
	CKPT_SYS_RT_TGSIGQUEUEINFO = SYS_rt_tgsigqueueinfo,
	CKPT_SYS_FCNTL = SYS_fcntl,
	CKPT_SYS_WRITE = SYS_write,
	CKPT_SYS_SET_ROBUST_LIST = SYS_set_robust_list,
	CKPT_SYS_SET_TID_ADDRESS = SYS_set_tid_address,
	CKPT_SYS_RSEQ = SYS_rseq,
	CKPT_SYS_CHDIR = SYS_chdir,
	CKPT_SYS_UMASK = SYS_umask,
	CKPT_SYS_MEMFD_CREATE = SYS_memfd_create,
	CKPT_SYS_FTRUNCATE = SYS_ftruncate,
	CKPT_SYS_READ = SYS_read,
	CKPT_SYS_INOTIFY_INIT1 = SYS_inotify_init1,
	CKPT_SYS_INOTIFY_ADD_WATCH = SYS_inotify_add_watch,
	CKPT_SYS_INOTIFY_RM_WATCH = SYS_inotify_rm_watch,
	CKPT_SYS_EVENTFD2 = SYS_eventfd2,
	CKPT_SYS_SIGNALFD4 = SYS_signalfd4,
	CKPT_SYS_TIMERFD_CREATE = SYS_timerfd_create,
	CKPT_SYS_TIMERFD_SETTIME = SYS_timerfd_settime,
	CKPT_SYS_IOCTL = SYS_ioctl,
	CKPT_SYS_EPOLL_CREATE1 = SYS_epoll_create1,
	CKPT_SYS_EPOLL_CTL = SYS_epoll_ctl,
	CKPT_EPOLL_CTL_ADD = EPOLL_CTL_ADD,
	CKPT_SYS_SOCKETPAIR = SYS_socketpair,
	CKPT_SYS_SENDTO = SYS_sendto,
	CKPT_SYS_SHUTDOWN = SYS_shutdown,
	CKPT_SYS_SETSOCKOPT = SYS_setsockopt,
	CKPT_SYS_SOCKET = SYS_socket,
	CKPT_SYS_BIND = SYS_bind,
	CKPT_SYS_LISTEN = SYS_listen,
	CKPT_SYS_CONNECT = SYS_connect,
	CKPT_SYS_NEWFSTATAT = SYS_newfstatat,
	CKPT_SYS_UNLINK = SYS_unlink,
	CKPT_SYS_CHMOD = SYS_chmod,
	CKPT_SYS_LCHOWN = SYS_lchown,
	/* Written out, and checked against <netinet/in.h> and <netinet/tcp.h> at build time
	 * (restore_abi.c): included here, those headers take sys/socket.h's names (MSG_TRUNC)
	 * away from the Glibc module for the targets that import this one. */
	CKPT_IPPROTO_TCP = 6,
	CKPT_IPPROTO_UDP = 17,
	CKPT_IPPROTO_IPV6 = 41,
	CKPT_IPV6_V6ONLY = 26,
	CKPT_TCP_NODELAY = 1,
	CKPT_SYS_PERSONALITY = SYS_personality,
	CKPT_SYS_CHROOT = SYS_chroot,
	CKPT_PR_SET_DUMPABLE = PR_SET_DUMPABLE,
	CKPT_CAP_SYS_ADMIN = CAP_SYS_ADMIN,
	CKPT_CAP_CHECKPOINT_RESTORE = CAP_CHECKPOINT_RESTORE,
	/* TFD_IOC_SET_TICKS (linux/timerfd.h; glibc declares it only under _GNU_SOURCE). */
	CKPT_TFD_IOC_SET_TICKS = _IOW('T', 0, __u64),
	CKPT_EFD_SEMAPHORE = EFD_SEMAPHORE,

	CKPT_PTRACE_SEIZE = PTRACE_SEIZE,
	CKPT_PTRACE_INTERRUPT = PTRACE_INTERRUPT,
	CKPT_PTRACE_GETREGS = PTRACE_GETREGS,
	CKPT_PTRACE_SETREGS = PTRACE_SETREGS,
	CKPT_PTRACE_CONT = PTRACE_CONT,
	CKPT_PTRACE_DETACH = PTRACE_DETACH,
	CKPT_PTRACE_O_EXITKILL = PTRACE_O_EXITKILL,
	CKPT_PTRACE_O_TRACECLONE = PTRACE_O_TRACECLONE,
	CKPT_PTRACE_O_TRACEFORK = PTRACE_O_TRACEFORK,
	CKPT_PTRACE_GETREGSET = PTRACE_GETREGSET,
	CKPT_PTRACE_SETREGSET = PTRACE_SETREGSET,
	CKPT_PTRACE_SETFPREGS = PTRACE_SETFPREGS,
	CKPT_PTRACE_GETSIGMASK = PTRACE_GETSIGMASK,
	CKPT_PTRACE_SETSIGMASK = PTRACE_SETSIGMASK,
	CKPT_NT_X86_XSTATE = NT_X86_XSTATE,

	CKPT_PR_SET_MM = PR_SET_MM,
	CKPT_PR_SET_MM_MAP = PR_SET_MM_MAP,
	CKPT_PR_SET_NAME = PR_SET_NAME,
	CKPT_ARCH_MAP_VDSO_64 = ARCH_MAP_VDSO_64,
	CKPT_MFD_CLOEXEC = MFD_CLOEXEC,
	CKPT_MFD_ALLOW_SEALING = MFD_ALLOW_SEALING,
	/* fcntl(2)'s memfd seals: <fcntl.h> defines them only under _GNU_SOURCE. Written
	 * out, and checked against it at build time (restore_abi.c). */
	CKPT_F_ADD_SEALS = 1033,
	CKPT_F_GET_SEALS = 1034,
	CKPT_F_SEAL_SEAL = 0x0001,
	CKPT_F_SEAL_SHRINK = 0x0002,
	CKPT_F_SEAL_GROW = 0x0004,
	CKPT_F_SEAL_WRITE = 0x0008,
	CKPT_F_SEAL_FUTURE_WRITE = 0x0010,
	CKPT_MAP_FIXED_NOREPLACE = MAP_FIXED_NOREPLACE,
	/* A thread of the same process, as pthread_create makes one (without its
	 * CLONE_SETTLS and tid pointers: registers and set_tid_address set those). */
	CKPT_CLONE_THREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
				  CLONE_THREAD | CLONE_SYSVSEM,
	/* sizeof(struct robust_list_head) on x86-64, what set_robust_list(2) requires. */
	CKPT_ROBUST_LIST_HEAD_SIZE = 24,
};

#endif
