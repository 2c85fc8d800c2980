# Backpressure: a sink that reads slowly and stalls for 2 s loses nothing; the
# stream waited (stats wait-ns) and the image equals the task.
t_slow_sink() {
	start_target t.out 4
	kill -STOP $T
	start_sink sink.out --rcvbuf 65536 --slow-ms 5 --stall-ms 2000
	out=$($K checkpoint $T --timeout 20000) || { why="checkpoint: $out"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	grep -q 'stream crid=.* ok' sink.out || { why="sink: $(cat sink.out)"; return 1; }
	w=$($K stats | sed -n 's/.*wait-ns=\([0-9]*\).*/\1/p')
	[[ -n $w ]] || { why="stats printed no wait-ns: $($K stats)"; return 1; }
	((w > 1500000000)) || { why="wait-ns=$w: the stream did not wait for the stalled sink"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="$v"; return 1; }
}
