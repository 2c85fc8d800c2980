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
