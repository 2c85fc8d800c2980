#!/bin/bash
# ab.sh FRAG BYTES REPS VARIANTS...: batched with FALLOC_AHEAD_MIB=v (0 = none), interleaved
frag=$1 bytes=$2 reps=$3; shift 3
D=/var/tmp/fa-img
for ((r = 0; r < reps; r++)); do
 for v in "$@"; do
  rm -rf $D/*; sync; sleep 0.5
  rm -f /tmp/fa/out /tmp/fa/time
  if [[ $v == 0 ]]; then env -u FALLOC_AHEAD_MIB /usr/bin/time -f '%e %U %S' -o /tmp/fa/time ${BATCHED:-/tmp/fa/batched} --dir $D --exit-after 1 > /tmp/fa/out &
  else FALLOC_AHEAD_MIB=$v /usr/bin/time -f '%e %U %S' -o /tmp/fa/time ${BATCHED:-/tmp/fa/batched} --dir $D --exit-after 1 > /tmp/fa/out & fi
  bp=$!
  for i in $(seq 100); do port=$(sed -n 's/^usersock port \([0-9]*\)$/\1/p' /tmp/fa/out); [[ -n $port ]] && break; sleep 0.02; done
  ${SENDER:-/tmp/fa/sender} --port $port --bytes $bytes --frag $frag > /dev/null
  wait $bp
  read -r e u s < /tmp/fa/time
  res=$(grep ^result /tmp/fa/out)
  tf=$(sed -n 's/.*t_first_ns=\([0-9]*\).*/\1/p' <<<"$res"); tl=$(sed -n 's/.*t_last_write_ns=\([0-9]*\).*/\1/p' <<<"$res"); fs=$(sed -n 's/.*fsync_ns=\([0-9]*\).*/\1/p' <<<"$res")
  echo "v=$v frag=$frag wall=$e cpu=$(echo "$u + $s" | bc) user=$u sys=$s last_write_ms=$(( (tl - tf) / 1000000 )) fsync_ms=$((fs / 1000000))"
 done
done
