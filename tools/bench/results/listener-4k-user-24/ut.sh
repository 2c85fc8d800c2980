#!/bin/bash
# ut.sh BIN FRAG: one 1 GiB stream into `BIN listen`; prints wall_ms user_s sys_s
cd /tmp/kp
B=$1 frag=${2:-4096}
rm -rf /var/tmp/kp-out; mkdir -p /var/tmp/kp-out
/usr/bin/time -f "%U %S" -o /tmp/kp/ut.time $B listen --usersock --status never --log-level warning --dir /var/tmp/kp-out --exit-after 1 > /tmp/kp/ut.stdout 2>&1 &
rp=$!; port=
for i in $(seq 200); do port=$(sed -n '1s/^usersock port \([0-9]*\)$/\1/p' /tmp/kp/ut.stdout); [ -n "$port" ] && break; sleep 0.02; done
s=$EPOCHREALTIME
./sender --port $port --bytes 1G --frag $frag --streams 1 --seed 1 --crid 77 >/dev/null
wait $rp; e=$EPOCHREALTIME
ls /var/tmp/kp-out/*.ckpt >/dev/null 2>&1 || echo "NO IMAGE"
echo "$(( (${e/./}-${s/./})/1000 )) $(cat /tmp/kp/ut.time)"
