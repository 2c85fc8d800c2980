#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>

#include "ckpt_shims.h"

int ckpt_cpus_allowed(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		int n = CPU_COUNT(&set);

		if (n > 0)
			return n;
	}
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	return online > 0 ? (int)online : 1;
}

int ckpt_sched_idle_self(void)
{
	struct sched_param param = { .sched_priority = 0 };

	/* pid 0: the calling thread only (Linux schedules threads, sched_setscheduler(2)). */
	return sched_setscheduler(0, SCHED_IDLE, &param);
}
