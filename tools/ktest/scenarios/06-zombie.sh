# Issue 11.1: a zombie (its stack already freed) is ESRCH for every command
# and every requester, before anything reads it; the module unloads after.
t_zombie() {
	bg sh -c 'sleep 0.2 & exec sleep 1000'
	local parent=$! z="" i who
	for ((i = 0; i < 40; i++)); do
		z=$(ps -o pid=,stat= --ppid $parent | awk '$2 ~ /^Z/ {print $1}')
		[[ -n $z ]] && break
		sleep 0.1
	done
	[[ -n $z ]] || { why="no zombie appeared"; return 1; }
	start_sink sink.out
	for who in "" AS_NOBODY AS_CAPUSER AS_USERNS_ROOT; do
		out=$(${who:+${!who}} $K checkpoint $z --stop) || true
		expect_err "$out" ESRCH "zombie" || { why="${who:-root} checkpoint: $why"; return 1; }
		out=$(${who:+${!who}} $K send restart-begin pid:u32=$z) || true
		expect_err "$out" ESRCH "zombie" || { why="${who:-root} restart-begin: $why"; return 1; }
	done
	[[ $(state $z) == Z ]] || { why="the zombie went away during the test"; return 1; }
}

# A zombie with CKPT_CHECKPOINT_FLAGS_ZOMBIE: its stream is a header, the task (with
# exit-status) and a trailer, for a requester who may checkpoint it, and for no one
# else (the same checks as a live task's: no capability EPERM, another uid EACCES,
# a sink whose owner may not read it EACCES); not with pre-copy; a live task with
# the flag is checkpointed as ever. Its parent still finds it afterwards.
t_zombie_flag() {
	# Zombies of root (exit 5) and of uid 1000 (killed by SIGTERM), each under a sleep.
	bg sh -c '(exit 5) & exec sleep 1000'
	local parent=$! z="" uz="" i who
	bg $AS_USER sh -c 'sh -c "kill -TERM \$\$" & exec sleep 1000'
	local uparent=$!
	for ((i = 0; i < 40; i++)); do
		z=$(ps -o pid=,stat= --ppid $parent | awk '$2 ~ /^Z/ {print $1}')
		uz=$(ps -o pid=,stat= --ppid $uparent | awk '$2 ~ /^Z/ {print $1}')
		[[ -n $z && -n $uz ]] && break
		sleep 0.1
	done
	[[ -n $z && -n $uz ]] || { why="no zombies appeared ('$z', '$uz')"; return 1; }
	start_sink sink.out --streams 3
	for who in AS_NOBODY AS_USERNS_ROOT; do
		out=$(${!who} $K checkpoint $z --zombie) || true
		expect_err "$out" EPERM "CAP_CHECKPOINT_RESTORE" || { why="$who checkpoint --zombie: $why"; return 1; }
	done
	out=$($AS_CAPUSER $K checkpoint $z --zombie) || true
	expect_err "$out" EACCES "ptrace access check refused" || { why="another uid's zombie, with the cap: $why"; return 1; }
	out=$($K send checkpoint pid:u32=$z flags:u32=6) || true
	expect_err "$out" EINVAL "a zombie" || { why="zombie with pre-copy: $why"; return 1; }
	out=$($K checkpoint $z --zombie) || { why="root: $out"; return 1; }
	out=$($AS_CAPUSER $K checkpoint $uz --zombie) || { why="its own uid's zombie, with the cap: $out"; return 1; }
	start_target t.out 1
	kill -STOP $T
	out=$($K checkpoint $T --zombie) || { why="a live task with the flag: $out"; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; return 1; }
	[[ $(grep -c 'stream crid=.* ok records=3 ' sink.out) == 2 ]] || { why="not two three-record streams: $(cat sink.out)"; return 1; }
	grep -q 'stream crid=.* ok records=[0-9][0-9]' sink.out || { why="the live task's stream: $(cat sink.out)"; return 1; }
	[[ $(state $z) == Z && $(state $uz) == Z ]] || { why="the zombies went away: $(state $z) $(state $uz)"; return 1; }
	# A sink whose owner may not read the zombie (root of a user namespace) gets nothing.
	bg $AS_USER unshare -Urn $K sink $W/c >csink.out 2>&1
	wait_for csink.out 'sink ready' 10 || { why="container sink: $(cat csink.out)"; return 1; }
	local sp
	sp=$(pgrep -f "ckpt-ktest sink $W/c" | head -1 || true)
	out=$(nsenter -t $sp -n $K checkpoint $z --zombie) || true
	expect_err "$out" EACCES "capture sink's owner may not checkpoint" || { why="root's zombie to a container sink: $why"; return 1; }
}
