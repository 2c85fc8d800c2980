# A python3 target for the pages-of-zeros scenario (checkpoint.c ckpt_emit_data): an
# anonymous private mapping of 4 pages (page 0 starts with "A", page 1 was written and
# zeroed again: present and all zeros, page 2 all "B", page 3 never touched) and a
# private writable mapping of FILE (argv[1], 2 pages of "F"), its page 0 overwritten with
# zeros (the process's own copy: leaving it out would read the file's "F"s). It prints
# "zero-target anon 0xA file 0xF" (the mappings' addresses), "ready", then counts
# "count N" every 0.1 s. On SIGUSR1 it prints "zeros" and each page's state: "A", "zero",
# "B", "F" (every byte that one), or "mixed".
import ctypes
import mmap
import os
import signal
import sys

from pycount import count_forever, say

P = mmap.PAGESIZE
anon = mmap.mmap(-1, 4 * P, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
anon[0:1] = b"A"
anon[P:P + 1] = b"x"
anon[P:P + 1] = b"\0"
anon[2 * P:3 * P] = b"B" * P

with open(sys.argv[1], "wb") as f:
    f.write(b"F" * (2 * P))
fd = os.open(sys.argv[1], os.O_RDONLY)
fmap = mmap.mmap(fd, 2 * P, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
os.close(fd)
fmap[0:P] = bytes(P)


def state(m, page):
    data = m[page * P:(page + 1) * P]
    if data == bytes(P):
        return "zero"
    if data[:1] == b"A" and data[1:] == bytes(P - 1):
        return "A"
    if data.count(data[:1]) == P:
        return data[:1].decode()
    return "mixed"


def on_usr1(sig, frame):
    pages = [state(anon, i) for i in range(4)] + [state(fmap, i) for i in range(2)]
    say("zeros " + " ".join(pages))


address = lambda m: ctypes.addressof(ctypes.c_char.from_buffer(m))
say(f"zero-target anon {address(anon):#x} file {address(fmap):#x}")
count_forever({signal.SIGUSR1: on_usr1})
