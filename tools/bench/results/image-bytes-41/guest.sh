#!/bin/bash
OUT=${OUT:-/tmp/imgcmp-out}
# compare ckpt's and CRIU's images of the same 256 MiB python3 target
set -u
B=/work/main/.build-release/release/ckpt
modprobe libcrc32c; insmod /work/main/.build-release/ckpt-6.12.118+deb12-amd64.ko
source /work/main/tools/bench/criu-modules.sh; load_criu_modules
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
mkdir -p /tmp/img /tmp/criu
$B listen --dir /tmp/img --status never 2>/tmp/listen.log &
sleep 3
setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py 256 /tmp/t.log /tmp/flag </dev/null >/dev/null 2>&1 &
pid=$!
while ! grep -q "^tick 20" /tmp/t.log 2>/dev/null; do sleep 0.2; done
$B checkpoint $pid --stop --wait /tmp/img
criu dump -t $pid -D /tmp/criu --leave-running -v0
ls -l /tmp/img /tmp/criu
img=$(ls /tmp/img/*.ckpt | head -1)
$B show $img > $OUT/show.txt
$B show $img --json > $OUT/show.json
cp /tmp/criu/pagemap-*.img $OUT/ 2>/dev/null
crit decode -i /tmp/criu/pagemap-$pid.img --pretty > $OUT/pagemap.txt 2>&1
crit decode -i /tmp/criu/mm-$pid.img --pretty > $OUT/mm.txt 2>&1
cat /proc/$pid/maps > $OUT/maps.txt
kill -9 $pid
