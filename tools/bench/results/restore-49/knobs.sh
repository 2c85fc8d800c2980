# The memory phase under knobs (trace49b build): writer begin -> deferred checked, and the whole.
set -u
B=/tmp/ckpt; cp /work/scratch/base48-ckpt $B
source /work/main/tools/bench/results/restore-48/one-checkpoint.sh
cp /work/scratch/trace49b-ckpt /tmp/tr
ls -la $IMG/$crid.ckpt
for r in 1 2 3 4 5 6; do
 for v in base nocrc nowrite w1 w4 both; do
  case $v in base) e=();; nocrc) e=(NOCRC=1);; nowrite) e=(NOWRITE=1);; w1) e=(WRITERS=1);; w4) e=(WRITERS=4);; both) e=(NOCRC=1 NOWRITE=1);; esac
  t0=${EPOCHREALTIME/./}
  env "${e[@]}" /tmp/tr restore $IMG/$crid.ckpt 2>/tmp/e >/tmp/o
  t1=${EPOCHREALTIME/./}
  awk -v v=$v -v tot=$(( (t1-t0)/1000 )) '/^T /{ t[substr($0, index($0,$3))]=$2 } END { printf "R %s total %d memory %.1f walk %.1f threads %.1f join %.1f\n", v, tot, (t["writer: deferred checked"]-t["writer: begin"])/1000, (t["writer: walk done"]-t["writer: threads started"])/1000, (t["writer: threads started"]-t["writer: begin"])/1000, (t["writer: joined"]-t["writer: walk done"])/1000 }' /tmp/e
  np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' /tmp/o); kill -9 $np 2>/dev/null
  sleep 0.3
 done
done
