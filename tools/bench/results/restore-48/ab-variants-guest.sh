set -u
IMG=/tmp/img; mkdir -p $IMG
for v in $VARIANTS; do cp /work/scratch/$v-ckpt /tmp/$v; done
first=${VARIANTS%% *}
modprobe libcrc32c && insmod /work/main/.build-release/ckpt-6.12.118+deb12-amd64.ko || exit 1
/tmp/$first listen --dir $IMG --status never >/tmp/l.out 2>/tmp/l.log &
sleep 3
log=/tmp/t.log; : >$log
setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py 1 $log /tmp/flag </dev/null >/dev/null 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "^tick 20 pid $pid" $log && break; sleep 0.5; done
/tmp/$first checkpoint $pid --stop > /tmp/c.out 2>&1
crid=$(sed -n 's/^crid \([0-9]*\) .*/\1/p' /tmp/c.out | head -1)
for i in $(seq 100); do [[ -f $IMG/$crid.ckpt ]] && break; sleep 0.2; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
for v in $VARIANTS; do strace -f -c -o /tmp/sc.$v /tmp/$v restore $IMG/$crid.ckpt > /tmp/o.$v 2>&1; np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' /tmp/o.$v); kill -9 $np; echo "S $v ptrace-calls $(awk '$NF=="ptrace"{print $4}' /tmp/sc.$v) futex $(awk '$NF=="futex"{print $4}' /tmp/sc.$v)"; sleep 0.3; done
for r in $(seq ${ROUNDS:-10}); do
 for v in $VARIANTS; do
  a=$EPOCHREALTIME; out=$(/tmp/$v restore $IMG/$crid.ckpt 2>/dev/null); b=$EPOCHREALTIME
  np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"$out"); kill -9 $np 2>/dev/null
  echo "R $v $(( (${b/./}-${a/./})/1000 ))"; sleep 0.3
 done
done
