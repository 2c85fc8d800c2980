# A python3 target for the shared file mapping restore scenario: FILE (argv[1])
# is made 3 pages long and mapped MAP_SHARED read-write (mmap.mmap's default),
# "before" written through the mapping at offset 0. It prints "ready" and counts
# "count N" every 0.1 s. On SIGUSR1 it writes "after" through the mapping at
# offset 4096 and prints "shared head H host X same S": H the mapping's first
# 6 bytes, X its 9 bytes at offset 8192 (where the test writes into the file
# while the process is gone), S "yes" when the mapping and the file (read with
# pread) hold the same bytes.
import mmap
import os
import signal
import sys

from pycount import count_forever, say

fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.ftruncate(fd, 3 * 4096)
m = mmap.mmap(fd, 3 * 4096)
m[0:6] = b"before"


def on_usr1(sig, frame):
    m[4096:4101] = b"after"
    same = "yes" if m[:] == os.pread(fd, 3 * 4096, 0) else "no"
    head = m[0:6].decode(errors="replace")
    host = m[8192:8201].decode(errors="replace").replace("\0", ".")
    say(f"shared head {head} host {host} same {same}")


count_forever({signal.SIGUSR1: on_usr1})
