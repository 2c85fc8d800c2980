// SPDX-License-Identifier: GPL-2.0
/*
 * ktarget: the program the kernel tests (and the demo) checkpoint.
 *
 *   ktarget [HEAP_MIB [RESERVE_GIB]]
 *
 * Every ~100 ms it increments three counters, one in .bss, one in the first
 * word of a heap buffer of HEAP_MIB MiB (default 4, every page touched so it
 * is present), one on the stack, and prints "tick N heap H stack S". It also
 * maps 1 GiB that it never touches: a checkpoint must cost one vma record
 * for it, not 1 GiB. On SIGUSR1 it prints "digest X file F round R": an
 * FNV-1a hash of the heap past its counter (the same in every run), one of a private read-write mapping of its own
 * program file (whose first and third pages it writes: a private file mapping
 * whose copied pages lie on both sides of one of the file's own, so a checkpoint
 * that skips the file's pages must skip exactly those), and the SSE rounding mode, which it sets to round-toward-
 * zero at start (MXCSR: FPU state a restore must bring back). So a restore
 * can be checked to bring memory, the SIGUSR1 handler and the FPU state
 * back. It also ignores SIGPIPE and blocks SIGUSR2 and SIGURG, so
 * /proc/PID/status SigIgn, SigCgt and SigBlk are not the defaults, and
 * leaves SIGUSR2 pending for its thread (raise) and SIGURG for the process
 * (kill), runs its SIGUSR1 handler on an alternate signal stack and lowers
 * its RLIMIT_NOFILE: the digest line ends with the alternate stack, the
 * pending set and that limit, which a restore must bring back too, and with
 * "untouched XX", the first byte of the 1 GiB it never touches, which
 * SIGWINCH sets to 0x5a (printing "touched"): a page absent from an image
 * taken before, which `ckpt replay --pid` must put back to zero. It also
 * queues SIGRTMIN+1 twice with sigqueue (values 42 and 43), blocked; on
 * SIGHUP it takes every pending signal it blocks with sigtimedwait and prints
 * "queue" and, per signal, "SIGNO:SI_CODE:VALUE:self|other" (self: sent by
 * a process with its own pid), so a restore can be checked to keep each
 * queued signal's siginfo.
 * With RESERVE_GIB it also reserves that much PROT_READ|PROT_WRITE memory
 * and touches one page in its middle: a checkpoint must skip the rest
 * without visiting it page by page.
 * With KTARGET_STILL=1 in its environment it prints "still" once set up and
 * then waits in pause() for ever, writing no memory: SIGSTOP and SIGCONT
 * restart the call without running any of its code, so an image taken while
 * it was stopped still equals its memory after it was continued (the hold
 * scenarios). (A python3 target is not still: run on, it changes its memory
 * now and then.)
 */
#include <fcntl.h>
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long counter;
static volatile sig_atomic_t want_digest;
static volatile unsigned char *untouched_byte;
static volatile sig_atomic_t want_queue;

static void on_usr1(int sig)
{
	(void)sig;
	want_digest = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	want_queue = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	*untouched_byte = 0x5a;
	write(1, "touched\n", 8);
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n--)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}

int main(int argc, char **argv)
{
	size_t heap_len = (size_t)(argc > 1 ? atoi(argv[1]) : 4) << 20;
	struct sigaction usr1 = { .sa_handler = on_usr1, .sa_flags = SA_RESTART | SA_ONSTACK };
	stack_t alt = { .ss_size = 65536 };
	struct rlimit nofile;
	sigset_t block;
	unsigned char *file;
	int fd;
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	volatile unsigned long stack_counter = 0;
	unsigned long *heap;
	void *untouched;
	size_t i;

	if (heap_len < 4096)
		heap_len = 4096;
	heap = malloc(heap_len);
	untouched = mmap(NULL, 1UL << 30, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!heap || untouched == MAP_FAILED) {
		perror("ktarget: alloc");
		return 1;
	}
	untouched_byte = untouched;
	signal(SIGWINCH, on_winch);
	if (argc > 2) {
		size_t len = (size_t)atoi(argv[2]) << 30;
		char *big = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (big == MAP_FAILED) {
			perror("ktarget: reserve");
			return 1;
		}
		big[len / 2] = 1;
	}
	for (i = 0; i < heap_len / sizeof(*heap); i++)
		heap[i] = i * 2654435761UL;
	heap[0] = 0;
	fd = open("/proc/self/exe", O_RDONLY);
	file = fd < 0 ? MAP_FAILED : mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (file == MAP_FAILED) {
		perror("ktarget: map own program");
		return 1;
	}
	close(fd);
	alt.ss_sp = malloc(alt.ss_size);
	if (!alt.ss_sp || sigaltstack(&alt, NULL) != 0) {
		perror("ktarget: sigaltstack");
		return 1;
	}
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
		nofile.rlim_cur = 200;
		if (nofile.rlim_max > 4000)
			nofile.rlim_max = 4000;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	sigemptyset(&usr1.sa_mask);
	sigaddset(&usr1.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &usr1, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGURG);
	sigaddset(&block, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR2);
	kill(getpid(), SIGURG);
	sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ .sival_int = 42 });
	sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ .sival_int = 43 });
	signal(SIGHUP, on_hup);
	fesetround(FE_TOWARDZERO);
	memcpy(file + 64, "ktarget wrote this", 18);
	memcpy(file + 2 * 4096 + 64, "and this", 8);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("KTARGET_STILL")) {
		printf("still\n");
		for (;;)
			pause();
	}

	for (;;) {
		counter++;
		heap[0]++;
		stack_counter++;
		printf("tick %lu heap %lu stack %lu\n", counter, heap[0],
		       (unsigned long)stack_counter);
		if (want_digest) {
			stack_t now;
			sigset_t pending;

			want_digest = 0;
			sigaltstack(NULL, &now);
			sigpending(&pending);
			getrlimit(RLIMIT_NOFILE, &nofile);
			printf("digest %016llx file %016llx round %s altstack %p+%zu/%d pending%s%s nofile %llu/%llu untouched %02x\n",
			       (unsigned long long)fnv1a((void *)(heap + 1), heap_len - sizeof(*heap)),
			       (unsigned long long)fnv1a(file, 3 * 4096),
			       fegetround() == FE_TOWARDZERO ? "toward-zero" : "other",
			       now.ss_sp, now.ss_size, now.ss_flags,
			       sigismember(&pending, SIGUSR2) ? " usr2" : "",
			       sigismember(&pending, SIGURG) ? " urg" : "",
			       (unsigned long long)nofile.rlim_cur, (unsigned long long)nofile.rlim_max,
			       *untouched_byte);
		}
		if (want_queue) {
			struct timespec now = { 0, 0 };
			siginfo_t si;

			want_queue = 0;
			printf("queue");
			while (sigtimedwait(&block, &si, &now) > 0)
				printf(" %d:%d:%d:%s", si.si_signo, si.si_code, si.si_value.sival_int,
				       si.si_pid == getpid() ? "self" : "other");
			printf("\n");
		}
		nanosleep(&ts, NULL);
	}
}
