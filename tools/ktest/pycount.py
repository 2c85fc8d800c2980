# The loop every counting python3 target of the kernel scenarios ends in (pybytes.py,
# pypipe.py, pyshared.py, pyshmem.py, pyevents.py; imported from the target's own
# directory): it installs the target's signal handlers, prints its ready line, then
# "count N" every 0.1 s for ever. A restored target must count on from its value. Also
# accepts(), the check of the socket targets (pyinet.py, pyunix.py) that a listener listens.
import os
import signal
import time


def say(line):
    # One write(2) per line, not sys.stdout: the signal handlers say() too, and
    # sys.stdout's buffer is not reentrant (a handler that runs inside its flush and
    # flushes again gets "RuntimeError: reentrant call"). CI once saw a restored
    # pyshmem.py die with a traceback in that flush. os.write holds no lock: a
    # handler's line lands whole before or after the main loop's.
    data = (line + "\n").encode()
    while data:
        data = data[os.write(1, data):]


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


def accepts(listener, family, where):
    """What a client connecting to `where` now sends ("hello"), read from the connection
    `listener` accepts: only a listening socket gives it."""
    import socket  # here: the targets that never call it map no socket module

    c = socket.socket(family, socket.SOCK_STREAM)
    c.settimeout(5)
    c.connect(where)
    c.sendall(b"hello")
    listener.settimeout(5)
    s, _ = listener.accept()
    s.settimeout(5)
    got = s.recv(100).decode()
    # The client closes first, and the server side after its FIN: the TIME_WAIT is the
    # client's, on its own port. (Server side first, it would be on a TCP listener's
    # port, which a listener without SO_REUSEADDR could not bind for a minute.)
    c.close()
    s.recv(100)
    s.close()
    return got
