set -u
D=$(dirname $0)
IMG=/tmp/ckpt-img FLAG=/tmp/flag log=/tmp/target.log
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
modprobe libcrc32c && insmod $D/ckpt.ko || exit 1
mkdir -p $IMG
B=/var/tmp/ab30/ckpt-new
$B listen --dir $IMG --status never --log-level warning 2>/tmp/listen.log &
sleep 3
at_us() { local _t=${EPOCHREALTIME/./}; printf -v "$1" '%s' "$_t"; }
stamp() { local l t; while IFS= read -r l; do at_us t; echo "$1: +$((t - r0)) us $l"; done; }
prep() {
  : > $log; rm -f $FLAG
  setsid /usr/bin/python3 $D/target.py 1 $log $FLAG </dev/null >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 300); do grep -q "^tick 20 " $log && break; sleep 0.1; done
  local n0=$(ls $IMG/*.ckpt 2>/dev/null | wc -l)
  $B checkpoint $pid --stop >/dev/null
  for _ in $(seq 300); do [ $(ls $IMG/*.ckpt 2>/dev/null | wc -l) -gt $n0 ] && break; sleep 0.05; done
  image=$(ls -t $IMG/*.ckpt | head -1)
  kill -9 $pid; sleep 0.3; touch $FLAG
}
cleanup() { sleep 0.3; local rpid=$(pgrep -f "target.py 1" | head -1); kill -9 $rpid 2>/dev/null; sleep 0.2; }
for r in $(seq 8); do
  if [ $((r % 2)) = 0 ]; then order="stamped plain"; else order="plain stamped"; fi
  for w in $order; do
    prep
    if [ $w = stamped ]; then
      at_us r0; out=$("$B" restore "$image" 2> >(tee /tmp/restore.err | stamp "x" >>/tmp/detail.log)); at_us r1
    else
      at_us r0; "$B" restore "$image" >/tmp/restore.out 2>/tmp/restore.err; at_us r1
    fi
    echo "$w $(( (r1 - r0) / 1000 ))"
    cleanup
  done
done
