# Issue 11.3: uid 1000 with CAP_CHECKPOINT_RESTORE checkpoints its own stopped
# process while the sink is slow; the process is resumed and execs a
# setuid-root program that reads /etc/shadow. The stream must abort with
# reason exec, and no byte of the new image may reach the sink.
t_checkpoint_exec_race() {
	suid_copy || { why="cannot make the setuid copy"; return 1; }
	bg $AS_CAPUSER $B/kexec a $W/kexec-suid 16 >v.out
	local v=$!
	wait_state $v T 10 || { why="victim did not stop: $(cat v.out)"; return 1; }
	start_sink sink.out --rcvbuf 65536 --slow-ms 20
	$AS_CAPUSER $K checkpoint $v --timeout 60000 >ck.out 2>&1 &
	local c=$!
	# Resume it once the stream runs (not after a fixed sleep): an exec before
	# admission is refused at admission, which is not the race this is about.
	wait_for sink.out '^stream crid=.* begun' 20 || { why="no stream began: $(cat ck.out sink.out)"; return 1; }
	kill -CONT $v
	wait_for v.out '^b uid 1000 euid 0' 10 || { why="victim did not exec setuid: $(cat v.out)"; return 1; }
	wait $c
	out=$(cat ck.out)
	expect_err "$out" EACCES "execve" || { why="requester: $why"; return 1; }
	[[ $out == *"reason=exec"* ]] || { why="requester reason: $out"; return 1; }
	wait_for sink.out 'abort reason=exec' 10 || { why="sink: $(tail -2 sink.out)"; return 1; }
	if grep -aq 'root:' $W/s-*.img; then why="the image holds /etc/shadow bytes"; return 1; fi
	if grep -aq 'euid 0' $W/s-*.img; then why="the image holds the setuid stage"; return 1; fi
	kill -CONT $v 2>/dev/null || true
}
