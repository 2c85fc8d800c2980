# The task is killed mid-stream: the stream aborts with task-exited.
t_task_exits() {
	start_target t.out 8
	start_sink sink.out --rcvbuf 65536 --slow-ms 20
	$K checkpoint $T --stop >ck.out &
	local c=$!
	sleep 1
	kill -9 $T
	wait $c || true
	out=$(cat ck.out)
	expect_err "$out" ESRCH "exited" || return 1
	wait_for sink.out 'abort reason=task-exited' 10 || { why="sink: $(tail -2 sink.out)"; return 1; }
}
