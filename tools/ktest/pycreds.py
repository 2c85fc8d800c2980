# A target whose threads have different credentials (the review of 2026-12-04:
# only the leader's were checked): a second thread stays root while the main
# thread sets uid/gid 1000 for itself alone, with the raw system calls (glibc's
# setresuid() changes every thread), and marks the process dumpable again (a
# credential change clears it). A uid-1000 requester then passes the leader's
# checks; the root thread's registers are not its to read.
import ctypes
import os
import threading
import time

libc = ctypes.CDLL(None, use_errno=True)
SYS_setresuid, SYS_setresgid, PR_SET_DUMPABLE = 117, 119, 4


def root_thread():
    while True:
        time.sleep(1)


threading.Thread(target=root_thread, daemon=True).start()
for nr in (SYS_setresgid, SYS_setresuid):
    if libc.syscall(nr, 1000, 1000, 1000) != 0:
        raise OSError(ctypes.get_errno(), "setres*id")
libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
print("ready", flush=True)
while True:
    time.sleep(1)
