# The sink dies mid-stream: the stream aborts (sink-gone), the task is
# resumed, and a new sink can register at once.
t_sink_dies() {
	start_target t.out 4
	start_sink sink.out --rcvbuf 65536 --slow-ms 5 --die-after 20
	out=$($K checkpoint $T --stop) || true
	expect_err "$out" EPIPE "sink went away" || return 1
	sleep 0.3
	[[ $(state $T) != T ]] || { why="task left stopped"; return 1; }
	start_sink sink2.out || { why="no new sink: $(cat sink2.out)"; return 1; }
}
