# SPDX-License-Identifier: GPL-2.0
# Helpers of the guest-side kernel scenarios (sourced by tools/ktest/guest-run).
# Every scenario is a function t_NAME in scenarios/NN-NAME.sh; it sets $why and
# returns non-zero on failure. Programs: $K (ckpt-ktest), $B/ktarget, $B/kexec.

# Who asks: the probes every command is tried as (see SECURITY.md).
AS_NOBODY="setpriv --reuid 65534 --regid 65534 --clear-groups"
AS_USER="setpriv --reuid 1000 --regid 1000 --clear-groups"
AS_CAPUSER="$AS_USER --inh-caps +checkpoint_restore --ambient-caps +checkpoint_restore"
# Root of a user namespace an unprivileged user made (holds every capability
# over that namespace only).
AS_USERNS_ROOT="$AS_USER unshare -Ur"

pids=()
bg() { "$@" & pids+=($!); }
cleanup_scenario() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
	rm -f $W/*.img
}
state() { awk '{print $3}' /proc/$1/stat 2>/dev/null || echo gone; }
# wait_for FILE PATTERN [SECONDS [PID]]: SECONDS counts 50 ms rounds (see below); with
# PID, the wait also ends when PID is gone (the program that would write the line died).
wait_for() {
	# Rounds, not the clock: on the debug kernel under TCG a round takes far longer than
	# its 50 ms, and the scenarios' waits (a Swift CLI starting, 20 s) rely on that slack
	# there (measured: waits by the clock failed every listener start in that guest).
	local i
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		[[ -z ${4:-} ]] || kill -0 "$4" 2>/dev/null || break
		sleep 0.05
	done
	grep -q -- "$2" "$1" 2>/dev/null
}
# memcg NAME: a child memory cgroup of the cgroup2 root, mounted if it is not; sets $cg
# to its path (each scenario then sets the limits it needs).
memcg() {
	local root=/sys/fs/cgroup
	mountpoint -q $root || mount -t cgroup2 none $root || { why="no cgroup2"; return 1; }
	echo +memory >$root/cgroup.subtree_control
	cg=$root/$1
	mkdir -p $cg
}
# wait_syscall PID NR [SECONDS]: until PID sleeps in system call NR (/proc/PID/syscall's
# first field), e.g. 34, pause(2) on x86_64: a target that printed its line may still be
# running the code after the print, and its memory is settled only once it sleeps.
wait_syscall() {
	local i nr
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		read -r nr _ </proc/$1/syscall 2>/dev/null && [[ $nr == "$2" ]] && return 0
		sleep 0.05
	done
	return 1
}
# wait_state PID STATE [SECONDS]
wait_state() {
	local i
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		[[ $(state $1) == "$2" ]] && return 0
		sleep 0.05
	done
	return 1
}
last_tick() { grep '^tick' "$1" | tail -1 | awk '{print $2}'; }
start_target() {	# start_target OUT [HEAP_MIB] [setpriv args...]
	local out=$1 heap=${2:-4}
	shift 2 || shift $#
	bg "$@" $B/ktarget "$heap" >"$out"
	T=$!
	wait_for "$out" '^tick' 10 || true
}
# root_and_user_targets: ktarget as root (T1) and as uid 1000 (T2), a sink for two streams.
root_and_user_targets() {
	start_target t.out 1
	start_target t2.out 1 $AS_USER
	T1=$(pgrep -u 0 -f 'ktarget 1' | head -1 || true) T2=$(pgrep -u 1000 -f 'ktarget 1' | head -1 || true)
	[[ -n $T1 && -n $T2 ]] || { why="targets did not start (root: '$T1', uid 1000: '$T2')"; return 1; }
	start_sink sink.out --streams 2
}
start_sink() {		# start_sink OUT [sink options]
	local out=$1
	shift
	bg $K sink $W/s "$@" >"$out" 2>&1
	S=$!
	wait_for "$out" 'sink ready' 10
}
# expect_err OUTPUT ERRNO EXTACK-SUBSTRING
expect_err() {
	if [[ $1 != *"errno=$2 "* || $1 != *"$3"* ]]; then
		why="expected $2 \"$3\", got: $1"
		return 1
	fi
}
# ms_since START_NS: milliseconds since `date +%s%N` gave START_NS
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# A setuid-root copy of kexec on the guest's tmpfs (the exec-race victims).
suid_copy() {
	cp $B/kexec $W/kexec-suid && chown 0:0 $W/kexec-suid && chmod 4755 $W/kexec-suid
}
# wait_file PATH [SECONDS]: until PATH exists
wait_file() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		[[ -e $1 ]] && return 0
		sleep 0.05
	done
	return 1
}
