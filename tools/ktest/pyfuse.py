# A FUSE daemon that stops answering (scenarios fuse-held-locks,
# fuse-restart-writer, fuse-epoll-fdinfo; kernel-patch/SECURITY.md, "No request
# waits on the target either"): MNT (argv[1]) holds one file, f, 4 pages of b"F".
# A READ or POLL is answered unless the path HOLD (argv[2]) exists; then it is
# left unanswered, "held read OFFSET" or "held poll" is printed, and the caller
# waits in the kernel (holding whatever it holds: the mmap lock of the process
# whose page it faults, the epoll mutex of an epoll_ctl() adding the file) until
# this daemon dies, which aborts the connection and fails the request.
#
# The raw protocol of <linux/fuse.h>, 7.31, no FUSE library: the guest has none.
# Reads are synchronous (no FUSE_ASYNC_READ) and unreadahead (max_readahead 0),
# so a fault reads exactly its page from here; opens do not keep the page cache
# (no FOPEN_KEEP_CACHE), so a new open reads the file again.
import ctypes
import errno
import os
import struct
import sys

mnt, hold = sys.argv[1], sys.argv[2]
SIZE = 4 * 4096
(LOOKUP, FORGET, GETATTR, OPEN, READ, STATFS, RELEASE, FLUSH, INIT, OPENDIR,
 RELEASEDIR, ACCESS, INTERRUPT, DESTROY, POLL, BATCH_FORGET) = (
    1, 2, 3, 14, 15, 17, 18, 25, 26, 27, 29, 34, 36, 38, 40, 42)
POLLIN = 1
NO_REPLY = (FORGET, BATCH_FORGET, INTERRUPT)


def attr(ino):
    mode, nlink, size = (0o40755, 2, 0) if ino == 1 else (0o100644, 1, SIZE)
    t = 1700000000
    # ino size blocks atime mtime ctime | atimensec mtimensec ctimensec mode
    # nlink uid gid rdev blksize flags
    return struct.pack("<QQQQQQIIIIIIIIII", ino, size, (size + 511) // 512,
                       t, t, t, 0, 0, 0, mode, nlink, 0, 0, 0, 4096, 0)


fd = os.open("/dev/fuse", os.O_RDWR)
libc = ctypes.CDLL(None, use_errno=True)
opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other".encode()
if libc.mount(b"pyfuse", mnt.encode(), b"fuse", 2 | 4, opts) != 0:  # MS_NOSUID | MS_NODEV
    sys.exit(f"mount: {os.strerror(ctypes.get_errno())}")
print("mounted", flush=True)


def reply(unique, body=b"", err=0):
    os.write(fd, struct.pack("<IiQ", 16 + len(body), -err, unique) + body)


while True:
    try:
        req = os.read(fd, 1 << 20)
    except OSError as e:
        if e.errno in (errno.EINTR, errno.ENOENT):  # ENOENT: a request interrupted
            continue
        break  # ENODEV: unmounted
    length, op, unique, node = struct.unpack_from("<IIQQ", req)
    body = req[40:length]
    if op in NO_REPLY:
        continue
    if op == INIT:
        # major minor max_readahead flags max_background congestion_threshold
        # max_write time_gran max_pages map_alignment flags2 max_stack_depth unused[6]
        reply(unique, struct.pack("<IIIIHHIIHHII24x", 7, 31, 0, 0, 16, 12, 4096, 1, 1, 0, 0, 0))
    elif op == LOOKUP:
        if node == 1 and body.rstrip(b"\0") == b"f":
            reply(unique, struct.pack("<QQQQII", 2, 1, 3600, 3600, 0, 0) + attr(2))
        else:
            reply(unique, err=errno.ENOENT)
    elif op == GETATTR:
        reply(unique, struct.pack("<QII", 3600, 0, 0) + attr(node))
    elif op in (OPEN, OPENDIR):
        reply(unique, struct.pack("<QII", 1, 0, 0))
    elif op == READ:
        _fh, offset, size = struct.unpack_from("<QQI", body)
        if os.path.exists(hold):
            print(f"held read {offset}", flush=True)
            continue
        reply(unique, b"F" * max(0, min(size, SIZE - offset)))
    elif op == POLL:
        if os.path.exists(hold):
            print("held poll", flush=True)
            continue
        reply(unique, struct.pack("<II", POLLIN, 0))  # revents, padding
    elif op == STATFS:
        reply(unique, struct.pack("<QQQQQIII4x24x", 0, 0, 0, 0, 0, 4096, 255, 4096))
    elif op in (RELEASE, RELEASEDIR, FLUSH, ACCESS):
        reply(unique)
    elif op == DESTROY:
        reply(unique)
        break
    else:
        reply(unique, err=errno.ENOSYS)
