# D=DIR stop-ab-guest.sh: in the guest, DIR (a --share) holding ckpt.ko and target.py;
# ckpt-old and ckpt-new (in /var/tmp/ab30) restore fresh 1 MiB checkpoints, alternating;
# prints each restore's wall ms and its "starting the new process" ->
# "clearing the new process" ms (progress lines stamped by a reader forked before the clock).
set -u
. "$(dirname "$0")/../../restore-ab-lib.sh"
B=/var/tmp/ab30
restore_ab_listen $B/ckpt-new
for r in $(seq 10); do
  if [ $((r % 2)) = 0 ]; then order="old new"; else order="new old"; fi
  for w in $order; do
    fresh_checkpoint $B/ckpt-new
    rm -f /tmp/f; mkfifo /tmp/f
    (while IFS= read -r l; do echo "${EPOCHREALTIME/./} $l"; done </tmp/f >/tmp/stamps) &
    rd=$!; sleep 0.1
    s=${EPOCHREALTIME/./}; out=$($B/ckpt-$w restore $image 2>/tmp/f); e=${EPOCHREALTIME/./}
    wait $rd
    a=$(grep "starting the new process" /tmp/stamps | cut -d' ' -f1); c=$(grep "clearing the new process" /tmp/stamps | cut -d' ' -f1)
    echo "$w wall $(( (e - s) / 1000 )) stop_us $((c - a)) ${out:0:30}"
    kill_restored
  done
done
