#!/bin/bash
# one.sh RECV FRAG BYTES STREAMS [keep]
set -u
W=${W:-$(cd "$(dirname "$0")" && pwd)}
RECV=$1 FRAG=$2 BYTES=$3 STREAMS=$4
out=/var/tmp/map-out-$RECV; rm -rf $out; mkdir -p $out
/usr/bin/time -f "%U %S" -o $W/time.$RECV $W/$RECV --dir $out --exit-after $STREAMS > $W/stdout.$RECV 2>$W/stderr.$RECV &
for i in $(seq 300); do port=$(sed -n '1s/^usersock port \([0-9]*\)$/\1/p' $W/stdout.$RECV); [ -n "$port" ] && break; sleep 0.02; done
s=$EPOCHREALTIME
$W/sender --port $port --bytes $BYTES --frag $FRAG --streams $STREAMS --seed 1 --crid 77 >/dev/null
wait; e=$EPOCHREALTIME
m=$(find $out -type f -printf '%T@\n' | sort -n | tail -1)
echo "$RECV pop=${POPULATE:-0} $FRAG $BYTES x$STREAMS wall_ms $(( (${e/./}-${s/./})/1000 )) user_sys $(cat $W/time.$RECV) data_ms $(python3 -c "print(round(($m-${s})*1000))") $(grep -v result $W/stderr.$RECV | head -2 | tr '\n' ' ') $(tail -1 $W/stdout.$RECV | grep -o 'fsync_ns=[0-9]*')"
[ "${5:-}" = keep ] || rm -rf $out
