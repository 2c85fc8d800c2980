set -u
# perf record -a of 20 restores of one 1 MiB image; OUT=DIR gets the reports.
B=/tmp/ckpt; cp /work/scratch/base48-ckpt $B
source "$(dirname "$0")/one-checkpoint.sh"
kill %1; sleep 1
cat > /tmp/loop.sh <<EOS
for r in \$(seq 20); do out=\$($B restore $IMG/$crid.ckpt 2>/dev/null); np=\$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"\$out"); kill -9 \$np; done
EOS
a=$EPOCHREALTIME
perf record -F 1999 -a -o /tmp/perf.data -- bash /tmp/loop.sh 2>&1 | tail -2
b=$EPOCHREALTIME; echo "loop ms $(( (${b/./}-${a/./})/1000 ))"
perf report -i /tmp/perf.data --sort comm,dso --stdio 2>/dev/null | grep -v "^#" | grep -v "^$" | head -30 > $OUT/perf-comm-dso.txt
perf report -i /tmp/perf.data --sort dso,sym --stdio 2>/dev/null | grep -v "^#" | grep -v "^$" | head -80 > $OUT/perf-sym.txt
perf report -i /tmp/perf.data --comm ckpt --sort sym --stdio 2>/dev/null | grep -v "^#" | grep -v "^$" | head -60 > $OUT/perf-ckpt-sym.txt
