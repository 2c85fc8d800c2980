# Without --stop a running task is refused (EBUSY), and nothing is sent.
t_not_stopped() {
	start_target t.out 1
	start_sink sink.out
	out=$($K checkpoint $T) || true
	expect_err "$out" EBUSY "the task is not stopped"
}
