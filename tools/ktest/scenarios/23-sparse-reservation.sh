# A 1 TiB PROT_READ|PROT_WRITE reservation with one page touched checkpoints
# in under a second: unpopulated page-table ranges are skipped whole.
t_sparse_reservation() {
	bg $B/ktarget 1 1024 >t.out
	T=$!
	wait_for t.out '^tick' 10 || { why="target: $(cat t.out)"; return 1; }
	kill -STOP $T; sleep 0.2
	start_sink sink.out
	local t0=$(date +%s%N)
	out=$($K checkpoint $T --timeout 60000) || { why="checkpoint: $out"; return 1; }
	local ms=$(ms_since $t0)
	wait $S
	((ms < 1000)) || { why="took $ms ms"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="$v"; return 1; }
}
