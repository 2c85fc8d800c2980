#!/bin/bash
# Guest side (session 45): the tree freeze of `--tree --stop`, `--tree --stop --hold` by the
# previous CLI (the kernel allocates each hold's pages after the tree is stopped) and by
# this one (await-go: allocated before the stop), one module and one listener throughout,
# the three in rotating order.
#   tools/qemu/run-guest --kernel 6.12 --cpu max --mem 3072 --prealloc --timeout 1500 -- \
#     bash tools/bench/results/tree-hold-45/run.sh KO CLI OLD_CLI MIB NCHILD REPS
set -u
ko=$1 cli=$2 old=$3 mib=$4 nchild=$5 reps=$6
here=$(cd "$(dirname "$0")" && pwd)
modprobe libcrc32c && insmod "$ko" || exit 1
cp "$cli" /tmp/ckpt && cli=/tmp/ckpt
cp "$old" /tmp/ckpt-old && old=/tmp/ckpt-old
mkdir -p /tmp/img
$cli listen --dir /tmp/img --reserve $((mib * (nchild + 1) + 64))M >/tmp/l.out 2>/tmp/l.log &
for i in $(seq 200); do grep -q 'space reserved' /tmp/l.log && break; sleep 0.1; done
grep -q 'space reserved' /tmp/l.log || { echo "listener: $(cat /tmp/l.log)"; exit 1; }
python3 "$here/../tree-hold-42/tree.py" "$mib" "$nchild" >/tmp/t.out 2>&1 &
T=$!
for i in $(seq 600); do grep -q ready /tmp/t.out && break; sleep 0.1; done
grep -q ready /tmp/t.out || { echo "tree: $(cat /tmp/t.out)"; exit 1; }
echo "tree root $T, $((nchild + 1)) processes of $mib MiB"
modes=(plain hold-before hold)
for ((r = 1; r <= reps; r++)); do
	for ((k = 0; k < 3; k++)); do
		mode=${modes[(r + k) % 3]}
		bin=$cli opt=""
		[[ $mode != plain ]] && opt=--hold
		[[ $mode == hold-before ]] && bin=$old
		t0=$EPOCHREALTIME
		out=$($bin checkpoint $T --tree --stop $opt --wait /tmp/img 2>&1) || { echo "FAIL $mode: $out"; exit 1; }
		t1=$EPOCHREALTIME
		f=$(sed -n 's/^tree of [0-9]* processes frozen-ms \([0-9]*\)$/\1/p' <<<"$out")
		p=$(sed -n 's/^tree of [0-9]* processes reserved-pages \([0-9]*\)$/\1/p' <<<"$out")
		wall=$(( (10#${t1/./} - 10#${t0/./}) / 1000 ))
		echo "result $mode rep $r frozen_ms $f wall_ms $wall reserved_pages ${p:--}"
		rm -f /tmp/img/*.ckpt
	done
done
pkill -9 -P $T; kill -9 $T
