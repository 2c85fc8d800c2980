# Sourced by this folder's guest scripts: `$B listen` on $IMG (the module of the release
# build loaded), one checkpoint of a fresh MIB MiB (default 1) vs-criu target, its image
# $IMG/$crid.ckpt once published, the target killed. B: the CLI that listens and checkpoints.
IMG=/tmp/img; mkdir -p $IMG
modprobe libcrc32c && insmod /work/main/.build-release/ckpt-6.12.118+deb12-amd64.ko || exit 1
$B listen --dir $IMG --status never >/tmp/l.out 2>/tmp/l.log &
sleep 3
log=/tmp/t.log; : >$log
setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py ${MIB:-1} $log /tmp/flag </dev/null >/dev/null 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "^tick 20 pid $pid" $log && break; sleep 0.5; done
$B checkpoint $pid --stop > /tmp/c.out 2>&1
crid=$(sed -n 's/^crid \([0-9]*\) .*/\1/p' /tmp/c.out | head -1)
for i in $(seq 100); do [[ -f $IMG/$crid.ckpt ]] && break; sleep 0.2; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
