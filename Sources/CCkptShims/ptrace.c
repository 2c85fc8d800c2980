/* ptrace(2) and the x86-64 register set for the restorer (Sources/CkptRestore):
 * glibc declares ptrace() variadic, and Swift cannot call variadic C functions. */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
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
		syscall(SYS_execve, path, argv, envp);
		syscall(SYS_exit, 127);
	}
	return (int)ret;
}
