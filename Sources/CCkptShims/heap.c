/* Heap bytes in use, for tests and benchmarks that prove a path allocates nothing:
 * glibc's mallinfo2() is declared in <malloc.h>, which the Swift Glibc module omits. */
#include <malloc.h>
#include "ckpt_shims.h"

size_t ckpt_heap_in_use(void)
{
	return mallinfo2().uordblks;
}
