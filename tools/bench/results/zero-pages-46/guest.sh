#!/bin/bash
# A target half of whose memory is pages of zeros, ckpt against CRIU (session 46, one-off):
# python3 fills 64 MiB with non-zero bytes, then writes zeros over its first 32 MiB (pages
# present, all zeros: a buffer cleared for reuse). ckpt checkpoints one copy (--stop) and
# restores it after killing it; CRIU dumps a second copy (--leave-running); ckpt
# checkpoints a third with --pre-copy and restores it. Each prints the data's CRC-32 when
# it starts and on SIGUSR1, so the restored copies' can be compared.
# Run: tools/qemu/run-guest --kernel 6.12 --mem 2048 --share /var/tmp/zero46 -- \
#        bash /work/main/tools/bench/results/zero-pages-46/guest.sh
set -u
OUT=/var/tmp/zero46
modprobe libcrc32c; insmod /work/main/.build-release/ckpt-6.12.118+deb12-amd64.ko || exit 1
source /work/main/tools/bench/criu-modules.sh; load_criu_modules echo >/dev/null
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
CK=/work/main/.build-release/release/ckpt
mkdir -p /tmp/ckpt-img /tmp/criu-img
$CK listen --dir /tmp/ckpt-img --status never 2>$OUT/listen.log &
sleep 3
target='
import os, signal, sys, time, zlib
d = bytearray(range(1, 256)) * ((64 << 20) // 255 + 1)
d[: 32 << 20] = bytes(32 << 20)
def say(*_):
    with open(sys.argv[1], "a") as f:
        f.write(f"crc {zlib.crc32(d)} pid {os.getpid()}\n")
signal.signal(signal.SIGUSR1, say)
say()
while True:
    time.sleep(0.1)
'
for t in 1 2 3; do
	: >/tmp/t$t.log
	setsid /usr/bin/python3 -c "$target" /tmp/t$t.log </dev/null >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 1 600); do grep -q "^crc" /tmp/t$t.log && break; sleep 0.1; done
	if [ $t = 1 ]; then
		$CK checkpoint $pid --stop --wait /tmp/ckpt-img >$OUT/ckpt.out 2>&1
		img=$(sed -n 's/^image //p' $OUT/ckpt.out)
		ls -l $img >$OUT/ckpt-size.txt
		$CK show $img >$OUT/ckpt-show.txt 2>&1
		kill -9 $pid; sleep 0.5
		$CK restore $img >$OUT/ckpt-restore.out 2>&1
		np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' $OUT/ckpt-restore.out)
		sleep 1; kill -USR1 $np; sleep 2
		cp /tmp/t1.log $OUT/ckpt-target.log
		kill -9 $np
	elif [ $t = 3 ]; then
		$CK checkpoint $pid --pre-copy --wait /tmp/ckpt-img >$OUT/pc.out 2>&1
		pcrid=$(sed -n 's/^pre-copy crid \([0-9]*\) .*/\1/p' $OUT/pc.out)
		crid=$(sed -n 's/^crid \([0-9]*\) .*/\1/p' $OUT/pc.out)
		ls -l /tmp/ckpt-img/$pcrid.ckpt /tmp/ckpt-img/$crid.ckpt >$OUT/pc-size.txt
		kill -9 $pid; sleep 0.5
		$CK restore /tmp/ckpt-img/$crid.ckpt >$OUT/pc-restore.out 2>&1
		np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' $OUT/pc-restore.out)
		sleep 1; kill -USR1 $np; sleep 2
		cp /tmp/t3.log $OUT/pc-target.log
		kill -9 $np
	else
		criu dump -t $pid -D /tmp/criu-img --leave-running -v0 >$OUT/criu.out 2>&1
		ls -l /tmp/criu-img >$OUT/criu-ls.txt
		du -b /tmp/criu-img >>$OUT/criu-ls.txt
		kill -9 $pid
	fi
done
kill %1
echo zero46-end
