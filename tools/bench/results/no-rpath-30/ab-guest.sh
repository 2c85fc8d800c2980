# ab-guest.sh [BINDIR...]: ckpt-old and ckpt-new run from each BINDIR (default: this
# script's directory, an uncached 9p share, and a copy in the guest's tmpfs, /tmp/bin).
set -u
D=$(dirname $0)
IMG=/tmp/ckpt-img FLAG=/tmp/flag log=/tmp/target.log
modprobe libcrc32c && insmod $D/ckpt.ko || exit 1
mkdir -p $IMG /tmp/bin
cp $D/ckpt-old $D/ckpt-new /tmp/bin/
$D/ckpt-new listen --dir $IMG --status never --log-level warning 2>/tmp/listen.log &
sleep 3
t() { local s=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local rc=$?; local e=$EPOCHREALTIME; echo "$(( (${e/./}-${s/./})/1000 )) rc=$rc"; }
one() { # one BINARY: checkpoint a fresh target, restore it with BINARY
  : > $log; rm -f $FLAG
  setsid /usr/bin/python3 $D/target.py 1 $log $FLAG </dev/null >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 300); do grep -q "^tick 20 " $log && break; sleep 0.1; done
  local n0=$(ls $IMG/*.ckpt 2>/dev/null | wc -l)
  $D/ckpt-new checkpoint $pid --stop >/dev/null
  for _ in $(seq 300); do [ $(ls $IMG/*.ckpt 2>/dev/null | wc -l) -gt $n0 ] && break; sleep 0.05; done
  local img=$(ls -t $IMG/*.ckpt | head -1)
  kill -9 $pid; sleep 0.3; touch $FLAG
  echo "restore $1 $(t $1 restore $img)"
  sleep 0.3; local rpid=$(pgrep -f "target.py 1" | head -1); kill -9 $rpid 2>/dev/null; sleep 0.2
}
dirs=("$@"); [ $# -gt 0 ] || dirs=("$D" /tmp/bin)
for r in $(seq 8); do
  if [ $((r % 2)) = 0 ]; then order="old new"; else order="new old"; fi
  for w in $order; do
    for dir in "${dirs[@]}"; do one $dir/ckpt-$w; echo "version $dir/ckpt-$w $(t $dir/ckpt-$w --version)"; done
  done
done
