# Start times of short commands (README); OUT=DIR HELLO=BINARY. The strace at the end (-f) breaks the traced restore: run without -f for a timeline.
set -u
B=/tmp/ckpt; cp /work/main/.build-release/x86_64-unknown-linux-gnu/release/ckpt $B
cp "${HELLO:?a static Swift print binary: swiftc -O -static-stdlib hello.swift}" /tmp/hello
IMG=/tmp/img; mkdir -p $IMG
modprobe libcrc32c && insmod /work/main/.build-release/ckpt-6.12.118+deb12-amd64.ko || exit 1
$B listen --dir $IMG --status never >/tmp/l.out 2>/tmp/l.log &
sleep 3
log=/tmp/t.log; : >$log
setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py 1 $log /tmp/flag </dev/null >/dev/null 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "^tick 20 pid $pid" $log && break; sleep 0.5; done
$B checkpoint $pid --stop > /tmp/c.out 2>&1
crid=$(sed -n 's/^crid \([0-9]*\) .*/\1/p' /tmp/c.out | head -1)
for i in $(seq 100); do [[ -f $IMG/$crid.ckpt ]] && break; sleep 0.2; done
kill -9 $pid; wait $pid 2>/dev/null
t() { local a=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local b=$EPOCHREALTIME; echo $(( (${b/./}-${a/./})/1000 )); }
for r in 1 2 3 4 5 6 7 8; do
  echo "R true $(t /bin/true) hello $(t /tmp/hello) version $(t $B --version) check $(t $B restore $IMG/$crid.ckpt --check) help $(t $B restore --help)"
done
strace -f -ttt -o $OUT/strace.txt $B restore $IMG/$crid.ckpt > /tmp/o 2>&1; cat /tmp/o
np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' /tmp/o); kill -9 $np
a=$EPOCHREALTIME; $B restore $IMG/$crid.ckpt > /tmp/o 2>&1; b=$EPOCHREALTIME; echo "full $(( (${b/./}-${a/./})/1000 ))"
np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' /tmp/o); kill -9 $np
perf --version 2>&1 | head -1
