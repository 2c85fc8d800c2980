#!/bin/bash
# ab.sh OLD NEW REPS SHAPE...: natively, batched C, OLD and NEW ckpt builds interleaved (the
# order rotating each rep); SHAPE is "STREAMS BYTES FRAG", e.g. "1 1G 4096" "64 32M 32768".
# Free page reporting held (hold.sh) and all free memory touched once first (touch.c: pages
# the host had never backed made the first runs after a warm-up 2-5x slower). One line per
# run from run1.sh; sum.py prints medians.
set -u
OLD=$1 NEW=$2 REPS=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../../../.." && pwd)
export W=$(mktemp -d /tmp/ab29.XXXX)
gcc -O2 -o $W/sender $root/tools/bench/sender.c && gcc -O2 -o $W/batched $root/tools/bench/batched.c &&
	gcc -O2 -o $W/touch $here/touch.c || exit 1
. $here/hold.sh
$W/touch $(awk '/MemFree/ {printf "%d", $2 / 1048576 - 2}' /proc/meminfo)
for shape in "$@"; do set -- $shape
  for r in $(seq $REPS); do
    case $((r % 3)) in 0) order="batched $OLD $NEW" ;; 1) order="$OLD $NEW batched" ;; 2) order="$NEW batched $OLD" ;; esac
    for w in $order; do $here/run1.sh $w $3 $2 $1; done
  done
done
rm -rf $W
