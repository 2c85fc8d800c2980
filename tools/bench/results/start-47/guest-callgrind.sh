set -u
O=${OUT:?directory for the callgrind files}/${TAG:-base}; mkdir -p $O
B=/tmp/ckpt; cp ${BIN:-/work/main/.build-release/x86_64-unknown-linux-gnu/release/ckpt} $B; strip --strip-debug $B
IMG=/tmp/img; mkdir -p $IMG
modprobe libcrc32c && insmod /work/main/.build-release/ckpt-6.12.118+deb12-amd64.ko || exit 1
$B listen --dir $IMG --status never >/tmp/l.out 2>/tmp/l.log &
sleep 3
log=/tmp/t.log; : >$log
setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py 1 $log /tmp/flag </dev/null >/dev/null 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "^tick 20 pid $pid" $log && break; sleep 0.5; done
valgrind --tool=callgrind --callgrind-out-file=$O/cg.checkpoint $B checkpoint $pid --stop --timeout-ms 120000 > $O/checkpoint.out 2>&1
cat $O/checkpoint.out | tail -3
crid=$(sed -n 's/^crid \([0-9]*\) .*/\1/p' $O/checkpoint.out | head -1)
for i in $(seq 100); do [[ -f $IMG/$crid.ckpt ]] && break; sleep 0.2; done
ls -la $IMG
kill -9 $pid
valgrind --tool=callgrind --callgrind-out-file=$O/cg.check $B restore $IMG/$crid.ckpt --check > $O/check.out 2>&1; tail -2 $O/check.out
valgrind --tool=callgrind --trace-children=no --callgrind-out-file=$O/cg.restore $B restore $IMG/$crid.ckpt > $O/restore.out 2>&1; tail -2 $O/restore.out
