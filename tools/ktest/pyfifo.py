# A python3 target for the named FIFO restore scenario, run in the directory that holds
# its FIFOs (made by the scenario with mkfifo):
#   q.fifo    both ends, a read end (non-blocking) and a write end, "queued" written and
#             never read;
#   cmd.fifo  opened O_RDWR, as daemons open a command FIFO (never end of file), empty;
#   out.fifo  a write end only; the scenario's reader (another process) reads it.
# It prints "ready" and counts. On SIGUSR1 it reads what q.fifo and cmd.fifo hold
# (non-blocking), writes "pong" into out.fifo and prints "fifo queued Q cmd C out sent":
# Q and C what it read ("empty" if nothing).
import os
import signal

from pycount import count_forever, say

q_read = os.open("q.fifo", os.O_RDONLY | os.O_NONBLOCK)
q_write = os.open("q.fifo", os.O_WRONLY)
os.write(q_write, b"queued")
cmd = os.open("cmd.fifo", os.O_RDWR)
os.set_blocking(cmd, False)
out = os.open("out.fifo", os.O_WRONLY)


def held(fd):
    try:
        return os.read(fd, 100).decode().strip() or "empty"
    except BlockingIOError:
        return "empty"


def on_usr1(sig, frame):
    q = held(q_read)
    c = held(cmd)
    os.write(out, b"pong\n")
    say(f"fifo queued {q} cmd {c} out sent")


count_forever({signal.SIGUSR1: on_usr1})
