# guest: callgrind (--dump-instr=yes) of `ckpt restore IMG` of a fresh 1 MiB checkpoint, run as
#   tools/qemu/run-guest --kernel 6.12 --timeout 900 --mem 2048 --share /work/tmp/s50 -- bash THIS
# then on the host: tools/bench/distinct-instructions --top 60 --functions ckpt --from /work/tmp/s50/cg/cg.restore.base
set -u
O=/work/tmp/s50/cg; mkdir -p $O
B=/tmp/ckpt; cp ${BIN:-/work/main/.build-release/release/ckpt} $B; strip --strip-debug $B
source /work/main/tools/bench/results/restore-48/one-checkpoint.sh
valgrind --tool=callgrind --dump-instr=yes --trace-children=no --callgrind-out-file=$O/cg.restore.${TAG:-base} $B restore $IMG/$crid.ckpt > $O/restore.out 2>&1; tail -3 $O/restore.out
