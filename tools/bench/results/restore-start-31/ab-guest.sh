# D=DIR VARIANTS="v-a v-b ..." ROUNDS=N ab-guest.sh: in the guest, DIR (a --share) holding
# ckpt.ko, target.py and the ckpt builds named in VARIANTS (copied to the guest's /tmp/b);
# per round, in alternating order: 5 `--version`s of each (ms for all 5), then each build
# restores a fresh 1 MiB checkpoint (ms). v-gold, the first variant, listens and checkpoints.
set -u
. "$(dirname "$0")/../../restore-ab-lib.sh"
mkdir -p /tmp/b; for v in $VARIANTS; do cp $D/$v /tmp/b/$v; done
set -- $VARIANTS; first=$1
restore_ab_listen /tmp/b/$first
for v in $VARIANTS; do /tmp/b/$v --version >/dev/null; done
for r in $(seq $ROUNDS); do
  vs="$VARIANTS"; [ $((r % 2)) = 0 ] && vs=$(echo $vs | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in $vs; do
    s=${EPOCHREALTIME/./}; for i in 1 2 3 4 5; do /tmp/b/$v --version >/dev/null; done; e=${EPOCHREALTIME/./}
    echo "$v version5 $(( (e-s)/1000 ))"
  done
  for v in $vs; do
    fresh_checkpoint /tmp/b/$first
    s=${EPOCHREALTIME/./}; out=$(/tmp/b/$v restore $image 2>/tmp/err); e=${EPOCHREALTIME/./}
    echo "$v restore $(( (e-s)/1000 )) ${out:0:20}"
    kill_restored
  done
done
