# Issue 11.4: a stream stalled by a sink that stopped reading holds no genl
# lock: another genl family loads and unloads in < 5 s, CTRL_CMD_GETFAMILY
# answers in < 100 ms, and the stalled stream still completes afterwards.
# (A held lock makes the load wait for the rest of the 8 s stall, >= 7 s; the
# load itself takes 0.3-2.1 s under TCG, the upper end on a loaded host.)
t_genl_not_blocked() {
	start_target t.out 4
	start_sink sink.out --rcvbuf 65536 --stall-ms 8000
	$K checkpoint $T --stop --timeout 60000 >ck.out &
	local c=$!
	wait_for sink.out 'sink stalling' 10 || { why="sink never stalled: $(cat sink.out)"; return 1; }
	sleep 0.5
	local t0=$(date +%s%N)
	modprobe nbd && rmmod nbd || { why="modprobe/rmmod nbd failed"; return 1; }
	local ms=$(ms_since $t0)
	((ms < 5000)) || { why="loading and unloading nbd (a genl family) took $ms ms"; return 1; }
	out=$($K getfamily nlctrl) || { why="getfamily: $out"; return 1; }
	local us=${out##*us=}
	((us < 100000)) || { why="CTRL_CMD_GETFAMILY took $us us"; return 1; }
	kill -0 $c 2>/dev/null || { why="the stream ended early: $(cat ck.out)"; return 1; }
	wait $c || { why="checkpoint: $(cat ck.out)"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	grep -q 'stream crid=.* ok' sink.out || { why="sink: $(cat sink.out)"; return 1; }
}
