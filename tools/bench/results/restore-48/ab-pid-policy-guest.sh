set -u
# Restores with --pid any against --pid new (posix_spawn), ROUNDS alternating; BIN=NAME (/work/scratch/NAME-ckpt).
B=/tmp/ckpt; cp /work/scratch/${BIN:-base48}-ckpt $B
source "$(dirname "$0")/one-checkpoint.sh"
for r in $(seq ${ROUNDS:-10}); do
 for v in any new; do
  a=$EPOCHREALTIME; out=$($B restore $IMG/$crid.ckpt --pid $v 2>/dev/null); b=$EPOCHREALTIME
  np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"$out"); kill -9 $np 2>/dev/null
  echo "R $v $(( (${b/./}-${a/./})/1000 )) $np"; sleep 0.3
 done
done
