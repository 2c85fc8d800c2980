#!/bin/bash
# prof.sh FRAG BYTES: one ckpt listen receive of one stream under perf record
frag=$1 bytes=$2
out=/tmp/pf/out; rm -rf $out; mkdir -p $out
perf record -F 4999 -g -o /tmp/pf/perf.data -- /work/main/.build-release/release/ckpt listen --usersock --dir $out --exit-after 1 --status never --log-level warning > /tmp/pf/l.out 2>/tmp/pf/l.err &
for i in $(seq 1 200); do port=$(sed -n '1s/^usersock port \([0-9]*\)$/\1/p' /tmp/pf/l.out); [ -n "$port" ] && break; sleep 0.05; done
/tmp/pf/sender --port $port --bytes $bytes --frag $frag --streams 1 --seed 1 --crid 77 > /tmp/pf/s.out
wait
