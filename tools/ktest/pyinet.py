# A python3 target for the inet restore scenario: a server's sockets, restored bound and
# listening where they were. Holds (PORT from argv[1]; argv[2] "v6" adds the IPv6 one):
#   tcp4  TCP listener on 127.0.0.1:PORT, SO_REUSEADDR and TCP_NODELAY, backlog 7,
#         non-blocking, with one connection it never accepted (its client closed);
#   tcp6  TCP listener on [::]:PORT+1, IPV6_V6ONLY (not the default: bound to a
#         specific address the kernel sets it itself), without SO_REUSEADDR;
#   udp   UDP socket bound to 127.0.0.1:PORT+2, SO_REUSEPORT, SO_KEEPALIVE and SO_RCVBUF
#         65536 (the kernel keeps twice that), holding one unread datagram ("early");
#   udpc  UDP socket connected to udp (bound by connect to a port of the kernel's choice).
# It prints "ready udpc PORT" and counts. On SIGUSR1 it prints "inet tcp4 ADDR reuseaddr R
# nodelay N nonblock B backlog-accept A tcp6 ADDR v6only V reuseaddr R backlog-accept A udp ADDR held H
# udpc ADDR peer PEER ping P": ADDR what getsockname says; H "empty" when udp holds nothing;
# A "hello" when a client connecting now is accepted and its bytes arrive (the listener
# listens); P "ping from PORT" when a datagram udpc sends now reaches udp from udpc's port;
# after "held", "reuseport R keepalive K rcvbuf B" of udp.
import signal
import socket
import sys

from pycount import accepts, count_forever, say

port = int(sys.argv[1])
v6 = len(sys.argv) > 2 and sys.argv[2] == "v6"

tcp4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp4.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
tcp4.bind(("127.0.0.1", port))
tcp4.listen(7)
tcp4.setblocking(False)
pending = socket.create_connection(("127.0.0.1", port))
pending.close()
tcp6 = None
if v6:
    tcp6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    tcp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    tcp6.bind(("::", port + 1))
    tcp6.listen(5)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
udp.bind(("127.0.0.1", port + 2))
udp.setblocking(False)
udpc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udpc.connect(("127.0.0.1", port + 2))
udpc.send(b"early")


def addr(s):
    a = s.getsockname()
    return f"[{a[0]}]:{a[1]}" if s.family == socket.AF_INET6 else f"{a[0]}:{a[1]}"


def on_usr1(sig, frame):
    opt = tcp4.getsockopt
    parts = [f"inet tcp4 {addr(tcp4)} reuseaddr {opt(socket.SOL_SOCKET, socket.SO_REUSEADDR)}",
             f"nodelay {opt(socket.IPPROTO_TCP, socket.TCP_NODELAY)} nonblock {int(not tcp4.getblocking())}"]
    # Asked before accepting: accepts() changes the blocking mode.
    parts.append(f"backlog-accept {accepts(tcp4, socket.AF_INET, ('127.0.0.1', port))}")
    if tcp6 is not None:
        parts.append(f"tcp6 {addr(tcp6)} v6only {tcp6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)} "
                     f"reuseaddr {tcp6.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)}")
        parts.append(f"backlog-accept {accepts(tcp6, socket.AF_INET6, ('::1', port + 1))}")
    try:
        held = udp.recv(100).decode()
    except BlockingIOError:
        held = "empty"
    uopt = udp.getsockopt
    parts.append(f"udp {addr(udp)} held {held} reuseport {uopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)} "
                 f"keepalive {uopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)} rcvbuf {uopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}")
    peer = udpc.getpeername()
    parts.append(f"udpc {addr(udpc)} peer {peer[0]}:{peer[1]}")
    udpc.send(b"ping")
    udp.settimeout(5)
    data, sender = udp.recvfrom(100)
    parts.append(f"{data.decode()} from {sender[1]}")
    say(" ".join(parts))


count_forever({signal.SIGUSR1: on_usr1}, ready=f"ready udpc {udpc.getsockname()[1]}")
