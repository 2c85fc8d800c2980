# A python3 target for the socketpair restore scenario, with something queued in each
# kind of Unix socketpair it holds:
#   a, b  a stream pair: 3000 bytes sent by a wait in b, "reply" sent by b waits in a;
#   c, d  a datagram pair: "one", an empty datagram and "two-two" sent by c wait in d;
#   e     a stream socket whose peer sent "tail" and closed: e holds "tail", then EOF.
# It prints "ready ... crc X" and counts; on SIGUSR1 it reads everything without blocking
# and prints "sock stream N crc X back B dgram D1,D2,D3,E peer-closed T,EOF live L": N
# bytes with CRC-32 X in b, B what a held, D1 D2 D3 the datagrams (D2 empty) and E
# "empty" when a fourth read finds none, T what e held and EOF "eof" when the next read ends the
# stream, L "ping" when a message sent on a now arrives at b (the pair still works).
import socket
import signal
import zlib

from pycount import count_forever, say

a, b = socket.socketpair()
c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
e, f = socket.socketpair()
payload = bytes((i * 13) & 0xFF for i in range(3000))
a.sendall(payload)
b.sendall(b"reply")
c.send(b"one")
c.send(b"")
c.send(b"two-two")
f.sendall(b"tail")
f.close()
for s in (a, b, d, e):
    s.setblocking(False)


def drain(s):
    got = b""
    try:
        while True:
            part = s.recv(65536)
            if not part:
                break
            got += part
    except BlockingIOError:
        pass
    return got


def on_usr1(sig, frame):
    stream = drain(b)
    back = drain(a).decode()
    grams = []
    for _ in range(4):
        try:
            grams.append(d.recv(100).decode())
        except BlockingIOError:
            grams.append("empty")
    tail = e.recv(100).decode()
    eof = "eof" if e.recv(100) == b"" else "more"
    a.send(b"ping")
    try:
        live = b.recv(100).decode()
    except BlockingIOError:
        live = "nothing"
    say(f"sock stream {len(stream)} crc {zlib.crc32(stream):08x} back {back} dgram {','.join(grams)} "
        f"peer-closed {tail},{eof} live {live}")


count_forever({signal.SIGUSR1: on_usr1}, ready=f"ready crc {zlib.crc32(payload):08x}")
