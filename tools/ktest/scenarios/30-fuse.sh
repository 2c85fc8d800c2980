# No request waits on the target (kernel-patch/SECURITY.md): a FUSE daemon that stops
# answering (pyfuse.py) makes a page fault on its file wait for as long as it likes,
# and whoever faults holds what it holds meanwhile.

# fuse_start: the daemon on $W/fuse ($F its pid), holding reads once $W/fuse.hold exists.
fuse_start() {
	modprobe fuse 2>/dev/null || true
	[[ -c /dev/fuse ]] || { why="no /dev/fuse (modprobe fuse)"; return 1; }
	mkdir -p $W/fuse
	rm -f $W/fuse.hold
	bg /usr/bin/python3 $here/pyfuse.py $W/fuse $W/fuse.hold >fuse.out 2>&1
	F=$!
	wait_for fuse.out '^mounted' 10 || { why="pyfuse: $(cat fuse.out)"; return 1; }
}
# fuse_stop: the daemon's death aborts its connection (held reads fail), then unmount.
fuse_stop() {
	kill -9 $F 2>/dev/null
	wait $F 2>/dev/null
	umount -l $W/fuse 2>/dev/null || true
}

# A /proc/PID/mem read of a page of the FUSE file holds the target's mmap lock while
# the daemon does not answer. A checkpoint and a restart-begin of that target then
# fail with EBUSY within the requests' 100 ms bound (the module before this change
# waited in the doit, under genl's cb_lock, until the reader was killed), genl
# answers meanwhile, and once the daemon dies the checkpoint runs.
t_fuse_held_locks() {
	fuse_start || return 1
	start_sink sink.out --streams 2
	bg /usr/bin/python3 -c "
import ctypes, mmap, os, signal
fd = os.open('$W/fuse/f', os.O_RDONLY)
m = mmap.mmap(fd, 4 * 4096, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:4] = b'mine'
print('ready', ctypes.addressof(ctypes.c_char.from_buffer(m)), flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
" >t.out 2>&1
	T=$!
	wait_for t.out '^ready' 20 || { why="target: $(cat t.out)"; fuse_stop; return 1; }
	wait_state $T T 10 || { why="target did not stop: $(state $T)"; fuse_stop; return 1; }
	local addr=$(awk '/^ready/ {print $2}' t.out)
	touch $W/fuse.hold
	bg dd if=/proc/$T/mem of=/dev/null bs=4096 skip=$((addr / 4096 + 1)) count=1 2>dd.err
	local D=$!
	wait_for fuse.out 'held read 4096' 10 || { why="the reader's fault did not reach the daemon: $(cat fuse.out dd.err)"; fuse_stop; return 1; }
	local t0=$(date +%s%N) ms
	out=$(timeout 30 $K checkpoint $T) || true
	ms=$(ms_since $t0)
	expect_err "$out" EBUSY "memory map stayed locked" || { why="checkpoint while the mmap lock is held ($ms ms): $why"; fuse_stop; return 1; }
	((ms < 5000)) || { why="checkpoint took $ms ms to fail"; fuse_stop; return 1; }
	out=$(timeout 30 $K send restart-begin pid:u32=$T) || true
	expect_err "$out" EBUSY "memory map stayed locked" || { why="restart-begin: $why"; fuse_stop; return 1; }
	out=$($K getfamily nlctrl) || { why="getfamily: $out"; fuse_stop; return 1; }
	kill -0 $D 2>/dev/null || { why="the reader did not wait: $(cat dd.err)"; fuse_stop; return 1; }
	fuse_stop
	wait $D 2>/dev/null
	out=$($K checkpoint $T) || { why="checkpoint after the daemon died: $out"; return 1; }
}

# fuse_waiters: "TGID:COMM" of every task whose kernel stack waits for a FUSE answer
# (the daemon's own threads wait for requests in fuse_dev_do_read, not this).
fuse_waiters() {
	local t
	for t in /proc/[0-9]*/task/[0-9]*; do
		grep -qs request_wait_answer $t/stack &&
			echo "$(awk '/^Tgid:/ {print $2}' $t/status):$(cat $t/comm)"
	done
	return 0
}

# A restore whose memory write goes into a page of the FUSE file (a private mapping of
# it, two pages the process wrote) while the daemon does not answer. The kernel's
# restart writer reads no file: `ckpt restore --memory-by kernel` first makes those
# pages the new process's own by writing them through /proc/PID/mem, from its own
# process, and it is there that the daemon holds the read. So every task waiting in
# FUSE is the restore's, loading and unloading another genl family (nbd) takes about
# as long as without it, CTRL_CMD_GETFAMILY answers in < 100 ms (the module before
# session 22 wrote inside restart-record, under cb_lock: the load waited for the
# daemon; before session 26 the session's kernel writer waited in the fault, holding
# its session and rmmod), and when the daemon dies the restore fails saying where.
t_fuse_restart_writer() {
	local t0=$(date +%s%N)
	modprobe nbd && rmmod nbd || { why="modprobe/rmmod nbd failed (baseline)"; return 1; }
	local base=$(ms_since $t0)
	local bound=$((2 * base + 1000))
	fuse_start || return 1
	restore_listen || { fuse_stop; return 1; }
	bg /usr/bin/python3 -c "
import mmap, os, time
fd = os.open('$W/fuse/f', os.O_RDONLY)
m = mmap.mmap(fd, 4 * 4096, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:4] = b'mine'
m[4096:4100] = b'mine'
print('ready', flush=True)
while True:
    time.sleep(1)
" >t.out 2>&1
	T=$!
	wait_for t.out '^ready' 20 || { why="target: $(cat t.out)"; fuse_stop; return 1; }
	checkpoint_and_kill || { fuse_stop; return 1; }
	touch $W/fuse.hold
	echo 3 >/proc/sys/vm/drop_caches
	bg $CKPT_CLI restore $img --memory-by kernel >r.out 2>&1
	local R=$!
	wait_for fuse.out 'held read' 60 || { why="the restore's write did not reach the daemon: $(tail -5 r.out)"; fuse_stop; return 1; }
	sleep 0.5
	local w
	w=$(fuse_waiters)
	[[ -n $w ]] || { why="no task waits in FUSE although the daemon holds a read"; fuse_stop; return 1; }
	[[ -z $(grep -v "^$R:" <<<"$w") ]] || { why="tasks other than the restore ($R) wait in FUSE: $(tr '\n' ' ' <<<"$w")"; fuse_stop; return 1; }
	t0=$(date +%s%N)
	timeout 60 modprobe nbd && timeout 60 rmmod nbd || { why="modprobe/rmmod nbd failed while the restore waits"; fuse_stop; return 1; }
	local ms=$(ms_since $t0)
	((ms < bound)) || { why="loading and unloading nbd took $ms ms while a restore waited on FUSE, $base ms without (bound $bound ms)"; fuse_stop; return 1; }
	out=$($K getfamily nlctrl) || { why="getfamily: $out"; fuse_stop; return 1; }
	local us=${out##*us=}
	((us < 100000)) || { why="CTRL_CMD_GETFAMILY took $us us"; fuse_stop; return 1; }
	kill -0 $R 2>/dev/null || { why="the restore did not wait for the daemon: $(tail -5 r.out)"; fuse_stop; return 1; }
	fuse_stop
	local rc=0
	wait $R || rc=$?
	((rc != 0)) || { why="the restore succeeded although the file's read failed: $(tail -5 r.out)"; return 1; }
	grep -q "/proc/[0-9]*/mem (a private file mapping's page" r.out || { why="restore: $(tail -5 r.out)"; return 1; }
}

# The kernel's side of that rule, with ckpt-ktest's plain restart (which makes no page
# its own first): a process wrote a page of its private mapping of the FUSE file, is
# checkpointed, then drops its copy (MADV_DONTNEED: the page is the file's again) and
# stops. Restarting it from the image while the daemon holds reads is refused at that
# page, "not the process's own copy yet", and the daemon sees no read (the module
# before this change faulted the page in, and the writer waited for the daemon).
t_fuse_restart_refuses_file_page() {
	fuse_start || return 1
	start_sink sink.out
	bg /usr/bin/python3 -c "
import mmap, os, signal
fd = os.open('$W/fuse/f', os.O_RDONLY)
m = mmap.mmap(fd, 4 * 4096, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:8] = b'written!'
print('ready', flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
m.madvise(mmap.MADV_DONTNEED, 0, 4096)
print('dropped', flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
" >t.out 2>&1
	T=$!
	wait_for t.out '^ready' 20 || { why="target: $(cat t.out)"; fuse_stop; return 1; }
	wait_state $T T 10 || { why="target did not stop: $(state $T)"; fuse_stop; return 1; }
	out=$(timeout 60 $K checkpoint $T --timeout 30000) || { why="checkpoint: $out"; fuse_stop; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; fuse_stop; return 1; }
	local img=$(ls $W/s-*.img | head -1)
	grep -aq 'written!' $img || { why="the written page is not in the image"; fuse_stop; return 1; }
	kill -CONT $T
	wait_for t.out '^dropped' 20 || { why="target: $(cat t.out)"; fuse_stop; return 1; }
	wait_state $T T 10 || { why="target did not stop again: $(state $T)"; fuse_stop; return 1; }
	touch $W/fuse.hold
	echo 3 >/proc/sys/vm/drop_caches
	out=$(timeout 60 $K restart $T $img 2>&1) && { why="the restart succeeded: $out"; fuse_stop; return 1; }
	[[ $out == *"not the process's own copy yet"* ]] || { why="restart: $out; daemon: $(cat fuse.out)"; fuse_stop; return 1; }
	! grep -q 'held read' fuse.out || { why="the restart read the file: $(grep 'held read' fuse.out)"; fuse_stop; return 1; }
	fuse_stop
}

# A checkpoint of a process with a private mapping of the FUSE file, of which it wrote one
# page, while the daemon answers no read: the pages it never wrote have no page table
# entry and are skipped unread (the module before this change faulted them in with
# FOLL_DUMP, reading the file: the stream waited for the daemon). The image carries the
# written page.
t_fuse_checkpoint() {
	fuse_start || return 1
	start_sink sink.out
	bg /usr/bin/python3 -c "
import mmap, os, signal
fd = os.open('$W/fuse/f', os.O_RDONLY)
m = mmap.mmap(fd, 4 * 4096, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:8] = b'written!'
print('ready', flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
" >t.out 2>&1
	T=$!
	wait_for t.out '^ready' 20 || { why="target: $(cat t.out)"; fuse_stop; return 1; }
	wait_state $T T 10 || { why="target did not stop: $(state $T)"; fuse_stop; return 1; }
	touch $W/fuse.hold
	out=$(timeout 60 $K checkpoint $T --timeout 30000) || { why="checkpoint: $out; daemon: $(cat fuse.out)"; fuse_stop; return 1; }
	! grep -q 'held read' fuse.out || { why="the checkpoint read the file: $(grep 'held read' fuse.out)"; fuse_stop; return 1; }
	wait $S || { why="sink: $(cat sink.out)"; fuse_stop; return 1; }
	grep -aq 'written!' $W/s-*.img || { why="the written page is not in the image"; fuse_stop; return 1; }
	fuse_stop
}

# A checkpoint of a process whose epoll descriptor another process is adding the FUSE
# file to while the daemon answers no poll: epoll_ctl(EPOLL_CTL_ADD) holds the epoll's
# mutex while it waits, and the epoll's fdinfo (its registrations, for the restore) is
# read under that mutex. The stream waits for it only until its deadline and fails
# saying why; genl answers meanwhile; the helper thread left waiting holds a module
# reference until the daemon dies, then exits; with fdinfo_helpers 1 and that helper
# waiting, the next checkpoint's epoll is refused at once; a checkpoint after the
# daemon's death runs. (The module before this change waited in mutex_lock() in the
# stream's worker: the checkpoint did not end and rmmod would have waited with it.)
t_fuse_epoll_fdinfo() {
	fuse_start || return 1
	start_sink sink.out --streams 3
	bg /usr/bin/python3 -c "
import os, select, signal, time
ep = select.epoll()
fd = os.open('$W/fuse/f', os.O_RDONLY)
child = os.fork()
if child == 0:
    while not os.path.exists('$W/fuse.hold'):
        time.sleep(0.01)
    try:
        ep.register(fd, select.EPOLLIN)
        print('registered', flush=True)
    except OSError as e:
        print('register failed', e.errno, flush=True)
    os._exit(0)
print('ready', child, flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
" >t.out 2>&1
	T=$!
	wait_for t.out '^ready' 20 || { why="target: $(cat t.out)"; fuse_stop; return 1; }
	wait_state $T T 10 || { why="target did not stop: $(state $T)"; fuse_stop; return 1; }
	# Built in (the series' builtin form) there is no module to hold: no refcnt.
	local refs0=$(cat /sys/module/ckpt/refcnt 2>/dev/null)
	touch $W/fuse.hold
	wait_for fuse.out 'held poll' 10 || { why="epoll_ctl's poll did not reach the daemon: $(cat fuse.out t.out)"; fuse_stop; return 1; }
	local t0=$(date +%s%N) ms
	# A deadline the memory stream ends well within, on the debug kernel too.
	out=$(timeout 60 $K checkpoint $T --timeout 8000) || true
	ms=$(ms_since $t0)
	expect_err "$out" EBUSY "epoll descriptor's mutex stayed taken" || { why="checkpoint while epoll_ctl holds the mutex ($ms ms): $why"; fuse_stop; return 1; }
	((ms < 30000)) || { why="checkpoint took $ms ms to fail (deadline 8000)"; fuse_stop; return 1; }
	out=$($K getfamily nlctrl) || { why="getfamily: $out"; fuse_stop; return 1; }
	grep -qs ckpt-fdinfo /proc/[0-9]*/comm || { why="no ckpt-fdinfo helper left waiting"; fuse_stop; return 1; }
	local refs=$(cat /sys/module/ckpt/refcnt 2>/dev/null)
	[[ -z $refs0 ]] || ((refs > refs0)) || { why="the waiting helper holds no module reference ($refs, $refs0 before)"; fuse_stop; return 1; }
	local param=/sys/module/ckpt/parameters/fdinfo_helpers
	local helpers=$(cat $param) || { why="no $param"; fuse_stop; return 1; }
	echo 1 >$param
	out=$(timeout 60 $K checkpoint $T --timeout 30000) || true
	echo $helpers >$param
	expect_err "$out" EBUSY "fdinfo_helpers threads are reading epoll descriptors already" || { why="a second checkpoint, fdinfo_helpers 1: $why"; fuse_stop; return 1; }
	fuse_stop
	local i
	for ((i = 0; i < 200; i++)); do grep -qs ckpt-fdinfo /proc/[0-9]*/comm || break; sleep 0.05; done
	! grep -qs ckpt-fdinfo /proc/[0-9]*/comm || { why="the helper still waits after the daemon died"; return 1; }
	refs=$(cat /sys/module/ckpt/refcnt 2>/dev/null)
	[[ -z $refs0 ]] || ((refs == refs0)) || { why="module references $refs after the helper exited, $refs0 before"; return 1; }
	out=$(timeout 60 $K checkpoint $T --timeout 30000) || { why="checkpoint after the daemon died: $out"; return 1; }
}
