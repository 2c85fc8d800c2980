# Who may checkpoint whom (SECURITY.md): every command as uid 65534, as a uid
# with only CAP_CHECKPOINT_RESTORE, as root of an unprivileged user namespace,
# and as root; across pid namespaces; against kernel threads.
t_permissions() {
	root_and_user_targets || return 1
	local who
	for who in AS_NOBODY AS_USERNS_ROOT; do
		out=$(${!who} $K checkpoint $T1 --stop) || true
		expect_err "$out" EPERM "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN" || { why="$who checkpoint: $why"; return 1; }
		out=$(${!who} $K send restart-begin pid:u32=$T1) || true
		expect_err "$out" EPERM "CAP_CHECKPOINT_RESTORE" || { why="$who restart-begin: $why"; return 1; }
		out=$(${!who} $K stats) || true
		expect_err "$out" EPERM "the counters are the host's" || { why="$who stats: $why"; return 1; }
		out=$(${!who} $K sink $W/x) || true
		expect_err "$out" EPERM "over the network namespace" || { why="$who sink: $why"; return 1; }
	done
	out=$($AS_USER $K checkpoint $T2 --stop) || true
	expect_err "$out" EPERM "CAP_CHECKPOINT_RESTORE" || { why="same uid no cap: $why"; return 1; }
	out=$($AS_CAPUSER $K checkpoint $T1 --stop) || true
	expect_err "$out" EACCES "ptrace access check refused" || { why="other uid with cap: $why"; return 1; }
	out=$($AS_CAPUSER $K send restart-begin pid:u32=$T1) || true
	expect_err "$out" EACCES "ptrace access check refused" || { why="restart other uid with cap: $why"; return 1; }
	out=$($AS_CAPUSER $K checkpoint $T2 --stop) || { why="same uid with cap: $out"; return 1; }
	# Non-dumpable (what a setuid program is): the ptrace check refuses even its owner.
	bg $AS_USER $B/kexec nodump >nd.out
	local nd=$!
	wait_state $nd T 10 || { why="non-dumpable target did not stop: $(cat nd.out)"; return 1; }
	out=$($AS_CAPUSER $K checkpoint $nd) || true
	expect_err "$out" EACCES "not dumpable" || { why="non-dumpable, same uid with cap: $why"; return 1; }
	out=$($AS_CAPUSER $K send restart-begin pid:u32=$nd) || true
	expect_err "$out" EACCES "not dumpable" || { why="restart non-dumpable: $why"; return 1; }
	out=$(unshare -p -f --mount-proc $K checkpoint $T1 --stop) || true
	expect_err "$out" ESRCH "no such process in the caller's pid namespace" || { why="pid ns: $why"; return 1; }
	out=$($K checkpoint 2) || true
	expect_err "$out" EOPNOTSUPP "kernel threads" || { why="kthread: $why"; return 1; }
	out=$($K checkpoint $T1 --stop) || { why="root: $out"; return 1; }
}
