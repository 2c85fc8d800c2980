# Every thread's credentials are checked, not only the leader's: a process whose
# main thread became uid 1000 (its own credentials only) while another thread
# stayed root is refused to a uid-1000 requester with CAP_CHECKPOINT_RESTORE, and
# its stream carries no record of the root thread; root checkpoints it.
t_thread_credentials() {
	start_sink sink.out --streams 2
	bg /usr/bin/python3 $here/pycreds.py >c.out 2>&1
	T=$!
	wait_for c.out '^ready' 30 || { why="target: $(cat c.out)"; return 1; }
	local uids
	uids=$(awk '/^Uid:/ {print $2}' /proc/$T/task/*/status | sort -u | tr '\n' ' ')
	[[ $uids == "0 1000 " ]] || { why="threads' uids are '$uids', not 0 and 1000"; return 1; }
	out=$($AS_CAPUSER $K checkpoint $T --stop) || true
	expect_err "$out" EACCES "a thread has other credentials than the leader" ||
		{ why="uid 1000 with cap: $why"; return 1; }
	wait_state $T S 10 || { why="the target was not resumed: $(state $T)"; return 1; }
	out=$($K checkpoint $T --stop) || { why="root: $out"; return 1; }
}
