# A python3 target for the event descriptors scenario (eventfd, signalfd, timerfd,
# made again by the restorer from their fdinfo records):
#   efd  eventfd, counter 5
#   sem  eventfd, counter 3, EFD_SEMAPHORE | EFD_NONBLOCK
#   sfd  signalfd for SIGUSR2 (blocked), SFD_NONBLOCK
#   tfd  timerfd on CLOCK_MONOTONIC, every 0.2 s from 0.2 s, TFD_NONBLOCK
#   ep   epoll watching efd (EPOLLIN) and tfd (EPOLLIN | EPOLLET); python keeps the fd
#        as each target's data
# It prints "ready" and counts "count N" every 0.1 s. On SIGUSR1 it reads each once and
# prints "events epoll P eventfd E semaphore S signalfd G timerfd T nonblock B": P "yes"
# when an epoll wait (before the reads) finds efd and tfd ready, E and S what
# the reads return (5, and 1 for a semaphore), G the signal number a signalfd read
# returns ("none" when nothing is pending), T "yes" when the timer expired at least once
# since its last read, B "yes" when sem is still non-blocking.
import ctypes
import os
import select
import signal
import struct
import sys

from pycount import count_forever, say

libc = ctypes.CDLL(None, use_errno=True)
NONBLOCK = os.O_NONBLOCK
efd = os.eventfd(5, 0)
sem = os.eventfd(3, os.EFD_SEMAPHORE | os.EFD_NONBLOCK)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
mask = ctypes.c_uint64(1 << (signal.SIGUSR2 - 1))
sfd = libc.signalfd(-1, ctypes.byref(mask), NONBLOCK)
tfd = libc.timerfd_create(1, NONBLOCK)  # CLOCK_MONOTONIC
spec = ctypes.create_string_buffer(struct.pack("qqqq", 0, 200_000_000, 0, 200_000_000))
if sfd < 0 or tfd < 0 or libc.timerfd_settime(tfd, 0, spec, None) != 0:
    sys.exit(f"setup failed: errno {ctypes.get_errno()}")
ep = select.epoll()
ep.register(efd, select.EPOLLIN)
ep.register(tfd, select.EPOLLIN | select.EPOLLET)


def read8(fd):
    try:
        return struct.unpack("Q", os.read(fd, 8))[0]
    except BlockingIOError:
        return None


def on_usr1(sig, frame):
    ready = {fd for fd, ev in ep.poll(0.5)}
    polled = "yes" if ready == {efd, tfd} else f"no {sorted(ready)}"
    e, s, t = read8(efd), read8(sem), read8(tfd)
    try:
        signo = struct.unpack_from("I", os.read(sfd, 128))[0]
    except BlockingIOError:
        signo = "none"
    timer = "yes" if t else "no"
    nonblock = "yes" if not os.get_blocking(sem) else "no"
    say(f"events epoll {polled} eventfd {e} semaphore {s} signalfd {signo} timerfd {timer} nonblock {nonblock}")


count_forever({signal.SIGUSR1: on_usr1})
