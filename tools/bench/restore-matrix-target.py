# Five python3 targets of tools/bench/restore-matrix that tools/ktest has no program for.
# Usage: /usr/bin/python3 restore-matrix-target.py socketpair|shmem|tcp_server|unix_server|fifo_server
#
# socketpair: a unix socketpair; one 8-byte counter message is always queued in it (sent
#   one step ahead of the receive). Each 0.1 s it sends N+1 and receives N, printing
#   "count N": the counter goes round through the socket, so counting on after a restore
#   needs the socket and the message it held.
# shmem: 1 MiB of shared anonymous memory (mmap.mmap(-1, n): MAP_SHARED|MAP_ANONYMOUS),
#   filled with a pattern; its first 8 bytes hold the counter, printed as "count N" every
#   0.1 s, so counting on needs the memory back. On SIGUSR1 it prints "crc X" of the rest.
# tcp_server: a TCP listener on 127.0.0.1:47300 (SO_REUSEADDR, as servers set it); it
#   prints "count N" every 0.1 s and answers each connection with "served N", so a client
#   served after a restore needs the listener back.
# unix_server: the same on a Unix socket, /tmp/ckpt-matrix.sock (as a daemon's on /run),
#   made mode 0660 after bind; the original's socket file stays behind when it is killed.
# fifo_server: a command FIFO, /tmp/ckpt-matrix.fifo (made anew, mode 0600), held O_RDWR
#   as daemons hold theirs; it prints "count N" every 0.1 s and reads its commands only on
#   SIGUSR1, printing "got" and the words the FIFO held: a command written before the
#   checkpoint must still be there after the restore, one written by path after it too.
# Each prints "ready" first.
import mmap
import os
import select
import signal
import socket
import sys
import time
import zlib


def say(line):
    # One write(2) per line: the SIGUSR1 handler says too, and sys.stdout is not
    # reentrant (see tools/ktest/pycount.py).
    data = (line + "\n").encode()
    while data:
        data = data[os.write(1, data):]


def socketpair():
    a, b = socket.socketpair()
    a.send((1).to_bytes(8, "little"))
    say("ready")
    n = 1
    while True:
        a.send((n + 1).to_bytes(8, "little"))
        n = int.from_bytes(b.recv(8), "little")
        say(f"count {n}")
        time.sleep(0.1)


def shmem():
    size = 1 << 20
    m = mmap.mmap(-1, size)
    m[8:] = bytes((i * 13 + 5) & 0xFF for i in range(size - 8))
    signal.signal(signal.SIGUSR1, lambda s, f: say(f"crc {zlib.crc32(m[8:]):08x}"))
    say("ready")
    while True:
        n = int.from_bytes(m[0:8], "little") + 1
        m[0:8] = n.to_bytes(8, "little")
        say(f"count {n}")
        time.sleep(0.1)


def tcp_server():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 47300))
    listener.listen(8)
    serve(listener)


def serve(listener):
    say("ready")
    n = 0
    while True:
        n += 1
        say(f"count {n}")
        if select.select([listener], [], [], 0.1)[0]:
            c, _ = listener.accept()
            c.sendall(f"served {n}\n".encode())
            c.close()


def unix_server():
    path = "/tmp/ckpt-matrix.sock"
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o660)
    listener.listen(8)
    serve(listener)


def fifo_server():
    path = "/tmp/ckpt-matrix.fifo"
    if os.path.exists(path):
        os.unlink(path)
    os.mkfifo(path, 0o600)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)

    def on_usr1(sig, frame):
        try:
            words = os.read(fd, 4096).decode().split()
        except BlockingIOError:
            words = []
        say(" ".join(["got"] + words))

    signal.signal(signal.SIGUSR1, on_usr1)
    say("ready")
    n = 0
    while True:
        n += 1
        say(f"count {n}")
        time.sleep(0.1)


{"socketpair": socketpair, "shmem": shmem, "tcp_server": tcp_server, "unix_server": unix_server,
 "fifo_server": fifo_server}[sys.argv[1]]()
