# Restart trusts nothing: a flipped page byte, a moved vma, wrong trailer
# counts, a sequence gap, and pages whose addr + len wraps past the top of the
# address space (with counts and checksum made consistent) are all rejected,
# and the task is untouched.
t_restart_rejects_corrupt() {
	start_target t.out 1
	kill -STOP $T; sleep 0.2
	start_sink sink.out
	$K checkpoint $T >/dev/null || { why="checkpoint failed"; return 1; }
	wait $S
	img=$(ls $W/s-*.img)
	out=$($K restart $T $img --corrupt page) || true
	expect_err "$out" EINVAL "checksum differs" || { why="page: $why"; return 1; }
	out=$($K restart $T $img --corrupt vma) || true
	expect_err "$out" EINVAL "no target mapping covers the range" || { why="vma: $why"; return 1; }
	out=$($K restart $T $img --corrupt trailer) || true
	expect_err "$out" EINVAL "trailer counts differ" || { why="trailer: $why"; return 1; }
	out=$($K restart $T $img --corrupt seq) || true
	expect_err "$out" EINVAL "sequence" || { why="seq: $why"; return 1; }
	out=$($K restart $T $img --corrupt wrap --validate-only) || true
	expect_err "$out" EINVAL "outside their vma" || { why="wrap: $why"; return 1; }
	v=$($K verify $img $T) || { why="the task was touched: $v"; return 1; }
	s=$($K stats)
	[[ $s == *"restart-rejects=5 "* || $s == *"restart-rejects="[5-9]* ]] || { why="stats: $s"; return 1; }
}
