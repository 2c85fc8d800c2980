# Fine timeline: the trace build's T lines (realtime us) against bash's start. BIN=trace build
set -u
B=/tmp/ckpt; cp /work/scratch/base48-ckpt $B
source /work/main/tools/bench/results/restore-48/one-checkpoint.sh
cp /work/scratch/trace49-ckpt /tmp/tr
for r in 1 2 3 4 5 6 7; do
  t0=${EPOCHREALTIME/./}
  /tmp/tr restore $IMG/$crid.ckpt 2>/tmp/e >/tmp/o
  t1=${EPOCHREALTIME/./}
  echo "round $r total $(( (t1-t0)/1000 ))"
  awk -v t0=$t0 -v t1=$t1 '/^T /{ printf "  %6.1f %s\n", ($2-t0)/1000, substr($0, index($0,$3)) } END { printf "  %6.1f exit seen by bash\n", (t1-t0)/1000 }' /tmp/e
  np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' /tmp/o); kill -9 $np
  sleep 0.5
done
