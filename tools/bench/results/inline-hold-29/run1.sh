#!/bin/bash
# run1.sh WHO FRAG BYTES STREAMS [wrapper...]: one run in $W (made by ab.sh); WHO = batched
# or a ckpt binary. Prints wall ms (first send to the receiver's exit, its fsync included),
# the receiver's user and system CPU s, and data_ms (first send to the newest image file's
# mtime, the measure tools/bench/run's MB/s uses).
set -u
WHO=$1 FRAG=$2 BYTES=$3 STREAMS=$4; shift 4
out=/var/tmp/ab29-out; rm -rf $out; mkdir -p $out
case $WHO in
batched) cmd=($W/batched --dir $out --exit-after $STREAMS) ;;
*) cmd=($WHO listen --usersock --status never --log-level warning --dir $out --exit-after $STREAMS) ;;
esac
/usr/bin/time -f "%U %S" -o $W/time "$@" "${cmd[@]}" > $W/stdout 2>$W/stderr &
for i in $(seq 300); do port=$(sed -n '1s/^usersock port \([0-9]*\)$/\1/p' $W/stdout); [ -n "$port" ] && break; sleep 0.02; done
s=$EPOCHREALTIME
$W/sender --port $port --bytes $BYTES --frag $FRAG --streams $STREAMS --seed 1 --crid 77 >/dev/null
wait; e=$EPOCHREALTIME
m=$(find $out -type f \( -name '*.img' -o -name '*.ckpt' \) -printf '%T@\n' | sort -n | tail -1)
echo "$WHO $FRAG $BYTES x$STREAMS wall_ms $(( (${e/./}-${s/./})/1000 )) user_sys $(cat $W/time) data_ms $(python3 -c "print(round(($m-${s})*1000))")"
rm -rf $out
