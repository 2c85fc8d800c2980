# A python3 target for the memfd seals scenario:
#   sealed  memfd "sealed" (MFD_ALLOW_SEALING) of 2 pages, "sealed" at page 0, mapped shared
#           read-write, then sealed F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE |
#           F_SEAL_SEAL (the mapping, made before, stays writable);
#   open    memfd "open" (MFD_ALLOW_SEALING) of 1 page, mapped, no seals (more may come);
#   plain   memfd "plain" (no MFD_ALLOW_SEALING) of 1 page, mapped: F_SEAL_SEAL only.
# It prints "ready" and counts. On SIGUSR1 it prints
#   "seals S O P data D truncate T write W store M"
# S, O, P: F_GET_SEALS of the three (hex); D the first 6 bytes of sealed's mapping; T
# "EPERM" when growing sealed fails so; W "EPERM" when write(2) to sealed fails so; M
# "ok" when a store through sealed's mapping reads back.
import errno
import fcntl
import mmap
import os
import signal

from pycount import count_forever, say

PAGE = 4096
F_SEAL_FUTURE_WRITE = 0x10  # linux/fcntl.h; python 3.11's fcntl lacks it
sealed = os.memfd_create("sealed", os.MFD_ALLOW_SEALING)
os.ftruncate(sealed, 2 * PAGE)
m_sealed = mmap.mmap(sealed, 2 * PAGE)
m_sealed[0:6] = b"sealed"
fcntl.fcntl(sealed, fcntl.F_ADD_SEALS,
            fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | F_SEAL_FUTURE_WRITE | fcntl.F_SEAL_SEAL)
opened = os.memfd_create("open", os.MFD_ALLOW_SEALING)
os.ftruncate(opened, PAGE)
m_open = mmap.mmap(opened, PAGE)
m_open[0:4] = b"open"
plain = os.memfd_create("plain", 0)
os.ftruncate(plain, PAGE)
m_plain = mmap.mmap(plain, PAGE)
m_plain[0:5] = b"plain"


def refused(call):
    try:
        call()
        return "done"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def on_usr1(sig, frame):
    seals = " ".join(f"{fcntl.fcntl(fd, fcntl.F_GET_SEALS):#x}" for fd in (sealed, opened, plain))
    m_sealed[PAGE:PAGE + 5] = b"store"
    store = "ok" if m_sealed[PAGE:PAGE + 5] == b"store" else "lost"
    say(f"seals {seals} data {m_sealed[0:6].decode()} truncate {refused(lambda: os.ftruncate(sealed, 3 * PAGE))} "
        f"write {refused(lambda: os.pwrite(sealed, b'x', 0))} store {store}")


count_forever({signal.SIGUSR1: on_usr1})
