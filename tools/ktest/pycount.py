# The loop every counting python3 target of the kernel scenarios ends in (pybytes.py,
# pypipe.py, pyshared.py, pyshmem.py, pyevents.py; imported from the target's own
# directory): it installs the target's signal handlers, prints its ready line, then
# "count N" every 0.1 s for ever. A restored target must count on from its value.
import signal
import sys
import time


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def count_forever(handlers, ready="ready"):
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    if ready is not None:
        say(ready)
    count = 0
    while True:
        count += 1
        say(f"count {count}")
        time.sleep(0.1)
