#!/bin/bash
# ab.sh OLD NEW REPS: natively, the listener before and after aligned writes, against
# batched C, interleaved; each run one sender (tools/bench/sender.c) into one receiver,
# /var/tmp (ext4), wall ms from the first send to the receiver's exit (fsync included),
# user and system CPU s of the receiver. Free page reporting held for the run.
set -u
OLD=$1 NEW=$2 REPS=${3:-5}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../../../.." && pwd)
w=$(mktemp -d /tmp/ab28.XXXX); trap 'rm -rf $w /var/tmp/ab28-out; echo $was > $P' EXIT
P=/sys/module/page_reporting/parameters/page_reporting_order; was=$(cat $P); echo 11 > $P
gcc -O2 -o $w/sender $root/tools/bench/sender.c; gcc -O2 -o $w/batched $root/tools/bench/batched.c
dd if=/dev/zero of=/var/tmp/ab28-warm bs=1M count=2560 status=none; rm /var/tmp/ab28-warm
one() { # one LABEL STREAMS BYTES FRAG
  local who=$1 streams=$2 bytes=$3 frag=$4 out=/var/tmp/ab28-out
  rm -rf $out; mkdir -p $out
  case $who in
  batched) cmd=($w/batched --dir $out --exit-after $streams) ;;
  old) cmd=($OLD listen --usersock --status never --log-level warning --dir $out --exit-after $streams) ;;
  new) cmd=($NEW listen --usersock --status never --log-level warning --dir $out --exit-after $streams) ;;
  esac
  /usr/bin/time -f "%U %S" -o $w/time "${cmd[@]}" > $w/stdout 2>$w/stderr &
  local rp=$! port= i
  for i in $(seq 200); do port=$(sed -n '1s/^usersock port \([0-9]*\)$/\1/p' $w/stdout); [ -n "$port" ] && break; sleep 0.02; done
  local s=$EPOCHREALTIME
  $w/sender --port $port --bytes $bytes --frag $frag --streams $streams --seed 1 --crid 77 >/dev/null
  wait $rp; local e=$EPOCHREALTIME
  echo "result $streams x $bytes frag $frag $who wall_ms $(( (${e/./}-${s/./})/1000 )) user_sys $(cat $w/time)"
}
for shape in "64 32M 32768" "64 32M 57344" "1 1G 32768" "1 1G 57344" "1 1G 4096"; do
  for r in $(seq $REPS); do
    case $((r % 3)) in 0) order="batched old new" ;; 1) order="old new batched" ;; 2) order="new batched old" ;; esac
    for who in $order; do one $who $shape; done
  done
done
