/* ptrace(2) and the x86-64 register set for the restorer (Sources/CkptRestore):
 * glibc declares ptrace() variadic, and Swift cannot call variadic C functions. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt_shims.h"

int ckpt_memfd_create(const char *name, unsigned int flags)
{
	return (int)syscall(SYS_memfd_create, name, flags);
}

long ckpt_ptrace(int request, int pid, unsigned long addr, unsigned long data)
{
	return syscall(SYS_ptrace, request, pid, addr, data);
}

ssize_t ckpt_process_vm_write(int pid, const void *local, size_t len, uint64_t remote)
{
	struct iovec l = { .iov_base = (void *)local, .iov_len = len };
	struct iovec r = { .iov_base = (void *)(uintptr_t)remote, .iov_len = len };

	return syscall(SYS_process_vm_writev, pid, &l, 1UL, &r, 1UL, 0UL);
}

int ckpt_spawn_with_pid(const char *path, char *const argv[], char *const envp[], int pid)
{
	pid_t want = pid;
	struct clone_args args;
	long ret;

	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	args.set_tid = (uint64_t)(uintptr_t)&want;
	args.set_tid_size = 1;
	ret = syscall(SYS_clone3, &args, sizeof(args));
	if (ret == 0) {
		/* Every disposition to SIG_DFL, as POSIX_SPAWN_SETSIGDEF does: exec keeps
		 * ignored signals ignored, and the restorer sets only the image's others. */
		uint64_t dfl[4] = { 0, 0, 0, 0 };	/* the kernel's sigaction: SIG_DFL */

		for (int sig = 1; sig <= 64; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				syscall(SYS_rt_sigaction, sig, dfl, NULL, 8);
		syscall(SYS_execve, path, argv, envp);
		syscall(SYS_exit, 127);
	}
	return (int)ret;
}

int ckpt_child_state(int pid, int *status)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	if (waitid(P_PID, (id_t)pid, &info, WSTOPPED | WEXITED | WNOHANG | WNOWAIT) != 0)
		return -1;
	if (info.si_pid != pid)
		return 0;
	*status = info.si_status;
	switch (info.si_code) {
	case CLD_STOPPED:
		return 1;
	case CLD_EXITED:
		return 2;
	case CLD_KILLED:
	case CLD_DUMPED:
		return 3;
	default:
		return 0;
	}
}

int ckpt_prlimit(int pid, int resource, const struct ckpt_rlimit *set, struct ckpt_rlimit *old)
{
	/* prlimit64(2) takes struct rlimit64, two u64: glibc's struct rlimit on x86-64. */
	struct rlimit want, was;
	int ret;

	_Static_assert(sizeof(struct rlimit) == 2 * sizeof(uint64_t), "rlimit64 layout");

	if (set) {
		want.rlim_cur = set->soft;
		want.rlim_max = set->hard;
	}
	ret = (int)syscall(SYS_prlimit64, pid, resource, set ? &want : NULL, old ? &was : NULL);
	if (ret == 0 && old) {
		old->soft = was.rlim_cur;
		old->hard = was.rlim_max;
	}
	return ret;
}

int ckpt_f_setpipe_sz(void)
{
	return F_SETPIPE_SZ;
}

int ckpt_o_path(void)
{
	return O_PATH;
}

int ckpt_tgkill(int tgid, int tid, int sig)
{
	return (int)syscall(SYS_tgkill, tgid, tid, sig);
}

size_t ckpt_clone_args_size(void)
{
	return sizeof(struct clone_args);
}

/* struct clone_args with @flags, @exit_signal and the one id @id (set_tid), followed by
 * that pid_t, as the bytes to place at @at. */
static size_t remote_clone3(unsigned char *buf, size_t cap, uint64_t at, uint64_t flags,
			    uint64_t exit_signal, int id)
{
	struct clone_args args;
	pid_t want = id;

	if (cap < sizeof(args) + sizeof(want))
		return 0;
	memset(&args, 0, sizeof(args));
	args.flags = flags;
	args.exit_signal = exit_signal;
	args.set_tid = at + sizeof(args);
	args.set_tid_size = 1;
	memcpy(buf, &args, sizeof(args));
	memcpy(buf + sizeof(args), &want, sizeof(want));
	return sizeof(args) + sizeof(want);
}

size_t ckpt_remote_thread_clone3(unsigned char *buf, size_t cap, uint64_t at, int tid)
{
	return remote_clone3(buf, cap, at, CKPT_CLONE_THREAD_FLAGS, 0, tid);
}

size_t ckpt_remote_process_clone3(unsigned char *buf, size_t cap, uint64_t at, int pid)
{
	return remote_clone3(buf, cap, at, 0, SIGCHLD, pid);
}

size_t ckpt_remote_stack_t(unsigned char *buf, size_t cap, uint64_t sp, uint64_t size, int flags)
{
	stack_t ss;

	if (cap < sizeof(ss))
		return 0;
	memset(&ss, 0, sizeof(ss));
	ss.ss_sp = (void *)(uintptr_t)sp;
	ss.ss_size = size;
	ss.ss_flags = flags;
	memcpy(buf, &ss, sizeof(ss));
	return sizeof(ss);
}
