#!/bin/bash
# Where the 1 MiB target's image bytes go, ckpt against CRIU (session 44, one-off).
set -u
OUT=/var/tmp/img53
modprobe libcrc32c; insmod /work/main/.build-release/ckpt-6.12.118+deb12-amd64.ko || exit 1
source /work/main/tools/bench/criu-modules.sh; load_criu_modules echo >/dev/null
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
CK=/work/main/.build-release/release/ckpt
mkdir -p /tmp/ckpt-img /tmp/criu-img
$CK listen --dir /tmp/ckpt-img --status never 2>$OUT/listen.log &
sleep 3
for t in 1 2; do
	rm -f /tmp/flag; : >/tmp/t$t.log
	setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py 1 /tmp/t$t.log /tmp/flag </dev/null >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 1 600); do grep -q "^tick 20 pid $pid" /tmp/t$t.log && break; sleep 0.1; done
	if [ $t = 1 ]; then
		$CK checkpoint $pid --stop --wait /tmp/ckpt-img > $OUT/ckpt.out 2>&1
		img=$(ls /tmp/ckpt-img/*.ckpt | head -1)
		ls -l $img > $OUT/ckpt-size.txt
		$CK show $img > $OUT/ckpt-show.txt 2>&1
		$CK show --json $img > $OUT/ckpt-show.json 2>&1
		cp /proc/$pid/maps $OUT/maps1.txt
		cp /proc/$pid/smaps $OUT/smaps1.txt
	else
		criu dump -t $pid -D /tmp/criu-img --leave-running -v0 > $OUT/criu.out 2>&1
		ls -l /tmp/criu-img > $OUT/criu-ls.txt
		du -b /tmp/criu-img >> $OUT/criu-ls.txt
		crit show /tmp/criu-img/pagemap-$pid.img > $OUT/criu-pagemap.txt 2>&1
		crit show /tmp/criu-img/mm-$pid.img > $OUT/criu-mm.txt 2>&1
		cp /proc/$pid/maps $OUT/maps2.txt
	fi
	kill -9 $pid
done
kill %1
echo img53-end
