# Issue 13: `ckpt checkpoint --pre-copy`. The memory is copied while the process runs
# (a pre-copy image, memory only), then the process is stopped and only the pages it
# wrote since are copied (the checkpoint image, whose parent-pages records point at the
# pre-copy). Restored, the process must hold exactly what it held when it was stopped:
# pywrites.py writes a page every millisecond during the whole pre-copy and checks
# every page after the restore.

# pre_copy_to_images PID: ckpt checkpoint --pre-copy --wait; sets pre and img (the two
# images), line (the checkpoint's output line) and out.
pre_copy_to_images() {
	out=$($CKPT_CLI checkpoint $1 --pre-copy --wait $W/img 2>&1) || { why="checkpoint --pre-copy: $out"; return 1; }
	pre_copy_output "$out"
}
# counts_on_then_killed: the target $T counts on over a second (it was not left stopped),
# then it is killed and gone. Sets why.
counts_on_then_killed() {
	local before
	before=$(grep -c '^count' t.out)
	sleep 1
	(($(grep -c '^count' t.out) > before)) || { why="the target stopped counting (state $(state $T))"; return 1; }
	kill -9 $T
	wait $T 2>/dev/null
	return 0	# wait's status is the kill's
}
# pre_copy_output OUT: the images the output of `ckpt checkpoint --pre-copy --wait` names;
# sets pre, img and line as pre_copy_to_images says.
pre_copy_output() {
	local pcrid crid
	pcrid=$(sed -n 's/^pre-copy crid \([0-9]*\) .*/\1/p' <<<"$1")
	line=$(grep '^crid ' <<<"$1")
	crid=$(sed -n 's/^crid \([0-9]*\) .* parent \([0-9]*\) dirty-ranges [0-9]* frozen-ms [0-9]*$/\1 \2/p' <<<"$line")
	[[ -n $pcrid && $crid == *" $pcrid" ]] || { why="output: $1"; return 1; }
	pre=$W/img/$pcrid.ckpt
	img=$W/img/${crid% *}.ckpt
	[[ -f $pre && -f $img ]] || { why="images $pre $img missing: $1"; return 1; }
}

t_pre_copy_restore() {
	counting_python pywrites.py 64 || return 1
	pre_copy_to_images $T || return 1
	# The pre-copy holds the 64 MiB; the checkpoint holds what changed (a few pages) and
	# points at the rest.
	local pre_bytes img_bytes
	pre_bytes=$(stat -c %s $pre)
	img_bytes=$(stat -c %s $img)
	((pre_bytes > 64 << 20 && img_bytes < pre_bytes / 2)) ||
		{ why="pre-copy $pre_bytes bytes, checkpoint $img_bytes bytes: $line"; return 1; }
	records_in_image parent-pages 0 && { why="no parent-pages records in $img"; return 1; }
	# It ran on after the pre-copy and after the checkpoint: not left stopped.
	counts_on_then_killed || return 1
	# The pre-copy alone is refused, naming why; a wrong --parent too.
	out=$($CKPT_CLI restore $pre 2>&1) && { why="restored the pre-copy alone: $out"; return 1; }
	[[ $out == *"a pre-copy holds memory only"* ]] || { why="pre-copy alone: $out"; return 1; }
	out=$($CKPT_CLI restore $img --parent $img 2>&1) && { why="restored with itself as parent: $out"; return 1; }
	[[ $out == *"not a pre-copy"* ]] || { why="wrong --parent: $out"; return 1; }
	restore_and_ask check || return 1
	[[ $got == "check ok "* ]] || { why="restored memory differs: $got ($line)"; return 1; }
}

