# A 1 TiB PROT_READ|PROT_WRITE reservation with one page touched checkpoints
# about as fast as the same program without it: unpopulated page-table ranges
# are skipped whole. The bound calibrates itself against that baseline
# (2x + 1 s; one checkpoint takes 0.2-0.5 s under TCG, 1.5-3 s on the
# KASAN/lockdep kernel); a walk that looked up the reservation page by page
# (256 Mi pages) would take minutes.
t_sparse_reservation() {
	local base
	sparse_checkpoint || return 1
	base=$sparse_ms
	sparse_checkpoint 1024 || return 1
	((sparse_ms < 2 * base + 1000)) || { why="took $sparse_ms ms, $base ms without the reservation"; return 1; }
}

# sparse_checkpoint [RESERVE_GIB]: checkpoints ktarget 1 [RESERVE_GIB], stopped, into
# a sink, verifies the image; sets sparse_ms to the checkpoint's milliseconds.
sparse_checkpoint() {
	bg $B/ktarget 1 "$@" >t.out
	T=$!
	wait_for t.out '^tick' 10 || { why="target: $(cat t.out)"; return 1; }
	kill -STOP $T; sleep 0.2
	rm -f $W/s-*.img
	start_sink sink.out
	local t0=$(date +%s%N) out v
	out=$($K checkpoint $T --timeout 60000) || { why="checkpoint: $out"; return 1; }
	sparse_ms=$(ms_since $t0)
	wait $S
	v=$($K verify $(ls $W/s-*.img) $T) || { why="$v"; return 1; }
	kill -9 $T; wait $T 2>/dev/null
	return 0
}
