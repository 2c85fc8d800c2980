#!/bin/bash
# pf.sh WHO FRAG: perf record one 2 GiB stream into WHO (ckpt|batched)
who=$1 frag=$2
rm -rf /var/tmp/pf/img/*; sync
if [[ $who == ckpt ]]; then
  perf record -q -F 4999 -g -o /var/tmp/pf/$who-$frag.data -- /var/tmp/ckpt-new listen --usersock --dir /var/tmp/pf/img --exit-after 1 --status never --log-level info > /var/tmp/pf/out 2>/var/tmp/pf/log &
else
  perf record -q -F 4999 -g -o /var/tmp/pf/$who-$frag.data -- /tmp/fa/batched --dir /var/tmp/pf/img --exit-after 1 > /var/tmp/pf/out 2>&1 &
fi
for i in $(seq 200); do port=$(sed -n 's/^usersock port \([0-9]*\)$/\1/p' /var/tmp/pf/out 2>/dev/null | head -1); [[ -n $port ]] && break; sleep 0.05; done
/tmp/fa/sender --port $port --bytes 2G --frag $frag >/dev/null
wait
