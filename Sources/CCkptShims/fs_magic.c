/* statfs(2)'s f_type, which Swift's Glibc module does not declare (<sys/vfs.h>). */
#include <sys/vfs.h>

#include "ckpt_shims.h"

long long ckpt_fs_magic(const char *path)
{
	struct statfs fs;

	if (statfs(path, &fs) != 0)
		return -1;
	return (long long)fs.f_type;
}
