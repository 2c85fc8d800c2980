# Issue 11.5: restart staging and checkpoint streams are charged to the caller's memory
# cgroup, sessions are capped per uid and end when idle, and timeout-ms has a maximum.
t_memory_bounds() {
	local P=/sys/module/ckpt/parameters cg
	start_target t.out 64
	kill -STOP $T; sleep 0.2
	start_sink sink.out
	out=$($K checkpoint $T --timeout 120000) || { why="checkpoint: $out"; return 1; }
	wait $S
	img=$(ls $W/s-*.img)
	# Charged: inside a cgroup with memory.max 32M, staging 64 MiB fails.
	memcg ckpt-t || return 1
	echo 32M >$cg/memory.max && echo 0 >$cg/memory.swap.max 2>/dev/null
	out=$(sh -c "echo \$\$ >$cg/cgroup.procs && exec $K restart $T $img --validate-only" 2>&1) || true
	expect_err "$out" ENOMEM "no memory to stage page data" || { why="64 MiB inside memory.max 32M: $why"; return 1; }
	out=$($K restart $T $img --validate-only) || { why="outside the cgroup: $out"; return 1; }
	# A stream is charged to its requester as well: asked from inside memory.max 8M, with
	# a sink that grows its buffer to 16 MiB and stalls, the queued messages do not fit.
	# The stream's own allocations fail (ENOMEM) instead of invoking the OOM killer. The
	# requester locks its memory: otherwise reclaim in the full cgroup evicts its pages,
	# and its own fault to bring one back may invoke the OOM killer first (seen on the
	# debug kernel): the stream's memory is the requester's, like any it allocates.
	# So is what it queued to the stalled sink, until the sink reads it: the requester
	# writes its result over a tmpfs page filled from outside the cgroup, as a pipe
	# would need a new page charged to the full cgroup (the OOM killer ran once, 6.1).
	echo 8M >$cg/memory.max
	start_sink sink2.out --rcvbuf 65536 --grow-rcvbuf 16777216 --stall-ms 3000
	head -c 4096 /dev/zero >req.out
	sh -c "echo \$\$ >$cg/cgroup.procs && exec $K checkpoint $T --timeout 60000 --mlock 1<>req.out 2>&1" || true
	out=$(tr -d '\0' <req.out)
	wait $S
	echo 32M >$cg/memory.max
	expect_err "$out" ENOMEM "no memory for a stream message" || { why="a stream inside memory.max 8M: $why"; return 1; }
	! grep -q "invoked oom-killer" <<<"$(dmesg)" || { why="the OOM killer ran: $(dmesg | grep -m1 'invoked oom-killer')"; return 1; }
	# Idle sessions end.
	local idle=$(cat $P/session_idle_ms)
	echo 1000 >$P/session_idle_ms
	rm -f /tmp/kt-pause
	$K restart $T $img --validate-only --pause /tmp/kt-pause >r.out 2>&1 &
	local r=$!
	wait_file /tmp/kt-pause 30
	sleep 2; rm -f /tmp/kt-pause
	wait $r
	echo $idle >$P/session_idle_ms
	expect_err "$(cat r.out)" ENOENT "no such restart session" || { why="idle session: $why"; return 1; }
	# One uid, one session at a time (user_sessions=1).
	local us=$(cat $P/user_sessions)
	echo 1 >$P/user_sessions
	start_target t2.out 1; local T2=$T
	kill -STOP $T2; sleep 0.2
	local big
	big=$(pgrep -f 'ktarget 64' | head -1 || true)
	[[ -n $big ]] || { why="the 64 MiB target is gone"; return 1; }
	$K restart $big $img --validate-only --pause /tmp/kt-pause >r.out 2>&1 &
	r=$!
	wait_file /tmp/kt-pause 30
	out=$($K send restart-begin pid:u32=$T2) || true
	rm -f /tmp/kt-pause; wait $r
	echo $us >$P/user_sessions
	expect_err "$out" EAGAIN "user_sessions" || { why="second session: $why"; return 1; }
	grep -q '^ok validated' r.out || { why="first session: $(cat r.out)"; return 1; }
	# timeout-ms has a policy maximum.
	out=$($K send checkpoint pid:u32=$T2 timeout-ms:u32=3600001) || true
	expect_err "$out" ERANGE "integer out of range" || { why="timeout-ms max: $why"; return 1; }
}
