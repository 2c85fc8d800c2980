# The hold flag (emit.c, stream.c): with stop, the task is continued as soon as it has been
# read, while its messages, held in kernel memory, drain to a sink that reads slowly. The
# sink checks every fragment's and the stream's CRC-32C, which the drainer computes at
# delivery; the image must equal the task as it was when read.

# start_still_target MIB: ktarget with a MIB MiB heap that writes no memory once set up
# (KTARGET_STILL: it waits in pause()), so an image taken while it was stopped still equals
# its memory after it was continued. Pinned to one CPU: the kernel itself writes the CPU a
# task runs on into its rseq area (glibc's, in the thread's TLS) when it returns to user
# space, so a task continued on the other vCPU differs in that word (seen: the page
# toggled between two contents from one checkpoint to the next, with any module).
start_still_target() {
	bg taskset -c 0 env KTARGET_STILL=1 $B/ktarget "$1" >st.out
	T=$!
	wait_for st.out '^still' 10 || { why="ktarget did not start: $(cat st.out)"; return 1; }
}

# The task runs again while a stalled sink still holds back most of its stream; without the
# flag, the same stall keeps it stopped. Both images equal the task.
t_hold_continues_early() {
	local s0 s1 held c
	start_still_target 16 || return 1
	s0=$($K stats)
	start_sink sink.out --rcvbuf 65536 --stall-ms 3000
	$K checkpoint $T --stop --hold --timeout 60000 >ck.out 2>&1 &
	c=$!
	wait_for sink.out 'sink stalling' 10 || { why="sink never stalled: $(cat sink.out)"; return 1; }
	wait_state $T S 2 || { why="held: the task is $(state $T) during the sink's stall, not running again"; return 1; }
	wait $c || { why="checkpoint: $(cat ck.out)"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	grep -q 'stream crid=.* ok' sink.out || { why="sink: $(cat sink.out)"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="held image: $v"; return 1; }
	s1=$($K stats)
	held=$(($(stat_of held-bytes "$s1") - $(stat_of held-bytes "$s0")))
	((held >= 16 << 20)) || { why="stats held-bytes grew by $held, less than the 16 MiB target"; return 1; }
	echo "held $held bytes"

	rm -f $W/s-*.img
	start_sink sink2.out --rcvbuf 65536 --stall-ms 3000
	$K checkpoint $T --stop --timeout 60000 >ck2.out 2>&1 &
	c=$!
	wait_for sink2.out 'sink stalling' 10 || { why="sink never stalled: $(cat sink2.out)"; return 1; }
	sleep 1
	[[ $(state $T) == T ]] || { why="without hold: the task is $(state $T) during the sink's stall, not stopped"; return 1; }
	wait $c || { why="checkpoint without hold: $(cat ck2.out)"; return 1; }
	wait $S || { why="sink: $(cat sink2.out)"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="image without hold: $v"; return 1; }
}

# hold_total_mib bounds what all streams hold: at 1 MiB a 16 MiB target stays stopped while
# the sink stalls (it waits as without the flag), and its image is still whole. At 0 the
# flag does nothing.
t_hold_bound() {
	local P=/sys/module/ckpt/parameters total c
	total=$(cat $P/hold_total_mib)
	start_still_target 16 || return 1
	for mib in 1 0; do
		rm -f $W/s-*.img
		echo $mib >$P/hold_total_mib
		start_sink sink.out --rcvbuf 65536 --stall-ms 2000
		$K checkpoint $T --stop --hold --timeout 60000 >ck.out 2>&1 &
		c=$!
		wait_for sink.out 'sink stalling' 10 || { echo $total >$P/hold_total_mib; why="sink never stalled: $(cat sink.out)"; return 1; }
		sleep 1
		if [[ $(state $T) != T ]]; then
			echo $total >$P/hold_total_mib
			why="hold_total_mib $mib: the task is $(state $T) during the stall, not stopped"
			return 1
		fi
		wait $c || { echo $total >$P/hold_total_mib; why="hold_total_mib $mib: $(cat ck.out)"; return 1; }
		wait $S
		v=$($K verify $(ls $W/s-*.img) $T) || { echo $total >$P/hold_total_mib; why="hold_total_mib $mib: $v"; return 1; }
	done
	echo $total >$P/hold_total_mib
}

# Refused without stop (a task stopped by someone else stays stopped: nothing to shorten);
# a task already stopped with stop set is left stopped and its stream holds nothing.
t_hold_needs_stop() {
	local s0 s1
	start_target t.out 1
	kill -STOP $T; wait_state $T T 2
	start_sink sink.out
	out=$($K checkpoint $T --hold) || true
	expect_err "$out" EINVAL "set stop too" || return 1
	s0=$($K stats)
	out=$($K checkpoint $T --stop --hold) || { why="already stopped: $out"; return 1; }
	wait $S
	[[ $(state $T) == T ]] || { why="a task stopped before the request was continued"; return 1; }
	s1=$($K stats)
	[[ $(stat_of held-bytes "$s1") == $(stat_of held-bytes "$s0") ]] || { why="a stream of a task it did not stop held: $s0 -> $s1"; return 1; }
}

# The flag changes no permission: nobody and root of a user namespace are refused as
# without it (and root's task is not stopped), a uid without the capability on its own
# task too, the capability holder on another uid's task too; the capability holder on its
# own task and root hold.
t_hold_permissions() {
	local who
	root_and_user_targets || return 1
	for who in AS_NOBODY AS_USERNS_ROOT; do
		out=$(${!who} $K checkpoint $T1 --stop --hold) || true
		expect_err "$out" EPERM "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN" || { why="$who: $why"; return 1; }
	done
	out=$($AS_USER $K checkpoint $T2 --stop --hold) || true
	expect_err "$out" EPERM "CAP_CHECKPOINT_RESTORE" || { why="same uid no cap: $why"; return 1; }
	out=$($AS_CAPUSER $K checkpoint $T1 --stop --hold) || true
	expect_err "$out" EACCES "ptrace access check refused" || { why="other uid with cap: $why"; return 1; }
	[[ $(state $T1) != T ]] || { why="a refused request stopped root's task"; return 1; }
	out=$($AS_CAPUSER $K checkpoint $T2 --stop --hold) || { why="same uid with cap: $out"; return 1; }
	out=$($K checkpoint $T1 --stop --hold) || { why="root: $out"; return 1; }
	wait $S
	[[ $(grep -c 'stream crid=.* ok' sink.out) == 2 ]] || { why="sink: $(cat sink.out)"; return 1; }
}

# The sink dies while the stream holds: the stream aborts (sink-gone), what it held is
# freed, the task runs, and a later held stream holds again (nothing stayed counted).
t_hold_sink_dies() {
	local P=/sys/module/ckpt/parameters total s0 s1
	total=$(cat $P/hold_total_mib)
	start_still_target 8 || return 1
	start_sink sink.out --rcvbuf 65536 --slow-ms 5 --die-after 20
	out=$($K checkpoint $T --stop --hold --timeout 60000) || true
	expect_err "$out" EPIPE "sink went away" || return 1
	sleep 0.3
	[[ $(state $T) != T ]] || { why="task left stopped"; return 1; }
	# 12 MiB: room for the 8 MiB target (and the interpreter's own memory) only if the
	# dead stream's bytes, most of the target, were given back.
	rm -f $W/s-*.img
	echo 12 >$P/hold_total_mib
	s0=$($K stats)
	start_sink sink2.out --rcvbuf 65536 --stall-ms 2000
	$K checkpoint $T --stop --hold --timeout 60000 >ck.out 2>&1 &
	local c=$!
	wait_for sink2.out 'sink stalling' 10 || { echo $total >$P/hold_total_mib; why="sink never stalled"; return 1; }
	wait_state $T S 2 || { echo $total >$P/hold_total_mib; why="after the dead stream the task is $(state $T), not running: its held bytes stayed counted"; return 1; }
	wait $c; wait $S
	echo $total >$P/hold_total_mib
	grep -q 'stream crid=.* ok' sink2.out || { why="sink: $(cat sink2.out)"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="$v"; return 1; }
}

# Charged to the requester: inside memory.max 24M (memory locked, as 12-memory-bounds
# says why), a 64 MiB target's held messages would fill the cgroup; the stream holds only
# while the cgroup keeps room for a stream that does not hold, then waits for its own
# queue to drain, and completes instead of failing with ENOMEM; no OOM killer runs.
t_hold_memcg() {
	local cg=/sys/fs/cgroup
	start_still_target 64 || return 1
	mountpoint -q $cg || mount -t cgroup2 none $cg || { why="no cgroup2"; return 1; }
	echo +memory >$cg/cgroup.subtree_control
	mkdir -p $cg/ckpt-h && echo 24M >$cg/ckpt-h/memory.max && echo 0 >$cg/ckpt-h/memory.swap.max 2>/dev/null
	start_sink sink.out --rcvbuf 262144 --stall-ms 1000
	out=$(sh -c "echo \$\$ >$cg/ckpt-h/cgroup.procs && exec $K checkpoint $T --stop --hold --timeout 120000 --mlock" 2>&1) ||
		{ why="checkpoint inside memory.max 24M: $out"; return 1; }
	wait $S
	grep -q 'stream crid=.* ok' sink.out || { why="sink: $(cat sink.out)"; return 1; }
	! dmesg | grep -q "invoked oom-killer" || { why="the OOM killer ran: $(dmesg | grep -m1 'invoked oom-killer')"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="$v"; return 1; }
}

# `ckpt checkpoint --stop --hold` while the listener itself is stopped: pywrites.py (a page
# written every millisecond) counts on while its stream waits in kernel memory and the
# command still waits for the image; once the listener goes on, the image is published,
# and the restored process holds exactly what it held when the kernel read it, none of
# what it wrote after ("check ok").
t_hold_restore() {
	counting_python pywrites.py 32 || return 1
	local L c before i ran=0
	L=$(pgrep -f "listen --dir $W/img" | head -1)
	[[ -n $L ]] || { why="no listener process"; return 1; }
	kill -STOP $L
	$CKPT_CLI checkpoint $T --stop --hold --wait $W/img >ck.out 2>&1 &
	c=$!
	# Rounds, not the clock (lib.sh's wait_for says why): up to 60 of them.
	for ((i = 0; i < 60 && !ran; i++)); do
		before=$(grep -c '^count' t.out)
		sleep 0.5
		kill -0 $c 2>/dev/null || break
		(($(grep -c '^count' t.out) > before)) && [[ $(state $T) != T ]] && ran=1
	done
	kill -CONT $L
	((ran)) || { why="the target never ran while its checkpoint waited for the stopped listener (state $(state $T)): $(cat ck.out)"; return 1; }
	wait $c || { why="checkpoint --hold: $(cat ck.out)"; return 1; }
	img=$(sed -n 's/^image //p' ck.out)
	[[ -f $img ]] || { why="no image: $(cat ck.out)"; return 1; }
	kill -9 $T
	wait $T 2>/dev/null
	restore_and_ask check || return 1
	[[ $got == "check ok "* ]] || { why="restored memory differs: $got ($(head -1 ck.out))"; return 1; }
}

# The producer runs at nice -20 only for a requester with CAP_SYS_NICE (root here), not for
# one with CAP_CHECKPOINT_RESTORE alone: found by its name while it waits for room
# (hold_total_mib 1 is full and the sink stalls); a kworker running a work item is named
# after its workqueue: +ckpt_hold (high priority) or +ckpt.
producer_nice() {	# producer_nice: "NAME NICE" of the stream's producer, or nothing
	ps -e -o ni=,comm= | awk '$2 ~ /^kworker.*[+]ckpt(_hold)?$/ { print $2, $1; exit }'
}
t_hold_priority() {
	local P=/sys/module/ckpt/parameters total who got c i want
	total=$(cat $P/hold_total_mib)
	echo 1 >$P/hold_total_mib
	for who in root capuser; do
		if [[ $who == root ]]; then
			start_target t-$who.out 8
			want="+ckpt_hold -20"
		else
			start_target t-$who.out 8 $AS_USER
			want="+ckpt 0"
		fi
		start_sink sink-$who.out --rcvbuf 65536 --stall-ms 6000
		if [[ $who == root ]]; then
			$K checkpoint $T --stop --hold --timeout 60000 >ck.out 2>&1 &
		else
			$AS_CAPUSER $K checkpoint $T --stop --hold --timeout 60000 >ck.out 2>&1 &
		fi
		c=$!
		wait_for sink-$who.out 'sink stalling' 10 || { echo $total >$P/hold_total_mib; why="$who: sink never stalled"; return 1; }
		got=
		for ((i = 0; i < 20; i++)); do
			got=$(producer_nice)
			[[ -n $got ]] && break
			sleep 0.05
		done
		wait $c; wait $S
		[[ $got == *"$want" ]] || { echo $total >$P/hold_total_mib; why="$who: the producer is '$got', not *$want"; return 1; }
		grep -q 'stream crid=.* ok' sink-$who.out || { echo $total >$P/hold_total_mib; why="$who: $(cat sink-$who.out) $(cat ck.out)"; return 1; }
		echo "$who: producer $got"
	done
	echo $total >$P/hold_total_mib
}
