# A python3 process tree for the tree restore scenario (t_restore_tree): the parent
# forks a child, which forks a grandchild, with pipes and a socketpair between them, each
# process holding only its own ends:
#   feed  parent -> child       the parent writes "n N" each tick; the child answers "echo N"
#   back  child, grandchild -> parent   the child's answers, and "gc N" from the grandchild
#         every 0.3 s (two writers, one reader)
#   held  parent -> child       3000 bytes written at the start, read by the child only on
#         SIGUSR1 (so they are in the pipe at the checkpoint)
#   ctl   a socketpair, parent <-> child: the child sends "hello" at once and, on SIGUSR1,
#         "held N crc X" (what it read from held); the parent reads ctl only on SIGUSR1,
#         printing "ctl M1|M2..." (so "hello" is queued in it at the checkpoint)
# The child leads a process group of its own (setpgid, as a shell's job), the grandchild a
# session of its own (setsid, as a daemon's helper). The child also prints "child N" for
# every tenth line it is fed, into the stdout it shares with the parent (one open file,
# one offset: inherited across fork).
# The parent prints "ready P C G crc X" (the three pids, the held bytes' CRC-32), then
# "count N" every 0.1 s, and every line it reads from back. SIGUSR1 to the child: it reads
# held and sends "held N crc X" on ctl; SIGUSR1 to the parent: it prints what ctl holds.
# SIGUSR2 to the parent: it kills the child (SIGTERM, on which the child exits with status
# 7) and waits for it (waitpid: only its parent can), then prints "reaped PID status S".
# With --child-uid UID the child (and so the grandchild) takes that uid and gid right
# after the fork (a root parent's worker of another user), keeping the stdout it shares
# with the parent.
# With --zombies the parent also forks two children that end at once, one with exit(5),
# one killed by SIGTERM, and leaves them zombies ("zombies Z1 Z2" after the ready line)
# until SIGUSR2, when it reaps them after the child ("reaped Z1 status 5", "reaped Z2
# status -15").
# With --zombie-group too, the exit(5) zombie led a process group of its own, and a
# member process the parent forks once it is a zombie ("member M" after the zombies
# line) is in that group, sleeping.
import os
import select
import socket
import signal
import sys
import time
import zlib

from pycount import say

feed_r, feed_w = os.pipe()
back_r, back_w = os.pipe()
held_r, held_w = os.pipe()
ctl_parent, ctl_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
payload = bytes((i * 11) & 0xFF for i in range(3000))
os.write(held_w, payload)


def lines(fd):
    """Each line read from fd, without its newline, for ever (EOF ends it)."""
    buf = b""
    while True:
        part = os.read(fd, 4096)
        if not part:
            return
        buf += part
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode()


def grandchild():
    os.setsid()
    ctl_child.close()
    os.close(feed_r)
    os.close(held_r)
    n = 0
    while True:
        n += 1
        os.write(back_w, f"gc {n}\n".encode())
        time.sleep(0.3)


def child():
    if "--child-uid" in sys.argv:
        uid = int(sys.argv[sys.argv.index("--child-uid") + 1])
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.close(feed_w)
    os.close(back_r)
    os.close(held_w)
    ctl_parent.close()
    os.setpgid(0, 0)
    if os.fork() == 0:
        grandchild()

    def on_usr1(sig, frame):
        os.set_blocking(held_r, False)
        got = b""
        try:
            while True:
                part = os.read(held_r, 65536)
                if not part:
                    break
                got += part
        except BlockingIOError:
            pass
        ctl_child.send(f"held {len(got)} crc {zlib.crc32(got):08x}".encode())

    ctl_child.send(b"hello")
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, lambda sig, frame: os._exit(7))
    for line in lines(feed_r):
        n = line.split()[1]
        os.write(back_w, f"echo {n}\n".encode())
        if int(n) % 10 == 0:
            say(f"child {n}")
    os._exit(0)


pid = os.fork()
if pid == 0:
    child()
os.close(feed_r)
os.close(back_w)
os.close(held_r)
ctl_child.close()
ctl_parent.setblocking(False)
reaped = []
zombies = []
member = None
if "--zombies" in sys.argv:
    for end in ("exit", "signal"):
        z = os.fork()
        if z == 0:
            if end == "signal":
                os.kill(os.getpid(), signal.SIGTERM)
            if "--zombie-group" in sys.argv:
                os.setpgid(0, 0)
            os._exit(5)
        zombies.append(z)
    if "--zombie-group" in sys.argv:
        # Once the exit(5) zombie is one (it led its group first), a member joins its group.
        for _ in range(200):
            with open(f"/proc/{zombies[0]}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.01)
        member = os.fork()
        if member == 0:
            for fd in (feed_w, back_r, held_w):
                os.close(fd)
            ctl_parent.close()
            os.setpgid(0, zombies[0])
            while True:
                time.sleep(0.2)


def on_usr2(sig, frame):
    os.kill(pid, signal.SIGTERM)
    for p in [pid] + zombies:
        _, status = os.waitpid(p, 0)
        reaped.append(f"reaped {p} status {os.waitstatus_to_exitcode(status)}")


signal.signal(signal.SIGUSR2, on_usr2)


def on_usr1(sig, frame):
    got = []
    try:
        while True:
            got.append(ctl_parent.recv(4096).decode())
    except BlockingIOError:
        pass
    say("ctl " + "|".join(got))


signal.signal(signal.SIGUSR1, on_usr1)
# The grandchild's pid, from the child's children (the child forks it at once).
gc = ""
for _ in range(100):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            gc = f.read().strip()
    except OSError:
        pass
    if gc:
        break
    time.sleep(0.05)
say(f"ready {os.getpid()} {pid} {gc} crc {zlib.crc32(payload):08x}")
if zombies:
    say("zombies " + " ".join(map(str, zombies)))
if member:
    say(f"member {member}")
pending = b""
count = 0
while True:
    count += 1
    say(f"count {count}")
    while reaped:
        say(reaped.pop(0))
    try:
        os.write(feed_w, f"n {count}\n".encode())
    except BrokenPipeError:
        pass
    deadline = time.monotonic() + 0.1
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([back_r], [], [], left)
        if ready:
            pending += os.read(back_r, 4096)
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                say(line.decode())
