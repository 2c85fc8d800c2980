# A quarter of the stream and session slots (at least one) is kept for the host's
# administrators (CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the initial user
# namespace): roots of user namespaces, who may restart their own tasks, cannot take
# them all. With max_sessions=2, root of a user namespace holds a session on one of its
# tasks and is refused a second (although user_sessions allows four); the host's root
# still opens one meanwhile.
t_slot_reserve() {
	local P=/sys/module/ckpt/parameters ms
	start_target t.out 1
	kill -STOP $T
	rm -f $W/held $W/done $W/pause
	cat >$W/inside.sh <<EOS
set -u
$K sink $W/u >$W/u-sink.out 2>&1 &
sleep 0.5
$B/ktarget 1 >$W/u-t1.out & t1=\$!
$B/ktarget 1 >$W/u-t2.out & t2=\$!
sleep 0.5; kill -STOP \$t1 \$t2; sleep 0.2
echo "checkpoint: \$($K checkpoint \$t1)"
wait %1
$K restart \$t1 \$(ls $W/u-*.img) --validate-only --pause $W/pause >$W/u-r.out 2>&1 & r=\$!
for i in \$(seq 200); do [ -e $W/pause ] && break; sleep 0.1; done
echo "second: \$($K send restart-begin pid:u32=\$t2)"
touch $W/held
for i in \$(seq 300); do [ -e $W/done ] && break; sleep 0.1; done
rm -f $W/pause; wait \$r
echo "first: \$(cat $W/u-r.out)"
kill -9 \$t1 \$t2
EOS
	chmod 755 $W/inside.sh; chmod 777 $W
	ms=$(cat $P/max_sessions)
	echo 2 >$P/max_sessions
	timeout 90 $AS_USER unshare -Urn bash $W/inside.sh >in.out 2>&1 &
	local in=$!
	wait_file $W/held 60 || { why="the user namespace's sessions: $(cat in.out)"; echo $ms >$P/max_sessions; chmod 755 $W; return 1; }
	local host
	host=$($K send restart-begin pid:u32=$T) || true
	touch $W/done
	wait $in
	echo $ms >$P/max_sessions
	chmod 755 $W
	out=$(cat in.out)
	[[ $out == *"checkpoint: ok crid="* ]] || { why="own task: $out"; return 1; }
	expect_err "$(grep second: <<<"$out")" EAGAIN "in use without host privilege" ||
		{ why="second session of a user namespace's root: $why"; return 1; }
	[[ $host == ok* ]] || { why="the host root's session: $host"; return 1; }
	[[ $out == *"first: ok validated"* ]] || { why="first session: $out"; return 1; }
}
