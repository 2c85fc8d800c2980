/* C helpers that Swift cannot express, each small and named ckpt_*.
 * Why each exists is said beside it. */
#ifndef CKPT_SHIMS_H
#define CKPT_SHIMS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt_restore_abi.h"

/* CRC-32C (Castagnoli), raw update: crc is the running register (start with ~0u,
 * finish with ~crc). Runs the SSE4.2 crc32 instruction (Swift has no intrinsics for it),
 * vpclmulqdq folding (AVX-512), or a slicing-by-8 table, whichever ran 32 KiB fastest
 * when timed at the first call: the instructions on hardware, the table under an
 * emulator that runs them slowly. */
uint32_t ckpt_crc32c_update(uint32_t crc, const void *data, size_t len);

/* 1 if ckpt_crc32c_update runs on a hardware instruction (crc32 or vpclmulqdq), for
 * benchmarks and logs; makes the choice if no update has yet. */
int ckpt_crc32c_is_hardware(void);

/* What ckpt_crc32c_update runs, for logs: "vpclmulqdq folding", "crc32 instruction" or
 * "slice-by-8 table". */
const char *ckpt_crc32c_implementation(void);

/* The rule of that choice, given the two timings: the instruction unless it was slower. */
int ckpt_crc32c_prefer_hardware(uint64_t hardware_ns, uint64_t table_ns);

/* 1 if the CPU has the SSE4.2 crc32 instruction (whether or not it is chosen). */
int ckpt_crc32c_has_instruction(void);

/* The SSE4.2 path alone, whatever the choice (the table where the CPU lacks it): what the
 * tests compare with the table, and what crcbench times as the instruction. */
uint32_t ckpt_crc32c_update_hardware(uint32_t crc, const void *data, size_t len);

/* The vpclmulqdq folding path alone, whatever the choice (the crc32 path, or the table,
 * where the CPU lacks it): what the tests compare with the table, and what crcbench times. */
uint32_t ckpt_crc32c_update_fold(uint32_t crc, const void *data, size_t len);

/* The portable table implementation alone: the reference the tests compare against. */
uint32_t ckpt_crc32c_update_portable(uint32_t crc, const void *data, size_t len);

/* recvmmsg(2) batches (recvmmsg.c): Swift cannot see struct mmsghdr / recvmmsg(),
 * which glibc declares only under _GNU_SOURCE. An opaque vector of n slots, each one
 * iovec and no sender address; ckpt_mmsg_recv returns recvmmsg's result (-1 with errno
 * set on failure). */
struct ckpt_mmsg_vec;
struct ckpt_mmsg_vec *ckpt_mmsg_alloc(unsigned int n);
void ckpt_mmsg_free(struct ckpt_mmsg_vec *v);
void ckpt_mmsg_set(struct ckpt_mmsg_vec *v, unsigned int i, void *base, size_t len);
int ckpt_mmsg_recv(int fd, struct ckpt_mmsg_vec *v, int flags);
/* The same into the first n slots only (n <= the vector's size). */
int ckpt_mmsg_recv_n(int fd, struct ckpt_mmsg_vec *v, unsigned int n, int flags);
size_t ckpt_mmsg_len(const struct ckpt_mmsg_vec *v, unsigned int i);
int ckpt_mmsg_flags(const struct ckpt_mmsg_vec *v, unsigned int i);

/* Holes in a file (holes.c): glibc declares fallocate() and SEEK_DATA/SEEK_HOLE only
 * under _GNU_SOURCE, which Swift's Glibc module does not see. `ckpt replay --pid` makes
 * pages of a shared memory object holes again with them.
 * ckpt_punch_hole: fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE); 0 or -1/errno.
 * ckpt_next_data: the first data extent at or after @from, [*start, *end): 1, or 0 when
 * there is none (ENXIO), or -1 with errno set. */
int ckpt_punch_hole(int fd, int64_t offset, int64_t len);
int ckpt_next_data(int fd, int64_t from, int64_t *start, int64_t *end);

/* Bytes of heap in use (glibc mallinfo2().uordblks; heap.c): lets tests prove a hot
 * path allocates nothing. <malloc.h> is not part of the Swift Glibc module. */
size_t ckpt_heap_in_use(void);

/* CPUs this thread may run on (cpus.c: sched_getaffinity's CPU_COUNT, a macro Swift
 * cannot call; the online count if that fails), at least 1. */
int ckpt_cpus_allowed(void);

/* Allocates [offset, offset + length) of fd without changing its size (falloc.c:
 * fallocate(2) with FALLOC_FL_KEEP_SIZE, declared only under _GNU_SOURCE): blocks beyond
 * the end of the file that writes then fill. 0, or -1 with errno. */
int ckpt_fallocate_keep_size(int fd, long long offset, long long length);

/* statfs(2)'s f_type for the file system `path` is on (TMPFS_MAGIC, ...), or -1 with errno
 * (fs_magic.c: <sys/vfs.h> is not in Swift's Glibc module). */
long long ckpt_fs_magic(const char *path);

/* PAGEMAP_SCAN on a /proc/PID/pagemap descriptor (pagemap_scan.c): the kernel walks the
 * page tables of [start, end) and fills @vec with the ranges whose pages are in every
 * category of @category (CKPT_PAGE_IS_*, the kernel's PAGE_IS_* bits), adjacent ones
 * joined, ascending. Returns how many (at most @vec_len) with *walk_end where the walk
 * stopped (@end, or earlier when @vec filled: call again from there), or -1 with errno:
 * ENOTTY before Linux 6.7 (no such ioctl), EINVAL for a category this kernel does not
 * report (soft-dirty before 6.8). */
