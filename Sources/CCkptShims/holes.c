/* Holes in a file: fallocate(2), SEEK_DATA and SEEK_HOLE are declared by glibc only
 * under _GNU_SOURCE. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "ckpt_shims.h"

int ckpt_punch_hole(int fd, int64_t offset, int64_t len)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
}

int ckpt_next_data(int fd, int64_t from, int64_t *start, int64_t *end)
{
	off_t data = lseek(fd, from, SEEK_DATA), hole;

	if (data < 0)
		return errno == ENXIO ? 0 : -1;
	hole = lseek(fd, data, SEEK_HOLE);
	if (hole < 0)
		return -1;
	*start = data;
	*end = hole;
	return 1;
}
