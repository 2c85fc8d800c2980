# Issue 11.4: handled signals (SIGWINCH, SIGCHLD) to the requester do not
# abort a stream; a fatal one (SIGKILL) does, with reason requester-gone, and
# a task stopped for the stream is resumed.
t_requester_signals() {
	start_target t.out 8
	start_sink sink.out --rcvbuf 65536 --slow-ms 10 --streams 2
	$K checkpoint $T --stop --handle-signals --timeout 60000 >ck.out &
	local c=$!
	sleep 0.7
	kill -WINCH $c; sleep 0.2; kill -CHLD $c
	wait $c || { why="handled signals aborted the stream: $(cat ck.out)"; return 1; }
	grep -q '^ok .*signals=2' ck.out || { why="requester: $(cat ck.out)"; return 1; }
	wait_for sink.out 'stream crid=.* ok' 5 || { why="sink: $(cat sink.out)"; return 1; }
	$K checkpoint $T --stop --timeout 60000 >ck2.out &
	c=$!
	sleep 0.7
	kill -9 $c
	wait_for sink.out 'abort reason=requester-gone' 10 || { why="sink: $(tail -2 sink.out)"; return 1; }
	sleep 0.3
	[[ $(state $T) != T ]] || { why="task left stopped"; return 1; }
}
