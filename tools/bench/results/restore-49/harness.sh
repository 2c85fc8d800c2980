# Which of vs-criu's ways of running `ckpt restore` costs time: A/B/C/D alternating on one image.
set -u
B=/tmp/ckpt; cp /work/scratch/base48-ckpt $B
R=/work/scratch/base48-ckpt   # the same bytes on the host root (9p, ro, cache=loose), as vs-criu runs it
source /work/main/tools/bench/results/restore-48/one-checkpoint.sh
at_us() { local n=$EPOCHREALTIME; printf -v "$1" '%d' $((10#${n/./})); }
fifo=/tmp/f.fifo
viacriu() { # BIN: the vs-criu way
  rm -f $fifo; mkfifo $fifo
  (while IFS= read -r l; do at_us t; echo "$t $l"; done <$fifo >/tmp/stamps) &
  local reader=$!; sleep 0.1
  at_us r0; out=$("$1" restore $IMG/$crid.ckpt 2>$fifo); at_us r1
  wait $reader
  np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"$out"); echo $(( (r1-r0)/1000 ))
}
viaab() { # BIN: the restore-ab way
  TIMEFORMAT='%3R'
  local t; t=$( { time "$1" restore $IMG/$crid.ckpt >/tmp/o2 2>&1; } 2>&1 )
  np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' /tmp/o2); echo ${t/./}
}
for r in $(seq ${ROUNDS:-10}); do
 for v in A B C D; do
  case $v in A) ms=$(viacriu $R);; B) ms=$(viaab $B);; C) ms=$(viaab $R);; D) ms=$(viacriu $B);; esac
  pid_now=$(pgrep -f "vs-criu-target.py" | head -1); kill -9 $pid_now 2>/dev/null
  echo "R $v $ms"; sleep 0.4
 done
done
