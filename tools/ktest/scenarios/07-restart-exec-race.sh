# Issue 11.2: uid 1000 with CAP_CHECKPOINT_RESTORE begins a restart of its own
# stopped process and sends a valid image; before the commit the process
# execs a setuid-root copy of itself and stops again. The commit must fail
# and the setuid process must be unchanged.
t_restart_exec_race() {
	suid_copy || { why="cannot make the setuid copy"; return 1; }
	bg $AS_CAPUSER $B/kexec a $W/kexec-suid 1 >v.out
	local v=$!
	wait_state $v T 10 || { why="victim did not stop: $(cat v.out)"; return 1; }
	start_sink sink.out
	out=$($AS_CAPUSER $K checkpoint $v) || { why="checkpoint: $out"; return 1; }
	wait $S
	img=$(ls $W/s-*.img)
	chmod 644 $img
	rm -f /tmp/kt-pause
	$AS_CAPUSER $K restart $v $img --pause /tmp/kt-pause >r.out 2>&1 &
	local r=$!
	wait_file /tmp/kt-pause 30
	[[ -e /tmp/kt-pause ]] || { why="restart never paused: $(cat r.out)"; return 1; }
	kill -CONT $v
	wait_for v.out '^b uid' 10 || { why="victim did not exec: $(cat v.out)"; return 1; }
	wait_state $v T 10 || { why="setuid victim did not stop"; return 1; }
	grep -q '^b uid 1000 euid 0' v.out || { why="not setuid: $(cat v.out)"; return 1; }
	rm -f /tmp/kt-pause
	wait $r
	out=$(cat r.out)
	expect_err "$out" EACCES "execve" || { why="commit after exec: $why"; return 1; }
	kill -CONT $v
	wait_for v.out '^b buf=' 10 || { why="victim did not finish: $(cat v.out)"; return 1; }
	grep -q '^b buf=clean$' v.out || { why="the setuid process was written: $(grep 'b buf' v.out)"; return 1; }
}
