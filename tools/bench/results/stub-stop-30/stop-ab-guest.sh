# stop-ab.sh: ckpt-old and ckpt-new (in /var/tmp/ab30) restore fresh 1 MiB checkpoints,
# alternating; prints each restore's wall ms and its "starting the new process" ->
# "clearing the new process" ms (progress lines stamped by a reader forked before the clock).
set -u
D=$(dirname $0)
IMG=/tmp/ckpt-img FLAG=/tmp/flag log=/tmp/target.log
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
modprobe libcrc32c && insmod $D/ckpt.ko || exit 1
mkdir -p $IMG
B=/var/tmp/ab30
$B/ckpt-new listen --dir $IMG --status never --log-level warning 2>/tmp/listen.log &
sleep 3
prep() {
  : > $log; rm -f $FLAG
  setsid /usr/bin/python3 $D/target.py 1 $log $FLAG </dev/null >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 300); do grep -q "^tick 20 " $log && break; sleep 0.1; done
  local n0=$(ls $IMG/*.ckpt 2>/dev/null | wc -l)
  $B/ckpt-new checkpoint $pid --stop >/dev/null
  for _ in $(seq 300); do [ $(ls $IMG/*.ckpt 2>/dev/null | wc -l) -gt $n0 ] && break; sleep 0.05; done
  image=$(ls -t $IMG/*.ckpt | head -1)
  kill -9 $pid; sleep 0.3; touch $FLAG
}
for r in $(seq 10); do
  if [ $((r % 2)) = 0 ]; then order="old new"; else order="new old"; fi
  for w in $order; do
    prep
    rm -f /tmp/f; mkfifo /tmp/f
    (while IFS= read -r l; do echo "${EPOCHREALTIME/./} $l"; done </tmp/f >/tmp/stamps) &
    rd=$!; sleep 0.1
    s=${EPOCHREALTIME/./}; out=$($B/ckpt-$w restore $image 2>/tmp/f); e=${EPOCHREALTIME/./}
    wait $rd
    a=$(grep "starting the new process" /tmp/stamps | cut -d' ' -f1); c=$(grep "clearing the new process" /tmp/stamps | cut -d' ' -f1)
    echo "$w wall $(( (e - s) / 1000 )) stop_us $((c - a)) ${out:0:30}"
    sleep 0.3; rpid=$(pgrep -f "target.py 1" | head -1); kill -9 $rpid 2>/dev/null; sleep 0.2
  done
done
