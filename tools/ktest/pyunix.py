# A python3 target for the named Unix socket restore scenario: a server's sockets, restored
# on their names. Run in the directory that holds them (its working directory); holds:
#   path      stream listener bound to the relative path app.sock, chmod 0660 after bind,
#             backlog 4, with one connection it never accepted (its client closed);
#   abstract  stream listener on the abstract name "\0ckpt-ktest-unix", backlog 2;
#   dgram     datagram socket bound to dgram.sock, holding one datagram ("early").
# It prints "ready" and counts. On SIGUSR1 it prints "unix path NAME mode M accept A
# abstract NAME accept A dgram NAME held H ping P": NAME what getsockname says (the
# abstract name with "@" for its NUL), M the socket file's permission bits (octal), A
# "hello" when a client connecting now is accepted and its bytes arrive, H the datagram it
# held ("empty" if none), P "ping" when a datagram sent to its name now arrives.
import os
import signal
import socket

from pycount import accepts, count_forever, say

ABSTRACT = b"\0ckpt-ktest-unix"

path = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
path.bind("app.sock")
os.chmod("app.sock", 0o660)
path.listen(4)
pending = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
pending.connect("app.sock")
pending.close()
abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
abstract.bind(ABSTRACT)
abstract.listen(2)
dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dgram.bind("dgram.sock")
dgram.setblocking(False)
sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sender.sendto(b"early", "dgram.sock")
sender.close()


def name(s):
    n = s.getsockname()
    return "@" + n[1:].decode() if isinstance(n, bytes) else n


def on_usr1(sig, frame):
    parts = [f"unix path {name(path)} mode {os.stat('app.sock').st_mode & 0o7777:o} accept {accepts(path, socket.AF_UNIX, 'app.sock')}",
             f"abstract {name(abstract)} accept {accepts(abstract, socket.AF_UNIX, ABSTRACT)}"]
    try:
        held = dgram.recv(100).decode()
    except BlockingIOError:
        held = "empty"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"ping", "dgram.sock")
    s.close()
    dgram.settimeout(5)
    parts.append(f"dgram {name(dgram)} held {held} ping {dgram.recv(100).decode()}")
    say(" ".join(parts))


count_forever({signal.SIGUSR1: on_usr1})
