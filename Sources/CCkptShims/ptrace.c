/* ptrace(2) and the x86-64 register set for the restorer (Sources/CkptRestore):
 * glibc declares ptrace() variadic, and Swift cannot call variadic C functions. */
#include <errno.h>
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
