/* Starting writeback early (writeback.c): Swift's Glibc module does not set _GNU_SOURCE,
 * so sync_file_range(2) is not visible to Swift. */
#define _GNU_SOURCE
#include "ckpt_shims.h"
#include <fcntl.h>

int ckpt_start_writeback(int fd)
{
	return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}
