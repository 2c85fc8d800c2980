# A python3 target for the pipe restore scenario: a pipe whose both ends it
# holds (a self-pipe, as event loops keep one), with 3000 bytes written into
# it and never read, and a second, empty pipe whose read end is non-blocking.
# It prints "ready R W R2 W2" (the fds) and counts "count N" every 0.1 s. On
# SIGUSR1 it reads what the first pipe holds (non-blocking) and prints
# "pipe N crc X empty E": N bytes, X their CRC-32, E "yes" when the second
# pipe's read end still reports EAGAIN (empty and non-blocking).
import fcntl
import os
import signal
import zlib

from pycount import count_forever, say

r, w = os.pipe()
r2, w2 = os.pipe()
os.set_blocking(r2, False)
payload = bytes((i * 7) & 0xFF for i in range(3000))
os.write(w, payload)


def on_usr1(sig, frame):
    os.set_blocking(r, False)
    got = b""
    try:
        while True:
            part = os.read(r, 65536)
            if not part:
                break
            got += part
    except BlockingIOError:
        pass
    try:
        os.read(r2, 1)
        empty = "no"
    except BlockingIOError:
        empty = "yes"
    say(f"pipe {len(got)} crc {zlib.crc32(got):08x} empty {empty}")


count_forever({signal.SIGUSR1: on_usr1}, ready=f"ready {r} {w} {r2} {w2} expect 3000 crc {zlib.crc32(payload):08x}")
