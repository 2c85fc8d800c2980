# The stream is the task: every vma equals /proc/PID/maps, every page
# /proc/PID/mem; an untouched 1 GiB mapping costs no pages.
t_checkpoint_matches_proc() {
	start_target t.out 4
	kill -STOP $T; sleep 0.2
	start_sink sink.out || { why="sink did not start"; return 1; }
	out=$($K checkpoint $T) || { why="checkpoint: $out"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	grep -q "stream crid=.* ok" sink.out || { why="sink: $(cat sink.out)"; return 1; }
	img=$(ls $W/s-*.img)
	v=$($K verify $img $T) || { why="$v"; return 1; }
	pages=$(sed -n 's/.*pages=\([0-9]*\).*/\1/p' <<<"$v")
	((pages >= 1024 && pages < 4096)) || { why="pages=$pages"; return 1; }
	[[ $(state $T) == T ]] || { why="a task stopped by its owner was resumed"; return 1; }
}
