# A sink that stops reading for longer than the timeout ends the stream
# (sink-timeout), and the task stopped for it is resumed.
t_sink_stalls_past_timeout() {
	start_target t.out 4
	start_sink sink.out --rcvbuf 65536 --stall-ms 4000
	out=$($K checkpoint $T --stop --timeout 1000) || true
	expect_err "$out" ETIMEDOUT "did not end within its timeout" || return 1
	sleep 0.3
	[[ $(state $T) != T ]] || { why="task left stopped"; return 1; }
}
