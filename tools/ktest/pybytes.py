# A large python3 target for the restore scenarios: a bytearray of MIB MiB
# (argument, default 256; every MiB different) and a counter printed as
# "count N" every 0.1 s (pycount.py). On SIGUSR1 a Python-level handler prints
# "crc X", X the CRC-32 of the whole bytearray.
import os
import signal
import sys
import zlib

from pycount import count_forever, say

mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
block = os.urandom(1 << 20)
data = bytearray(block) * mib
for i in range(mib):
    data[i << 20:(i << 20) + 8] = i.to_bytes(8, "little")


def on_usr1(sig, frame):
    say(f"crc {zlib.crc32(data):08x}")


count_forever({signal.SIGUSR1: on_usr1}, ready=None)
