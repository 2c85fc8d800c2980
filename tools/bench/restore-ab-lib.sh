# Sourced by the guest scripts of restore A/B experiments (results/no-rpath-30,
# restore-stamps-30, stub-stop-30): a listener and fresh 1 MiB checkpoints to restore.
# The sourcing script's directory D holds ckpt.ko and target.py (tools/bench/vs-criu-target.py).
#   restore_ab_listen BIN      insmod, /dev/fd for process substitutions, `BIN listen` on $IMG
#   fresh_checkpoint BIN       a new 1 MiB python3 target, `BIN checkpoint --stop`, its image
#                              in $image once published; the target killed, $FLAG made
#   kill_restored              the restored target killed (after the caller looked at it)
IMG=/tmp/ckpt-img FLAG=/tmp/flag log=/tmp/target.log
restore_ab_listen() {
	[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
	modprobe libcrc32c && insmod "$D/ckpt.ko" || exit 1
	mkdir -p $IMG
	"$1" listen --dir $IMG --status never --log-level warning 2>/tmp/listen.log &
	sleep 3
}
fresh_checkpoint() {
	: >$log; rm -f $FLAG
	setsid /usr/bin/python3 "$D/target.py" 1 $log $FLAG </dev/null >/dev/null 2>&1 &
	local pid=$! n0
	for _ in $(seq 300); do grep -q "^tick 20 " $log && break; sleep 0.1; done
	n0=$(ls $IMG/*.ckpt 2>/dev/null | wc -l)
	"$1" checkpoint $pid --stop >/dev/null
	for _ in $(seq 300); do [ "$(ls $IMG/*.ckpt 2>/dev/null | wc -l)" -gt "$n0" ] && break; sleep 0.05; done
	image=$(ls -t $IMG/*.ckpt | head -1)
	kill -9 $pid; sleep 0.3; touch $FLAG
}
kill_restored() { sleep 0.3; kill -9 "$(pgrep -f "target.py 1" | head -1)" 2>/dev/null; sleep 0.2; }
