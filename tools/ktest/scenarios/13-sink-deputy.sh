# Issue 11.6: a stream goes only to a sink whose registering credentials may
# checkpoint the target. Root of an unprivileged user's user namespace owns a
# network namespace and registers a sink there; host root, entering that
# netns, cannot ship a host task's memory to it. Checkpointing the sink's own
# process is refused at once.
t_sink_deputy() {
	start_target t.out 1
	kill -STOP $T
	bg $AS_USER unshare -Urn $K sink $W/c >sink.out 2>&1
	local s=$!
	wait_for sink.out 'sink ready' 10 || { why="container sink: $(cat sink.out)"; return 1; }
	local sp
	sp=$(pgrep -f "ckpt-ktest sink $W/c" | head -1 || true)
	[[ -n $sp ]] || { why="the container sink's pid not found"; return 1; }
	out=$(nsenter -t $sp -n $K checkpoint $T) || true
	expect_err "$out" EACCES "capture sink's owner may not checkpoint" || { why="host task to container sink: $why"; return 1; }
	start_sink sink2.out
	out=$(timeout 5 $K checkpoint $S --stop) || true
	expect_err "$out" EDEADLK "capture sink's own process" || { why="sink's own pid: $why"; return 1; }
}
