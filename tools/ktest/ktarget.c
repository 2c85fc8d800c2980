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
 * for it, not 1 GiB. On SIGUSR1 it prints "digest X", an FNV-1a hash of the
 * heap, so a restore can be checked to bring the memory back exactly.
 * With RESERVE_GIB it also reserves that much PROT_READ|PROT_WRITE memory
 * and touches one page in its middle: a checkpoint must skip the rest
 * without visiting it page by page.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static volatile unsigned long counter;
static volatile sig_atomic_t want_digest;

static void on_usr1(int sig)
{
	(void)sig;
	want_digest = 1;
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
	signal(SIGUSR1, on_usr1);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (;;) {
		counter++;
		heap[0]++;
		stack_counter++;
		printf("tick %lu heap %lu stack %lu\n", counter, heap[0],
		       (unsigned long)stack_counter);
		if (want_digest) {
			want_digest = 0;
			printf("digest %016llx\n",
			       (unsigned long long)fnv1a((void *)heap, heap_len));
		}
		nanosleep(&ts, NULL);
	}
}
