#!/bin/bash
# ab.sh REPS: batched C against mapped.c (and mapped.c with MADV_POPULATE_WRITE), natively,
# interleaved, 1 GiB at 4 and 32 KiB and 64 x 16 MiB at 32 KiB; free page reporting held.
set -u
P=/sys/module/page_reporting/parameters/page_reporting_order; was=$(cat $P); echo 11 > $P
trap 'echo $was > $P' EXIT
dd if=/dev/zero of=/var/tmp/map-warm bs=1M count=2560 status=none; rm /var/tmp/map-warm
cd "$(dirname "$0")"
for shape in "4096 1G 1" "32768 1G 1" "32768 16M 64"; do
  for r in $(seq $1); do
    ./one.sh batched $shape; ./one.sh mapped $shape; POPULATE=1 ./one.sh mapped $shape
  done
done
