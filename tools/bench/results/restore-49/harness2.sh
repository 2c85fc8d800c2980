# vs-criu's way of timing ckpt restore (stderr through a FIFO to a stamping reader, stdout
# captured) against a plain one (both to files), beside CRIU timed as vs-criu times it.
# All from the host root (as vs-criu runs both). One image each, restored ROUNDS times.
set -u
R=/work/scratch/base48-ckpt B=$R
source /work/main/tools/bench/results/restore-48/one-checkpoint.sh
source /work/main/tools/bench/criu-modules.sh; load_criu_modules
setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py 1 /tmp/t2.log /tmp/flag2 </dev/null >/dev/null 2>&1 &
cpid=$!
for i in $(seq 100); do grep -q "^tick 20 pid $cpid" /tmp/t2.log && break; sleep 0.5; done
mkdir -p /tmp/cimg; criu dump -t $cpid -D /tmp/cimg --leave-running -v0 || echo "criu dump failed"; kill -9 $cpid; wait $cpid 2>/dev/null
at_us() { local n=$EPOCHREALTIME; printf -v "$1" '%d' $((10#${n/./})); }
fifo=/tmp/f.fifo
for r in $(seq ${ROUNDS:-20}); do
 for v in A C E; do
  case $v in
  A) rm -f $fifo; mkfifo $fifo
     (while IFS= read -r l; do at_us t; echo "$t $l"; done <$fifo >/tmp/stamps) &
     reader=$!; sleep 0.1
     at_us r0; out=$("$R" restore $IMG/$crid.ckpt 2>$fifo); at_us r1; wait $reader
     np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"$out");;
  C) at_us r0; "$R" restore $IMG/$crid.ckpt >/tmp/o3 2>/tmp/e3; at_us r1
     np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' /tmp/o3);;
  E) at_us r0; criu restore -D /tmp/cimg -d -v0 --display-stats >/tmp/cr 2>&1; at_us r1; np=$cpid;;
  esac
  echo "R $v $(( (r1-r0)/1000 ))"
  kill -9 $np 2>/dev/null; sleep 0.5
 done
done
