# restore_listen: a ckpt listener writing into $W/img, killed at cleanup.
restore_listen() {
	[[ -x $CKPT_CLI ]] || { why="no ckpt CLI at $CKPT_CLI (tools/kernel-tests builds it)"; return 1; }
	mkdir -p $W/img
	bg $CKPT_CLI listen --dir $W/img >l.out 2>l.log
	wait_for l.log 'listening' 20 || { why="listener: $(tail -3 l.log)"; return 1; }
}

# checkpoint_to_image PID [OPTION...]: ckpt checkpoint --stop --wait; sets img (and out).
checkpoint_to_image() {
	local pid=$1
	shift
	out=$($CKPT_CLI checkpoint $pid --stop --wait $W/img "$@" 2>&1) || { why="checkpoint: $out"; return 1; }
	img=$(sed -n 's/^image //p' <<<"$out")
	[[ -f $img ]] || { why="no image: $out"; return 1; }
}

# checkpoint_and_kill [OPTION...]: checkpoint_to_image $T, then kill -9 it and reap it.
checkpoint_and_kill() {
	checkpoint_to_image $T "$@" || return 1
	kill -9 $T
	wait $T 2>/dev/null
	return 0
}

# records_in_image TYPE N: `ckpt show $img` lists N records of TYPE (sets why if not).
records_in_image() {
	$CKPT_CLI show $img >show.out 2>&1 || { why="show: $(tail -3 show.out)"; return 1; }
	local n
	n=$(grep -c " $1 " show.out)
	[[ $n == "$2" ]] || { why="$n $1 records, expected $2: $(grep -a -e " $1 " -e ' file ' -e ' vma ' show.out | tail -12 | tr '\n' ' ')"; return 1; }
}

# show_has TYPE REGEX WHAT: show.out (records_in_image's) has a TYPE record line matching
# REGEX; if not, why names WHAT and lists the TYPE lines.
show_has() {
	grep -q "$2" show.out || { why="no $1 record $3: $(grep -a " $1 " show.out | tr '\n' ' ')"; return 1; }
}

# python_refused CODE WHAT TEXT...: python3 -c CODE (which prints "ready") is checkpointed
# and killed; ckpt restore must refuse it before any process exists, its output holding
# every TEXT. Sets out.
python_refused() {
	local code=$1 what=$2 t
	shift 2
	echo "python_refused: $what"	# the scenario's log, for a watchdog report
	bg /usr/bin/python3 -c "$code" </dev/null >r.out 2>&1
	T=$!
	wait_for r.out '^ready' 30 || { why="python: $(cat r.out)"; return 1; }
	checkpoint_to_image $T || return 1
	kill -9 $T
	out=$($CKPT_CLI restore $img 2>&1) && { why="restored $what: $out"; return 1; }
	[[ $out != *"starting the new process"* ]] || { why="$what: refused only after starting: $out"; return 1; }
	for t in "$@"; do
		[[ $out == *"$t"* ]] || { why="$what: no '$t' in: $out"; return 1; }
	done
	return 0
}

# counting_python SCRIPT [ARG...]: a listener, then python3 $here/SCRIPT (a pycount.py
# target) as T, its output in t.out and t.err, once it has counted to 3.
counting_python() {
	restore_listen || return 1
	bg /usr/bin/python3 $here/"$@" </dev/null >t.out 2>t.err
	T=$!
	wait_for t.out '^count 3$' 120 || { why="python: $(tail -3 t.out t.err)"; return 1; }
}

# restore_image IMAGE [OPTION...]: ckpt restore; sets out and np (the new pid, killed at cleanup).
restore_image() {
	out=$($CKPT_CLI restore "$@" 2>&1) || { why="restore: $out"; return 1; }
	np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"$out")
	[[ -n $np ]] || { why="no 'restored pid N' line: $out"; return 1; }
	pids+=("$np")
}

# restore_and_ask PREFIX [OPTION...]: restores $img (a pycount.py target) with a fresh
# t.out and the OPTIONs, waits for it to count, sends SIGUSR1 and waits for its PREFIX
# line; sets out, np and got (that line).
restore_and_ask() {
	local prefix=$1
	shift
	mv t.out t.old && : >t.out
	restore_image $img "$@" || return 1
	wait_for t.out '^count' 30 || { why="${*:+$* }the restored process printed nothing (state $(state $np)): $(tail -3 t.err)"; return 1; }
	kill -USR1 $np
	wait_for t.out "^$prefix" 30 || { why="${*:+$* }no $prefix line after SIGUSR1 (state $(state $np)): $(tail -3 t.err)"; return 1; }
	got=$(tr -d '\0' <t.out | grep -a "^$prefix" | head -1)
}

# kill_restored: kills the restored process $np and waits until it is gone (its
# addresses free again).
kill_restored() {
	kill -9 $np
	local i
	for i in $(seq 100); do [[ $(state $np) == @(gone|Z) ]] && break; sleep 0.1; done
	[[ $(state $np) == @(gone|Z) ]] || { why="the restored process did not exit (state $(state $np))"; return 1; }
}

