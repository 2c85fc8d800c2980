# Timeline of 1 MiB restores: stderr step lines stamped (ms since start). B=binary
set -u
B=/tmp/ckpt; cp ${BIN:-/work/scratch/base48-ckpt} $B
source /work/main/tools/bench/results/restore-48/one-checkpoint.sh
stamp() { local t0=$1; while IFS= read -r l; do echo "  $(( (${EPOCHREALTIME/./}-t0)/1000 )) $l"; done; }
for r in 1 2 3 4 5; do
  t0=${EPOCHREALTIME/./}
  { $B restore $IMG/$crid.ckpt 2>&1 >/tmp/o; } | stamp $t0
  t1=${EPOCHREALTIME/./}
  echo "round $r total $(( (t1-t0)/1000 ))"
  sleep 0.5
  np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' /tmp/o); kill -9 $np
done
