#!/bin/bash
# ab.sh REPS SHAPE...: natively, batched C with page cache writes and with O_DIRECT writes
# (batched-direct.patch), each also with the writes on a second thread (dthread.c), the
# four interleaved; SHAPE is "FRAG BYTES STREAMS", e.g. "32768 1G 1". Run from anywhere as
# root; free page reporting held and free memory touched first, as inline-hold-29/ab.sh.
set -u
REPS=$1; shift
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../../../.." && pwd)
export W=$(mktemp -d /tmp/dio30.XXXX)
mkdir -p $W/src/tools/bench && cp $root/tools/bench/*.c $root/tools/bench/*.h $W/src/tools/bench/ &&
	mkdir -p $W/src/kernel-patch/include && cp -r $root/kernel-patch/include/uapi $W/src/kernel-patch/include/ &&
	(cd $W/src && patch -s -p1 < $here/batched-direct.patch) &&
	cp $here/dthread.c $W/src/tools/bench/ &&
	gcc -O2 -o $W/sender $W/src/tools/bench/sender.c && gcc -O2 -o $W/batched $W/src/tools/bench/batched.c &&
	gcc -O2 -pthread -o $W/dthread $W/src/tools/bench/dthread.c &&
	gcc -O2 -o $W/touch $root/tools/bench/touch-memory.c || exit 1
. $root/tools/bench/results/inline-hold-29/hold.sh
$W/touch $(awk '/MemFree/ {printf "%d", $2 / 1024 - 2048}' /proc/meminfo)
for shape in "$@"; do set -- $shape
  for r in $(seq $REPS); do
    for v in "batched 0" "dthread 0" "batched 1" "dthread 1"; do set -- $v $shape
      if [ $2 = 1 ]; then DIO=1 ROFF=412 $here/run1.sh $1 $3 $4 $5; else $here/run1.sh $1 $3 $4 $5; fi
    done
  done
done