# Issue 13: a pre-copy leaves out its pages of zeros too (checkpoint.c ckpt_emit_data):
# the checkpoint after it names such a page in a parent-pages record, and the restore
# writes nothing for it (ParentImagePages: zeros where the pre-copy's anonymous mapping
# has no page), so the fresh mapping reads zero. pyzero.py's page of zeros is not in the
# pre-copy and is in a parent-pages record of the checkpoint; the file mapping's page of
# zeros is in the pre-copy; restored both ways, every page reads as it did.
t_pre_copy_zero_pages() {
	local anon fmap at want="zeros A zero B zero zero F" by
	pyzero_started || return 1
	pre_copy_to_images $T || return 1
	image_pages_at $pre $anon $((anon + 4096)) $fmap || return 1
	[[ $at == "pages none pages" ]] || { why="the pre-copy holds page A, the page of zeros, the file's page of zeros as: $at ($line)"; return 1; }
	image_pages_at $img $((anon + 4096)) || return 1
	[[ $at == parent-pages ]] || { why="the checkpoint holds the page of zeros as: $at ($line)"; return 1; }
	counts_on_then_killed || return 1
	for by in process kernel; do
		restore_and_ask zeros --memory-by $by || return 1
		[[ $got == "$want" ]] || { why="--memory-by $by: $got, expected $want"; return 1; }
		kill_restored || return 1
	done
}

# --pre-copy --hold: the command continues the process once the kernel has read it for the
# final copy (checkpoint-read), not once the listener has the final stream. pywrites.py
# writes a page every millisecond: a process continued before it was read would leave an
# image whose pages disagree with each other ("check bad" after the restore). The kernel
# reserves pages for the final copy's written ranges only, not for all the process has
# (stats hold-reserved-pages: under three quarters of its anonymous memory; a page a
# millisecond dirties all 64 MiB only in 16 s).
t_pre_copy_hold() {
	local s0 s1 anon reserved
	counting_python pywrites.py 64 || return 1
	anon=$(awk '/^RssAnon:/ { print int($2 / 4) }' /proc/$T/status)
	[[ -n $anon ]] || { why="no RssAnon in /proc/$T/status"; return 1; }
	s0=$($K stats)
	out=$($CKPT_CLI checkpoint $T --pre-copy --hold --wait $W/img 2>&1) || { why="checkpoint --pre-copy --hold: $out"; return 1; }
	s1=$($K stats)
	pre_copy_output "$out" || return 1
	reserved=$(($(stat_of hold-reserved-pages "$s1") - $(stat_of hold-reserved-pages "$s0")))
	echo "reserved $reserved pages for the final copy of $anon anonymous pages ($line)"
	((reserved < anon * 3 / 4)) || { why="reserved $reserved pages for the final copy, of $anon anonymous pages"; return 1; }
	counts_on_then_killed || return 1
	restore_and_ask check || return 1
	[[ $got == "check ok "* ]] || { why="restored memory differs: $got ($line)"; return 1; }
}

# How the command finds the pages written since the pre-copy, while the process is
# stopped: the kernel's PAGEMAP_SCAN where it reports soft-dirty ranges (6.8 and later:
# 6.12 here), else /proc/PID/pagemap read 8 bytes a page (6.1: the ioctl is ENOTTY).
# strace -y names each call's file; t_pre_copy_restore checks that what is found
# restores the process exactly, on both kernels.
t_pre_copy_scan() {
	counting_python pywrites.py 16 || return 1
	out=$(strace -f -qq -y -e trace=ioctl,pread64 -o $W/strace.txt $CKPT_CLI checkpoint $T --pre-copy --wait $W/img 2>&1) ||
		{ why="checkpoint --pre-copy under strace: $out"; return 1; }
	[[ $out == *"dirty-ranges "* ]] || { why="output: $out"; return 1; }
	local on="[0-9]+</proc/$T/pagemap>" scans failed reads
	scans=$(grep -cE "ioctl\($on, _IOC\(_IOC_READ\|_IOC_WRITE, 0x66, 0x10, 0x60\), 0x[0-9a-f]+\) = [0-9]+$" $W/strace.txt)
	failed=$(grep -cE "ioctl\($on, _IOC\(_IOC_READ\|_IOC_WRITE, 0x66, 0x10, 0x60\), 0x[0-9a-f]+\) = -1 ENOTTY" $W/strace.txt)
	reads=$(grep -cE "pread64\($on, " $W/strace.txt)
	if [[ $(uname -r) == 6.1.* ]]; then
		((failed >= 1 && scans == 0 && reads >= 1)) ||
			{ why="6.1: PAGEMAP_SCAN ok $scans, ENOTTY $failed, pagemap reads $reads: $(grep -E "pagemap" $W/strace.txt | head -5)"; return 1; }
	else
		((scans >= 1 && failed == 0 && reads == 0)) ||
			{ why="$(uname -r): PAGEMAP_SCAN ok $scans, ENOTTY $failed, pagemap reads $reads: $(grep -E "pagemap" $W/strace.txt | head -5)"; return 1; }
	fi
}

