# A multi-threaded target for the restore scenarios: four threads each count
# and print "thread I N" every 0.1 s (one write per line), the main thread
# waits. Run with /usr/bin/python3 (glibc: rseq, robust lists, futexes).
import sys
import threading
import time

counts = [0] * 4


def run(i):
    while True:
        counts[i] += 1
        sys.stdout.write(f"thread {i} {counts[i]}\n")
        sys.stdout.flush()
        time.sleep(0.1)


for i in range(4):
    threading.Thread(target=run, args=(i,), daemon=True).start()
while True:
    time.sleep(1)
