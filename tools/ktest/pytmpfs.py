# A python3 target with SIZE MiB (argv[2]) of a tmpfs file (argv[1]) mapped MAP_SHARED
# and written page by page: resident shared memory that its process counts
# (MM_SHMEMPAGES) but a checkpoint does not copy (the file holds it). Prints "ready"
# and then waits for signals, changing nothing.
import mmap
import os
import signal
import sys

size = int(sys.argv[2]) << 20
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
os.ftruncate(fd, size)
m = mmap.mmap(fd, size)
for off in range(0, size, mmap.PAGESIZE):
    m[off] = 1
print("ready", flush=True)
while True:
    signal.pause()