# Without the pre-copy beside it, the checkpoint is refused by name before a process
# exists; with --parent naming the moved pre-copy it restores.
t_pre_copy_parent_elsewhere() {
	counting_python pywrites.py 8 || return 1
	pre_copy_to_images $T || return 1
	kill -9 $T
	wait $T 2>/dev/null
	mkdir -p $W/moved && mv $pre $W/moved/
	out=$($CKPT_CLI restore $img 2>&1) && { why="restored without its parent: $out"; return 1; }
	[[ $out == *"parent image"* && $out != *"starting the new process"* ]] || { why="no parent: $out"; return 1; }
	mv t.out t.old && : >t.out
	restore_image $img --parent $W/moved/${pre##*/} || return 1
	wait_for t.out '^count' 30 || { why="the restored process printed nothing (state $(state $np)): $(tail -3 t.err)"; return 1; }
	kill -USR1 $np
	wait_for t.out '^check' 30 || { why="no check line (state $(state $np))"; return 1; }
	got=$(tr -d '\0' <t.out | grep -a '^check' | head -1)
	[[ $got == "check ok "* ]] || { why="restored memory differs: $got"; return 1; }
}

# The pre-copy flag through the same door as every checkpoint (05-permissions): a
# pre-copy reads a running task, so who may ask matters as much: uid 65534 and root of an
# unprivileged user namespace lack the capability, a capability holder may not read
# another uid's task or a non-dumpable one of its own, kernel threads have no image.
t_pre_copy_permissions() {
	root_and_user_targets || return 1
	local who out pc="flags:u32=$((1 << 1))"
	for who in AS_NOBODY AS_USERNS_ROOT; do
		out=$(${!who} $K send checkpoint pid:u32=$T1 $pc) || true
		expect_err "$out" EPERM "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN" || { why="$who pre-copy: $why"; return 1; }
	done
	out=$($AS_CAPUSER $K send checkpoint pid:u32=$T1 $pc) || true
	expect_err "$out" EACCES "ptrace access check refused" || { why="other uid with cap: $why"; return 1; }
	bg $AS_USER $B/kexec nodump >nd.out
	local nd=$!
	wait_state $nd T 10 || { why="non-dumpable target did not stop: $(cat nd.out)"; return 1; }
	out=$($AS_CAPUSER $K send checkpoint pid:u32=$nd $pc) || true
	expect_err "$out" EACCES "not dumpable" || { why="non-dumpable, same uid with cap: $why"; return 1; }
	out=$($K send checkpoint pid:u32=2 $pc) || true
	expect_err "$out" EOPNOTSUPP "kernel threads" || { why="kthread: $why"; return 1; }
	# Allowed: the same uid with the capability, of a running (not stopped) task.
	[[ $(state $T2) != T ]] || { why="uid 1000's target is stopped"; return 1; }
	out=$($AS_CAPUSER $K send checkpoint pid:u32=$T2 $pc) || { why="same uid with cap: $out"; return 1; }
}