struct ckpt_page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};
enum { CKPT_PAGE_IS_PRESENT = 1 << 3, CKPT_PAGE_IS_SOFT_DIRTY = 1 << 7 };
long ckpt_pagemap_scan(int fd, uint64_t start, uint64_t end, uint64_t category,
		       struct ckpt_page_region *vec, uint64_t vec_len, uint64_t *walk_end);

/* Moves the calling thread to SCHED_IDLE (cpus.c): <sched.h> defines SCHED_IDLE only under
 * _GNU_SOURCE. 0, or -1 with errno. */
int ckpt_sched_idle_self(void);

/* ptrace(2) as a plain syscall (ptrace.c): glibc's ptrace() is variadic, which Swift
 * cannot call. Returns the syscall's result, -1 with errno set on failure. */
long ckpt_ptrace(int request, int pid, unsigned long addr, unsigned long data);

/* process_vm_writev(2) of one local buffer to one remote range (ptrace.c): not in Swift's
 * Glibc module. Bytes written (short when a page is not writable), -1 with errno. */
ssize_t ckpt_process_vm_write(int pid, const void *local, size_t len, uint64_t remote);

/* memfd_create(2) (ptrace.c): not in Swift's Glibc module. The stub program of
 * `ckpt restore` is executed from one. */
int ckpt_memfd_create(const char *name, unsigned int flags);

/* Starts the program at @path (argv, envp) as a child with pid @pid in the caller's pid
 * namespace (clone3 with set_tid; needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN over
 * it). Returns the pid, or -1 with errno (EEXIST: the pid is taken; EPERM). The child
 * starts with every signal's disposition the default (none inherited ignored). It only
 * makes raw rt_sigaction, execve and exit calls, all async-signal-safe, so this is sound
 * in a multi-threaded caller; an execve failure exits the child with status 127. */
int ckpt_spawn_with_pid(const char *path, char *const argv[], char *const envp[], int pid);

/* What child @pid is doing, by waitid(2) with WNOHANG | WNOWAIT (ptrace.c): neither waits
 * nor takes the report, so a stop is still reported to the next wait (and to ptrace's).
 * Returns 1 stopped (*status: the signal), 2 exited (*status: its exit status), 3 killed
 * by a signal (*status: the signal), 0 none of these yet, -1 with errno (ECHILD: not a
 * child of the caller). siginfo_t's union is what Swift cannot read. */
int ckpt_child_state(int pid, int *status);

/* Arguments the restorer writes into the new process for syscalls it makes there
 * (ptrace.c), laid out by the C structs rather than by hand. Each fills @buf (@cap bytes)
 * as the bytes to place at the new process's address @at and returns how many, or 0 when
 * @cap is too small.
 * - ckpt_remote_thread_clone3: struct clone_args for clone3(2) making a thread
 *   (CKPT_CLONE_THREAD_FLAGS) with id @tid (set_tid), followed by that pid_t;
 *   the syscall's size argument is sizeof(struct clone_args): ckpt_clone_args_size().
 * - ckpt_remote_process_clone3: the same for a child process as fork(2) makes one (no
 *   flags, exit signal SIGCHLD) with pid @pid.
 * - ckpt_remote_stack_t: a stack_t for sigaltstack(2). */
/* prlimit(2) on another process (ptrace.c): glibc declares prlimit() only under
 * _GNU_SOURCE. @set (when not NULL) becomes the limit; @old (when not NULL) receives the
 * previous one. Returns 0, or -1 with errno. */
struct ckpt_rlimit {
	uint64_t soft;
	uint64_t hard;
};
int ckpt_prlimit(int pid, int resource, const struct ckpt_rlimit *set, struct ckpt_rlimit *old);

/* fcntl(2)'s F_SETPIPE_SZ (ptrace.c): <fcntl.h> defines it only under _GNU_SOURCE. */
int ckpt_f_setpipe_sz(void);

/* open(2)'s O_PATH (ptrace.c): <fcntl.h> defines it only under _GNU_SOURCE. */
int ckpt_o_path(void);

/* tgkill(2) (ptrace.c): not in Swift's Glibc module. Returns 0, or -1 with errno. */
int ckpt_tgkill(int tgid, int tid, int sig);

size_t ckpt_remote_thread_clone3(unsigned char *buf, size_t cap, uint64_t at, int tid);
size_t ckpt_remote_process_clone3(unsigned char *buf, size_t cap, uint64_t at, int pid);
size_t ckpt_clone_args_size(void);
size_t ckpt_remote_stack_t(unsigned char *buf, size_t cap, uint64_t sp, uint64_t size, int flags);

/* splice_write.c: writing a file through a pipe (vmsplice, then splice). */
struct iovec;
/* A pipe for ckpt_splice_writev: both ends close-on-exec and nonblocking, sized up to
 * 2 MiB where allowed. 0 or -errno. */
int ckpt_splice_pipe(int fds[2]);
/* Writes iov[0..count) to fd at its position through the empty pipe (pipe_r, pipe_w):
 * returns the bytes written (possibly fewer than asked: the caller loops, as for writev)
 * or -errno. On return the pipe is empty, so no page of the caller's buffers stays
 * referenced: the buffers may be reused at once. -EINVAL: fd cannot take a splice
 * (O_APPEND, no splice_write); nothing was written, write it another way. */
ssize_t ckpt_splice_writev(int pipe_r, int pipe_w, int fd, const struct iovec *iov, int count);
/* Times `bytes` written into an O_TMPFILE in dir both ways (writev, and through a pipe), best
 * of three each, alternating; the file is gone on return. 0, or -errno when the directory
 * takes no O_TMPFILE or a write fails (then both times are 0). */
int ckpt_write_probe(const char *dir, size_t bytes, uint64_t *writev_ns, uint64_t *splice_ns);

#endif
