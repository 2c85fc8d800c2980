# --stop stops the task for the stream and resumes it afterwards; checkpoint-done says for
# how long (frozen-ns), and says nothing of it when the task was stopped before the request.
t_stop_flag_resumes() {
	start_target t.out 1
	start_sink sink.out
	out=$($K checkpoint $T --stop) || { why="$out"; return 1; }
	[[ $out =~ frozen_ns=([0-9]+) ]] && ((BASH_REMATCH[1] > 0)) ||
		{ why="checkpoint-done has no frozen-ns for a task the kernel stopped: $out"; return 1; }
	sleep 0.3
	[[ $(state $T) != T ]] || { why="task left stopped"; return 1; }
	a=$(last_tick t.out); sleep 0.5; b=$(last_tick t.out)
	((b > a)) || { why="task not running after checkpoint ($a -> $b)"; return 1; }
	wait $S
	kill -STOP $T; sleep 0.2
	start_sink sink2.out
	out=$($K checkpoint $T --stop) || { why="stopped before the request: $out"; return 1; }
	kill -CONT $T
	[[ $out == ok* && $out != *frozen_ns=* ]] ||
		{ why="checkpoint-done of a task stopped before the request: $out (no frozen-ns expected)"; return 1; }
}
