# Yama ptrace_scope 2 (only CAP_SYS_PTRACE may attach): the in-tree form asks
# the LSMs through ptrace_may_access() and refuses; the module cannot ask
# them (SECURITY.md) and allows. Both outcomes are asserted, so the
# documented difference is measured, not assumed.
t_yama_scope() {
	local f=/proc/sys/kernel/yama/ptrace_scope
	[[ -w $f ]] || { why="no writable $f"; return 1; }
	start_target t.out 1 $AS_USER
	T2=$(pgrep -u 1000 -f 'ktarget 1' | head -1 || true)
	[[ -n $T2 ]] || { why="the uid 1000 target did not start"; return 1; }
	start_sink sink.out
	echo 2 >$f
	out=$($AS_CAPUSER $K checkpoint $T2 --stop) || true
	echo 0 >$f
	if [[ $ko == builtin ]]; then
		expect_err "$out" EACCES "ptrace" || { why="in-tree, scope 2: $why"; return 1; }
	else
		[[ $out == ok* ]] || { why="module, scope 2 (expected allowed): $out"; return 1; }
	fi
}
