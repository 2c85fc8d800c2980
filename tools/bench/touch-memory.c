/*
 * touch-memory MIB: writes one byte into every page of MIB MiB of anonymous memory, then
 * frees it. tools/bench/run runs it over the machine's free memory (less a margin) once
 * free page reporting is held: a VM's host backs guest memory on its first use, and a page
 * the host has never backed (or took back) costs a fault on the host the first time the
 * guest writes it. Without this, the first runs after boot or after an idle spell wrote
 * the page cache 2-5x slower than the rest (docs/benchmarks.md, "First touches, natively").
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	if (argc != 2 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: touch-memory MIB\n");
		return 64;
	}
	size_t bytes = (size_t)atol(argv[1]) << 20;
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("touch-memory: mmap");
		return 1;
	}
	for (size_t at = 0; at < bytes; at += 4096)
		p[at] = 1;
	munmap(p, bytes);
	return 0;
}
