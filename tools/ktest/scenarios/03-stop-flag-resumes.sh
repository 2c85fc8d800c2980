# --stop stops the task for the stream and resumes it afterwards.
t_stop_flag_resumes() {
	start_target t.out 1
	start_sink sink.out
	out=$($K checkpoint $T --stop) || { why="$out"; return 1; }
	sleep 0.3
	[[ $(state $T) != T ]] || { why="task left stopped"; return 1; }
	a=$(last_tick t.out); sleep 0.5; b=$(last_tick t.out)
	((b > a)) || { why="task not running after checkpoint ($a -> $b)"; return 1; }
}
