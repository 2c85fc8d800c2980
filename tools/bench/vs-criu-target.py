# The target of tools/bench/vs-criu: python3 holding MIB MiB of non-zero data in a
# bytearray and a 10 ms counter loop. Usage: python3 vs-criu-target.py MIB LOG FLAG
#
# It keeps no descriptor open on LOG (each line is appended with open/close), so a
# restored process finds nothing changed under it (CRIU refuses a regular file whose
# size changed since the dump; ckpt reopens it by path at its position).
# Lines in LOG:
#   start pid P mib M crc C      once, after the data is filled
#   tick I pid P                 every 20 iterations (~0.2 s)
#   gap G_US at I pid P          an iteration that took more than 20 ms (G_US: the whole
#                                iteration, the 10 ms sleep included): a freeze. 20 ms, not
#                                more: a pre-copy's final window can be shorter than 40 ms.
#   check I pid P crc C ok|BAD   after a gap of more than 50 ms (a restore's is seconds),
#                                when FLAG exists (the bench creates it after
#                                killing the original, so only a restored process checks):
#                                the data's CRC-32 against the one at start
import os, sys, time, zlib

mib, log, flag = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def say(line):
    with open(log, "a") as f:
        f.write(line + "\n")


data = bytearray(range(1, 256)) * ((mib << 20) // 255 + 1) if mib else bytearray(b"x")
crc0 = zlib.crc32(data)
say(f"start pid {os.getpid()} mib {mib} crc {crc0}")
i, t = 0, time.monotonic_ns()
while True:
    time.sleep(0.01)
    now = time.monotonic_ns()
    gap, t = now - t, now
    i += 1
    if gap > 20_000_000:
        say(f"gap {gap // 1000} at {i} pid {os.getpid()}")
        if gap > 50_000_000 and os.path.exists(flag):
            c = zlib.crc32(data)
            say(f"check {i} pid {os.getpid()} crc {c} {'ok' if c == crc0 else 'BAD'}")
            t = time.monotonic_ns()
    if i % 20 == 0:
        say(f"tick {i} pid {os.getpid()}")
