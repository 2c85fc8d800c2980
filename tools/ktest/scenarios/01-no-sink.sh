# A checkpoint with no sink registered is refused at once.
t_no_sink() {
	start_target t.out 1
	out=$($K checkpoint $T --stop) || true
	expect_err "$out" ENOTCONN "no capture sink registered"
}
