# Module form only: rmmod while a sink stalls a stream completes in < 5 s,
# the stream aborts with reason unload, the task is resumed, and the module
# loads again.
# On a slow kernel the bound is twice an idle rmmod plus 1 s when that is more
# than 5 s (the debug kernel with a second debug guest on the host took 7.0 s
# with the stream); an unload that waited for the stream would wait out the
# sink's 30 s stall.
t_unload_while_streaming() {
	local t0 base bound
	t0=$(date +%s%N)
	rmmod ckpt || { why="idle rmmod failed"; return 1; }
	base=$(ms_since $t0)
	insmod $ko || { why="reload after the idle rmmod failed"; return 1; }
	bound=$((2 * base + 1000))
	((bound > 5000)) || bound=5000
	start_target t.out 8
	start_sink sink.out --rcvbuf 65536 --stall-ms 30000
	$K checkpoint $T --stop --timeout 60000 >ck.out &
	local c=$!
	wait_for sink.out 'sink stalling' 10 || { why="sink never stalled"; return 1; }
	t0=$(date +%s%N)
	timeout 30 rmmod ckpt || { why="rmmod failed: $(tr '\n' ' ' <$W/log | tail -c 600)"; return 1; }
	local ms=$(ms_since $t0)
	((ms < bound)) || { why="rmmod took $ms ms (bound $bound ms; idle rmmod $base ms)"; return 1; }
	wait $c || true
	out=$(cat ck.out)
	expect_err "$out" ESHUTDOWN "unloaded" || return 1
	[[ $out == *"reason=unload"* ]] || { why="requester: $out"; return 1; }
	sleep 0.3
	[[ $(state $T) != T ]] || { why="task left stopped"; return 1; }
	insmod $ko || { why="reload failed"; return 1; }
}
