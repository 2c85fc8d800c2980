#!/bin/bash
# run1.sh RECV FRAG BYTES STREAMS: one run in $W (made by ab.sh); RECV is batched or dthread,
# DIO=1 in the environment opens the files O_DIRECT and ROFF=N receives N bytes into each
# buffer (412: a continuation fragment's payload, 100 bytes into its datagram, lands on 512).
# Prints wall ms (first send to the receiver's exit, its fsyncs included), user and system
# CPU s, data_ms (first send to the newest file's mtime, tools/bench/run's MB/s measure).
set -u
RECV=$1 FRAG=$2 BYTES=$3 STREAMS=$4
out=/var/tmp/dio-out; rm -rf $out; mkdir -p $out
/usr/bin/time -f "%U %S" -o $W/time $W/$RECV --dir $out --exit-after $STREAMS > $W/stdout 2>$W/stderr &
for i in $(seq 300); do port=$(sed -n '1s/^usersock port \([0-9]*\)$/\1/p' $W/stdout); [ -n "$port" ] && break; sleep 0.02; done
s=$EPOCHREALTIME
$W/sender --port $port --bytes $BYTES --frag $FRAG --streams $STREAMS --seed 1 --crid 77 >/dev/null
wait; e=$EPOCHREALTIME
m=$(find $out -type f -printf '%T@\n' | sort -n | tail -1)
echo "$RECV dio=${DIO:-0} roff=${ROFF:-0} $FRAG $BYTES x$STREAMS wall_ms $(( (${e/./}-${s/./})/1000 )) user_sys $(cat $W/time) data_ms $(python3 -c "print(round(($m-${s})*1000))") $(grep -v result $W/stderr | head -2 | tr '\n' ' ') $(tail -1 $W/stdout | grep -o 'fsync_ns=[0-9]*')"
rm -rf $out
