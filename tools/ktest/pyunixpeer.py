# python3 targets for the scenario of Unix connections to another process (run in the
# directory that holds the sockets):
#   pyunixpeer.py server  binds log.sock (datagram: every datagram it gets is appended to
#                         log.txt, one per line) and listens on srv.sock, where it accepts
#                         each connection, sends it "hi" and keeps it open; prints "ready".
#   pyunixpeer.py client  connects a datagram socket to log.sock (as a syslog client to
#                         /dev/log) and a stream socket to srv.sock, whose "hi" it leaves
#                         unread; prints "ready" and counts. On SIGUSR1 it sends "ping" to
#                         log.sock and prints "peer conn READ then END log sent": READ what
#                         the connection gives first, END "eof" when the next read gives
#                         end of file.
import os
import select
import signal
import socket
import sys

from pycount import count_forever, say


def server():
    log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    log.bind("log.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind("srv.sock")
    srv.listen(4)
    kept = []
    say("ready")
    while True:
        ready, _, _ = select.select([log, srv], [], [])
        if log in ready:
            with open("log.txt", "a") as f:
                f.write(log.recv(100).decode() + "\n")
        if srv in ready:
            c, _ = srv.accept()
            c.sendall(b"hi")
            kept.append(c)


def client():
    log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    log.connect("log.sock")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect("srv.sock")
    select.select([conn], [], [], 10)  # the server's "hi" is queued, not read

    def on_usr1(sig, frame):
        log.send(b"ping")
        conn.settimeout(5)
        first = conn.recv(100).decode()
        end = "eof" if conn.recv(100) == b"" else "data"
        say(f"peer conn {first} then {end} log sent")

    count_forever({signal.SIGUSR1: on_usr1})


{"server": server, "client": client}[sys.argv[1]]()