# Issue 12: a checkpointed process, killed, comes back as a new process (ckpt listen,
# ckpt checkpoint, ckpt restore: the Swift CLI) and counts on from the checkpointed tick;
# its output file is reopened by path at the checkpointed position, once for its stdout
# and stderr (2>&1: one open file); its working
# directory and umask are its own, not the restorer's; its pid is the image's (free
# again once the original was reaped: clone3 set_tid).
t_restore_new_process() {
	mkdir -p $W/wd
	restore_listen || return 1
	bg bash -c "cd $W/wd && umask 0027 && exec $B/ktarget 4" >t.out 2>&1
	T=$!
	wait_for t.out '^tick 5 ' 10 || { why="target: $(tail -2 t.out)"; return 1; }
	local pre=$(last_tick t.out)
	checkpoint_to_image $T || return 1
	local post=$(last_tick t.out)
	kill -9 $T; wait $T 2>/dev/null
	# A fresh file at the same path: what the new process writes is all it holds.
	mv t.out t.old && : >t.out
	local np
	restore_image $img --timings || return 1
	wait_for t.out 'tick' 10 || { why="the restored process printed nothing"; return 1; }
	# --timings: every progress line stamped with the wall clock, in order, from `reading
	# IMAGE` to `done`, the steps between (the new process, the memory) among them.
	local stamped
	stamped=$(grep '^ckpt restore: ' <<<"$out" | grep -v ': warning: ' | awk -v img="$img" '
		{ if (!match($3, /^[0-9]+\.[0-9][0-9][0-9][0-9][0-9][0-9]$/)) { print "unstamped: " $0; bad = 1; exit }
		  if ($3 + 0 < last) { print "out of order: " $0; bad = 1; exit }
		  last = $3 + 0; n++; sub(/^ckpt restore: [^ ]+ /, ""); step[n] = $0 }
		END { if (bad) exit
		      if (n < 4 || step[1] != "reading " img || step[n] != "done") { print n " stamped lines, first \"" step[1] "\", last \"" step[n] "\""; exit }
		      for (i = 1; i <= n; i++) if (step[i] ~ /^(starting the new process|writing memory)/) k++
		      print (k == 2 ? "ok" : "without the new process or the memory step") }')
	[[ $stamped == ok ]] || { why="restore --timings: $stamped: $out"; return 1; }
	sleep 0.5
	local first
	first=$(tr -d '\0' <t.out | sed -n 's/^tick \([0-9]*\) heap \([0-9]*\) stack \([0-9]*\)$/\1 \2 \3/p' | head -1)
	read -r k h s <<<"$first"
	[[ -n $k ]] && ((k > pre && k <= post + 1 && h == k && s == k)) ||
		{ why="restored at '$first', checkpointed between ticks $pre and $post"; return 1; }
	((np == T)) || { why="restored as pid $np, not the image's free pid $T: $out"; return 1; }
	[[ $(readlink /proc/$np/cwd) == "$W/wd" ]] || { why="cwd $(readlink /proc/$np/cwd), expected $W/wd"; return 1; }
	grep -Eq '^Umask:[[:space:]]+0027$' /proc/$np/status || { why="$(grep Umask /proc/$np/status), expected 0027"; return 1; }
	# Its stdout and stderr (2>&1) are one open file again, one offset (kcmp KCMP_FILE: 0).
	local same
	same=$(/usr/bin/python3 -c "import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
print(libc.syscall(312, int(sys.argv[1]), int(sys.argv[1]), 0, 1, 2), ctypes.get_errno())" $np)
	[[ $same == "0 "* ]] || { why="kcmp(KCMP_FILE) of fds 1 and 2 (2>&1) after the restore: $same (0: one open file)"; return 1; }
	kill -0 $np || { why="the restored process died"; return 1; }
}

# Issue 12's first target: busybox sh counting in a loop comes back and counts on from
# the checkpointed value. Each `sleep 0.1` is a child, which the checkpoint does not take:
# restored, the shell's wait4 finds no child and the loop goes on.
t_restore_busybox_sh() {
	restore_listen || return 1
	bg /usr/bin/busybox sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done' >t.out
	T=$!
	wait_for t.out '^5$' 30 || { why="busybox sh: $(tail -2 t.out)"; return 1; }
	local pre post first np
	pre=$(grep -a '^[0-9]*$' t.out | tail -1)
	checkpoint_and_kill || return 1
	post=$(grep -a '^[0-9]*$' t.out | tail -1)
	mv t.out t.old && : >t.out
	restore_image $img || return 1
	wait_for t.out '^[0-9]' 30 || { why="the restored shell printed nothing (state $(state $np))"; return 1; }
	sleep 0.5
	first=$(tr -d '\0' <t.out | grep -a '^[0-9][0-9]*$' | head -1)
	[[ -n $first ]] && ((first > pre && first <= post + 1)) ||
		{ why="restored at '$first', checkpointed between $pre and $post"; return 1; }
	kill -0 $np || { why="the restored shell died"; return 1; }
}

# A changed program refuses, naming the mapping and the change, before any process exists.
t_restore_refuses_changed_binary() {
	cp $B/ktarget $W/kt-copy
	restore_listen || return 1
	bg $W/kt-copy 1 >t.out
	T=$!
	wait_for t.out '^tick' 10 || { why="target: $(cat t.out)"; return 1; }
	checkpoint_and_kill || return 1
	echo >>$W/kt-copy || { why="cannot change the program copy"; return 1; }
	out=$($CKPT_CLI restore $img 2>&1) && { why="restored a changed binary: $out"; return 1; }
	[[ $out == *"refused: mapping "*"kt-copy"*"changed since the checkpoint: size"* ]] || { why="restore: $out"; return 1; }
	[[ $out != *"starting the new process"* ]] || { why="refused only after starting: $out"; return 1; }
}

# A restore through the kernel (--memory-by kernel) stages nothing there
# (CKPT_RESTART_FLAGS_DIRECT: only what is queued for the session's writer, at most
# CKPT_RESTART_QUEUE_MAX, which the restorer keeps below by waiting for restart-written):
# a 64 MiB image restores with restart_max_mib and restart_total_mib at 1 MiB, where a
# staged replay of the same image is refused (ENOSPC).
t_restore_stages_nothing() {
	local P=/sys/module/ckpt/parameters
	restore_listen || return 1
	start_target t.out 64
	checkpoint_to_image $T --timeout-ms 120000 || return 1
	local max=$(cat $P/restart_max_mib) total=$(cat $P/restart_total_mib)
	echo 1 >$P/restart_max_mib; echo 1 >$P/restart_total_mib
	kill -STOP $T; sleep 0.2
	local staged direct
	staged=$($CKPT_CLI replay $img --pid $T --validate-only 2>&1)
	kill -9 $T; wait $T 2>/dev/null
	direct=$($CKPT_CLI restore $img --memory-by kernel 2>&1)
	local rc=$?
	echo $max >$P/restart_max_mib; echo $total >$P/restart_total_mib
	[[ $staged == *"restart_max_mib"* ]] || { why="staged replay at 1 MiB: $staged"; return 1; }
	((rc == 0)) || { why="direct restore at 1 MiB: $direct"; return 1; }
	local np
	np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"$direct")
	pids+=("$np")
	sleep 1
	kill -0 $np || { why="the restored process died"; return 1; }
}

# Process state beyond memory comes back: the SIGUSR1 handler (the signal no longer
# kills), ignored and blocked signals (/proc/PID/status SigIgn, SigCgt, SigBlk equal the
# original's, although the restorer ignores two signals the target does not), the SSE rounding mode (xstate), and a private file mapping whose first
# page the process wrote (the copy, not the file's page), the SIGUSR1 handler's
# alternate signal stack, the pending signals (SIGUSR2 for the thread, SIGURG for the
# process: /proc/PID/status SigPnd and ShdPnd) and the lowered RLIMIT_NOFILE:
# ktarget's digest line after the restore equals the one before. And each queued
# signal keeps its siginfo (siginfo and shared-siginfo records): SIGHUP makes ktarget
# take its blocked pending signals and print code, value and sender of each (SIGRTMIN+1
# queued twice with values 42 and 43): the restored process prints the line the original
# printed after the checkpoint.
t_restore_signals_fpu_file_mapping() {
	restore_listen || return 1
	start_target t.out 4
	wait_for t.out '^tick 3 ' 10 || { why="target: $(tail -2 t.out)"; return 1; }
	kill -USR1 $T
	wait_for t.out '^digest' 10 || { why="no digest line before the checkpoint"; return 1; }
	local before sigs_before
	before=$(grep -a '^digest' t.out | head -1)
	[[ $before == *"round toward-zero altstack 0x"*"+65536/0 pending usr2 urg nofile 200/"* ]] ||
		{ why="target: $before"; return 1; }
	sigs_before=$(grep -E '^(Sig(Blk|Ign|Cgt|Pnd)|ShdPnd)' /proc/$T/status)
	checkpoint_to_image $T || return 1
	kill -HUP $T
	wait_for t.out '^queue' 10 || { why="the original printed no queue line"; return 1; }
	local queue_before
	queue_before=$(grep -a '^queue' t.out | head -1)
	[[ $queue_before == *":-1:42:self "*":-1:43:self" ]] || { why="original: $queue_before"; return 1; }
	kill -9 $T; wait $T 2>/dev/null
	$CKPT_CLI show $img >show.out 2>&1 || { why="show: $(tail -3 show.out)"; return 1; }
	grep -q ' sigactions .*64 signals' show.out || { why="no sigactions record: $(grep -c . show.out) lines"; return 1; }
	grep -q ' shared-siginfo .*3 of 3 queued' show.out || { why="no shared-siginfo of 3: $(grep -a siginfo show.out)"; return 1; }
	grep -q ' xstate .*xfeatures' show.out || { why="no xstate record"; return 1; }
	grep -q ' rlimits .*16 limits' show.out || { why="no rlimits record"; return 1; }
	grep -q ' regs .* pending 0x800 altstack 0x' show.out || { why="regs without pending SIGUSR2 or altstack: $(grep ' regs ' show.out)"; return 1; }
	mv t.out t.old && : >t.out
	local np rc=0
	# The restorer ignores two signals the target leaves at their default: exec keeps them
	# ignored, so the new process must be spawned with every disposition the default (the
	# restorer sets only the image's others); SigIgn below would differ otherwise.
	trap '' TTOU XFSZ
	restore_image $img || rc=1
	trap - TTOU XFSZ
	((rc == 0)) || return 1
	# Only the new pid may be warned about (no "no FPU state", no "no signal
	# dispositions", no "no resource limits", no "sent again without siginfo").
	local warned
	warned=$(grep 'warning' <<<"$out" | grep -v "the image's pid was" || true)
	[[ -z $warned ]] || { why="restore warned: $warned"; return 1; }
	wait_for t.out 'tick' 10 || { why="the restored process printed nothing"; return 1; }
	local sigs_after
	sigs_after=$(grep -E '^(Sig(Blk|Ign|Cgt|Pnd)|ShdPnd)' /proc/$np/status)
	[[ $sigs_after == "$sigs_before" ]] || { why="signal state: before $(echo $sigs_before), after $(echo $sigs_after)"; return 1; }
	kill -USR1 $np
	wait_for t.out '^digest' 10 || { why="no digest after SIGUSR1 (state $(state $np))"; return 1; }
	local after
	after=$(tr -d '\0' <t.out | grep -a '^digest' | head -1)
	[[ $after == "$before" ]] || { why="digest before '$before', after '$after'"; return 1; }
	kill -HUP $np
	wait_for t.out '^queue' 10 || { why="no queue line after SIGHUP (state $(state $np))"; return 1; }
	local queue_after
	queue_after=$(tr -d '\0' <t.out | grep -a '^queue' | head -1)
	[[ $queue_after == "$queue_before" ]] || { why="queued signals before '$queue_before', after '$queue_after'"; return 1; }
	kill -0 $np || { why="the restored process died"; return 1; }
}

# Issue 12: `ckpt replay --pid` puts back pages the image does not hold: ktarget, taken
# with its 1 GiB reservation untouched, then writes its first byte (SIGWINCH) and is
# stopped and replayed; its digest line shows that byte zero again, and replay says it
# zeroed a page (without the reset the byte stays 0x5a).
t_replay_resets_absent_pages() {
	restore_listen || return 1
	start_target t.out 4
	wait_for t.out '^tick 3 ' 10 || { why="target: $(tail -2 t.out)"; return 1; }
	checkpoint_to_image $T || return 1
	kill -WINCH $T
	wait_for t.out '^touched' 10 || { why="no 'touched' after SIGWINCH (state $(state $T))"; return 1; }
	kill -STOP $T
	sleep 0.2
	out=$($CKPT_CLI replay $img --pid $T 2>&1) || { why="replay: $out"; return 1; }
	[[ $out == *"pages the image does not hold, put back as at the checkpoint: "[1-9]*" zeroed"* ]] ||
		{ why="replay did not say it zeroed a page: $out"; return 1; }
	kill -CONT $T
	kill -USR1 $T
	wait_for t.out '^digest' 10 || { why="no digest after the replay (state $(state $T))"; return 1; }
	local d
	d=$(tr -d '\0' <t.out | grep -a '^digest' | tail -1)
	[[ $d == *" untouched 00" ]] || { why="after the replay: $d"; return 1; }
}

# image_pages_at IMAGE ADDR...: sets at to one word per ADDR: "pages" or "parent-pages"
# when a record of that type in IMAGE holds the page at ADDR, else "none" (ckpt show
# --json).
image_pages_at() {
	local image=$1
	shift
	$CKPT_CLI show --json "$image" >show.json 2>show.err || { why="show --json $image: $(tail -3 show.err)"; return 1; }
	at=$(python3 - show.json "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
runs = [(r["type"], r["meta"]["addr"], r["meta"]["nr_pages"]) for r in doc["records"]
        if r["type"] in ("pages", "parent-pages")]
print(" ".join(next((t for t, a, n in runs if a <= int(x, 0) < a + n * 4096), "none") for x in sys.argv[2:]))
PY
	) || { why="reading show.json: $at"; return 1; }
}

# pyzero_started: counting_python pyzero.py; sets anon and fmap, the addresses of its
# anonymous and private file mappings.
pyzero_started() {
	counting_python pyzero.py $W/zero-file || return 1
	read -r anon fmap <<<"$(sed -n 's/^zero-target anon \(0x[0-9a-f]*\) file \(0x[0-9a-f]*\)$/\1 \2/p' t.out)"
	[[ -n $fmap ]] || { why="no zero-target line: $(head -3 t.out)"; return 1; }
}

# Issue 13: a page of zeros of an anonymous private mapping is left out of the image
# (checkpoint.c ckpt_emit_data): it reads as zero in the fresh mapping a restore makes,
# as a page never touched does. pyzero.py's anonymous page written and zeroed again is
# not in the image, its other written pages are; the page of zeros of its private file
# mapping is (left out, it would read the file's "F"s). Restored both ways, every page
# reads as it did. (A replay into the original python3 is not tried: `ckpt replay --pid`
# rolls back memory only, under an interpreter that ran on, which crashed it in one CI
# run; replay-resets-absent-pages covers the replay of pages the image lacks.)
t_restore_pages_of_zeros() {
	local anon fmap at want="zeros A zero B zero zero F" by
	pyzero_started || return 1
	checkpoint_to_image $T || return 1
	image_pages_at $img $anon $((anon + 4096)) $((anon + 8192)) $((anon + 12288)) $fmap $((fmap + 4096)) || return 1
	[[ $at == "pages none pages none pages none" ]] ||
		{ why="anonymous pages A, zeros, B, untouched and the file mapping's zeros, F: $at, expected pages none pages none pages none"; return 1; }
	kill -9 $T
	wait $T 2>/dev/null
	for by in process kernel; do
		restore_and_ask zeros --memory-by $by || return 1
		[[ $got == "$want" ]] || { why="--memory-by $by: $got, expected $want"; return 1; }
		kill_restored || return 1
	done
}

# Issue 12: python3 with 4 counting threads comes back with 5 threads (the clone'd ones
# get the image's registers, TLS, FPU state, signal mask, robust list, clear-child-tid
# and rseq registration), and each of the 4 counts on from its checkpointed value.
t_restore_python_threads() {
	[[ -x /usr/bin/python3 ]] || { why="no /usr/bin/python3"; return 1; }
	restore_listen || return 1
	bg /usr/bin/python3 $here/pythreads.py </dev/null >t.out 2>t.err
	T=$!
	local i
	for i in 0 1 2 3; do
		wait_for t.out "^thread $i 3\$" 30 || { why="python: $(tail -3 t.out t.err)"; return 1; }
	done
	local -a pre post
	for i in 0 1 2 3; do pre[i]=$(grep -a "^thread $i " t.out | tail -1 | awk '{print $3}'); done
	checkpoint_to_image $T || return 1
	for i in 0 1 2 3; do post[i]=$(grep -a "^thread $i " t.out | tail -1 | awk '{print $3}'); done
	kill -9 $T; wait $T 2>/dev/null
	mv t.out t.old && : >t.out
	local np
	restore_image $img || return 1
	local n
	n=$(ls /proc/$np/task | wc -l)
	((n == 5)) || { why="$n threads after restore, expected 5: $out"; return 1; }
	# Each thread has its id back (clone3 set_tid): the image's tids are the new ones.
	local tids_img tids_now
	tids_img=$($CKPT_CLI show $img 2>/dev/null | grep -o ' regs .*tid [0-9]*' | awk '{print $NF}' | sort -n | tr '\n' ' ')
	tids_now=$(ls /proc/$np/task | sort -n | tr '\n' ' ')
	[[ -n $tids_img && $tids_img == "$tids_now" ]] || { why="thread ids: image $tids_img, now $tids_now ($out)"; return 1; }
	grep -q 'threads have new ids' <<<"$out" && { why="restore warned of new thread ids: $out"; return 1; }
	for i in 0 1 2 3; do
		wait_for t.out "^thread $i " 10 || { why="thread $i printed nothing after restore (state $(state $np))"; return 1; }
	done
	sleep 1
	local first count
	for i in 0 1 2 3; do
		first=$(tr -d '\0' <t.out | grep -a "^thread $i " | head -1 | awk '{print $3}')
		count=$(tr -d '\0' <t.out | grep -ac "^thread $i ")
		((first > pre[i] && first <= post[i] + 1 && count >= 3)) ||
			{ why="thread $i: restored at $first ($count lines), checkpointed between ${pre[i]} and ${post[i]}"; return 1; }
	done
	kill -0 $np || { why="the restored process died"; return 1; }
}

# Issue 12: python3 holding a 256 MiB bytearray and a counter: after the restore, a
# SIGUSR1 (a Python-level handler) prints the same CRC-32 of the bytearray as before the
# checkpoint, and the counter counts on from its checkpointed value. The restore runs
# with --progress always: its bar reaches 100%.
t_restore_python_256mib() {
	counting_python pybytes.py 256 || return 1
	kill -USR1 $T
	wait_for t.out '^crc' 120 || { why="no crc line before the checkpoint: $(tail -3 t.err)"; return 1; }
	local before pre post
	before=$(grep -a '^crc' t.out | head -1 | awk '{print $2}')
	pre=$(grep -a '^count' t.out | tail -1 | awk '{print $2}')
	checkpoint_to_image $T --timeout-ms 600000 || return 1
	post=$(grep -a '^count' t.out | tail -1 | awk '{print $2}')
	kill -9 $T; wait $T 2>/dev/null
	mv t.out t.old && : >t.out
	local np
	restore_image $img --progress always || return 1
	rm -f $img
	# The memory write's progress bar (stderr), at 100% before the process runs on.
	[[ $out == *"writing memory [##############################] 100% "* ]] ||
		{ why="no finished progress bar in the restore's output: $(tr '\r' '\n' <<<"$out" | grep -a 'writing memory' | tail -2)"; return 1; }
	wait_for t.out '^count' 30 || { why="the restored process printed nothing (state $(state $np))"; return 1; }
	kill -USR1 $np
	wait_for t.out '^crc' 120 || { why="no crc line after the restore (state $(state $np))"; return 1; }
	local after first
	after=$(tr -d '\0' <t.out | grep -a '^crc' | head -1 | awk '{print $2}')
	first=$(tr -d '\0' <t.out | grep -a '^count' | head -1 | awk '{print $2}')
	[[ $after == "$before" ]] || { why="bytearray crc $before before, $after after"; return 1; }
	((first > pre && first <= post + 1)) || { why="counter restored at $first, checkpointed between $pre and $post"; return 1; }
	kill -0 $np || { why="the restored process died"; return 1; }
}

# Issue 12: a pipe between the process's own fds comes back with the bytes it held
# (python3 with a self-pipe holding 3000 unread bytes and an empty non-blocking pipe): after
# the restore its SIGUSR1 handler reads the same 3000 bytes (CRC-32 equal) and the second
# pipe is still empty and non-blocking; `ckpt show` lists the pipe records.
t_restore_pipe_with_data() {
	counting_python pypipe.py || return 1
	local ready want
	ready=$(grep -a '^ready' t.out)
	want="pipe 3000 crc ${ready##* crc } empty yes"
	checkpoint_and_kill || return 1
	$CKPT_CLI show $img >show.out 2>&1 || { why="show: $(tail -3 show.out)"; return 1; }
	grep -q ' pipe .*holds 3000 bytes (3000 captured)' show.out || { why="no pipe record with the 3000 bytes: $(grep -a ' pipe ' show.out)"; return 1; }
	local np got
	restore_and_ask pipe || return 1
	[[ $got == "$want" ]] || { why="after restore '$got', expected '$want' ($ready)"; return 1; }
	kill -0 $np || { why="the restored process died"; return 1; }
}

# An O_PATH descriptor of a FIFO is a file, not a pipe: it never opened the pipe, so the
# kernel does not read inode->i_pipe through it (the last real opener frees it under such
# a descriptor). The checkpoint completes with a file record for it and no pipe record,
# while another process holds the FIFO open.
t_checkpoint_o_path_fifo() {
	restore_listen || return 1
	local fifo=$W/opath.fifo
	rm -f $fifo && mkfifo $fifo || { why="mkfifo"; return 1; }
	bg /usr/bin/python3 -c "import os, time; fd = os.open('$fifo', os.O_PATH); print('ready', fd, flush=True); time.sleep(1000)" </dev/null >r.out 2>&1
	T=$!
	wait_for r.out '^ready' 30 || { why="python: $(cat r.out)"; return 1; }
	# Another process holds the FIFO open, so inode->i_pipe exists (a module that follows it
	# through the O_PATH descriptor records a pipe: checked, it fails here).
	bg bash -c "exec 5<>$fifo; echo open >o.out; exec sleep 1000"
	wait_for o.out '^open' 10 || { why="no process holds the FIFO open"; return 1; }
	checkpoint_to_image $T || return 1
	kill -9 $T
	$CKPT_CLI show $img >show.out 2>&1 || { why="show: $(tail -3 show.out)"; return 1; }
	grep -q " file .*opath.fifo" show.out || { why="no file record for the O_PATH fd: $(grep -a ' file ' show.out | tail -5)"; return 1; }
	! grep -q ' pipe ' show.out || { why="the O_PATH fd was read as a pipe: $(grep -a ' pipe ' show.out)"; return 1; }
}

# A pipe holding TCP data spliced into it (its buffers may span the pages of a compound
# page, which memcpy_from_page() refuses past the first on CONFIG_DEBUG_VM kernels: the
# debug run has it): the checkpoint captures every byte of it.
t_checkpoint_spliced_pipe() {
	restore_listen || return 1
	# TCP over the loopback, which the debug guest leaves down.
	ip link set lo up 2>/dev/null || { why="cannot bring the loopback up"; return 1; }
	bg /usr/bin/python3 -c 'import os, socket, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
r, w = os.pipe()
data = os.urandom(20000)
c.sendall(data)
n = 0
while n < len(data):
    n += os.splice(a.fileno(), w, len(data) - n)
c.close(); a.close(); l.close()
print("ready", flush=True)
time.sleep(1000)' </dev/null >r.out 2>&1
	T=$!
	wait_for r.out '^ready' 30 || { why="python: $(cat r.out)"; return 1; }
	checkpoint_to_image $T || return 1
	kill -9 $T
	$CKPT_CLI show $img >show.out 2>&1 || { why="show: $(tail -3 show.out)"; return 1; }
	grep -q ' pipe .*holds 20000 bytes (20000 captured)' show.out ||
		{ why="no pipe record with the 20000 spliced bytes: $(grep -a ' pipe ' show.out)"; return 1; }
}

# A process chrooted into a directory and run with a personality flag (setarch -R:
# ADDR_NO_RANDOMIZE) comes back with the same root and personality: the image's task
# record carries both (attributes past the first 64), the restorer chroots the new
# process once every path is open.
t_restore_root_personality() {
	restore_listen || return 1
	# ktarget maps /proc/self/exe: the jail has a /proc, unmounted whatever the outcome.
	mkdir -p $W/jail/proc && cp $B/ktarget $W/jail/ && mount -t proc proc $W/jail/proc || { why="no jail"; return 1; }
	local rc=0
	root_personality_in_jail || rc=1
	cleanup_scenario
	umount -l $W/jail/proc
	return $rc
}
root_personality_in_jail() {
	bg setarch x86_64 -R chroot $W/jail /ktarget 4 >t.out
	T=$!
	wait_for t.out '^tick 3 ' 10 || { why="target: $(tail -2 t.out)"; return 1; }
	[[ $(readlink /proc/$T/root) == "$W/jail" && $(cat /proc/$T/personality) == 00040000 ]] ||
		{ why="target root $(readlink /proc/$T/root), personality $(cat /proc/$T/personality)"; return 1; }
	checkpoint_and_kill || return 1
	records_in_image task 1 || return 1
	grep -q " task .* root \"$W/jail\" personality 0x40000" show.out ||
		{ why="task record without root and personality: $(grep -a ' task ' show.out)"; return 1; }
	mv t.out t.old && : >t.out
	local np
	restore_image $img || return 1
	wait_for t.out '^tick' 10 || { why="the restored process printed nothing (state $(state $np))"; return 1; }
	[[ $(readlink /proc/$np/root) == "$W/jail" ]] || { why="restored root $(readlink /proc/$np/root), expected $W/jail"; return 1; }
	[[ $(cat /proc/$np/personality) == 00040000 ]] || { why="restored personality $(cat /proc/$np/personality)"; return 1; }
	kill -0 $np || { why="the restored process died"; return 1; }
}

# Unix socketpairs with data queued in them (a stream pair both ways, a datagram pair
# with three datagrams, one of them empty, a stream socket whose peer sent data and closed): the image has a
# unix record per socket with its queue; restored, each socket reads what it held, the
# datagrams one by one, the lone socket its data then end of file, and the pair still
# carries new messages.
t_restore_socketpair() {
	counting_python pysock.py || return 1
	local ready want
	ready=$(grep -a '^ready' t.out)
	want="sock stream 3000 crc ${ready##* crc } back reply dgram one,,two-two,empty peer-closed tail,eof live ping"
	checkpoint_and_kill || return 1
	records_in_image unix 5 || return 1
	show_has unix ' unix stream connected peer socket:\[[0-9]*\] holds 3000 bytes (3004 captured)' "with the 3000 bytes" || return 1
	show_has unix ' unix datagram connected peer socket:\[[0-9]*\] holds 10 bytes (22 captured)' "with the three datagrams" || return 1
	show_has unix ' unix stream connected no peer shutdown 3 holds 4 bytes (8 captured)' "of the socket whose peer closed" || return 1
	local np got
	restore_and_ask sock || return 1
	[[ $got == "$want" ]] || { why="after restore '$got', expected '$want'"; return 1; }
	kill -0 $np || { why="the restored process died"; return 1; }
}

# A server's TCP and UDP sockets (tools/ktest/pyinet.py) come back where they were: the
# TCP listeners listening on their addresses with their options (SO_REUSEADDR,
# TCP_NODELAY, IPV6_V6ONLY, non-blocking), so a client connecting after the restore is
# accepted; the bound UDP socket bound with its own (SO_REUSEPORT, SO_KEEPALIVE,
# SO_RCVBUF), the connected one connected to it from the same port. What they held (a
# connection never accepted, a datagram never read) is not in the image: the restore says
# so. The IPv6 listener only where the kernel has IPv6 (not the tiny kernel of
# kernel-patch/series/build-kernel).
t_restore_inet_sockets() {
	ip link set lo up 2>/dev/null
	local port=47100 v6= n=3
	[[ -e /proc/net/if_inet6 ]] && { v6=v6; n=4; }
	counting_python pyinet.py $port $v6 || return 1
	local ready=$(grep -a '^ready' t.out)
	local udpc=${ready##* }
	local want="inet tcp4 127.0.0.1:$port reuseaddr 1 nodelay 1 nonblock 1 backlog-accept hello"
	[[ -n $v6 ]] && want+=" tcp6 [::]:$((port + 1)) v6only 1 reuseaddr 0 backlog-accept hello"
	want+=" udp 127.0.0.1:$((port + 2)) held empty reuseport 1 keepalive 1 rcvbuf 131072 udpc 127.0.0.1:$udpc peer 127.0.0.1:$((port + 2)) ping from $udpc"
	checkpoint_and_kill || return 1
	records_in_image inet $n || return 1
	show_has inet " tcp listening (backlog 7) on 127.0.0.1:$port reuseaddr,nodelay held 1 unread" "of the IPv4 listener" || return 1
	show_has inet " udp bound on 127.0.0.1:$((port + 2)) reuseport,rcvbuf-lock,keepalive held 1 unread" "of the bound UDP socket" || return 1
	show_has inet " udp connected on 127.0.0.1:$udpc to 127.0.0.1:$((port + 2)) held 0 unread" "of the connected UDP socket" || return 1
	local np got
	restore_and_ask inet || return 1
	[[ $got == "$want" ]] || { why="after restore '$got', expected '$want'"; return 1; }
	[[ $out == *"TCP listener on 127.0.0.1:$port) comes back empty: 1 connection not yet accepted at the checkpoint is lost"* &&
		$out == *"UDP socket on 127.0.0.1:$((port + 2))) comes back empty: 1 unread datagram at the checkpoint is lost"* ]] ||
		{ why="the restore did not say what the sockets lost: $out"; return 1; }
	kill -0 $np || { why="the restored process died"; return 1; }
	# Again through the kernel's restart session, which checks the inet records too; the
	# addresses are free once the first restored process is gone (pyinet.py's clients
	# close first: no TIME_WAIT on the listeners' ports).
	kill_restored || return 1
	restore_and_ask inet --memory-by kernel || return 1
	[[ $got == "$want" ]] || { why="after restore --memory-by kernel '$got', expected '$want'"; return 1; }
	# A third copy while that one runs: its listener's address is taken, and the restore
	# says so, naming the socket.
	out=$($CKPT_CLI restore $img 2>&1) && { why="a second copy restored with its ports taken: $out"; return 1; }
	[[ $out == *"bind 127.0.0.1:$port for fd 3 (TCP listener on 127.0.0.1:$port) (the address is held by another socket): Address already in use"* ]] ||
		{ why="a taken port: $out"; return 1; }
	kill -0 $np || { why="the running copy died"; return 1; }
}

# A TCP connection (both ends in one python3, beside its listener) is refused, saying
# that --tcp-close brings it back closed; with --tcp-close both ends come back as sockets
# that are not connected (a read fails with ENOTCONN, 107), the restore says so, and the
# listener still accepts.
t_restore_tcp_close() {
	ip link set lo up 2>/dev/null
	restore_listen || return 1
	bg /usr/bin/python3 -c 'import signal, socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 47200)); l.listen()
c = socket.create_connection(("127.0.0.1", 47200)); s, _ = l.accept()
def usr1(sig, frame):
    out = []
    for name, sock in (("client", c), ("server", s)):
        try:
            sock.recv(10); out.append(name + " read")
        except OSError as e:
            out.append(f"{name} {e.errno}")
    n = socket.create_connection(("127.0.0.1", 47200), timeout=5); l.settimeout(5); a, _ = l.accept()
    out.append("listener accepts")
    print("closed", " ".join(out), flush=True)
signal.signal(signal.SIGUSR1, usr1)
print("ready", flush=True)
while True: time.sleep(0.1)' </dev/null >t.out 2>t.err
	T=$!
	wait_for t.out '^ready' 30 || { why="python: $(cat t.out t.err)"; return 1; }
	checkpoint_and_kill || return 1
	out=$($CKPT_CLI restore $img 2>&1) && { why="restored a TCP connection without --tcp-close: $out"; return 1; }
	[[ $out == *"refused: fd 4 (socket:["*"a TCP connection (127.0.0.1:"*"--tcp-close brings it back closed"* ]] ||
		{ why="refusal: $out"; return 1; }
	local np got
	restore_image $img --tcp-close || return 1
	[[ $out == *"fd 4 (TCP connection 127.0.0.1:"*" to 127.0.0.1:47200) comes back closed (--tcp-close)"* &&
		$out == *"fd 5 (TCP connection 127.0.0.1:47200 to 127.0.0.1:"*" comes back closed (--tcp-close)"* ]] ||
		{ why="the restore did not say the connections come back closed: $out"; return 1; }
	kill -USR1 $np
	wait_for t.out '^closed' 30 || { why="no closed line after SIGUSR1 (state $(state $np)): $(tail -3 t.err)"; return 1; }
	got=$(tr -d '\0' <t.out | grep -a '^closed' | head -1)
	[[ $got == "closed client 107 server 107 listener accepts" ]] || { why="after restore --tcp-close: '$got'"; return 1; }
}

# Unix connections to another process (tools/ktest/pyunixpeer.py: a server process, and a
# client holding a datagram socket connected to the server's log.sock, as a syslog client
# to /dev/log, and a stream connection to its srv.sock with the server's "hi" unread). The
# client is refused, the stream connection's peer being another process's, and the refusal
# names --unix-close; with it the connection comes back with its peer closed (it reads "hi",
# then end of file) and the restore warns; the datagram socket is connected to log.sock
# again: a datagram sent after the restore reaches the server.
t_restore_unix_close() {
	local d=$W/upeer np got
	rm -rf $d && mkdir -p $d
	restore_listen || return 1
	bg bash -c "cd $d && exec /usr/bin/python3 $here/pyunixpeer.py server" </dev/null >s.out 2>s.err
	wait_for s.out '^ready' 30 || { why="server: $(cat s.out s.err)"; return 1; }
	bg bash -c "cd $d && exec /usr/bin/python3 $here/pyunixpeer.py client" </dev/null >t.out 2>t.err
	T=$!
	wait_for t.out '^count 3$' 120 || { why="client: $(tail -3 t.out t.err)"; return 1; }
	checkpoint_and_kill || return 1
	records_in_image unix 2 || return 1
	show_has unix " unix datagram connected peer socket:\[[0-9]*\] on log.sock " "of the log client" || return 1
	out=$($CKPT_CLI restore $img 2>&1) && { why="restored a connection to another process without --unix-close: $out"; return 1; }
	[[ $out == *"refused: fd 4 (socket:["*"is held by another process"*"--unix-close brings it back with its peer closed"* ]] ||
		{ why="refusal: $out"; return 1; }
	restore_and_ask peer --unix-close || return 1
	[[ $out == *"fd 4 (socket:["*"comes back with its peer closed (--unix-close)"* ]] ||
		{ why="the restore did not say the connection comes back closed: $out"; return 1; }
	[[ $got == "peer conn hi then eof log sent" ]] || { why="after restore '$got'"; return 1; }
	wait_for $d/log.txt '^ping$' 10 || { why="the server got no datagram from the restored client: $(cat $d/log.txt 2>&1)"; return 1; }
}

# A server's named Unix sockets (tools/ktest/pyunix.py, in its own directory): a stream
# listener on the relative path app.sock (mode 0660) with a connection never accepted, one
# on an abstract name, a datagram socket on dgram.sock holding a datagram. The killed
# original leaves its socket files behind; the restore takes them over (nothing answers on
# them), binds each name again with the file's mode, listens, gives the datagram back, and
# says the waiting connection was lost. Again through the kernel's restart session with
# dgram.sock removed (as after a reboot: bound afresh) and app.sock given to uid 65534 (a
# stranger's stale socket): taken over, but its mode is not given, with a warning. A third
# copy while that one runs is refused: a socket answers on app.sock.
t_restore_named_unix_sockets() {
	local d=$W/usock np got
	rm -rf $d && mkdir -p $d
	restore_listen || return 1
	bg bash -c "cd $d && umask 022 && exec /usr/bin/python3 $here/pyunix.py" </dev/null >t.out 2>t.err
	T=$!
	wait_for t.out '^count 3$' 120 || { why="python: $(tail -3 t.out t.err)"; return 1; }
	local want="unix path app.sock mode 660 accept hello abstract @ckpt-ktest-unix accept hello dgram dgram.sock held early ping ping"
	checkpoint_and_kill || return 1
	records_in_image unix 3 || return 1
	show_has unix " unix stream listening (backlog 4, 1 waiting) on app.sock no peer" "of the path listener" || return 1
	show_has unix " unix stream listening (backlog 2, 0 waiting) on @ckpt-ktest-unix no peer" "of the abstract listener" || return 1
	show_has unix " unix datagram unconnected on dgram.sock no peer named holds 5 bytes" "of the datagram socket" || return 1
	[[ -S $d/app.sock && -S $d/dgram.sock ]] || { why="the original left no socket files: $(ls -l $d)"; return 1; }
	restore_and_ask unix || return 1
	[[ $got == "$want" ]] || { why="after restore '$got', expected '$want'"; return 1; }
	[[ $out == *"fd 3 (Unix listener on app.sock) comes back without the 1 connection that waited for accept(2) at the checkpoint"* ]] ||
		{ why="the restore did not say what the listener lost: $out"; return 1; }
	kill -0 $np || { why="the restored process died"; return 1; }
	kill_restored || return 1
	# No dgram.sock (a reboot's tmpfs): bound afresh. A stranger's app.sock: the umask's
	# mode (0755), not the stale file's.
	rm -f $d/dgram.sock
	chown 65534 $d/app.sock
	restore_and_ask unix --memory-by kernel || return 1
	[[ $out == *"fd 3 (Unix listener on app.sock): the socket file left on app.sock was uid 65534's, not the process's (uid 0): its mode and group are not given to the new one"* ]] ||
		{ why="no warning about the stranger's socket file: $out"; return 1; }
	[[ $got == "${want/mode 660/mode 755}" ]] || { why="after restore --memory-by kernel '$got', expected '${want/mode 660/mode 755}'"; return 1; }
	out=$($CKPT_CLI restore $img 2>&1) && { why="a third copy restored with its names taken: $out"; return 1; }
	[[ $out == *"bind app.sock for fd 3 (Unix listener on app.sock) (a socket answers on it: another process holds the name): Address already in use"* ]] ||
		{ why="a taken name: $out"; return 1; }
	[[ -S $d/app.sock ]] && kill -0 $np || { why="the running copy lost its socket file or died: $(ls -l $d)"; return 1; }
}

# Named FIFOs (tools/ktest/pyfifo.py, in its own directory): q.fifo with both ends and 6
# bytes queued, cmd.fifo opened O_RDWR, out.fifo written to and read by another process
# (which holds it O_RDWR, so it outlives the writer). After the restore the bytes are back
# in q.fifo, a command written into cmd.fifo by path reaches the process, and its "pong"
# reaches out.fifo's reader: each fd is the FIFO at its path, not a pipe of its own. With
# q.fifo removed (and not made again) the restore is refused before a process exists,
# naming the path; `ckpt restore --check` says restorable before, and the same refusal.
t_restore_named_fifo() {
	local d=$W/fifo np got
	rm -rf $d && mkdir -p $d && mkfifo $d/q.fifo $d/cmd.fifo $d/out.fifo || { why="mkfifo"; return 1; }
	restore_listen || return 1
	bg /usr/bin/python3 -c "import os, sys
fd = os.open('$d/out.fifo', os.O_RDWR)
print('reading', flush=True)
with open('$d/out.txt', 'ab', buffering=0) as f:
    while True:
        f.write(os.read(fd, 100))" </dev/null >o.out 2>&1
	wait_for o.out '^reading' 30 || { why="out.fifo's reader: $(cat o.out)"; return 1; }
	bg bash -c "cd $d && exec /usr/bin/python3 $here/pyfifo.py" </dev/null >t.out 2>t.err
	T=$!
	wait_for t.out '^count 3$' 120 || { why="python: $(tail -3 t.out t.err)"; return 1; }
	checkpoint_and_kill || return 1
	records_in_image pipe 4 || return 1
	show_has pipe " pipe .*holds 6 bytes (6 captured)" "of q.fifo's read end" || return 1
	out=$($CKPT_CLI restore $img --check 2>&1) && [[ $out == *"restorable: 1 thread, "* && $out != *"starting"* ]] ||
		{ why="restore --check: $out"; return 1; }
	mv t.out t.old && : >t.out
	restore_image $img || return 1
	[[ $out != *warning* ]] || { why="the restore warned: $out"; return 1; }
	wait_for t.out '^count' 30 || { why="the restored process printed nothing (state $(state $np)): $(tail -3 t.err)"; return 1; }
	timeout 10 bash -c "echo go >$d/cmd.fifo" || { why="nothing reads cmd.fifo after the restore"; return 1; }
	kill -USR1 $np
	wait_for t.out '^fifo' 30 || { why="no fifo line after SIGUSR1 (state $(state $np)): $(tail -3 t.err)"; return 1; }
	got=$(tr -d '\0' <t.out | grep -a '^fifo' | head -1)
	[[ $got == "fifo queued queued cmd go out sent" ]] || { why="after restore '$got'"; return 1; }
	wait_for $d/out.txt '^pong$' 10 || { why="out.fifo's reader got no pong: $(cat $d/out.txt 2>&1)"; return 1; }
	kill_restored || return 1
	rm $d/q.fifo
	out=$($CKPT_CLI restore $img 2>&1) && { why="restored with q.fifo gone: $out"; return 1; }
	[[ $out == *"refused: fd 3 (FIFO $d/q.fifo): $d/q.fifo is gone"*"mkfifo"* && $out != *"starting the new process"* ]] ||
		{ why="q.fifo gone: $out"; return 1; }
	local rc
	out=$($CKPT_CLI restore $img --check 2>&1); rc=$?
	((rc == 1)) && [[ $out == *"refused: fd 3 (FIFO $d/q.fifo): $d/q.fifo is gone"* ]] || { why="restore --check, q.fifo gone: exit $rc: $out"; return 1; }
}

# memfd seals (tools/ktest/pyseals.py): a memfd sealed against shrinking, growing and new
# writers (its writable mapping made before the seals), a sealable memfd without seals,
# and one made without MFD_ALLOW_SEALING (F_SEAL_SEAL only). After the restore each has its
# seals again (F_GET_SEALS), growing it and write(2) fail with EPERM while a store through
# the old mapping still works; again through the kernel's restart session. ckpt show names
# the seals.
t_restore_memfd_seals() {
	counting_python pyseals.py || return 1
	local want="seals 0x17 0x0 0x1 data sealed truncate EPERM write EPERM store ok" np got
	checkpoint_and_kill || return 1
	records_in_image shmem 3 || return 1
	show_has shmem "seals seal|shrink|grow|future-write" "of the sealed memfd" || return 1
	restore_and_ask seals || return 1
	[[ $got == "$want" ]] || { why="after restore '$got', expected '$want'"; return 1; }
	kill_restored || return 1
	restore_and_ask seals --memory-by kernel || return 1
	[[ $got == "$want" ]] || { why="--memory-by kernel: after restore '$got', expected '$want'"; return 1; }
}

# A shared mapping of a named file is mapped from the file again (its memory is the
# file: the image holds no pages of it): after restore the mapping and the file hold the
# same bytes, bytes written into the file while the process was gone show through the
# mapping, and a write through it reaches the file.
t_restore_shared_file_mapping() {
	counting_python pyshared.py $W/shared.bin || return 1
	checkpoint_and_kill || return 1
	printf HOSTWRITE | dd of=$W/shared.bin bs=1 seek=8192 conv=notrunc status=none
	mv t.out t.old && : >t.out
	local np got
	restore_image $img || return 1
	wait_for t.out '^count' 30 || { why="the restored process printed nothing (state $(state $np)): $(tail -3 t.err)"; return 1; }
	got=$(grep -F "$W/shared.bin" /proc/$np/maps)
	[[ $got == *" rw-s "* ]] || { why="no shared read-write mapping of shared.bin after restore: '$got'"; return 1; }
	kill -USR1 $np
	wait_for t.out '^shared' 30 || { why="no shared line after SIGUSR1 (state $(state $np)): $(tail -3 t.err)"; return 1; }
	got=$(tr -d '\0' <t.out | grep -a '^shared' | head -1)
	[[ $got == "shared head before host HOSTWRITE same yes" ]] || { why="after restore: '$got'"; return 1; }
	got=$(dd if=$W/shared.bin bs=1 skip=4096 count=5 status=none)
	[[ $got == after ]] || { why="the write through the restored mapping did not reach the file: '$got'"; return 1; }
	kill -0 $np || { why="the restored process died"; return 1; }
}

# Unnamed shared memory is checkpointed from its object (shmem records) and restored as a
# memfd per object (tools/ktest/pyshmem.py): shared anonymous memory keeps its bytes and
# its untouched pages read zero (holes: not in the image, not allocated by the checkpoint);
# a memfd mapped twice is one object again (a write through one mapping shows in the
# other), its fds are that memfd at their position, its size is kept. A memfd the process
# does not map, and a SysV segment, are refused naming them before any process exists.
t_restore_shared_memory() {
	counting_python pyshmem.py || return 1
	checkpoint_and_kill || return 1
	records_in_image shmem 3 || return 1  # anon, the memfd twice
	local np got n by writer=process_vm_writev
	# A kernel built without process_vm_writev (the debug kernel's tiny config) has ckpt
	# write everything through /proc/PID/mem, and say so. Asked of the kernel: with zero
	# iovecs the call returns 0 (measured on this host), or fails with ENOSYS (38) where it
	# is not built (kallsyms lists its name either way). The counts go as unsigned longs:
	# as plain ints their upper halves are garbage and the call says EINVAL.
	if ! python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
u = ctypes.c_ulong
r = libc.syscall(u(311), os.getpid(), None, u(0), None, u(0), u(0))  # process_vm_writev, x86_64
sys.exit(3 if r < 0 and ctypes.get_errno() == 38 else 0)'; then
		writer="/proc/"
	fi
	# Both memory paths, one after the other from the same image: ckpt's own writes (the
	# default) and the kernel's restart session.
	for by in process kernel; do
		mv t.out t.old && : >t.out
		restore_image $img --memory-by $by || return 1
		[[ $out == *" bytes written by $( [[ $by == kernel ]] && echo the kernel || echo "$writer")"* ]] ||
			{ why="--memory-by $by: $out"; return 1; }
		wait_for t.out '^count' 30 || { why="--memory-by $by: the restored process printed nothing (state $(state $np)): $(tail -3 t.err)"; return 1; }
		n=$(grep -c ' rw-s .*/memfd:ckpt-test (deleted)' /proc/$np/maps)
		[[ $n == 2 ]] || { why="--memory-by $by: $n shared mappings of memfd:ckpt-test after restore, expected 2: $(grep -a ' rw-s ' /proc/$np/maps)"; return 1; }
		kill -USR1 $np
		wait_for t.out '^shm' 30 || { why="--memory-by $by: no shm line after SIGUSR1 (state $(state $np)): $(tail -3 t.err)"; return 1; }
		got=$(tr -d '\0' <t.out | grep -a '^shm' | head -1)
		[[ $got == "shm anon-A anon-C holes yes memfd memfd alias yes pos 100 size 12288" ]] ||
			{ why="--memory-by $by: after restore: '$got'"; return 1; }
		kill -0 $np || { why="--memory-by $by: the restored process died"; return 1; }
		kill -9 $np
	done

	python_refused 'import os, time; fd = os.memfd_create("unmapped"); os.write(fd, b"x"); print("ready", flush=True); time.sleep(1000)' \
		"an unmapped memfd" "refused: fd " "/memfd:unmapped (deleted)" "a memfd the process does not map" || return 1
	python_refused 'import ctypes, time; c = ctypes.CDLL(None, use_errno=True); c.shmat.restype = ctypes.c_void_p
i = c.shmget(0, 8192, 0o1600); a = c.shmat(i, None, 0); c.shmctl(i, 0, None); ctypes.memset(a, 7, 8192)
print("ready", flush=True); time.sleep(1000)' \
		"a SysV segment" "refused: mapping " "(/SYSV00000000 (deleted))" "SysV shared memory segment"
}

# ckpt replay --pid on shared memory: the kernel writes the image's pages into the twin's
# object, and the pages the object gained since are made holes again (map_files, punched).
# pyshmem.py fork: a quiescent parent (the twin: its private memory does not change, so
# rolling it back is safe) and a child sharing its objects; the child's SIGUSR2
# overwrites anonymous page 0 and writes into the untouched page 1; after the replay into
# the parent the child sees page 0 as at the checkpoint and page 1 zero.
t_replay_shared_memory() {
	restore_listen || return 1
	bg /usr/bin/python3 $here/pyshmem.py fork </dev/null >t.out 2>t.err
	T=$!
	wait_for t.out '^child [0-9]' 30 || { why="python: $(tail -3 t.out t.err)"; return 1; }
	local child
	child=$(sed -n 's/^child \([0-9]*\)$/\1/p' t.out)
	pids+=("$child")
	sleep 0.5
	checkpoint_to_image $T || return 1
	kill -USR2 $child
	wait_for t.out '^changed' 10 || { why="no 'changed' after SIGUSR2 (state $(state $child))"; return 1; }
	kill -STOP $T
	sleep 0.2
	out=$($CKPT_CLI replay $img --pid $T 2>&1) || { why="replay: $out"; return 1; }
	[[ $out == *", 1 of shared memory made holes again"* ]] ||
		{ why="replay did not say it made the written hole a hole again: $out"; return 1; }
	kill -CONT $T
	kill -USR1 $child
	wait_for t.out '^shm' 10 || { why="no shm line after the replay (state $(state $child))"; return 1; }
	local got
	got=$(tr -d '\0' <t.out | grep -a '^shm' | tail -1)
	[[ $got == "shm anon-A anon-C holes yes memfd memfd alias yes pos 100 size 12288" ]] ||
		{ why="after the replay: '$got'"; return 1; }
}

# A restart writes shared memory only where the target may write it: a memfd sealed with
# F_SEAL_WRITE and mapped read-only (its pages are in the image) makes `ckpt replay --pid`
# fail in the kernel at that mapping (FOLL_FORCE does not override a shared mapping's
# protection) while the process lives on with its bytes, and `ckpt restore` refuses it
# before any process exists. The target is quiescent (it waits for signals), so the
# private pages the replay writes before it fails are what the process holds anyway.
t_shared_readonly_refused() {
	restore_listen || return 1
	bg /usr/bin/python3 -c 'import fcntl, mmap, os, signal
fd = os.memfd_create("sealed", os.MFD_ALLOW_SEALING); os.ftruncate(fd, 8192)
w = mmap.mmap(fd, 8192); w[0:6] = b"sealed"; w.close()
fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
r = mmap.mmap(fd, 8192, prot=mmap.PROT_READ)
def show(sig, frame): print("bytes", r[0:6].decode(), flush=True)
signal.signal(signal.SIGUSR1, show); show(0, None)
while True: signal.pause()' </dev/null >r.out 2>&1
	T=$!
	wait_for r.out '^bytes sealed' 30 || { why="python: $(cat r.out)"; return 1; }
	# Quiescent only once it sleeps in pause(): frozen between the print and the pause, the
	# image would hold memory the process has changed by the time the replay writes it back.
	wait_syscall $T 34 10 || { why="python did not sleep in pause(2): $(cat /proc/$T/syscall)"; return 1; }
	local at
	at=$(grep -F '/memfd:sealed (deleted)' /proc/$T/maps | head -1)
	[[ $at == *" r--s "* ]] || { why="no read-only shared mapping of the sealed memfd: '$at'"; return 1; }
	at=${at%%-*}
	checkpoint_to_image $T || return 1
	kill -STOP $T
	wait_state $T T 10 || { why="python did not stop (state $(state $T))"; return 1; }
	out=$($CKPT_CLI replay $img --pid $T 2>&1) && { why="replay wrote into a sealed read-only mapping: $out"; return 1; }
	[[ $out == *"writing pages at $at failed"* ]] || { why="replay did not fail at the read-only mapping $at: $out"; return 1; }
	kill -CONT $T
	: >r.out
	kill -USR1 $T
	wait_for r.out '^bytes sealed' 10 ||
		{ why="the process did not live on with its bytes (state $(state $T), in system call $(cut -d' ' -f1 /proc/$T/syscall 2>&1)): $(tr -d '\0' <r.out | tail -2)"; return 1; }
	kill -9 $T; wait $T 2>/dev/null
	out=$($CKPT_CLI restore $img 2>&1) && { why="restored a read-only shared mapping with pages: $out"; return 1; }
	[[ $out == *"refused: mapping 0x$at-"*"read-only shared memory with pages"* ]] || { why="restore: $out"; return 1; }
	[[ $out != *"starting the new process"* ]] || { why="refused only after starting: $out"; return 1; }
	return 0
}

# coreutils `tail -f FILE` (glibc, vDSO, rseq, signal handlers, an inotify watch on FILE):
# the kernel records the inotify descriptor's watches (fdinfo record), the restorer makes
# the instance again with the same watch number on FILE's path (FILE is open in tail too),
# and the restored tail prints the line appended after the restore, and only that line.
t_restore_tail_f() {
	restore_listen || return 1
	printf 'one\ntwo\n' >$W/followed
	bg /usr/bin/tail -f $W/followed </dev/null >t.out 2>t.err
	T=$!
	wait_for t.out '^two$' 30 || { why="tail: $(tail -3 t.out t.err)"; return 1; }
	[[ $(readlink /proc/$T/fd/* | grep -c '^anon_inode:inotify$') == 1 ]] ||
		{ why="tail holds no inotify descriptor: $(ls -l /proc/$T/fd)"; return 1; }
	checkpoint_and_kill || return 1
	records_in_image fdinfo 1 || return 1
	mv t.out t.old && : >t.out
	local np got
	restore_image $img || return 1
	[[ $(readlink /proc/$np/fd/* | grep -c '^anon_inode:inotify$') == 1 ]] ||
		{ why="the restored tail holds no inotify descriptor (state $(state $np), restore said: $(tr "\n" " " <<<"$out"); tail said: $(tail -3 t.err | tr "\n" " ")): $(ls -l /proc/$np/fd)"; return 1; }
	grep -q '^inotify wd:1 ' /proc/$np/fdinfo/* ||
		{ why="no watch 1 in the restored tail: $(grep -h inotify /proc/$np/fdinfo/*)"; return 1; }
	sleep 0.5
	echo after-restore >>$W/followed
	wait_for t.out 'after-restore' 30 || { why="the restored tail did not print the new line (state $(state $np)): $(tail -3 t.err)"; return 1; }
	got=$(tr -d '\0' <t.out)
	[[ $got == after-restore ]] || { why="the restored tail printed '$got', expected only the new line"; return 1; }
	kill -0 $np || { why="the restored tail died"; return 1; }
}

# eventfd, signalfd, timerfd and epoll come back from their fdinfo records
# (tools/ktest/pyevents.py): an epoll instance finds its two targets ready, an eventfd
# with its counter, a semaphore eventfd reading one
# at a time and still non-blocking, a signalfd reading the SIGUSR2 that was pending at the
# checkpoint (queued again by the restorer), a timerfd that keeps firing. Linux 6.1's
# eventfd fdinfo does not say whether it is a semaphore: there the image is refused,
# naming the fd, before any process exists.
t_restore_event_descriptors() {
	counting_python pyevents.py || return 1
	kill -USR2 $T
	sleep 0.3
	checkpoint_and_kill || return 1
	records_in_image fdinfo 5 || return 1
	mv t.out t.old && : >t.out
	if [[ $(uname -r) == 6.1.* ]]; then
		out=$($CKPT_CLI restore $img 2>&1) && { why="restored an eventfd whose semaphore mode 6.1 does not show: $out"; return 1; }
		[[ $out == *"refused: fd "*"(anon_inode:[eventfd]): its fdinfo record lacks eventfd-semaphore"* &&
		   $out != *"starting the new process"* ]] || { why="6.1: $out"; return 1; }
		return 0
	fi
	local np got
	restore_image $img || return 1
	wait_for t.out '^count' 30 || { why="the restored process printed nothing (state $(state $np)): $(tail -3 t.err)"; return 1; }
	sleep 0.5
	kill -USR1 $np
	wait_for t.out '^events' 30 || { why="no events line after SIGUSR1 (state $(state $np)): $(tail -3 t.err)"; return 1; }
	got=$(tr -d '\0' <t.out | grep -a '^events' | head -1)
	[[ $got == "events epoll yes eventfd 5 semaphore 1 signalfd 12 timerfd yes nonblock yes" ]] || { why="after restore: '$got'"; return 1; }
	kill -0 $np || { why="the restored process died"; return 1; }
}

# Credentials (docs/restore.md): root restores a uid 1000 process as uid and gid 1000 with
# no supplementary groups (setgroups(0), setresgid, setresuid), from an image file root
# owns; its stdout, a file root opened for it that uid 1000 may not open, comes back
# because it is still the very file (ProcessFileAccess); the same process's file in uid
# 1000's directory swapped for a symlink to a root-only file is refused, and nothing holds
# that file afterwards. The dumpable mode comes back either way (dumpable after root's
# setresuid; non-dumpable from the stub, which starts dumpable). One image file uid 1000 owns is refused (it could say anything). A user may restore only
# its own images, and only with hard limits it could set itself: both refused before any
# process exists (uid 1000 restoring root's image; uid 1000 under a hard RLIMIT_NOFILE of
# 1000 restoring its own image, whose hard limit is ktarget's 4000).
t_restore_credentials() {
	restore_listen || return 1
	local d
	d=$(mktemp -d /tmp/cred.XXXXXX) && chmod 755 $d || { why="no directory for the images"; return 1; }
	start_target t.out 4 setpriv --reuid 1000 --regid 1000 --clear-groups
	wait_for t.out '^tick 3 ' 10 || { why="target: $(tail -2 t.out)"; return 1; }
	checkpoint_to_image $T || return 1
	install -m 644 $img $d/user.ckpt
	kill -9 $T; wait $T 2>/dev/null
	# Emptied in place: the same file (root's, 0644), which uid 1000 could not open itself.
	cp t.out t.old && : >t.out
	local np ids
	restore_image $img || return 1
	wait_for t.out '^tick' 10 || { why="the restored process printed nothing (state $(state $np))"; return 1; }
	ids=$(grep -E '^(Uid|Gid|Groups):' /proc/$np/status | tr -s '\t ' ' ' | tr '\n' '|')
	[[ $ids == "Uid: 1000 1000 1000 1000|Gid: 1000 1000 1000 1000|Groups: |" ]] ||
		{ why="restored with '$ids', expected uid/gid 1000 and no groups"; return 1; }
	# Dumpable as it was (setresuid had reset it): its /proc files are its user's.
	[[ $(stat -c %u /proc/$np/mem) == 1000 ]] ||
		{ why="the restored uid 1000 process is not dumpable: /proc/$np/mem owned by $(stat -c %u /proc/$np/mem)"; return 1; }
	kill -9 $np

	# A process that made itself non-dumpable (as ssh-agent does), restored by its own user
	# (with CAP_CHECKPOINT_RESTORE, which setting the executable needs) from a stub that
	# starts dumpable: non-dumpable again (its /proc files root's). It has an alternate
	# signal stack (faulthandler's): the restorer writes the thread's stack_t into it, which
	# it could not once the process was no longer dumpable (the mode is set last).
	local u=$d/u secret=$d/secret py=$d/u/py.out
	mkdir $u && chown 1000:1000 $u && echo 'root only' >$secret && chmod 600 $secret
	setpriv --reuid 1000 --regid 1000 --clear-groups touch $py || { why="uid 1000 cannot make $py"; return 1; }
	bg setpriv --reuid 1000 --regid 1000 --clear-groups /usr/bin/python3 -X faulthandler -c \
		'import ctypes, time; ctypes.CDLL(None).prctl(4, 0, 0, 0, 0); print("ready", flush=True); time.sleep(600)' </dev/null >>$py 2>&1
	T=$!
	wait_for $py '^ready' 30 || { why="python: $(cat $py)"; return 1; }
	checkpoint_to_image $T || return 1
	out=$($CKPT_CLI show $img)
	grep -q " altstack 0x" <<<"$out" ||
		{ why="python -X faulthandler: no alternate signal stack in the image: $(grep -m1 ' tid ' <<<"$out")"; return 1; }
	install -m 644 $img $d/py.ckpt
	kill -9 $T; wait $T 2>/dev/null
	out=$($AS_CAPUSER $CKPT_CLI restore $d/py.ckpt 2>&1) || { why="uid 1000 restoring its own: $(tr "\n" " " <<<"$out")"; return 1; }
	np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"$out")
	[[ -n $np ]] && pids+=("$np") || { why="no 'restored pid N' line: $out"; return 1; }
	[[ $(stat -c %u /proc/$np/mem) == 0 ]] ||
		{ why="the restored non-dumpable process is dumpable: /proc/$np/mem owned by $(stat -c %u /proc/$np/mem)"; return 1; }
	kill -9 $np
	# Without that capability uid 1000 could not set the executable: refused up front.
	out=$(setpriv --reuid 1000 --regid 1000 --clear-groups $CKPT_CLI restore $d/py.ckpt 2>&1) &&
		{ why="uid 1000 without CAP_CHECKPOINT_RESTORE restored: $out"; return 1; }
	[[ $out == *"needs CAP_CHECKPOINT_RESTORE in the new process"* && $out != *"starting the new process"* ]] ||
		{ why="no capability: $(tr "\n" " " <<<"$out")"; return 1; }

	# uid 1000's own directory: what a path there names is uid 1000's to change.
	start_target $u/mine 4 setpriv --reuid 1000 --regid 1000 --clear-groups
	wait_for $u/mine '^tick 3 ' 10 || { why="target: $(tail -2 $u/mine)"; return 1; }
	checkpoint_to_image $T || return 1
	kill -9 $T; wait $T 2>/dev/null
	setpriv --reuid 1000 --regid 1000 --clear-groups sh -c "rm $u/mine && ln -s $secret $u/mine" ||
		{ why="uid 1000 could not replace its file with a symlink"; return 1; }
	out=$($CKPT_CLI restore $img 2>&1) && { why="restored with $u/mine a symlink to root's $secret: $out"; return 1; }
	[[ $out == *"uid 1000 may not open $u/mine"*"it is not the file the process had open"* ]] ||
		{ why="the swapped file: $out"; return 1; }
	if grep -q -- "-> $secret\$" <<<"$(ls -l /proc/[0-9]*/fd/ 2>/dev/null)"; then
		why="a process holds $secret after the refused restore: $(ls -l /proc/[0-9]*/fd/ 2>/dev/null | grep -- "$secret")"
		return 1
	fi

	# The same bytes in a file uid 1000 owns (it could have written anything there, uid 0
	# in the task record included): root refuses it before reading it.
	install -m 600 -o 1000 -g 1000 $img $d/theirs.ckpt
	out=$($CKPT_CLI restore $d/theirs.ckpt 2>&1) && { why="root restored an image file uid 1000 owns: $out"; return 1; }
	[[ $out == *"refused: it is owned by uid 1000"* && $out != *"starting the new process"* ]] ||
		{ why="a user's image file restored by root: $out"; return 1; }

	out=$(prlimit --nofile=100:1000 setpriv --reuid 1000 --regid 1000 --clear-groups $CKPT_CLI restore $d/user.ckpt 2>&1) &&
		{ why="uid 1000 restored a hard limit above its own: $out"; return 1; }
	[[ $out == *"refused: resource limit RLIMIT_NOFILE: the image's hard limit 4000 is above yours (1000)"* &&
		$out != *"starting the new process"* ]] || { why="hard limit: $out"; return 1; }

	start_target t.out 4
	wait_for t.out '^tick 3 ' 10 || { why="target: $(tail -2 t.out)"; return 1; }
	checkpoint_to_image $T || return 1
	install -m 644 $img $d/root.ckpt
	kill -9 $T; wait $T 2>/dev/null
	out=$(setpriv --reuid 1000 --regid 1000 --clear-groups $CKPT_CLI restore $d/root.ckpt 2>&1) &&
		{ why="uid 1000 restored root's process: $out"; return 1; }
	[[ $out == *"refused: credentials: the image's uid 0/gid 0 are not yours"* && $out != *"starting the new process"* ]] ||
		{ why="another user's image: $out"; return 1; }
	rm -rf $d
	return 0
}

# Which pid (ckpt restore --pid): "same" fails while the original still holds the pid,
# naming it, and leaves the original alone; "new" gives a new pid even when the image's
# is free, without the warning "any" prints when it cannot have the image's.
t_restore_pid_choice() {
	restore_listen || return 1
	start_target t.out 4
	wait_for t.out '^tick 3 ' 10 || { why="target: $(tail -2 t.out)"; return 1; }
	checkpoint_to_image $T || return 1
	out=$($CKPT_CLI restore --pid same $img 2>&1) && { why="--pid same restored while pid $T is in use: $out"; return 1; }
	[[ $out == *"pid $T: the id is in use by another process now"* ]] || { why="--pid same: $out"; return 1; }
	local before
	before=$(last_tick t.out)
	wait_for t.out "^tick $((before + 2)) " 10 || { why="the original stopped counting after the refused restore"; return 1; }
	kill -9 $T; wait $T 2>/dev/null
	mv t.out t.old && : >t.out
	local np
	restore_image --pid new $img || return 1
	((np != T)) || { why="--pid new gave the process the image's free pid $T"; return 1; }
	[[ $out != *"warning: the image's pid"* ]] || { why="--pid new warned about the pid: $out"; return 1; }
	wait_for t.out '^tick' 10 || { why="the restored process printed nothing (state $(state $np))"; return 1; }
	return 0
}

# A pipe whose other end another process holds, a TCP socket and a socketpair end whose
# peer another process holds are refused as docs/restore.md says: before any process is
# made, naming the fd and why.
t_restore_refuses_pipe_and_socket() {
	ip link set lo up 2>/dev/null	# the TCP connection's, on 127.0.0.1
	restore_listen || return 1
	# ktarget writing into a pipe (fd 1).
	$B/ktarget 1 | cat >t.out &
	pids+=($!)
	wait_for t.out '^tick' 10 || { why="target: $(cat t.out)"; return 1; }
	T=$(pgrep -n -x ktarget) || { why="no ktarget pid"; return 1; }
	checkpoint_to_image $T || return 1
	kill -9 $T
	out=$($CKPT_CLI restore $img 2>&1) && { why="restored a process with a pipe: $out"; return 1; }
	[[ $out == *"refused: fd 1 (pipe:["*"read end is held by another process"* && $out != *"starting the new process"* ]] ||
		{ why="pipe: $out"; return 1; }
	# python3 holding a TCP connection (fds 4 and 5, both ends), and a netlink socket.
	python_refused 'import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = socket.create_connection(l.getsockname()); s, _ = l.accept(); l.close()
print("ready", flush=True); time.sleep(1000)' \
		"a process with a TCP connection" "refused: fd 4 (socket:[" "a TCP connection (127.0.0.1:" "ESTABLISHED)" \
		"connections end with the process" || return 1
	python_refused 'import socket, time; s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); print("ready", flush=True); time.sleep(1000)' \
		"a process with a netlink socket" "refused: fd 3 (socket:[" "sockets other than Unix, TCP and UDP are not restored" || return 1
	# python3 holding one end of a socketpair whose other end its child holds (the
	# child exits when its parent is gone).
	python_refused 'import os, socket, time
a, b = socket.socketpair()
parent = os.getpid()
if os.fork() == 0:
    a.close()
    while os.getppid() == parent:
        time.sleep(0.1)
    os._exit(0)
b.close()
print("ready", flush=True)
time.sleep(1000)' \
		"a process with a socket whose peer another process holds" "refused: fd 3 (socket:[" "held by another process" || return 1
}

# --inherit-fd: ktarget writing into a pipe whose reader (cat) ended with it, refused
# without the option (restore-refuses-pipe-and-socket). With --inherit-fd 1 its stdout is
# ckpt restore's own (a file here, as a unit's new journal stream would be) and its ticks
# go on there. An fd the image does not have is refused (exit 1; open in ckpt restore:
# 9>/dev/null), and one that is not open in ckpt restore is a usage error (64) before
# anything is opened (closed, it would be the number of the next file ckpt opens).
t_restore_inherit_fd() {
	restore_listen || return 1
	$B/ktarget 1 | cat >t.out &
	pids+=($!)
	wait_for t.out '^tick' 10 || { why="target: $(cat t.out)"; return 1; }
	T=$(pgrep -n -x ktarget) || { why="no ktarget pid"; return 1; }
	checkpoint_to_image $T || return 1
	kill -9 $T
	local np rc
	$CKPT_CLI restore $img --inherit-fd 1 >n.out 2>n.err || { why="restore --inherit-fd 1: $(cat n.err)"; return 1; }
	np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' n.out)
	[[ -n $np ]] || { why="no restored pid: $(cat n.out n.err)"; return 1; }
	pids+=("$np")
	wait_for n.out '^tick' 20 || { why="no tick in the inherited stdout (state $(state $np)): $(tail -3 n.out n.err)"; return 1; }
	[[ $(readlink /proc/$np/fd/1) == "$PWD/n.out" ]] || { why="fd 1 of the restored process is $(readlink /proc/$np/fd/1)"; return 1; }
	kill_restored || return 1
	$CKPT_CLI restore $img --inherit-fd 1,9 9>/dev/null >x.out 2>&1; rc=$?
	((rc == 1)) && grep -q "refused: --inherit-fd 9: the image has no fd 9" x.out || { why="fd 9: exit $rc: $(cat x.out)"; return 1; }
	$CKPT_CLI restore $img --inherit-fd 1 >&- 2>x.out; rc=$?
	((rc == 64)) && grep -q -- "--inherit-fd 1: fd 1 is not open in ckpt restore" x.out || { why="closed fd 1: exit $rc: $(cat x.out)"; return 1; }
}

# A damaged image (one byte of page data flipped): without --verify the record's checksum
# fails (the kernel's path: while it streams; process_vm_writev: when the writers are done,
# PendingRecordCheck), the half-made process is killed and ckpt restore exits 65; with
# --verify it is refused (65) before a process exists.
t_restore_damaged_image() {
	restore_listen || return 1
	start_target t.out 4
	checkpoint_and_kill || return 1
	# A byte in the middle of the heap's pages (the image is mostly page data).
	local size=$(stat -c %s $img)
	printf '\x5a' | dd of=$img bs=1 seek=$((size / 2)) conv=notrunc status=none
	local rc
	local by
	for by in process kernel; do
		out=$($CKPT_CLI restore $img --memory-by $by 2>&1); rc=$?
		((rc == 65)) && [[ $out == *"damaged"*"CRC-32C mismatch"* ]] || { why="--memory-by $by: restore of a damaged image: exit $rc: $out"; return 1; }
		sleep 0.5
		pgrep -x ktarget >/dev/null && { why="--memory-by $by: a ktarget process is left: $(pgrep -a -x ktarget)"; return 1; }
	done
	out=$($CKPT_CLI restore $img --verify 2>&1); rc=$?
	((rc == 65)) && [[ $out != *"starting the new process"* ]] || { why="restore --verify: exit $rc: $out"; return 1; }
}

# A process tree (tools/ktest/pytree.py: a parent, its child and grandchild, three pipes
# and a socketpair between them, 3000 bytes unread in a pipe, a message in the socketpair) checkpointed with --tree and restored from its
# three images, given in another order: each process comes back with its pid, as the
# child of its parent (the parent reaps its child with waitpid), the child leading its
# process group again in the root's session, the grandchild its own session, the pipes connect the
# same processes (the child echoes what the parent feeds it, the grandchild's lines reach
# the parent), the unread bytes are still in their pipe, the queued message in the
# socketpair and a new one the child sends reach the parent, and the parent counts on from
# its checkpointed count. Refused before any process exists: one image of the tree alone
# (its pipes' other ends are another process's) and images that are not one tree.
# pytree_start RUNNER [ARGS...]: pytree.py in the background under RUNNER (a command
# prefix such as $AS_USER, or ""), with ARGS, its output in t.out; once the grandchild has
# written thrice, sets T (the parent), c and g (child, grandchild), crc (of the bytes held
# in a pipe) and pre (the parent's last count): the caller's locals. Sets why.
pytree_start() {
	bg $1 /usr/bin/python3 $here/pytree.py "${@:2}" </dev/null >t.out 2>&1
	T=$!
	wait_for t.out '^gc 3$' 120 || { why="python: $(tail -3 t.out)"; return 1; }
	local ready
	ready=$(grep -a '^ready' t.out)
	read -r _ _ c g _ crc <<<"$ready"
	[[ -n $g ]] || { why="ready line: $ready"; return 1; }
	pre=$(grep -a '^count' t.out | tail -1 | cut -d' ' -f2)
}

# pytree_checkpoint N OPTIONS...: ckpt checkpoint --tree OPTIONS of the tree pytree_start
# started, waiting for the images; sets out, imgs (N of them, else fails) and post (the
# parent's last count after it): the caller's locals. Sets why.
pytree_checkpoint() {
	out=$($CKPT_CLI checkpoint $T --tree "${@:2}" --wait $W/img 2>&1) || { why="checkpoint --tree ${*:2}: $out"; return 1; }
	imgs=($(sed -n "s/^image //p" <<<"$out"))
	((${#imgs[@]} == $1)) || { why="not $1 images: $out"; return 1; }
	post=$(grep -a '^count' t.out | tail -1 | cut -d' ' -f2)
}

# pytree_check TEXT: `ckpt restore --check` of all the images says TEXT and starts nothing.
# Sets out and why.
pytree_check() {
	out=$($CKPT_CLI restore "${imgs[@]}" --check 2>&1) && [[ $out == *"$1"* && $out != *starting* ]] ||
		{ why="restore --check: $out"; return 1; }
}

# pytree_restore [IMAGE...]: ckpt restore of the IMAGEs (all of imgs when none); sets out and
# np (the root's new pid), adds the tree's pids to pids. Sets why.
pytree_restore() {
	(($#)) || set -- "${imgs[@]}"
	out=$($CKPT_CLI restore "$@" 2>&1) || { why="restore: $out"; return 1; }
	np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' <<<"$out")
	pids+=($np $c $g)
}

# pytree_kill: the tree pytree_start started killed, and gone. Sets why.
pytree_kill() {
	local i
	kill -9 $g $c $T
	wait $T 2>/dev/null
	for i in $(seq 100); do [[ $(state $c) == gone && $(state $g) == gone ]] && break; sleep 0.1; done
	[[ $(state $c) == gone && $(state $g) == gone ]] || { why="child $(state $c), grandchild $(state $g) after kill"; return 1; }
}

# The tree of pytree.py restored (root pid $np, was $T; child $c, grandchild $g): the
# same pids and parents, groups and sessions, each counting on from between $pre and
# $post, one shared stdout, and the socketpair's queued message and 3000 unread bytes
# (crc $crc) back; then the child exits 7 and its parent reaps it. Sets why.
pytree_restored() {
	local got i
	[[ $np == "$T" ]] || { why="the root came back as $np, not $T: $out"; return 1; }
	[[ $out != *warning* ]] || { why="the restore warned: $out"; return 1; }
	[[ $(awk '{print $4}' /proc/$c/stat) == "$T" ]] || { why="the child $c's parent is $(awk '{print $4}' /proc/$c/stat 2>&1)"; return 1; }
	[[ $(awk '{print $4}' /proc/$g/stat) == "$c" ]] || { why="the grandchild $g's parent is $(awk '{print $4}' /proc/$g/stat 2>&1)"; return 1; }
	# Fields 5 and 6: process group and session. The root leads both (a restore's own
	# session), the child its group in the root's session, the grandchild a session.
	got="$(awk '{print $5, $6}' /proc/$T/stat) $(awk '{print $5, $6}' /proc/$c/stat) $(awk '{print $5, $6}' /proc/$g/stat)"
	[[ $got == "$T $T $c $T $g $g" ]] || { why="groups and sessions (root, child, grandchild): $got, expected $T $T $c $T $g $g"; return 1; }
	wait_for t.out '^echo' 30 || { why="no echo from the child after the restore: $(tail -3 t.out)"; return 1; }
	wait_for t.out '^gc' 30 || { why="no line from the grandchild after the restore: $(tail -3 t.out)"; return 1; }
	# Its first line lands after the old file's length, behind NULs: not at a line start.
	got=$(tr -d '\0' <t.out | grep -a '^count' | head -1 | cut -d' ' -f2)
	((pre < got && got <= post + 1)) || { why="counted on from $got, not after $pre (before the checkpoint) up to $((post + 1))"; return 1; }
	# Parent and child hold one open file again as their stdout (they shared it: one
	# offset), as kcmp(2) says (KCMP_FILE, 0: the same), and the child writes into it.
	got=$(/usr/bin/python3 -c "import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
print(libc.syscall(312, int(sys.argv[1]), int(sys.argv[2]), 0, 1, 1), ctypes.get_errno())" $T $c)
	[[ $got == "0 "* ]] || { why="kcmp(KCMP_FILE) of the parent's and the child's stdout: $got (0: one open file)"; return 1; }
	# Its stdout and stderr (2>&1) are one open file too, within the process.
	got=$(/usr/bin/python3 -c "import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
print(libc.syscall(312, int(sys.argv[1]), int(sys.argv[1]), 0, 1, 2), ctypes.get_errno())" $T)
	[[ $got == "0 "* ]] || { why="kcmp(KCMP_FILE) of the parent's fds 1 and 2 (2>&1): $got (0: one open file)"; return 1; }
	for i in $(seq 100); do (($(tr -d '\0' <t.out | grep -ac '^child') >= 2)) && break; sleep 0.2; done
	(($(tr -d '\0' <t.out | grep -ac '^child') >= 2)) || { why="no child lines in the shared stdout after the restore"; return 1; }
	kill -USR1 $c
	for i in $(seq 30); do
		kill -USR1 $np
		sleep 1
		got=$(tr -d '\0' <t.out | sed -n 's/^ctl //p' | tr '|' '\n' | grep -v '^$' | paste -sd'|')
		[[ $got == *held* ]] && break
	done
	[[ $got == "hello|held 3000 crc $crc" ]] || { why="the socketpair after the restore: '$got', expected 'hello|held 3000 crc $crc'"; return 1; }
	kill -USR2 $np
	wait_for t.out '^reaped' 30 || { why="no reaped line after SIGUSR2: $(tail -3 t.out)"; return 1; }
	got=$(tr -d '\0' <t.out | grep -a '^reaped' | head -1)
	[[ $got == "reaped $c status 7" ]] || { why="the parent's wait for its child: '$got'"; return 1; }
}

t_restore_tree() {
	restore_listen || return 1
	local c g crc imgs np got pre post
	pytree_start "" || return 1
	pytree_checkpoint 3 --stop || return 1
	[[ $out == *" pid $T"$'\n'*" pid $c"$'\n'*" pid $g"$'\n'* ]] || { why="the crid lines do not name $T $c $g in order: $out"; return 1; }
	grep -q '^tree of 3 processes frozen-ms [0-9]*$' <<<"$out" || { why="no frozen-ms line for the tree the command stopped: $out"; return 1; }
	pytree_kill || return 1
	local i
	out=$($CKPT_CLI restore "${imgs[1]}" 2>&1) && { why="restored the child's image alone: $out"; return 1; }
	[[ $out == *"held by another process"* && $out != *starting* ]] || { why="the child alone: $out"; return 1; }
	out=$($CKPT_CLI restore "${imgs[0]}" "${imgs[2]}" 2>&1) && { why="restored a parent and its grandchild: $out"; return 1; }
	[[ $out == *"not one process tree"* && $out != *starting* ]] || { why="parent and grandchild: $out"; return 1; }
	pytree_check "tree of 3 processes (root pid $T), 3 pipes and 1 socketpair between them, 2 open files they share: restorable" || return 1
	mv t.out t.old && : >t.out
	pytree_restore "${imgs[2]}" "${imgs[0]}" "${imgs[1]}" || return 1
	pytree_restored || return 1
	# Again through the kernel's restart session, left stopped: all three stay stopped
	# until continued, then the parent counts on.
	kill -9 $g $np 2>/dev/null
	for i in $(seq 100); do [[ $(state $np) == gone && $(state $g) == gone ]] && break; sleep 0.1; done
	[[ $(state $np) == gone && $(state $g) == gone ]] || { why="the restored tree did not exit: $(state $np) $(state $g)"; return 1; }
	mv t.out t.old2 && : >t.out
	out=$($CKPT_CLI restore "${imgs[@]}" --stopped --memory-by kernel 2>&1) || { why="restore --stopped --memory-by kernel: $out"; return 1; }
	sleep 1
	got="$(state $T) $(state $c) $(state $g)"
	[[ $got == "T T T" ]] || { why="--stopped: states $got, expected T T T: $out"; return 1; }
	kill -CONT $T $c $g
	wait_for t.out '^count' 30 || { why="--memory-by kernel: the continued parent printed nothing: $(tail -3 t.out)"; return 1; }
	wait_for t.out '^echo' 30 || { why="--memory-by kernel: no echo from the continued child"; return 1; }
}

# --tree --pre-copy: each process of the running tree pre-copied, then the tree stopped for
# the checkpoints of what each wrote since; all six images given to restore (the pre-copies
# read as their checkpoints' parents) bring the tree back as --tree --stop's do.
t_restore_tree_pre_copy() {
	restore_listen || return 1
	local c g crc imgs np got pre post
	pytree_start "" || return 1
	pytree_checkpoint 6 --pre-copy || return 1
	[[ $(grep -c '^pre-copy crid [0-9]* records' <<<"$out") == 3 ]] || { why="not three pre-copies: $out"; return 1; }
	got=$(sed -n 's/^crid [0-9]* records .* parent [0-9]* dirty-ranges [0-9]* pid \([0-9]*\)$/\1/p' <<<"$out" | paste -sd' ')
	[[ $got == "$T $c $g" ]] || { why="the checkpoints after the pre-copies name pids '$got', not $T $c $g: $out"; return 1; }
	grep -q '^tree of 3 processes frozen-ms [0-9]*$' <<<"$out" || { why="no frozen-ms line: $out"; return 1; }
	got="$(state $T) $(state $c) $(state $g)"
	[[ $got != *T* ]] || { why="left stopped after the checkpoint: $got"; return 1; }
	pytree_kill || return 1
	# The grandchild's pre-copy without its checkpoint: refused as a pre-copy alone.
	out=$($CKPT_CLI restore "${imgs[3]}" "${imgs[4]}" "${imgs[2]}" 2>&1) && { why="restored with a lone pre-copy: $out"; return 1; }
	[[ $out == *"${imgs[2]}: refused: a pre-copy holds memory only"* && $out != *starting* ]] || { why="a lone pre-copy: $out"; return 1; }
	mv t.out t.old && : >t.out
	pytree_restore || return 1
	pytree_restored || return 1
}

# --tree --stop --hold with the listener stopped (64 KiB socket buffer: a stream fills it at
# once): each process's stream waits in kernel memory once the kernel has read it
# (checkpoint-read), so the command continues the tree while no image is written yet; the
# same without --hold leaves the tree stopped. Once the listener goes on, the three images
# come and bring the tree back as --tree --stop's do.
t_restore_tree_hold() {
	mkdir -p $W/img
	local L c g crc imgs np got pre post i ran=0 ck
	bg $CKPT_CLI listen --dir $W/img --socket-buffer 65536 >l.out 2>l.log
	L=$!
	wait_for l.log 'listening' 20 || { why="listener: $(tail -3 l.log)"; return 1; }
	pytree_start "" || return 1
	kill -STOP $L
	$CKPT_CLI checkpoint $T --tree --stop --wait $W/img >ck0.out 2>&1 &
	ck=$!
	sleep 3
	got="$(state $T) $(state $c) $(state $g)"
	kill -CONT $L
	wait $ck || { why="checkpoint --tree --stop: $(cat ck0.out)"; return 1; }
	[[ $got == "T T T" ]] || { why="without --hold the tree ran ($got) while its streams waited for the stopped listener"; return 1; }
	kill -STOP $L
	$CKPT_CLI checkpoint $T --tree --stop --hold --wait $W/img >ck.out 2>&1 &
	ck=$!
	# Rounds, not the clock (lib.sh's wait_for says why): up to 60 of them.
	for ((i = 0; i < 60 && !ran; i++)); do
		sleep 0.5
		kill -0 $ck 2>/dev/null || break
		got="$(state $T) $(state $c) $(state $g)"
		grep -q '^tree of 3 processes frozen-ms' ck.out && [[ $got != *T* ]] && ran=1
	done
	got="$(state $T) $(state $c) $(state $g)"
	! grep -q '^image' ck.out || { kill -CONT $L; why="an image came from the stopped listener: $(cat ck.out)"; return 1; }
	kill -CONT $L
	((ran)) || { why="the tree was not continued while its held streams waited for the stopped listener (states $got): $(cat ck.out)"; return 1; }
	wait $ck || { why="checkpoint --tree --stop --hold: $(cat ck.out)"; return 1; }
	out=$(cat ck.out)
	imgs=($(sed -n "s/^image //p" <<<"$out"))
	((${#imgs[@]} == 3)) || { why="not 3 images: $out"; return 1; }
	# The crid lines follow the frozen-ms line: the streams ended after the tree went on.
	got=$(sed -n 's/^crid [0-9]* records .* pid \([0-9]*\)$/\1/p' <<<"$out" | paste -sd' ')
	[[ $got == "$T $c $g" ]] || { why="the crid lines name pids '$got', not $T $c $g: $out"; return 1; }
	[[ $(grep -n '^tree of 3 processes frozen-ms' <<<"$out" | cut -d: -f1) -lt $(grep -n '^crid' <<<"$out" | head -1 | cut -d: -f1) ]] ||
		{ why="the crid lines came before the tree was continued: $out"; return 1; }
	# The pages the three streams hold were allocated before the stop (await-go): the
	# three python3 processes' anonymous memory, a MiB or more.
	got=$(sed -n 's/^tree of 3 processes reserved-pages \([0-9]*\)$/\1/p' <<<"$out")
	echo "reserved $got pages for the tree"
	((${got:-0} >= 256)) || { why="reserved-pages '${got}' for the tree: $out"; return 1; }
	[[ $(grep -n '^tree of 3 processes reserved-pages' <<<"$out" | cut -d: -f1) -lt $(grep -n '^tree of 3 processes frozen-ms' <<<"$out" | cut -d: -f1) ]] ||
		{ why="the reserve was not made before the stop: $out"; return 1; }
	post=$(grep -a '^count' t.out | tail -1 | cut -d' ' -f2)
	pytree_kill || return 1
	mv t.out t.old && : >t.out
	pytree_restore || return 1
	# It counted on while held: the restore starts from the count at the read, before $post.
	pytree_restored || return 1
}

# --tree --stop --hold past the module's stream limits (user_streams 2 for a tree of 3,
# the listener stopped so that no held stream can drain): two streams are asked for
# before the stop, the third after it, refused (EAGAIN) while the first two still hold
# their task's stream; the command waits for the oldest to end (the tree stays stopped,
# its third process not read) and asks again once the listener goes on: three images
# that restore --check takes as the tree.
t_restore_tree_hold_limit() {
	mkdir -p $W/img
	local L c g crc imgs np got pre post ck param=/sys/module/ckpt/parameters/user_streams old
	bg $CKPT_CLI listen --dir $W/img --socket-buffer 65536 >l.out 2>l.log
	L=$!
	wait_for l.log 'listening' 20 || { why="listener: $(tail -3 l.log)"; return 1; }
	pytree_start "" || return 1
	old=$(cat $param)
	echo 2 >$param
	kill -STOP $L
	$CKPT_CLI checkpoint $T --tree --stop --hold --wait $W/img >ck.out 2>&1 &
	ck=$!
	sleep 4
	got="$(state $T) $(state $c) $(state $g)"
	kill -CONT $L
	wait $ck
	local rc=$?
	echo "$old" >$param
	((rc == 0)) || { why="checkpoint --tree --stop --hold with user_streams 2: $(cat ck.out)"; return 1; }
	[[ $got == "T T T" ]] || { why="the tree ran ($got) before its third process was read"; return 1; }
	out=$(cat ck.out)
	grep -q '^tree of 2 processes reserved-pages [0-9]*$' <<<"$out" || { why="not two streams asked for ahead: $out"; return 1; }
	imgs=($(sed -n "s/^image //p" <<<"$out"))
	((${#imgs[@]} == 3)) || { why="not 3 images: $out"; return 1; }
	pytree_check "tree of 3 processes (root pid $T)" || return 1
}

# Another user's tree (pytree.py as uid 1000) restored by root: each process is uid 1000's
# again, and the stdout parent and child shared (root's t.out: uid 1000 may not open it,
# so it is opened because it is the very file the images hold) is one open file again,
# opened once in the root stub with uid 1000's rights and inherited by the others.
t_restore_tree_other_user() {
	restore_listen || return 1
	local c g crc imgs np got pre post
	pytree_start "$AS_USER" || return 1
	pytree_checkpoint 3 --stop || return 1
	pytree_kill || return 1
	# Emptied in place: the very file the images hold.
	cp t.out t.old && : >t.out
	pytree_restore || return 1
	# Its stdin (/dev/null) and stdout (t.out, with 2>&1).
	[[ $out == *"opening 2 open files its tree shares, as uid 1000"* ]] || { why="no shared files opened as uid 1000: $out"; return 1; }
	got=$(for p in $np $c $g; do awk '/^Uid:/ {print $2}' /proc/$p/status; done | paste -sd' ')
	[[ $got == "1000 1000 1000" ]] || { why="uids after the restore: $got"; return 1; }
	pytree_restored || return 1
}

# A root parent whose child (and grandchild) run as uid 1000 (pytree.py --child-uid 1000),
# all writing into the stdout they share (root's t.out, which uid 1000 may not open),
# restored by root: the shared files are opened once by the restorer as the very files the
# images hold (device and inode) and inherited, so the tree writes at one offset again, each
# process with its uid. With t.out replaced since, it is reopened in each process, warned.
t_restore_tree_two_users() {
	restore_listen || return 1
	local c g crc imgs np got pre post i
	pytree_start "" --child-uid 1000 || return 1
	got="$(awk '/^Uid:/ {print $2}' /proc/$T/status) $(awk '/^Uid:/ {print $2}' /proc/$c/status) $(awk '/^Uid:/ {print $2}' /proc/$g/status)"
	[[ $got == "0 1000 1000" ]] || { why="uids before the checkpoint: $got"; return 1; }
	pytree_checkpoint 3 --stop || return 1
	pytree_kill || return 1
	pytree_check "3 pipes and 1 socketpair between them, 2 open files they share: restorable" || return 1
	cp t.out t.old && : >t.out
	pytree_restore || return 1
	[[ $out == *"opening 2 open files processes of several users share, each the very file they held"* ]] ||
		{ why="no shared files opened by identity: $out"; return 1; }
	got=$(for p in $np $c $g; do awk '/^Uid:/ {print $2}' /proc/$p/status; done | paste -sd' ')
	[[ $got == "0 1000 1000" ]] || { why="uids after the restore: $got"; return 1; }
	pytree_restored || return 1
	# t.out replaced by another file (uid 1000 may write it): not the file they held, so
	# reopened in each process with its own user's rights, warned; the tree runs on.
	kill -9 $g $c $np 2>/dev/null
	for i in $(seq 100); do [[ $(state $np) == gone && $(state $c) == gone ]] && break; sleep 0.1; done
	[[ $(state $np) == gone && $(state $c) == gone ]] || { why="the restored tree did not exit: $(state $np) $(state $c)"; return 1; }
	mv t.out t.old2 && : >t.out && chmod 666 t.out
	pytree_restore || return 1
	[[ $out == *"warning: $W/t.out, an open file processes of more than one user shared"*"is reopened in each of them"* &&
		$out == *"opening 1 open file processes of several users share"* ]] || { why="t.out replaced: $out"; return 1; }
	wait_for t.out '^echo' 30 || { why="no echo from the child after the second restore: $(tail -3 t.out)"; return 1; }
	got=$(/usr/bin/python3 -c "import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
print(libc.syscall(312, int(sys.argv[1]), int(sys.argv[2]), 0, 1, 1), ctypes.get_errno())" $T $c)
	[[ $got != "0 "* ]] || { why="kcmp(KCMP_FILE): parent and child share a stdout reopened apart: $got"; return 1; }
}

# --inherit-fd 1,2 with a tree (a supervisor handing the restore a new stdout and stderr,
# here one file, >t2.out 2>&1): the root's fds 1 and 2, and its child's and grandchild's
# (the same open file, inherited across fork), are the command's, one open file, into which
# the tree counts and echoes on; the file they had (t.out) is not opened.
t_restore_tree_inherit_fd() {
	restore_listen || return 1
	local c g crc imgs np got pre post p i
	pytree_start "" || return 1
	pytree_checkpoint 3 --stop || return 1
	pytree_kill || return 1
	mv t.out t.old
	$CKPT_CLI restore "${imgs[@]}" --inherit-fd 1,2 >t2.out 2>&1 || { why="restore --inherit-fd 1,2: $(cat t2.out)"; return 1; }
	np=$(sed -n 's/^restored pid \([0-9]*\)$/\1/p' t2.out)
	pids+=($np $c $g)
	[[ $np == "$T" ]] || { why="the root came back as '$np', not $T: $(cat t2.out)"; return 1; }
	[[ ! -e t.out ]] || { why="the restore opened t.out, which --inherit-fd replaced"; return 1; }
	for p in $np $c $g; do
		got="$(readlink /proc/$p/fd/1) $(readlink /proc/$p/fd/2)"
		[[ $got == "$W/t2.out $W/t2.out" ]] || { why="pid $p's fds 1 and 2: $got, not the command's $W/t2.out"; return 1; }
	done
	# One open file: the command's (KCMP_FILE 0), in the root at fds 1 and 2 and in the child.
	got=$(/usr/bin/python3 -c "import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
r, c = int(sys.argv[1]), int(sys.argv[2])
print(libc.syscall(312, r, c, 0, 1, 1), libc.syscall(312, r, r, 0, 1, 2))" $np $c)
	[[ $got == "0 0" ]] || { why="kcmp(KCMP_FILE) root fd 1 / child fd 1, root fd 1 / fd 2: $got (0 0: one open file)"; return 1; }
	wait_for t2.out '^echo' 30 || { why="no echo from the child into the command's stdout: $(tail -3 t2.out)"; return 1; }
	wait_for t2.out '^gc' 30 || { why="no line from the grandchild into the command's stdout: $(tail -3 t2.out)"; return 1; }
	for i in $(seq 100); do grep -aq '^child' t2.out && break; sleep 0.2; done
	grep -aq '^child' t2.out || { why="the child wrote nothing into the command's stdout: $(tail -3 t2.out)"; return 1; }
}

# Zombies in the tree (pytree.py --zombies --zombie-group: two children of the parent, one
# exit(5), one killed by SIGTERM, not waited for; the first led a process group, which a
# live member process joined): each image is its ids and status; restored with the tree,
# each is the parent's zombie again, with its pid and status, the member in the group the
# zombie leads, and the parent's waitpid reaps them. A zombie's image alone is refused,
# saying what it was.
t_restore_tree_zombie() {
	restore_listen || return 1
	local c g crc imgs np got pre post i z1 z2 zimg m
	pytree_start "" --zombies --zombie-group || return 1
	read -r _ z1 z2 <<<"$(grep -a '^zombies' t.out)"
	[[ -n $z2 ]] || { why="zombies: $(grep -a '^zombies' t.out)"; return 1; }
	m=$(grep -a '^member' t.out | cut -d' ' -f2)
	pids+=($m)
	for i in $(seq 50); do [[ $(state $z1) == Z && $(state $z2) == Z ]] && break; sleep 0.1; done
	[[ $(state $z1) == Z && $(state $z2) == Z ]] || { why="no zombies: $(state $z1) $(state $z2)"; return 1; }
	got="$(awk '{print $5}' /proc/$z1/stat) $(awk '{print $5}' /proc/$m/stat 2>&1)"
	[[ $got == "$z1 $z1" ]] || { why="the zombie $z1's group and its member $m's: $got"; return 1; }
	pytree_checkpoint 6 --stop || return 1
	[[ $out == *" records 3 "*" pid $z1 zombie"$'\n'* && $out == *" pid $z2 zombie"$'\n'* ]] || { why="zombie lines: $out"; return 1; }
	zimg=""
	for i in "${imgs[@]}"; do
		grep -q "pid $z1 .*zombie (exited with 5)" <<<"$($CKPT_CLI show "$i" 2>&1)" && zimg=$i
	done
	[[ -n $zimg ]] || { why="ckpt show names no zombie of pid $z1 (exited with 5)"; return 1; }
	for i in "${imgs[@]}"; do grep -q "pid $z2 .*zombie (killed by signal 15)" <<<"$($CKPT_CLI show "$i" 2>&1)" && break; done ||
		{ why="ckpt show names no zombie of pid $z2 killed by signal 15"; return 1; }
	kill -9 $m
	pytree_kill || return 1
	for i in $(seq 100); do [[ $(state $z1) == gone && $(state $m) == gone ]] && break; sleep 0.1; done
	[[ $(state $z1) == gone ]] || { why="the zombie $z1 after its parent was killed: $(state $z1)"; return 1; }
	out=$($CKPT_CLI restore "$zimg" 2>&1) && { why="restored a zombie alone: $out"; return 1; }
	[[ $out == *"pid $z1 was a zombie (exited with 5): it comes back only with its parent"* ]] || { why="a zombie alone: $out"; return 1; }
	pytree_check "tree of 4 processes (root pid $T) and 2 zombies, 3 pipes and 1 socketpair between them, 2 open files they share: restorable" || return 1
	mv t.out t.old && : >t.out
	pytree_restore || return 1
	[[ $out == *": zombie pid $z1 (was $z1), child of pid $T, exited with 5"* &&
		$out == *": zombie pid $z2 (was $z2), child of pid $T, killed by signal 15"* ]] || { why="zombie lines: $out"; return 1; }
	got="$(state $z1) $(state $z2) $(awk '{print $4}' /proc/$z1/stat) $(awk '{print $4}' /proc/$z2/stat)"
	[[ $got == "Z Z $T $T" ]] || { why="the zombies after the restore: $got, expected Z Z $T $T"; return 1; }
	# The member is in the group the zombie leads again (no warning: pytree_restored).
	got="$(awk '{print $5}' /proc/$z1/stat) $(awk '{print $4, $5}' /proc/$m/stat 2>&1)"
	[[ $got == "$z1 $T $z1" ]] || { why="the zombie $z1's group, its member $m's parent and group: $got"; return 1; }
	pytree_restored || return 1
	wait_for t.out "^reaped $z2" 30 || { why="the parent did not reap its zombies: $(grep -a reaped t.out)"; return 1; }
	got=$(tr -d '\0' <t.out | grep -a '^reaped' | paste -sd'|')
	[[ $got == "reaped $c status 7|reaped $z1 status 5|reaped $z2 status -15" ]] || { why="reaped: '$got'"; return 1; }
}
