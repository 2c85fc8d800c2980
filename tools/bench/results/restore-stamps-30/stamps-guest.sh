# D=DIR stamps-guest.sh: in the guest, DIR (a --share) holding ckpt.ko and target.py; the
# release binary at /var/tmp/ab30/ckpt-new. A restore with its stderr stamped through a
# process substitution, against one writing to files, alternating.
set -u
. "$(dirname "$0")/../../restore-ab-lib.sh"
B=/var/tmp/ab30/ckpt-new
restore_ab_listen $B
at_us() { local _t=${EPOCHREALTIME/./}; printf -v "$1" '%s' "$_t"; }
stamp() { local l t; while IFS= read -r l; do at_us t; echo "$1: +$((t - r0)) us $l"; done; }
for r in $(seq 8); do
  if [ $((r % 2)) = 0 ]; then order="stamped plain"; else order="plain stamped"; fi
  for w in $order; do
    fresh_checkpoint $B
    if [ $w = stamped ]; then
      at_us r0; out=$("$B" restore "$image" 2> >(tee /tmp/restore.err | stamp "x" >>/tmp/detail.log)); at_us r1
    else
      at_us r0; "$B" restore "$image" >/tmp/restore.out 2>/tmp/restore.err; at_us r1
    fi
    echo "$w $(( (r1 - r0) / 1000 ))"
    kill_restored
  done
done
