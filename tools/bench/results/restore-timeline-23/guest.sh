#!/bin/bash
# A 1 MiB restore's timeline: each progress line of `ckpt restore` stamped with the
# microseconds since the command started; plus the start of trivial commands.
set -u
B=/work/main/.build-release/release/ckpt
IMG=/tmp/img; mkdir -p $IMG
modprobe libcrc32c; insmod "$CKPT_KO" || { echo insmod failed; exit 1; }
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
$B listen --dir $IMG --status never >/dev/null 2>$OUT/listen.log &
for i in $(seq 300); do grep -q listening $OUT/listen.log && break; sleep 0.1; done
stamp() { local a=$EPOCHREALTIME; "$@" 2>&1 | while IFS= read -r line; do n=$EPOCHREALTIME; echo "+$(( (10#${n/./} - 10#${a/./}) / 1000 ))ms $line"; done; n=$EPOCHREALTIME; echo "+$(( (10#${n/./} - 10#${a/./}) / 1000 ))ms end"; }
for r in 1 2 3; do
  echo "== trivial $r"
  stamp $B --version
  stamp $B restore --help >/dev/null
  stamp /bin/true
  stamp /usr/bin/python3 -c pass
done
for rep in 1 2 3 4; do
  log=/tmp/target.log; rm -f /tmp/flag
  setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py 1 $log /tmp/flag </dev/null >/dev/null 2>&1 &
  pid=$!
  for i in $(seq 1200); do grep -q "^tick 20 pid $pid\$" $log 2>/dev/null && break; sleep 0.1; done
  $B checkpoint $pid --stop >/dev/null 2>&1 || echo "checkpoint failed"
  for i in $(seq 600); do [ $(ls $IMG/*.ckpt 2>/dev/null | wc -l) -gt 0 ] && break; sleep 0.1; done
  img=$(ls -t $IMG/*.ckpt | head -1)
  kill -9 $pid; sleep 0.3
  echo "== restore $rep"
  out=$(stamp $B restore $img); echo "$out"
  npid=$(echo "$out" | sed -n 's/.*restored pid \([0-9]*\).*/\1/p' | head -1)
  [ -n "$npid" ] && kill -9 $npid
  rm -f $img; sleep 0.3
done
echo guest-done
