set -u
IMG=/tmp/img; mkdir -p $IMG
B=/tmp/ckpt; cp /work/scratch/base48-ckpt $B
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
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
kill %1; sleep 1
cat > /tmp/loop.sh <<EOS
for r in \$(seq 20); do out=\$($B restore $IMG/$crid.ckpt 2>/dev/null); np=\$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"\$out"); kill -9 \$np; done
EOS
a=$EPOCHREALTIME
perf record -F 1999 -a -o /tmp/perf.data -- bash /tmp/loop.sh 2>&1 | tail -2
b=$EPOCHREALTIME; echo "loop ms $(( (${b/./}-${a/./})/1000 ))"
perf report -i /tmp/perf.data --sort comm,dso --stdio 2>/dev/null | grep -v "^#" | grep -v "^$" | head -30 > $OUT/perf-comm-dso.txt
perf report -i /tmp/perf.data --sort dso,sym --stdio 2>/dev/null | grep -v "^#" | grep -v "^$" | head -80 > $OUT/perf-sym.txt
perf report -i /tmp/perf.data --comm ckpt --sort sym --stdio 2>/dev/null | grep -v "^#" | grep -v "^$" | head -60 > $OUT/perf-ckpt-sym.txt
