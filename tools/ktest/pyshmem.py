# A python3 target for the shared memory scenarios: unnamed shared memory the
# kernel checkpoints from the object (shmem records).
#   anon: mmap.mmap(-1, 4 pages), MAP_SHARED anonymous ("/dev/zero (deleted)"):
#         "anon-A" at page 0, "anon-C" at page 2; pages 1 and 3 never touched.
#   memfd "ckpt-test" of 3 pages, mapped twice (m1, m2: one object, two vmas;
#         python keeps a dup of the fd per mapping), "memfd" at page 0 written
#         through m1; the fd is left at position 100.
# It prints "ready" and counts "count N" every 0.1 s; with the argument "fork" it forks a
# child that maps the same objects, prints "child PID", and then both wait for signals
# without doing anything else (the parent is quiescent: a replay into it rolls back
# memory that did not change), the child handling SIGUSR1 and SIGUSR2. On SIGUSR1 it writes
# "alias" through m1 at page 1 and prints
#   "shm A C holes H memfd M alias S pos P size Z"
# A, C: anon's first 6 bytes of pages 0 and 2; H "yes" when pages 1 and 3 read
# zero; M m2's first 5 bytes; S "yes" when m2 sees the write through m1; P the
# fd's position; Z the memfd's size. On SIGUSR2 it overwrites anon page 0 with
# "CHANGED" and writes into its page 1 (a replay must put both back) and prints
# "changed".
import mmap
import os
import signal
import sys

from pycount import count_forever, say

PAGE = 4096
anon = mmap.mmap(-1, 4 * PAGE)
anon[0:6] = b"anon-A"
anon[2 * PAGE:2 * PAGE + 6] = b"anon-C"
fd = os.memfd_create("ckpt-test", 0)
os.ftruncate(fd, 3 * PAGE)
m1 = mmap.mmap(fd, 3 * PAGE)
m2 = mmap.mmap(fd, 3 * PAGE)
m1[0:5] = b"memfd"
os.lseek(fd, 100, os.SEEK_SET)


def zero(m, page):
    return m[page * PAGE:(page + 1) * PAGE] == bytes(PAGE)


def on_usr1(sig, frame):
    m1[PAGE:PAGE + 5] = b"alias"
    a = anon[0:6].decode(errors="replace").replace("\0", ".")
    c = anon[2 * PAGE:2 * PAGE + 6].decode(errors="replace").replace("\0", ".")
    holes = "yes" if zero(anon, 1) and zero(anon, 3) else "no"
    m = m2[0:5].decode(errors="replace").replace("\0", ".")
    alias = "yes" if m2[PAGE:PAGE + 5] == b"alias" else "no"
    pos = os.lseek(fd, 0, os.SEEK_CUR)
    size = os.fstat(fd).st_size
    say(f"shm {a} {c} holes {holes} memfd {m} alias {alias} pos {pos} size {size}")


def on_usr2(sig, frame):
    anon[0:7] = b"CHANGED"
    anon[PAGE:PAGE + 4] = b"junk"
    say("changed")


if sys.argv[1:] == ["fork"]:
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGUSR1, on_usr1)
        signal.signal(signal.SIGUSR2, on_usr2)
    else:
        say(f"child {child}")
    while True:
        signal.pause()

count_forever({signal.SIGUSR1: on_usr1, signal.SIGUSR2: on_usr2})
