#!/bin/bash
# A/B of two CLIs' --pre-copy on one 256 MiB python3 target, alternating: frozen-ms (the
# command's SIGSTOP to SIGCONT) and the command's wall time.
OLD=/var/tmp/ckpt-old NEW=/var/tmp/ckpt-new OUT=/tmp/pcab
modprobe libcrc32c; insmod /var/tmp/ko.new/ckpt-6.12.ko || exit 1
mkdir -p /tmp/img
$NEW listen --dir /tmp/img --status never 2>/tmp/listen.log &
for i in $(seq 100); do grep -q listening /tmp/listen.log && break; sleep 0.1; done
setsid /usr/bin/python3 /work/main/tools/bench/vs-criu-target.py 256 /tmp/t.log /tmp/flag </dev/null >/dev/null 2>&1 &
pid=$!
while ! grep -q "^tick 20" /tmp/t.log 2>/dev/null; do sleep 0.2; done
for pair in $(seq 8); do
  for who in old new; do
    [[ $(( pair % 2 )) == 0 && $who == old ]] && continue
    bin=$OLD; [[ $who == new ]] && bin=$NEW
    t0=$EPOCHREALTIME
    out=$($bin checkpoint $pid --pre-copy --wait /tmp/img 2>&1) || echo "FAIL $who: $(tr "\n" " " <<<"$out")"
    t1=$EPOCHREALTIME
    f=$(sed -n 's/.* frozen-ms \([0-9]*\)$/\1/p' <<<"$out" | head -1)
    echo "ab $who pair $pair frozen_ms $f wall_ms $(( (${t1/./} - ${t0/./}) / 1000 ))" | tee -a $OUT/ab.txt
    rm -f /tmp/img/*.ckpt
    if [[ $(( pair % 2 )) == 0 && $who == new ]]; then
      bin=$OLD; t0=$EPOCHREALTIME
      out=$($bin checkpoint $pid --pre-copy --wait /tmp/img 2>&1) || echo "FAIL old: $(tr "\n" " " <<<"$out")"
      t1=$EPOCHREALTIME
      f=$(sed -n 's/.* frozen-ms \([0-9]*\)$/\1/p' <<<"$out" | head -1)
      echo "ab old pair $pair frozen_ms $f wall_ms $(( (${t1/./} - ${t0/./}) / 1000 ))" | tee -a $OUT/ab.txt
      rm -f /tmp/img/*.ckpt
    fi
  done
done
grep -E "^gap" /tmp/t.log | tail -3
kill -9 $pid
