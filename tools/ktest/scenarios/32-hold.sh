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

# checkpoint_into_stall OUT MS ARG...: a sink (its output in OUT) that stalls MS ms after its
# 10th message and `$AS $K checkpoint $T ARG...` in the background (c; output in OUT.ck);
# returns once the sink stalls. AS: the caller's prefix (a setpriv), or none.
checkpoint_into_stall() {
	local out=$1 ms=$2
	shift 2
	start_sink "$out" --rcvbuf 65536 --stall-ms "$ms"
	${AS:-} $K checkpoint $T "$@" --timeout 60000 >"$out.ck" 2>&1 &
	c=$!
	wait_for "$out" 'sink stalling' 10 || { why="sink never stalled: $(cat "$out")"; return 1; }
}

# with_hold_total MIB CMD...: CMD with the module's hold_total_mib at MIB, put back after.
with_hold_total() {
	local param=/sys/module/ckpt/parameters/hold_total_mib old rc
	old=$(cat $param)
	echo "$1" >$param
	"${@:2}"
	rc=$?
	echo "$old" >$param
	return $rc
}

# The task runs again while a stalled sink still holds back most of its stream; without the
# flag, the same stall keeps it stopped. Both images equal the task.
t_hold_continues_early() {
	local s0 s1 held c
	start_still_target 16 || return 1
	s0=$($K stats)
	checkpoint_into_stall sink.out 3000 --stop --hold || return 1
	wait_state $T S 2 || { why="held: the task is $(state $T) during the sink's stall, not running again"; return 1; }
	wait $c || { why="checkpoint: $(cat sink.out.ck)"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	grep -q 'stream crid=.* ok' sink.out || { why="sink: $(cat sink.out)"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="held image: $v"; return 1; }
	[[ $(cat sink.out.ck) =~ frozen_ns=([0-9]+) ]] || { why="held: no frozen-ns in $(cat sink.out.ck)"; return 1; }
	local fh=${BASH_REMATCH[1]} fp
	s1=$($K stats)
	held=$(($(stat_of held-bytes "$s1") - $(stat_of held-bytes "$s0")))
	((held >= 16 << 20)) || { why="stats held-bytes grew by $held, less than the 16 MiB target"; return 1; }
	echo "held $held bytes"

	rm -f $W/s-*.img
	checkpoint_into_stall sink2.out 3000 --stop || return 1
	sleep 1
	[[ $(state $T) == T ]] || { why="without hold: the task is $(state $T) during the sink's stall, not stopped"; return 1; }
	wait $c || { why="checkpoint without hold: $(cat sink2.out.ck)"; return 1; }
	wait $S || { why="sink: $(cat sink2.out)"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="image without hold: $v"; return 1; }
	# frozen-ns: without hold the task stayed stopped through the sink's 3 s stall; held,
	# it ran again before the stall ended.
	[[ $(cat sink2.out.ck) =~ frozen_ns=([0-9]+) ]] || { why="no frozen-ns in $(cat sink2.out.ck)"; return 1; }
	fp=${BASH_REMATCH[1]}
	echo "frozen-ns held $fh, not held $fp"
	((fp >= 3000000000 && fh < fp)) || { why="frozen-ns held $fh, not held $fp: expected 3 s or more without hold, less with it"; return 1; }
}

# hold_total_mib bounds what all streams hold: at 1 MiB a 16 MiB target stays stopped while
# the sink stalls (it waits as without the flag), and its image is still whole. At 0 the
# flag does nothing.
t_hold_bound() {
	start_still_target 16 || return 1
	with_hold_total 1 hold_bound_at 1 && with_hold_total 0 hold_bound_at 0
}
hold_bound_at() {	# hold_bound_at MIB: the checkpoint of $T, with hold_total_mib at MIB
	rm -f $W/s-*.img
	checkpoint_into_stall sink.out 2000 --stop --hold || return 1
	sleep 1
	[[ $(state $T) == T ]] || { why="hold_total_mib $1: the task is $(state $T) during the stall, not stopped"; return 1; }
	wait $c || { why="hold_total_mib $1: $(cat sink.out.ck)"; return 1; }
	wait $S
	v=$($K verify $(ls $W/s-*.img) $T) || { why="hold_total_mib $1: $v"; return 1; }
}

# Without stop, for a task the requester stopped itself (a tree, a pre-copy's final copy):
# the stream holds, and checkpoint-read tells the requester once the task has been read,
# while the sink still stalls and before checkpoint-done; the kernel leaves the task
# stopped (the requester continues it), and the image equals the task. Refused for a
# running task (not stopped) and with pre-copy; no checkpoint-read when holding is off
# (hold_total_mib 0), nor for stop on a task stopped before (which holds too, and is left
# stopped).
t_hold_requester_stopped() {
	local s0 s1 held
	start_still_target 16 || return 1
	start_sink sink0.out
	out=$($K checkpoint $T --hold) || true
	expect_err "$out" EBUSY "not stopped" || { why="running task: $why"; return 1; }
	out=$($K send checkpoint pid:u32=$T flags:u32=$((1 << 1 | 1 << 3))) || true
	expect_err "$out" EINVAL "not with pre-copy" || { why="with pre-copy: $why"; return 1; }
	kill $S; wait $S 2>/dev/null
	kill -STOP $T; wait_state $T T 2 || { why="target did not stop"; return 1; }
	s0=$($K stats)
	checkpoint_into_stall sink.out 6000 --hold || return 1
	wait_for sink.out.ck '^read crid=' 5 ||
		{ why="no checkpoint-read during the sink's stall: $(cat sink.out.ck)"; return 1; }
	kill -0 $c 2>/dev/null || { why="checkpoint-done came during the stall: $(cat sink.out.ck)"; return 1; }
	[[ $(state $T) == T ]] || { why="the kernel continued a task the requester stopped: $(state $T)"; return 1; }
	kill -CONT $T
	wait $c || { why="checkpoint: $(cat sink.out.ck)"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	[[ $(sed -n 1p sink.out.ck) == "read crid="* && $(sed -n 2p sink.out.ck) == "ok crid="* ]] ||
		{ why="not checkpoint-read then checkpoint-done: $(cat sink.out.ck)"; return 1; }
	local rc dc
	rc=$(sed -n '1s/^read crid=\([0-9]*\)$/\1/p' sink.out.ck)
	dc=$(sed -n '2s/^ok crid=\([0-9]*\) .*/\1/p' sink.out.ck)
	[[ -n $rc && $rc == "$dc" ]] || { why="checkpoint-read names crid '$rc', checkpoint-done '$dc'"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="held image: $v"; return 1; }
	s1=$($K stats)
	held=$(($(stat_of held-bytes "$s1") - $(stat_of held-bytes "$s0")))
	((held >= 16 << 20)) || { why="stats held-bytes grew by $held, less than the 16 MiB target"; return 1; }
	echo "held $held bytes for a task stopped by its requester"

	kill -STOP $T; wait_state $T T 2
	rm -f $W/s-*.img
	start_sink sink2.out
	out=$(with_hold_total 0 $K checkpoint $T --hold) || { why="hold_total_mib 0: $out"; return 1; }
	wait $S
	[[ $out == "ok crid="* && $out != *read* ]] || { why="hold_total_mib 0: $out"; return 1; }
	start_sink sink3.out
	out=$($K checkpoint $T --stop --hold) || { why="stop on a stopped task: $out"; return 1; }
	wait $S
	[[ $out == "read crid="*$'\n'"ok crid="* && $out != *frozen_ns* ]] || { why="stop on a stopped task: $out"; return 1; }
	[[ $(state $T) == T ]] || { why="a task stopped before the request was continued"; return 1; }
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
	# Without stop, of root's task stopped by root: refused as with it.
	kill -STOP $T1; wait_state $T1 T 2 || { why="root's target did not stop"; return 1; }
	for who in AS_NOBODY AS_USERNS_ROOT; do
		out=$(${!who} $K checkpoint $T1 --hold) || true
		expect_err "$out" EPERM "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN" || { why="$who without stop: $why"; return 1; }
	done
	out=$($AS_CAPUSER $K checkpoint $T1 --hold) || true
	expect_err "$out" EACCES "ptrace access check refused" || { why="other uid with cap, without stop: $why"; return 1; }
	kill -CONT $T1
}

# The sink dies while the stream holds: the stream aborts (sink-gone), what it held is
# freed, the task runs, and a later held stream holds again (nothing stayed counted).
t_hold_sink_dies() {
	start_still_target 8 || return 1
	start_sink sink.out --rcvbuf 65536 --slow-ms 5 --die-after 20
	out=$($K checkpoint $T --stop --hold --timeout 60000) || true
	expect_err "$out" EPIPE "sink went away" || return 1
	sleep 0.3
	[[ $(state $T) != T ]] || { why="task left stopped"; return 1; }
	# 12 MiB: room for the 8 MiB target (and ktarget's other memory) only if the dead
	# stream's bytes, most of the target, were given back.
	rm -f $W/s-*.img
	with_hold_total 12 hold_again || return 1
	grep -q 'stream crid=.* ok' sink2.out || { why="sink: $(cat sink2.out)"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="$v"; return 1; }
}
hold_again() {
	checkpoint_into_stall sink2.out 2000 --stop --hold || return 1
	wait_state $T S 2 || { why="after the dead stream the task is $(state $T), not running: its held bytes stayed counted"; return 1; }
	wait $c
	wait $S
}

# The pages a held stream copies into are allocated before its task is stopped (the
# reserve, emit.c), as many as the task has anonymous and shared memory resident:
# stats hold-reserved-pages grows by about a still 16 MiB heap's pages. Charged to the
# requester and freed with the rest of its stream, used or not: a python3 target with 16
# MiB of a tmpfs file mapped shared (pytmpfs.py: counted, never copied) gets a reserve it
# does not use, and afterwards the requester's cgroup holds under 8 MiB; twice in a row
# under hold_total_mib 24, so the second reserve is as large as the first only if the
# first gave its share of the bound back.
t_hold_reserve() {
	local cg s0 s1 r1
	memcg ckpt-r || return 1
	start_still_target 16 || return 1
	s0=$($K stats)
	hold_reserve_into sink.out || return 1
	v=$($K verify $(ls $W/s-*.img) $T) || { why="held image: $v"; return 1; }
	s1=$($K stats)
	r1=$(($(stat_of hold-reserved-pages "$s1") - $(stat_of hold-reserved-pages "$s0")))
	# At least the heap's 4096 pages, less what the task's per-CPU rss counters may not
	# have summed yet (32 pages a CPU).
	((r1 >= 4000)) || { why="hold-reserved-pages grew by $r1 for a 16 MiB heap, not by 4000 or more"; return 1; }
	echo "reserved $r1 pages for ktarget 16"
	kill -9 $T
	# A tmpfs of its own: not every guest's init mounts /dev/shm.
	mkdir -p $W/shm && mount -t tmpfs ckpt-reserve $W/shm || { why="mount tmpfs"; return 1; }
	bg taskset -c 0 /usr/bin/python3 $here/pytmpfs.py $W/shm/file 16 >py.out 2>&1
	T=$!
	wait_for py.out '^ready' 60 $T || { why="pytmpfs.py did not start: $(cat py.out)"; umount -l $W/shm; return 1; }
	with_hold_total 24 hold_reserve_twice
	local rc=$?
	kill -9 $T; wait $T 2>/dev/null
	umount -l $W/shm
	return $rc
}
hold_reserve_into() {	# hold_reserve_into OUT: a held checkpoint of $T requested from cgroup $cg
	local cur i
	rm -f $W/s-*.img
	start_sink "$1"
	out=$(sh -c "echo \$\$ >$cg/cgroup.procs && exec $K checkpoint $T --stop --hold" 2>&1) ||
		{ why="checkpoint: $out"; return 1; }
	wait $S
	grep -q 'stream crid=.* ok' "$1" || { why="sink: $(cat "$1")"; return 1; }
	# The stream frees its ring before it reports, the rest of itself just after: rounds, not the clock.
	for ((i = 0; i < 40; i++)); do
		cur=$(cat $cg/memory.current)
		((cur < 8 << 20)) && return 0
		sleep 0.05
	done
	why="the requester's cgroup still holds $cur bytes after its stream was read"
	return 1
}
hold_reserve_twice() {
	local s0 s1 s2 r1 r2
	s0=$($K stats)
	hold_reserve_into sink1.out || return 1
	s1=$($K stats)
	hold_reserve_into sink2.out || return 1
	s2=$($K stats)
	r1=$(($(stat_of hold-reserved-pages "$s1") - $(stat_of hold-reserved-pages "$s0")))
	r2=$(($(stat_of hold-reserved-pages "$s2") - $(stat_of hold-reserved-pages "$s1")))
	echo "reserved $r1 then $r2 pages for 16 MiB of a shared tmpfs file"
	((r1 >= 4000 && r2 >= r1 - 64)) || { why="reserves of $r1 then $r2 pages: the first should be 4000 or more and the second as large"; return 1; }
}

# Charged to the requester: inside memory.max 24M (memory locked, as 12-memory-bounds
# says why), a 64 MiB target's held messages would fill the cgroup; the stream holds only
# while the cgroup keeps room for a stream that does not hold, then waits for its own
# queue to drain, and completes instead of failing with ENOMEM; no OOM killer runs.
t_hold_memcg() {
	local cg
	start_still_target 64 || return 1
	memcg ckpt-h || return 1
	echo 24M >$cg/memory.max && echo 0 >$cg/memory.swap.max 2>/dev/null
	start_sink sink.out --rcvbuf 262144 --stall-ms 1000
	out=$(sh -c "echo \$\$ >$cg/cgroup.procs && exec $K checkpoint $T --stop --hold --timeout 120000 --mlock" 2>&1) ||
		{ why="checkpoint inside memory.max 24M: $out"; return 1; }
	wait $S
	grep -q 'stream crid=.* ok' sink.out || { why="sink: $(cat sink.out)"; return 1; }
	! grep -q "invoked oom-killer" <<<"$(dmesg)" || { why="the OOM killer ran: $(dmesg | grep -m1 'invoked oom-killer')"; return 1; }
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
	start_target t-root.out 8
	with_hold_total 1 hold_producer_is "+ckpt_hold -20" || { why="root: $why"; return 1; }
	start_target t-capuser.out 8 $AS_USER
	local AS=$AS_CAPUSER
	with_hold_total 1 hold_producer_is "+ckpt 0" || { why="uid 1000 with CAP_CHECKPOINT_RESTORE: $why"; return 1; }
}
hold_producer_is() {	# hold_producer_is "+WQ NICE": checkpoints $T (as $AS) and looks
	local got i
	checkpoint_into_stall sink.out 6000 --stop --hold || return 1
	for ((i = 0; i < 20; i++)); do
		got=$(producer_nice)
		[[ -n $got ]] && break
		sleep 0.05
	done
	wait $c
	wait $S
	[[ $got == *"$1" ]] || { why="the producer is '$got', not *$1"; return 1; }
	grep -q 'stream crid=.* ok' sink.out || { why="$(cat sink.out) $(cat sink.out.ck)"; return 1; }
	echo "producer $got"
}

# await-go (stream.c): for a task its requester will stop itself (a tree), the reserve is
# made while the task runs; checkpoint-reserved says so with its pages, and the stream
# waits for the requester's go: nothing is read before it, the task is not stopped by the
# kernel. The requester stops the task and gives the go; checkpoint-read comes, the kernel
# leaves the task stopped, and the image equals the task. A second go is EALREADY.
t_hold_await_go() {
	local r
	start_still_target 16 || return 1
	start_sink sink.out
	: >$W/go
	$K checkpoint $T --hold --await-go $W/go --go-twice >ck.out 2>&1 &
	c=$!
	wait_for ck.out '^reserved crid=' 10 || { why="no checkpoint-reserved: $(cat ck.out)"; return 1; }
	r=$(sed -n 's/^reserved crid=[0-9]* pages=\([0-9]*\)$/\1/p' ck.out)
	# The heap's 4096 pages, less what the per-CPU rss counters may not have summed yet.
	((r >= 4000)) || { why="reserved ${r:-no} pages for a 16 MiB heap: $(cat ck.out)"; return 1; }
	[[ $(state $T) == S ]] || { why="the task is $(state $T) before its go, not running (S, in pause())"; return 1; }
	sleep 0.5
	! grep -q '^read' ck.out || { why="read before the go: $(cat ck.out)"; return 1; }
	kill -STOP $T; wait_state $T T 2 || { why="target did not stop"; return 1; }
	rm $W/go
	wait_for ck.out '^read crid=' 10 || { why="no checkpoint-read after the go: $(cat ck.out)"; return 1; }
	[[ $(state $T) == T ]] || { why="the kernel continued a task the requester stopped: $(state $T)"; return 1; }
	kill -CONT $T
	wait $c || { why="checkpoint: $(cat ck.out)"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	grep -q '^go ok$' ck.out || { why="first go not ok: $(cat ck.out)"; return 1; }
	out=$(grep '^go error' ck.out)
	expect_err "$out" EALREADY "had its go already" || { why="second go: $why"; return 1; }
	v=$($K verify $(ls $W/s-*.img) $T) || { why="image: $v"; return 1; }
	echo "reserved $r pages while the task ran"

	# A go for a checkpoint asked for without await-go, from its own socket: EINVAL, and
	# the stream goes on as asked.
	kill -STOP $T; wait_state $T T 2 || { why="target did not stop"; return 1; }
	start_sink sink2.out
	out=$($K checkpoint $T --hold --go-now 2>&1) || { why="checkpoint with a go it did not ask for: $out"; return 1; }
	wait $S
	expect_err "$(grep '^go error' <<<"$out")" EINVAL "not requested with await-go" || { why="go without await-go: $why"; return 1; }
	[[ $out == *$'\n'"ok crid="* ]] || { why="the stream after a refused go: $out"; return 1; }

	# hold_total_mib 0: nothing is reserved (pages=0) and the go is awaited all the same;
	# nothing is held, so no checkpoint-read, and the stream completes.
	local param=/sys/module/ckpt/parameters/hold_total_mib old rc=0
	old=$(cat $param)
	echo 0 >$param
	start_sink sink3.out
	: >$W/go
	$K checkpoint $T --hold --await-go $W/go >ck3.out 2>&1 &
	c=$!
	wait_for ck3.out '^reserved crid=' 10 || rc=1
	rm -f $W/go
	wait $c || rc=1
	echo "$old" >$param
	wait $S
	kill -CONT $T
	((rc == 0)) || { why="hold_total_mib 0: $(cat ck3.out)"; return 1; }
	grep -q '^reserved crid=[0-9]* pages=0$' ck3.out || { why="hold_total_mib 0 reserved pages: $(cat ck3.out)"; return 1; }
	! grep -q '^read' ck3.out || { why="checkpoint-read with holding off: $(cat ck3.out)"; return 1; }
}

# await-go's refusals: without hold, with stop, pre-copy, zombie or a parent (EINVAL); the
# permissions of any checkpoint (nobody and root of a user namespace EPERM, the capability
# holder on another uid's task EACCES), checked first; the capability holder on its own
# task is served. A go from any other socket, root's included, is ENOENT and starts
# nothing; a go for a task not stopped fails the stream within 2 s (EBUSY).
t_hold_await_go_refusals() {
	local who crid
	root_and_user_targets || return 1
	out=$($K checkpoint $T1 --await-go $W/go) || true
	expect_err "$out" EINVAL "set hold too" || { why="without hold: $why"; return 1; }
	out=$($K checkpoint $T1 --stop --hold --await-go $W/go) || true
	expect_err "$out" EINVAL "not with stop" || { why="with stop: $why"; return 1; }
	out=$($K send checkpoint pid:u32=$T1 flags:u32=$((1 << 1 | 1 << 3 | 1 << 4))) || true
	expect_err "$out" EINVAL "not with pre-copy or zombie" || { why="with pre-copy: $why"; return 1; }
	out=$($K checkpoint $T1 --zombie --hold --await-go $W/go) || true
	expect_err "$out" EINVAL "not with pre-copy or zombie" || { why="with zombie: $why"; return 1; }
	out=$($K send checkpoint pid:u32=$T1 flags:u32=$((1 << 3 | 1 << 4)) parent-crid:u64=1 \
		dirty-ranges:hex=00100000000000000020000000000000) || true
	expect_err "$out" EINVAL "not with await-go" || { why="with a parent: $why"; return 1; }
	for who in AS_NOBODY AS_USERNS_ROOT; do
		out=$(${!who} $K checkpoint $T1 --hold --await-go $W/go) || true
		expect_err "$out" EPERM "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN" || { why="$who: $why"; return 1; }
		out=$(${!who} $K checkpoint $T1 --stop --hold --await-go $W/go) || true
		expect_err "$out" EPERM "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN" || { why="$who, bad flags: $why"; return 1; }
	done
	out=$($AS_CAPUSER $K checkpoint $T1 --hold --await-go $W/go) || true
	expect_err "$out" EACCES "ptrace access check refused" || { why="other uid with cap: $why"; return 1; }

	# The capability holder's own task; the go tried from other sockets first.
	: >$W/go
	$AS_CAPUSER $K checkpoint $T2 --hold --await-go $W/go >ck.out 2>&1 &
	c=$!
	wait_for ck.out '^reserved crid=' 10 || { why="capability holder: no checkpoint-reserved: $(cat ck.out)"; return 1; }
	crid=$(sed -n 's/^reserved crid=\([0-9]*\) .*/\1/p' ck.out)
	out=$($K send checkpoint-go crid:u64=$crid) || true
	expect_err "$out" ENOENT "no checkpoint of this socket" || { why="root's go from another socket: $why"; return 1; }
	for who in AS_NOBODY AS_USERNS_ROOT AS_CAPUSER AS_USER; do
		out=$(${!who} $K send checkpoint-go crid:u64=$crid) || true
		expect_err "$out" ENOENT "no checkpoint of this socket" || { why="$who's go from another socket: $why"; return 1; }
	done
	sleep 0.3
	! grep -q '^read' ck.out || { why="read after another socket's go: $(cat ck.out)"; return 1; }
	kill -STOP $T2; wait_state $T2 T 2 || { why="uid 1000's target did not stop"; return 1; }
	rm $W/go
	wait $c || { why="capability holder's own task: $(cat ck.out)"; return 1; }
	kill -CONT $T2

	# A go for a running task: the stream waits 2 s for the stop, then fails; the task runs.
	: >$W/go
	$K checkpoint $T1 --hold --await-go $W/go >ck2.out 2>&1 &
	c=$!
	wait_for ck2.out '^reserved crid=' 10 || { why="no checkpoint-reserved: $(cat ck2.out)"; return 1; }
	rm $W/go
	wait $c && { why="a go for a running task was read: $(cat ck2.out)"; return 1; }
	out=$(grep '^error' ck2.out)
	expect_err "$out" EBUSY "did not stop within 2 s" || { why="go for a running task: $why"; return 1; }
	[[ $(state $T1) != T ]] || { why="the kernel stopped a task it was not asked to"; return 1; }
	wait $S
	grep -q 'stream crid=.* ok' sink.out || { why="sink: $(cat sink.out)"; return 1; }
}

# What ends a stream waiting for its go: its deadline (ETIMEDOUT; the reserve, charged to
# the requester, freed: its cgroup under 8 MiB after), its task exiting (ESRCH at once),
# its requester gone (the task is then free for the next checkpoint).
t_hold_await_go_ends() {
	local cg cur i t0
	memcg ckpt-g || return 1
	start_still_target 16 || return 1
	start_sink sink.out --streams 4
	: >$W/go
	out=$(sh -c "echo \$\$ >$cg/cgroup.procs && exec $K checkpoint $T --hold --await-go $W/go --timeout 1500" 2>&1) || true
	[[ $out == *"reserved crid="* ]] || { why="no checkpoint-reserved: $out"; return 1; }
	expect_err "$(grep '^error' <<<"$out")" ETIMEDOUT "within its timeout" || { why="no go: $why"; return 1; }
	for ((i = 0; i < 40; i++)); do
		cur=$(cat $cg/memory.current)
		((cur < 8 << 20)) && break
		sleep 0.05
	done
	((cur < 8 << 20)) || { why="the requester's cgroup holds $cur bytes after its stream waited out its go"; return 1; }
	[[ $(state $T) == S ]] || { why="the task is $(state $T) after the stream ended, not running"; return 1; }

	$K checkpoint $T --hold --await-go $W/go >ck.out 2>&1 &
	c=$!
	wait_for ck.out '^reserved crid=' 10 || { why="no checkpoint-reserved: $(cat ck.out)"; return 1; }
	t0=$(date +%s%N)
	kill -9 $T
	wait $c && { why="the stream of an exited task completed: $(cat ck.out)"; return 1; }
	expect_err "$(grep '^error' ck.out)" ESRCH "exited before its go" || { why="task exits: $why"; return 1; }
	(($(ms_since $t0) < 1000)) || { why="the stream ended $(ms_since $t0) ms after its task exited"; return 1; }

	start_still_target 4 || return 1
	$K checkpoint $T --hold --await-go $W/go >ck2.out 2>&1 &
	c=$!
	wait_for ck2.out '^reserved crid=' 10 || { why="no checkpoint-reserved: $(cat ck2.out)"; return 1; }
	kill -9 $c
	wait $c 2>/dev/null
	for ((i = 0; i < 20; i++)); do
		out=$($K checkpoint $T --stop) && break
		sleep 0.1
	done
	[[ $out == "ok crid="* ]] || { why="after the requester was killed: $out"; return 1; }
	wait $S
}
