set -u
# A/B of restore builds: VARIANTS="a b" (binaries /work/scratch/NAME-ckpt), ROUNDS alternating; prints "R NAME MS".
for v in $VARIANTS; do cp /work/scratch/$v-ckpt /tmp/$v; done
first=${VARIANTS%% *}
B=/tmp/$first
source "$(dirname "$0")/one-checkpoint.sh"
for r in $(seq ${ROUNDS:-10}); do
 for v in $VARIANTS; do
  a=$EPOCHREALTIME; out=$(/tmp/$v restore $IMG/$crid.ckpt 2>/dev/null); b=$EPOCHREALTIME
  np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"$out"); kill -9 $np 2>/dev/null
  echo "R $v $(( (${b/./}-${a/./})/1000 ))"; sleep 0.3
 done
done
