#!/bin/bash
set -u
IMG=/tmp/img; mkdir -p $IMG
modprobe libcrc32c; insmod "$CKPT_KO" || { echo insmod failed; exit 1; }
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
"$CKPT_BIN" listen --dir $IMG --status never >/dev/null 2>$OUT/listen.log &
for i in $(seq 300); do grep -q listening $OUT/listen.log && break; sleep 0.1; done
t() { local a=$EPOCHREALTIME; "$@" >/dev/null 2>&1; local b=$EPOCHREALTIME; echo "time_ms $(( (10#${b/./} - 10#${a/./}) / 1000 )) $*"; }
for i in 1 2 3 4; do t /bin/true; t "$CKPT_BIN" --version; t "$CKPT_BIN" restore --help; t "$CKPT_BIN" show /nonexistent; done
for rep in 1 2 3 4; do
  log=/tmp/target-$rep.log; rm -f /tmp/flag
  setsid /usr/bin/python3 "$TARGET_PY" 1 $log /tmp/flag </dev/null >/dev/null 2>&1 &
  pid=$!
  for i in $(seq 600); do grep -q "^tick 20 pid $pid\$" $log 2>/dev/null && break; sleep 0.1; done
  out=$("$CKPT_BIN" checkpoint $pid --stop 2>&1); echo "checkpoint: $out" | head -3
  sleep 2; img=$(ls -t $IMG/*.ckpt | head -1); echo "image $img"
  kill -9 $pid; sleep 0.3
  a=$EPOCHREALTIME
  if [ $((rep % 2)) = 1 ]; then
    r=$(strace -tt -o $OUT/strace-$rep.txt "$CKPT_BIN" restore $img 2>&1)
  else
    r=$(perf record -o $OUT/perf-$rep.data -F 2000 -g -- "$CKPT_BIN" restore $img 2>&1)
  fi
  b=$EPOCHREALTIME
  echo "restore rep $rep ms $(( (10#${b/./} - 10#${a/./}) / 1000 )): $(echo "$r" | tr '\n' ' ' | cut -c1-300)"
  npid=$(echo "$r" | sed -n 's/.*restored pid \([0-9]*\).*/\1/p' | head -1)
  [ -n "$npid" ] && kill -9 $npid
  # and plain, timed
  sleep 0.3
  a=$EPOCHREALTIME; r=$("$CKPT_BIN" restore $img 2>&1); b=$EPOCHREALTIME
  echo "plain restore rep $rep ms $(( (10#${b/./} - 10#${a/./}) / 1000 ))"
  npid=$(echo "$r" | sed -n 's/.*restored pid \([0-9]*\).*/\1/p' | head -1)
  [ -n "$npid" ] && kill -9 $npid
  rm -f $img
done
echo guest-done
