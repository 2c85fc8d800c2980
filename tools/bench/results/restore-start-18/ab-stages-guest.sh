#!/bin/bash
set -u
IMG=/tmp/img; mkdir -p $IMG
modprobe libcrc32c; insmod "$CKPT_KO" || { echo insmod failed; exit 1; }
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
/work/gexp/ckpt-new listen --dir $IMG --status never >/dev/null 2>$OUT/listen.log &
for i in $(seq 300); do grep -q listening $OUT/listen.log && break; sleep 0.1; done
restore() { # restore BIN IMG LABEL
  local a=$EPOCHREALTIME r b npid
  r=$("$1" restore "$2" 2>&1 | while IFS= read -r line; do n=$EPOCHREALTIME; echo "+$(( 10#${n/./} - 10#${a/./} )) $line"; done; exit ${PIPESTATUS[0]}); local rc=$?
  echo "$r" | sed -n "s/^+\([0-9]*\) ckpt restore: \(mapping\|opening\).*/stage $3 \2 \1/p"
  b=$EPOCHREALTIME
  npid=$(echo "$r" | sed -n 's/.*restored pid \([0-9]*\).*/\1/p' | head -1)
  echo "result $3 rc=$rc ms=$(( (10#${b/./} - 10#${a/./}) / 1000 ))"
  [ $rc = 0 ] || echo "$r" | tail -3
  [ -n "$npid" ] && kill -9 $npid
  sleep 0.3
}
for mib in $MIBS; do
for rep in $(seq $REPS); do
  log=/tmp/target.log; rm -f /tmp/flag
  setsid /usr/bin/python3 "$TARGET_PY" $mib $log /tmp/flag </dev/null >/dev/null 2>&1 &
  pid=$!
  for i in $(seq 1200); do grep -q "^tick 20 pid $pid\$" $log 2>/dev/null && break; sleep 0.1; done
  before=$(ls $IMG | wc -l)
  /work/gexp/ckpt-new checkpoint $pid --stop >/dev/null 2>&1 || echo "checkpoint failed"
  for i in $(seq 600); do [ $(ls $IMG/*.ckpt 2>/dev/null | wc -l) -gt 0 ] && break; sleep 0.1; done
  img=$(ls -t $IMG/*.ckpt | head -1)
  kill -9 $pid; sleep 0.3
  if [ $((rep % 2)) = 1 ]; then restore /work/gexp/ckpt-base $img "base $mib"; restore /work/gexp/ckpt-new $img "new $mib"
  else restore /work/gexp/ckpt-new $img "new $mib"; restore /work/gexp/ckpt-base $img "base $mib"; fi
  rm -f $img
done
done
echo guest-done
