# A parent and NCHILD children (argv: MIB per process, NCHILD), each holding MIB MiB of
# written data, then writing one page every 10 ms: what `ckpt checkpoint --tree` freezes.
# Prints "ready" once every process has its data.
import os, sys, time
mib, nchild = int(sys.argv[1]), int(sys.argv[2])
r, w = os.pipe()
def fill():
    return bytearray(os.urandom(1 << 20)) * mib
def loop(data):
    i = 0
    while True:
        data[(i * 4096) % len(data)] = i & 0xFF
        i += 1
        time.sleep(0.01)
for _ in range(nchild):
    if os.fork() == 0:
        d = fill()
        os.write(w, b"x")
        loop(d)
data = fill()
got = 0
while got < nchild:
    got += len(os.read(r, 64))
print("ready", flush=True)
loop(data)
