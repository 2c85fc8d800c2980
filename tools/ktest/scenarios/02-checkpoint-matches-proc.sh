# The stream is the task: every vma equals /proc/PID/maps, every page
# /proc/PID/mem; an untouched 1 GiB mapping costs no pages.
t_checkpoint_matches_proc() {
	start_target t.out 20
	kill -STOP $T; sleep 0.2
	start_sink sink.out || { why="sink did not start"; return 1; }
	out=$($K checkpoint $T) || { why="checkpoint: $out"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	grep -q "stream crid=.* ok" sink.out || { why="sink: $(cat sink.out)"; return 1; }
	img=$(ls $W/s-*.img)
	v=$($K verify $img $T) || { why="$v"; return 1; }
	pages=$(sed -n 's/.*pages=\([0-9]*\).*/\1/p' <<<"$v")
	((pages >= 5120 && pages < 8192)) || { why="pages=$pages"; return 1; }
	# The 20 MiB heap is one vma: the kernel sends runs of CKPT_PAGES_RUN_MAX pages, not
	# less (verify fails on more); fewer, larger records keep the image's pads few.
	[[ $v == *" full_runs="[1-9]* ]] || { why="no pages record of CKPT_PAGES_RUN_MAX pages: $v"; return 1; }
	[[ $(state $T) == T ]] || { why="a task stopped by its owner was resumed"; return 1; }
}
