# A python3 target that keeps writing its memory, for the pre-copy scenarios: a
# bytearray of MIB MiB (argument, default 64) whose page p holds byte p & 0xff after
# its first 8 bytes; every millisecond it writes the step k (u64, little endian) into
# the first 8 bytes of page k % pages, so whatever a checkpoint copies while it runs
# is stale a moment later. "count N" every 100 steps (restore_and_ask waits for it).
# On SIGUSR1 it checks every page: "check ok K" when each page holds its own byte and
# the last step written to it (page k % pages may still hold k - pages: the handler can
# run between the step's increment and its write), else "check bad" and the first page
# that differs. A restored target must say "check ok".
import signal
import sys
import time

from pycount import say

PAGE = 4096
mib = int(sys.argv[1]) if len(sys.argv) > 1 else 64
pages = mib << 8
data = bytearray(mib << 20)
for p in range(pages):
    data[p * PAGE + 8:(p + 1) * PAGE] = bytes([p & 0xFF]) * (PAGE - 8)
k = 0


def expected(p):
    """The last step written to page p once step k was written (0: none yet)."""
    if k < 1:
        return 0
    last = k - ((k - p) % pages)
    return last if last >= 1 else 0


def on_usr1(sig, frame):
    for p in range(pages):
        at = p * PAGE
        v = int.from_bytes(data[at:at + 8], "little")
        fill = bytes([p & 0xFF]) * (PAGE - 8)
        ok = v == expected(p) or (p == k % pages and v == max(k - pages, 0))
        if not ok or data[at + 8:at + PAGE] != fill:
            say(f"check bad page {p} holds {v} expected {expected(p)} at step {k}")
            return
    say(f"check ok {k}")


signal.signal(signal.SIGUSR1, on_usr1)
say("ready")
while True:
    k += 1
    at = (k % pages) * PAGE
    data[at:at + 8] = k.to_bytes(8, "little")
    if k % 100 == 0:
        say(f"count {k // 100}")
    time.sleep(0.001)
