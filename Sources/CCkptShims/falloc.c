/* fallocate(2) with FALLOC_FL_KEEP_SIZE, which <fcntl.h> declares only under _GNU_SOURCE. */
#define _GNU_SOURCE
#include <fcntl.h>

#include "ckpt_shims.h"

int ckpt_fallocate_keep_size(int fd, long long offset, long long length)
{
	return fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}
