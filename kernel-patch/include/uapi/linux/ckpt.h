/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/ckpt.yaml */
/* YNL-GEN uapi header */
/*
 * ckpt: checkpoint a task into a record stream for userspace, and restore from one
 * ================================================================================
 *
 * This header is generated from Documentation/netlink/specs/ckpt.yaml by tools/ynl-regen;
 * this comment comes from Documentation/netlink/ckpt-protocol.txt. Edit those, not this.
 *
 * The generic-netlink family "ckpt" (CKPT_FAMILY_NAME, version CKPT_FAMILY_VERSION) hands
 * a stopped task's state to userspace as a stream of netlink messages, instead of writing
 * an image file from inside the kernel, and takes such an image back to restore memory.
 * All integers are in host byte order (netlink's rule); u64 attributes are 8-byte aligned
 * with CKPT_A_PAD / CKPT_A_META_PAD. Every request is strictly validated: unknown
 * attributes, unknown flag bits and out-of-range values are rejected, and every rejection
 * carries an extack message naming the attribute and the reason.
 *
 * Roles
 * -----
 *   sink        a privileged listener (`ckpt listen`) that registered its socket with
 *               CKPT_CMD_SINK_REGISTER. One per network namespace. It only receives.
 *   requester   any socket that sends CKPT_CMD_CHECKPOINT or the restart commands, with
 *               CKPT_CAP = CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN over the target (see
 *               the module's SECURITY.md for the exact rules and the in-tree difference).
 *
 * Checkpoint: who sends what, in which order
 * ------------------------------------------
 *   requester -> kernel   CKPT_CMD_CHECKPOINT  { CKPT_A_PID, [CKPT_A_CHECKPOINT_FLAGS],
 *                                                [CKPT_A_TIMEOUT_MS] }
 *   kernel -> requester   reply { CKPT_A_CRID }, then the ack (or an error with extack:
 *                         the stream was not admitted and nothing is sent)
 *   kernel -> requester   CKPT_CMD_CHECKPOINT_RESERVED { CKPT_A_CRID, CKPT_A_RESERVED_PAGES },
 *                         nlmsg_seq = the request's: only with CKPT_CHECKPOINT_FLAGS_AWAIT_GO
 *                         (and HOLD), once the pages the stream holds are allocated, the task
 *                         still running; the stream then waits (within its timeout) for
 *   requester -> kernel   CKPT_CMD_CHECKPOINT_GO { CKPT_A_CRID }, from the same socket, once
 *                         the requester has stopped the task (and the rest of its tree); the
 *                         kernel reads the task only then
 *   kernel -> sink        CKPT_CMD_STREAM_BEGIN { CKPT_A_CRID, CKPT_A_SEQ = 0, CKPT_A_PID }
 *   kernel -> sink        CKPT_CMD_RECORD       (one per record fragment, see below)
 *   kernel -> sink        CKPT_CMD_STREAM_END   { CKPT_A_CRID, CKPT_A_SEQ, CKPT_A_RECORDS,
 *                                                CKPT_A_BYTES, CKPT_A_CHECKSUM }
 *                     or  CKPT_CMD_STREAM_ABORT { CKPT_A_CRID, CKPT_A_SEQ, CKPT_A_REASON,
 *                                                [CKPT_A_MESSAGE] }
 *   kernel -> requester   CKPT_CMD_CHECKPOINT_READ { CKPT_A_CRID }, nlmsg_seq = the
 *                         request's: only with CKPT_CHECKPOINT_FLAGS_HOLD on a task the
 *                         requester stopped itself, once the kernel has read it, which may
 *                         be while the sink still receives the records (they wait in kernel
 *                         memory): the requester may continue the task now
 *   kernel -> requester   CKPT_CMD_CHECKPOINT_DONE, nlmsg_seq = the request's:
 *                           { CKPT_A_CRID, CKPT_A_RECORDS, CKPT_A_BYTES, CKPT_A_CHECKSUM,
 *                             [CKPT_A_FROZEN_NS] } after stream-end (CKPT_A_FROZEN_NS: how
 *                           long the kernel kept the task stopped, when it stopped it), or
 *                           { CKPT_A_CRID, CKPT_A_REASON, CKPT_A_MESSAGE, CKPT_A_ERROR }
 *                           after stream-abort (CKPT_A_ERROR: a positive errno)
 *                         It may arrive before the request's ack; a client matches by seq.
 *
 * The pid is resolved in the requester's pid namespace; pids and ids inside records are
 * translated into the requester's namespaces too. The crid is unique per boot and never
 * reused. Every stream message carries the crid and a sequence number that starts at 0 and
 * grows by one per message with no gap, so the sink detects any loss (for example ENOBUFS)
 * as a gap and attributes it to the stream.
 *
 * Who produces the stream: not the request. genl_rcv() holds genl's cb_lock around every
 * request handler, so a handler that waited for a slow sink would stall every generic
 * netlink family on the host. The request only admits the stream (permissions, target,
 * sink, limits) and replies with the crid; a kernel workqueue produces the stream, and the
 * requester learns the result from CKPT_CMD_CHECKPOINT_DONE on the socket it asked from
 * (before it, with the hold flag on a task the requester stopped itself,
 * CKPT_CMD_CHECKPOINT_READ: the task is read, the requester may continue it).
 * That socket must stay open: when it closes (the requester exited or was killed) the
 * stream aborts with requester-gone. Signals the requester handles do not concern it.
 *
 * Backpressure: messages are queued on the registered sink socket itself, never dropped.
 * While the sink's receive queue is over its buffer the producer waits; a slow sink slows
 * the checkpoint and loses nothing. The wait is bounded by CKPT_A_TIMEOUT_MS, which bounds
 * the whole stream from the request to its end message (at most CKPT_TIMEOUT_MAX_MS; 0:
 * the module's timeout_ms); no lock of the target (its mmap lock included) is held across
 * a send: a message is filled, the lock dropped, then the message queued. Kernel memory per
 * stream is one message buffer, whatever the size of the task. If the sink goes away, the
 * deadline passes, the requester's socket closes, the task execs or the module unloads,
 * the stream ends with CKPT_CMD_STREAM_ABORT when the sink can still receive it, and a
 * stopped-by-us task is resumed on every path.
 *
 * Records
 * -------
 * A stream is a sequence of records. Each record has a type (enum ckpt_record_type), an
 * id (CKPT_A_REC_ID, >= 1, strictly increasing within the stream) and a parent id
 * (CKPT_A_REC_PARENT, 0 for a root). The nesting is explicit and ordered like a
 * depth-first walk: a record's parent must be open, that is the most recent record at
 * its depth or above; opening a child of an outer record closes the deeper ones. Depth is
 * at most CKPT_DEPTH_MAX. The tree of a stream:
 *
 *   header                          meta: arch, page-size, release, time-ns
 *   task                            meta: pid, tgid, ppid, comm, uid, gid, euid, egid,
 *                                         [cwd, umask, personality, root, pgid, sid,
 *                                         exit-status]
 *     regs           (per thread)   meta: tid, [sigmask, rseq, rseq-len, rseq-sig,
 *                                         robust-list, clear-child-tid, sigpending,
 *                                         altstack-sp, altstack-size, altstack-flags]
 *                                                      data: struct user_regs_struct
 *       xstate                      meta: xfeatures    data: XSAVE area (NT_X86_XSTATE)
 *       siginfo      (queued sigs)  meta: nr-siginfo, nr-queued
 *                                                      data: nr-siginfo * CKPT_SIGINFO_SIZE
 *     sigactions                    meta: nr-sigs, [shared-pending]
 *                                                      data: nr-sigs * CKPT_SIGACTION_SIZE
 *       shared-siginfo              meta: nr-siginfo, nr-queued   data: as siginfo
 *     rlimits                       meta: nr-rlimits   data: nr-rlimits * CKPT_RLIMIT_SIZE
 *     mm                            meta: start-code .. env-end, [dumpable]
 *       vma          (per mapping)  meta: start, end, vm-flags, pgoff, [path]
 *         shmem      (shared memory) meta: ino, size, seals (tmpfs)
 *         pages      (per run)      meta: addr, nr-pages  data: nr-pages * page-size bytes
 *         parent-pages (per run, with a parent) meta: addr, nr-pages   no data
 *     file           (per fd)       meta: fd, f-flags, pos, [path, file-id]
 *       pipe         (pipes, FIFOs) meta: pipe-size, pipe-bytes  data: the bytes it holds
 *       unix         (Unix sockets) meta: sock-type, sock-state, sock-flags, peer-ino,
 *                                         sock-shutdown, sock-bytes, sndbuf, rcvbuf,
 *                                         [sock-addr], [sock-peer-addr], [sock-backlog],
 *                                         [sock-queued]
 *                                   data: its queued messages, each a le32 length + bytes
 *       inet         (TCP, UDP)     meta: sock-family, sock-type, sock-protocol, sock-state,
 *                                         sock-flags, sock-shutdown, sock-backlog, sock-queued,
 *                                         sndbuf, rcvbuf, [sock-addr], [sock-peer-addr]
 *                                                      no data
 *       fdinfo       (inotify, eventfd, signalfd, timerfd, epoll)
 *                                   meta: none         data: its /proc fdinfo text
 *   trailer                         meta: nr-threads, nr-vmas, nr-pages-total, nr-files
 *
 * Only present pages are sent, in runs of at most CKPT_PAGES_RUN_MAX contiguous pages:
 * an untouched 1 GiB mapping costs one vma record. Of a private mapping, the pages the
 * process has (of a file mapping, those it changed); of shared memory that no path reaches
 * (shared anonymous memory, memfd, SysV shm, a deleted tmpfs file: a shmem record), the
 * pages the object holds in the vma's range, read from the object without allocating its
 * holes. Other shared mappings (a named file, a device) carry no pages. Of an anonymous
 * private mapping, a page that holds only zeros is left out as well: a restorer's fresh
 * mapping reads zero where the image has no page, as for a page never touched (streams of
 * older modules send such pages). A pre-copy leaves them out too, so a later checkpoint's
 * parent-pages record may name pages of an anonymous private mapping that the pre-copy
 * does not hold: they are zero. (Readers of older releases refuse such a pair.)
 * Pre-copy: a checkpoint request with CKPT_CHECKPOINT_FLAGS_PRE_COPY reads a running task's
 * memory only (header with checkpoint-flags, task, mm { vma { shmem, pages } }, trailer). A
 * later request for the stopped task may name it in CKPT_A_PARENT_CRID with the address
 * ranges written since (CKPT_A_DIRTY_RANGES, from the soft-dirty bits the requester reset
 * before the pre-copy and read after stopping the task): present pages in the ranges are
 * sent as pages records, the others as parent-pages records, which the pre-copy holds
 * (but for its pages of zeros, above). The header records parent-crid. A restorer sends the pre-copy's pages for them: restart
 * refuses parent-pages records.
 * Zombie: with CKPT_CHECKPOINT_FLAGS_ZOMBIE a process that has exited and not been waited
 * for (every thread gone) is accepted: its stream is the header, the task record with
 * exit-status (the wait(2) status its parent would get), and a trailer of zeros. The
 * access checks are a live task's (with no mm, as ptrace's: the dumpable check has no
 * mm to ask). A restorer makes it again inside its parent's restored tree; restart
 * refuses exit-status. Without the flag a zombie is ESRCH, as before.
 *
 * Fields in [brackets] and record types 9 (sigactions), 10 (xstate), 11 (rlimits),
 * 12 (pipe), 13 (siginfo), 14 (shared-siginfo), 15 (shmem), 16 (fdinfo), 17 (unix),
 * 18 (parent-pages) and 19 (inet),
 * which came after the trailer's number, are absent in streams of older modules; readers
 * accept both. Meta attributes are numbered past 63 since personality: a reader's set of
 * allowed fields per record type needs more than one 64-bit word.
 *
 * Fragments: a record's data may be larger than one message. Every fragment of a record
 * is one CKPT_CMD_RECORD message:
 *
 *   CKPT_CMD_RECORD
 *     CKPT_A_CRID         u64  stream
 *     CKPT_A_SEQ          u32  message sequence number
 *     CKPT_A_REC_TYPE     u32  enum ckpt_record_type  (same in every fragment)
 *     CKPT_A_REC_ID       u32                          (same in every fragment)
 *     CKPT_A_REC_PARENT   u32                          (same in every fragment)
 *     CKPT_A_DATA_LEN     u64  total data bytes of the record (same in every fragment)
 *     CKPT_A_DATA_OFFSET  u64  where this fragment's data goes
 *     CKPT_A_META         nest (first fragment only, data-offset 0)
 *       CKPT_A_META_*          the fields of the record type, and no others
 *     CKPT_A_DATA         binary, at most CKPT_DATA_MAX bytes (absent when data-len is 0)
 *     CKPT_A_DATA_CHECKSUM u32 CRC-32C of this fragment's CKPT_A_DATA (only with it)
 *
 * The fragments of one record are consecutive in the stream, in order: the first has
 * data-offset 0, each next one starts where the previous ended, and the last ends at
 * data-len. A receiver writes each fragment where it belongs and never needs the whole
 * record in memory. A record with no data is one message with no CKPT_A_DATA.
 *
 * The stream's CKPT_A_BYTES is the sum over records of the CKPT_A_META payload length plus
 * data-len; CKPT_A_CHECKSUM is the CRC-32C (Castagnoli, initial value ~0, final xor ~0) of
 * the same bytes in stream order: each record's CKPT_A_META payload, then its data. The sink
 * accepts a stream only if its record count, bytes and checksum equal the end message's.
 *
 * CKPT_A_DATA_CHECKSUM is the CRC-32C (initial value ~0, final xor ~0) of the fragment's data
 * alone, computed from the kernel's copy when the message is delivered to the sink (so a
 * held message, CKPT_CHECKPOINT_FLAGS_HOLD, is checksummed after its task was continued,
 * from the copy taken while it was stopped); the stream checksum is that CRC combined into
 * the running one, so both come from one pass. A sink may write it as the
 * data's checksum instead of computing its own (`ckpt listen --data-check after-publish`),
 * and check the bytes it wrote against it later. Streams of modules before it carry no
 * CKPT_A_DATA_CHECKSUM; a sink accepts both. A sink that refuses attributes it does not know
 * (`ckpt listen` before the attribute was added) refuses this module's streams: update the
 * listener with the module. CKPT_CMD_RESTART_RECORD never carries it.
 *
 * Restart
 * -------
 *   requester -> kernel   CKPT_CMD_RESTART_BEGIN  { CKPT_A_PID, [CKPT_A_RESTART_FLAGS] }
 *                         reply { CKPT_A_RSID }
 *   requester -> kernel   CKPT_CMD_RESTART_RECORD { CKPT_A_RSID, CKPT_A_SEQ, record fragment
 *                                                   attributes as in CKPT_CMD_RECORD but
 *                                                   CKPT_A_DATA_CHECKSUM }
 *                         each acknowledged (NLM_F_ACK); a client may keep a window of
 *                         requests outstanding and match acks by nlmsg_seq
 *   requester -> kernel   CKPT_CMD_RESTART_COMMIT { CKPT_A_RSID, CKPT_A_SEQ, CKPT_A_RECORDS,
 *                                                   CKPT_A_BYTES, CKPT_A_CHECKSUM }
 *                         reply { CKPT_A_RECORDS, CKPT_A_BYTES }: accepted
 *   kernel -> requester   CKPT_CMD_RESTART_WRITTEN { CKPT_A_RSID, CKPT_A_SEQ, CKPT_A_BYTES }
 *                         (direct sessions: the writer wrote every pages fragment up to
 *                         request CKPT_A_SEQ; sent when its queue ran empty)
 *   kernel -> requester   CKPT_CMD_RESTART_DONE { CKPT_A_RSID, CKPT_A_RECORDS, CKPT_A_BYTES }
 *                         or { CKPT_A_RSID, CKPT_A_ERROR, CKPT_A_MESSAGE }, once, with the
 *                         commit's nlmsg_seq (0 if the writer failed before a commit);
 *                         after the commit's reply, but it may arrive before the commit's
 *                         ack: a client matches it by command and nlmsg_seq
 *   requester -> kernel   CKPT_CMD_RESTART_ABORT  { CKPT_A_RSID }   (optional; closing the
 *                                                   socket drops its sessions too)
 *
 * The target must be stopped. A session ends when its writer finished the commit, with
 * abort, its socket's close, or when it had no request for the module's session_idle_ms
 * while its writer was idle. No request waits on the target: the session's writer, a
 * kernel work item, writes the pages (its waits for the target's locks are bounded by
 * session_idle_ms; a page fault on a file whose filesystem does not answer, a FUSE daemon,
 * holds only the writer), and reports to the socket that began the session. A request
 * waits at most 100 ms for the target's locks (EBUSY). Restart trusts nothing: every fragment is checked on arrival
 * (sequence, nesting, ids, lengths, required meta fields, page alignment, that the image's
 * arch and page size are this machine's, that every vma lies inside one target mapping
 * with the same protection, sharing, file and file offset (the same range, or part of a
 * mapping the target's kernel merged from adjacent ones), and that pages lie inside their
 * vma, which must be private and writable).
 * The first failure rejects the message with an extack naming the record and field, and
 * fails the session. Page data is staged in the kernel, charged to the requester's memory
 * cgroup and bounded per session, per uid and in all (restart_max_mib, restart_user_mib,
 * restart_total_mib); only CKPT_CMD_RESTART_COMMIT, after the counts and checksum match,
 * has it written into the target, so nothing is touched unless the whole image validated;
 * with CKPT_RESTART_FLAGS_DIRECT each pages fragment is queued for the writer as it
 * validated instead (at most CKPT_RESTART_QUEUE_MAX bytes queued, whatever the image's
 * size: a requester waits for CKPT_CMD_RESTART_WRITTEN to stay below it). The writer fails (restart-done with
 * EACCES) if the target called execve() since the session began. With
 * CKPT_RESTART_FLAGS_VALIDATE_ONLY nothing is written. Restart never creates tasks,
 * maps memory, changes credentials or file descriptors: it restores the contents of
 * existing private writable mappings of a task the caller may checkpoint.
 *
 * Statistics: CKPT_CMD_STATS_GET replies { CKPT_A_STATS { CKPT_A_STATS_* u64 counters } };
 * like sink-register, it needs CKPT_CAP over the network namespace. sink-register,
 * sink-unregister and stats-get accept no attribute at all.
 *
 * Errors (with an extack message every time)
 * ------------------------------------------
 *   EINVAL      malformed request: missing or bad attribute, bad flags, bad nesting,
 *               bad sequence, counts or checksum that do not match
 *   EPERM       the caller lacks CKPT_CAP over the target (or the namespace, for the sink
 *               and the statistics)
 *   EACCES      the ptrace-equivalent access check refused the target, for the requester or
 *               for the sink's owner; or the target exec'd (restart commit, stream abort)
 *   ESRCH       no such pid in the caller's pid namespace, a zombie (without the zombie
 *               flag), exiting, or it exited (or was waited for)
 *   EBUSY       target not stopped (and no stop flag), did not stop within 2 s, a sink
 *               already registered, the target already in a checkpoint or restart, its
 *               exec_update_lock or mmap lock taken for 100 ms, or a committed session
 *   EDEADLK     the target is the sink's own process
 *   EAGAIN      too many streams or restart sessions (in all, or of this uid)
 *   ENOMEM      restart staging past the caller's memory cgroup limit
 *   ENOTCONN    checkpoint without a registered sink
 *   ENOENT      unknown restart session, unregistering a socket that is not the sink, or a
 *               checkpoint-go naming no checkpoint of the sending socket
 *   EALREADY    a second checkpoint-go for one checkpoint
 *   EOPNOTSUPP  kernel threads, and tasks of another architecture or ABI
 *   ENOSPC      restart image larger than restart_max_mib
 *   ETIMEDOUT   the stream did not end within its timeout (stream aborted)
 *   EPIPE       the sink went away (stream aborted)
 *   ESHUTDOWN   the module is being unloaded (stream aborted, or request refused)
 *   EPIPE       the sink went away mid-stream (stream aborted)
 *   EINTR       the requester was interrupted (stream aborted)
 *   ESHUTDOWN   the module was unloaded mid-stream (stream aborted, reason unload)
 *
 * Over NETLINK_USERSOCK (synthetic streams and replay into a listener, no kernel module)
 * the same messages are sent with nlmsg_type CKPT_USERSOCK_TYPE instead of the family id,
 * followed by the same struct genlmsghdr.
 */

#ifndef _UAPI_LINUX_CKPT_H
#define _UAPI_LINUX_CKPT_H

#define CKPT_FAMILY_NAME	"ckpt"
#define CKPT_FAMILY_VERSION	1

#define CKPT_DATA_MAX		65531
#define CKPT_RESTART_QUEUE_MAX	8388608
#define CKPT_DEPTH_MAX		8
#define CKPT_PAGES_RUN_MAX	4096
#define CKPT_RECORD_DATA_MAX	16777216
#define CKPT_SIGACTION_SIZE	32
#define CKPT_RLIMIT_SIZE	16
#define CKPT_PIPE_DATA_MAX	1048576
#define CKPT_UNIX_DATA_MAX	1048576
#define CKPT_FDINFO_MAX		16384
#define CKPT_SIGINFO_SIZE	128
#define CKPT_SIGINFO_MAX	128
#define CKPT_XSTATE_MAX		32768
#define CKPT_TIMEOUT_MAX_MS	3600000
#define CKPT_DIRTY_RANGES_MAX	2048
#define CKPT_USERSOCK_TYPE	16

/**
 * enum ckpt_record_type - What a record describes; it decides which meta
 *   attributes it carries.
 * @CKPT_RECORD_TYPE_UNSPEC: Never sent; rejected.
 * @CKPT_RECORD_TYPE_HEADER: First record of every stream, a root. Meta: arch,
 *   page-size, release, time-ns. No data.
 * @CKPT_RECORD_TYPE_TASK: The task, a root. Meta: pid, tgid, ppid (as seen in
 *   the requester's pid namespace), comm, uid, gid, euid, egid, and cwd,
 *   umask, personality, root, pgid and sid (absent in images of older
 *   modules); exit-status in a zombie's image. No data.
 * @CKPT_RECORD_TYPE_REGS: One thread's general registers, child of task. Meta:
 *   tid, and sigmask, rseq, rseq-len, rseq-sig, robust-list, clear-child-tid,
 *   sigpending, altstack-sp, altstack-size, altstack-flags (absent in images
 *   of older modules). Data: the architecture's ptrace user_regs_struct (216
 *   bytes on x86-64).
 * @CKPT_RECORD_TYPE_MM: The address-space layout, child of task. Meta:
 *   start-code .. env-end, dumpable. No data.
 * @CKPT_RECORD_TYPE_VMA: One mapping, child of mm. Meta: start, end, vm-flags,
 *   pgoff, and path when file-backed. No data.
 * @CKPT_RECORD_TYPE_PAGES: A run of present pages of a private mapping or of
 *   the shared memory object of a shmem record, child of the vma that holds
 *   them. Meta: addr, nr-pages. Data: nr-pages pages.
 * @CKPT_RECORD_TYPE_FILE: One open file descriptor, child of task. Meta: fd,
 *   f-flags, pos, and path when it has one. No data.
 * @CKPT_RECORD_TYPE_TRAILER: Last record of every stream, a root. Meta:
 *   nr-threads, nr-vmas, nr-pages, nr-files. No data.
 * @CKPT_RECORD_TYPE_SIGACTIONS: The process's signal dispositions, child of
 *   task, at most one. Meta: nr-sigs, and shared-pending (absent in images of
 *   older modules). Data: nr-sigs entries of sigaction-size bytes. Checked by
 *   the kernel for shape only: a restorer applies them with rt_sigaction(2),
 *   which refuses what it would refuse from the process.
 * @CKPT_RECORD_TYPE_XSTATE: One thread's FPU, SSE and AVX state, child of that
 *   thread's regs. Meta: xfeatures. Data: the x86 XSAVE area as ptrace's
 *   NT_X86_XSTATE regset reads it (at most xstate-max bytes).
 * @CKPT_RECORD_TYPE_RLIMITS: The process's resource limits, child of task, at
 *   most one. Meta: nr-rlimits. Data: nr-rlimits entries of rlimit-size bytes.
 *   Checked by the kernel for shape only: a restorer applies them with
 *   prlimit(2), which refuses what it would refuse from the process.
 * @CKPT_RECORD_TYPE_PIPE: The pipe or FIFO behind a file record, its child.
 *   Meta: pipe-size, pipe-bytes. Data: the bytes the pipe holds, read without
 *   consuming them, for a descriptor open for reading when they are at most
 *   pipe-data-max; none otherwise.
 * @CKPT_RECORD_TYPE_SIGINFO: A thread's queued signals with their siginfo,
 *   oldest first, child of its regs record, at most one. Meta: nr-siginfo,
 *   nr-queued. Data: nr-siginfo entries of siginfo-size bytes. Checked by the
 *   kernel for shape only: a restorer queues them again with
 *   rt_tgsigqueueinfo(2) from inside the thread, which refuses what it would
 *   refuse from the process.
 * @CKPT_RECORD_TYPE_SHARED_SIGINFO: The process's queued signals (kill(2),
 *   sigqueue(3)), child of the sigactions record, at most one; as siginfo
 *   otherwise.
 * @CKPT_RECORD_TYPE_SHMEM: The shared memory object behind a vma record, its
 *   child, at most one, before the vma's pages records: shared anonymous
 *   memory, memfd, SysV shm or a deleted tmpfs file (a tmpfs object no path
 *   reaches). Its pages present in the vma's range follow as pages records of
 *   the vma; a page with no record was a hole and reads zero. Meta: ino (the
 *   same object mapped twice has the same one), size (its size in bytes),
 *   seals (tmpfs memory). No data. A shared vma without it (a device, a
 *   deleted file elsewhere, images of older modules) has no pages in the
 *   image.
 * @CKPT_RECORD_TYPE_FDINFO: What /proc/PID/fdinfo/FD shows of a descriptor's
 *   own state, for an inotify, eventfd, signalfd, timerfd or epoll descriptor:
 *   child of its file record, at most one, absent when the text is longer than
 *   fdinfo-max. No meta fields. Data: the text the file's show_fdinfo writes
 *   (inotify: one "inotify wd:.. ino:.. sdev:.. mask:.." line per watch).
 *   Checked by the kernel for size only: a restorer makes the descriptor again
 *   with the calls that check their arguments.
 * @CKPT_RECORD_TYPE_UNIX: The Unix-domain socket behind a file record, its
 *   child, at most one. Meta: sock-type, sock-state, sock-flags, peer-ino,
 *   sock-shutdown, sock-bytes, sndbuf, rcvbuf; sock-addr when it is bound
 *   (named flag), sock-peer-addr when its peer is, sock-backlog and
 *   sock-queued when it listens (all four absent in images of older modules).
 *   Data: the messages its receive queue holds, oldest first, read without
 *   consuming them, each as a little-endian u32 length and that many bytes
 *   (for a stream socket the unread part of each buffer); none when the socket
 *   holds more than unix-data-max, listens, or a queued message carries
 *   descriptors. Checked by the kernel for size only: a restorer sends the
 *   messages again through a new socket's peer.
 * @CKPT_RECORD_TYPE_PARENT_PAGES: Present pages of a vma, its child, that the
 *   checkpoint's parent image (header parent-crid, a pre-copy image) holds:
 *   the requester said they were not written since that image was taken. Meta:
 *   addr, nr-pages (at most pages-run-max). No data. In pages records' order:
 *   a vma's pages and parent-pages records together ascend. Only in
 *   checkpoints requested with parent-crid; never in a restart (a restorer
 *   sends the parent's pages as pages records).
 * @CKPT_RECORD_TYPE_INET: The TCP or UDP socket (IPv4 or IPv6) behind a file
 *   record, its child, at most one. Meta: sock-family, sock-type,
 *   sock-protocol, sock-state, sock-flags, sock-shutdown, sock-backlog,
 *   sock-queued, sndbuf, rcvbuf, and sock-addr (absent until it has a local
 *   port) and sock-peer-addr (when connected). No data: what is queued
 *   (datagrams, connections not yet accepted) is counted, not kept. Checked by
 *   the kernel for shape only: a restorer makes the socket again with
 *   socket(2), setsockopt(2), bind(2), listen(2) and connect(2), which check
 *   what they are given.
 */
enum ckpt_record_type {
	CKPT_RECORD_TYPE_UNSPEC,
	CKPT_RECORD_TYPE_HEADER,
	CKPT_RECORD_TYPE_TASK,
	CKPT_RECORD_TYPE_REGS,
	CKPT_RECORD_TYPE_MM,
	CKPT_RECORD_TYPE_VMA,
	CKPT_RECORD_TYPE_PAGES,
	CKPT_RECORD_TYPE_FILE,
	CKPT_RECORD_TYPE_TRAILER,
	CKPT_RECORD_TYPE_SIGACTIONS,
	CKPT_RECORD_TYPE_XSTATE,
	CKPT_RECORD_TYPE_RLIMITS,
	CKPT_RECORD_TYPE_PIPE,
	CKPT_RECORD_TYPE_SIGINFO,
	CKPT_RECORD_TYPE_SHARED_SIGINFO,
	CKPT_RECORD_TYPE_SHMEM,
	CKPT_RECORD_TYPE_FDINFO,
	CKPT_RECORD_TYPE_UNIX,
	CKPT_RECORD_TYPE_PARENT_PAGES,
	CKPT_RECORD_TYPE_INET,
};

/**
 * enum ckpt_checkpoint_flags - Flags of a checkpoint request.
 * @CKPT_CHECKPOINT_FLAGS_STOP: Stop the task (SIGSTOP) before reading it and
 *   resume it (SIGCONT) afterwards, on every path. Without it the task must
 *   already be stopped.
 * @CKPT_CHECKPOINT_FLAGS_PRE_COPY: A pre-copy: memory only, read while the
 *   task runs (it is neither stopped nor required to be). The stream holds the
 *   header (with checkpoint-flags), the task record, mm, vma, shmem and pages
 *   records and the trailer: no registers, signals, limits or files, and
 *   memory that may change as it is read. Its use is as the parent of a later
 *   checkpoint of the stopped task that names it in parent-crid. Not with
 *   stop.
 * @CKPT_CHECKPOINT_FLAGS_ZOMBIE: Accept a zombie: a process that has exited
 *   and that its parent has not waited for (every thread gone). Its stream is
 *   the header, the task record with exit-status, and the trailer: nothing
 *   else is left of it. A restore of its parent's tree makes it again, so the
 *   parent's wait(2) finds it. Without this flag a zombie is refused (ESRCH);
 *   with it a live task is checkpointed as ever. Not with pre-copy or a
 *   parent-crid; stop is ignored for a zombie.
 * @CKPT_CHECKPOINT_FLAGS_HOLD: End the freeze as soon as the task is read, not
 *   when the sink has read its stream. Until then its messages are held in
 *   kernel memory charged to the requester, and delivered in order (with the
 *   same backpressure) while the task runs again. With stop the kernel
 *   continues the task once it is read; without stop the task must be stopped
 *   already (by the requester, which stops a tree or a pre-copy's final copy
 *   itself), and the kernel sends the requester checkpoint-read once it is
 *   read, for it to continue the task. All streams together hold at most the
 *   module's hold_total_mib, and a stream holds only while its requester's
 *   memory cgroup keeps room for what it needs without holding (twice its page
 *   ring and 8 MiB); past either, a stream waits for its own messages to
 *   drain, as without the flag. Not with pre-copy (EINVAL: the task runs
 *   anyway); ignored for a zombie (it has no memory to hold).
 * @CKPT_CHECKPOINT_FLAGS_AWAIT_GO: With hold, for a task the requester will
 *   stop itself (a tree): the task need not be stopped yet. The stream
 *   allocates the pages its hold copies into while the task runs, sends the
 *   requester checkpoint-reserved, and then waits, within its deadline, for
 *   the requester's checkpoint-go; only then, the task stopped by the
 *   requester (within 2 s, else the stream fails), is it read. So the
 *   allocation is outside the freeze, and the requester decides when the read
 *   starts: after every process of its tree is stopped. The stream ends with
 *   task-exited if the task exits before its go. Requires hold; not with stop,
 *   pre-copy, zombie or parent-crid (the written ranges are known only once
 *   the task is stopped). With hold_total_mib 0 nothing is reserved and the go
 *   is awaited all the same.
 */
enum ckpt_checkpoint_flags {
	CKPT_CHECKPOINT_FLAGS_STOP = 1,
	CKPT_CHECKPOINT_FLAGS_PRE_COPY = 2,
	CKPT_CHECKPOINT_FLAGS_ZOMBIE = 4,
	CKPT_CHECKPOINT_FLAGS_HOLD = 8,
	CKPT_CHECKPOINT_FLAGS_AWAIT_GO = 16,

	/* private: */
	CKPT_CHECKPOINT_FLAGS_MASK = 31,
};

/**
 * enum ckpt_sock_flags - Bits of a unix or inet record's sock-flags: the first
 *   four are a unix record's, the others an inet record's.
 * @CKPT_SOCK_FLAGS_NAMED: The socket is bound to an address (a path or an
 *   abstract name).
 * @CKPT_SOCK_FLAGS_RIGHTS: A queued message carries descriptors (SCM_RIGHTS):
 *   the record has no data.
 * @CKPT_SOCK_FLAGS_OOB: An out-of-band byte (MSG_OOB) is queued.
 * @CKPT_SOCK_FLAGS_BUSY: A reader held the socket for the whole time the
 *   checkpoint waited for it: the record has no data.
 * @CKPT_SOCK_FLAGS_REUSEADDR: SO_REUSEADDR is set (sk_reuse).
 * @CKPT_SOCK_FLAGS_REUSEPORT: SO_REUSEPORT is set.
 * @CKPT_SOCK_FLAGS_V6ONLY: IPV6_V6ONLY is set (an IPv6 socket that takes no
 *   IPv4 traffic).
 * @CKPT_SOCK_FLAGS_SNDBUF_LOCK: The send buffer size was set with SO_SNDBUF
 *   (not the default).
 * @CKPT_SOCK_FLAGS_RCVBUF_LOCK: The receive buffer size was set with SO_RCVBUF
 *   (not the default).
 * @CKPT_SOCK_FLAGS_KEEPALIVE: SO_KEEPALIVE is set.
 * @CKPT_SOCK_FLAGS_NODELAY: TCP_NODELAY is set (TCP).
 */
enum ckpt_sock_flags {
	CKPT_SOCK_FLAGS_NAMED = 1,
	CKPT_SOCK_FLAGS_RIGHTS = 2,
	CKPT_SOCK_FLAGS_OOB = 4,
	CKPT_SOCK_FLAGS_BUSY = 8,
	CKPT_SOCK_FLAGS_REUSEADDR = 16,
	CKPT_SOCK_FLAGS_REUSEPORT = 32,
	CKPT_SOCK_FLAGS_V6ONLY = 64,
	CKPT_SOCK_FLAGS_SNDBUF_LOCK = 128,
	CKPT_SOCK_FLAGS_RCVBUF_LOCK = 256,
	CKPT_SOCK_FLAGS_KEEPALIVE = 512,
	CKPT_SOCK_FLAGS_NODELAY = 1024,
};

/**
 * enum ckpt_restart_flags - Flags of a restart session.
 * @CKPT_RESTART_FLAGS_VALIDATE_ONLY: Validate every record and the trailer
 *   against the target and answer, but write nothing into the target.
 * @CKPT_RESTART_FLAGS_DIRECT: Write each pages fragment into the target as
 *   soon as it validated (the session's writer, a kernel worker, writes them
 *   in order and reports restart-written), instead of staging the image in the
 *   kernel until the commit: the kernel holds only what is queued for the
 *   writer, at most restart-queue-max bytes whatever the image's size
 *   (restart_max_mib does not apply). For a target that is discarded if the
 *   restore fails (a process made to be restored into); without it nothing is
 *   written unless the whole image validated.
 */
enum ckpt_restart_flags {
	CKPT_RESTART_FLAGS_VALIDATE_ONLY = 1,
	CKPT_RESTART_FLAGS_DIRECT = 2,

	/* private: */
	CKPT_RESTART_FLAGS_MASK = 3,
};

/**
 * enum ckpt_abort_reason - Why a stream ended without a verified end.
 * @CKPT_ABORT_REASON_UNSPEC: Never sent.
 * @CKPT_ABORT_REASON_SINK_GONE: The capture sink's socket closed mid-stream.
 * @CKPT_ABORT_REASON_SINK_TIMEOUT: The sink did not drain within the request's
 *   timeout.
 * @CKPT_ABORT_REASON_TASK_EXITED: The task exited while it was being read.
 * @CKPT_ABORT_REASON_INTERRUPTED: The requester was killed or interrupted
 *   while the stream waited.
 * @CKPT_ABORT_REASON_FAULT: Reading the task failed (memory or state no longer
 *   accessible).
 * @CKPT_ABORT_REASON_NOMEM: The kernel could not allocate a message buffer.
 * @CKPT_ABORT_REASON_UNLOAD: The module is being unloaded.
 * @CKPT_ABORT_REASON_EXEC: The task called execve() after the stream began:
 *   what was checked is no longer what would be read, so nothing of the new
 *   image is sent.
 * @CKPT_ABORT_REASON_REQUESTER_GONE: The requester's socket closed (the
 *   requester exited or was killed) before the stream ended.
 */
enum ckpt_abort_reason {
	CKPT_ABORT_REASON_UNSPEC,
	CKPT_ABORT_REASON_SINK_GONE,
	CKPT_ABORT_REASON_SINK_TIMEOUT,
	CKPT_ABORT_REASON_TASK_EXITED,
	CKPT_ABORT_REASON_INTERRUPTED,
	CKPT_ABORT_REASON_FAULT,
	CKPT_ABORT_REASON_NOMEM,
	CKPT_ABORT_REASON_UNLOAD,
	CKPT_ABORT_REASON_EXEC,
	CKPT_ABORT_REASON_REQUESTER_GONE,

	/* private: */
	__CKPT_ABORT_REASON_MAX,
	CKPT_ABORT_REASON_MAX = (__CKPT_ABORT_REASON_MAX - 1)
};

enum {
	CKPT_A_PAD = 1,
	CKPT_A_PID,
	CKPT_A_CHECKPOINT_FLAGS,
	CKPT_A_RESTART_FLAGS,
	CKPT_A_TIMEOUT_MS,
	CKPT_A_CRID,
	CKPT_A_SEQ,
	CKPT_A_REC_TYPE,
	CKPT_A_REC_ID,
	CKPT_A_REC_PARENT,
	CKPT_A_DATA_LEN,
	CKPT_A_DATA_OFFSET,
	CKPT_A_META,
	CKPT_A_DATA,
	CKPT_A_RECORDS,
	CKPT_A_BYTES,
	CKPT_A_CHECKSUM,
	CKPT_A_REASON,
	CKPT_A_MESSAGE,
	CKPT_A_RSID,
	CKPT_A_STATS,
	CKPT_A_ERROR,
	CKPT_A_PARENT_CRID,
	CKPT_A_DIRTY_RANGES,
	CKPT_A_DATA_CHECKSUM,
	CKPT_A_FROZEN_NS,
	CKPT_A_RESERVED_PAGES,

	__CKPT_A_MAX,
	CKPT_A_MAX = (__CKPT_A_MAX - 1)
};

enum {
	CKPT_A_META_PAD = 1,
	CKPT_A_META_ARCH,
	CKPT_A_META_PAGE_SIZE,
	CKPT_A_META_RELEASE,
	CKPT_A_META_TIME_NS,
	CKPT_A_META_PID,
	CKPT_A_META_TGID,
	CKPT_A_META_PPID,
	CKPT_A_META_COMM,
	CKPT_A_META_UID,
	CKPT_A_META_GID,
	CKPT_A_META_EUID,
	CKPT_A_META_EGID,
	CKPT_A_META_TID,
	CKPT_A_META_START_CODE,
	CKPT_A_META_END_CODE,
	CKPT_A_META_START_DATA,
	CKPT_A_META_END_DATA,
	CKPT_A_META_START_BRK,
	CKPT_A_META_BRK,
	CKPT_A_META_START_STACK,
	CKPT_A_META_ARG_START,
	CKPT_A_META_ARG_END,
	CKPT_A_META_ENV_START,
	CKPT_A_META_ENV_END,
	CKPT_A_META_START,
	CKPT_A_META_END,
	CKPT_A_META_VM_FLAGS,
	CKPT_A_META_PGOFF,
	CKPT_A_META_PATH,
	CKPT_A_META_ADDR,
	CKPT_A_META_NR_PAGES,
	CKPT_A_META_FD,
	CKPT_A_META_F_FLAGS,
	CKPT_A_META_POS,
	CKPT_A_META_NR_THREADS,
	CKPT_A_META_NR_VMAS,
	CKPT_A_META_NR_PAGES_TOTAL,
	CKPT_A_META_NR_FILES,
	CKPT_A_META_INO,
	CKPT_A_META_DEV,
	CKPT_A_META_SIZE,
	CKPT_A_META_MTIME_NS,
	CKPT_A_META_SIGMASK,
	CKPT_A_META_NR_SIGS,
	CKPT_A_META_XFEATURES,
	CKPT_A_META_RSEQ,
	CKPT_A_META_RSEQ_LEN,
	CKPT_A_META_RSEQ_SIG,
	CKPT_A_META_ROBUST_LIST,
	CKPT_A_META_CLEAR_CHILD_TID,
	CKPT_A_META_CWD,
	CKPT_A_META_UMASK,
	CKPT_A_META_SHARED_PENDING,
	CKPT_A_META_SIGPENDING,
	CKPT_A_META_ALTSTACK_SP,
	CKPT_A_META_ALTSTACK_SIZE,
	CKPT_A_META_ALTSTACK_FLAGS,
	CKPT_A_META_NR_RLIMITS,
	CKPT_A_META_PIPE_SIZE,
	CKPT_A_META_PIPE_BYTES,
	CKPT_A_META_NR_SIGINFO,
	CKPT_A_META_NR_QUEUED,
	CKPT_A_META_PERSONALITY,
	CKPT_A_META_ROOT,
	CKPT_A_META_SOCK_TYPE,
	CKPT_A_META_SOCK_STATE,
	CKPT_A_META_SOCK_FLAGS,
	CKPT_A_META_PEER_INO,
	CKPT_A_META_SOCK_SHUTDOWN,
	CKPT_A_META_SOCK_BYTES,
	CKPT_A_META_SNDBUF,
	CKPT_A_META_RCVBUF,
	CKPT_A_META_PARENT_CRID,
	CKPT_A_META_CHECKPOINT_FLAGS,
	CKPT_A_META_DUMPABLE,
	CKPT_A_META_SOCK_FAMILY,
	CKPT_A_META_SOCK_PROTOCOL,
	CKPT_A_META_SOCK_ADDR,
	CKPT_A_META_SOCK_PEER_ADDR,
	CKPT_A_META_SOCK_BACKLOG,
	CKPT_A_META_SOCK_QUEUED,
	CKPT_A_META_SEALS,
	CKPT_A_META_PGID,
	CKPT_A_META_SID,
	CKPT_A_META_FILE_ID,
	CKPT_A_META_EXIT_STATUS,

	__CKPT_A_META_MAX,
	CKPT_A_META_MAX = (__CKPT_A_META_MAX - 1)
};

enum {
	CKPT_A_STATS_PAD = 1,
	CKPT_A_STATS_STREAMS,
	CKPT_A_STATS_RECORDS,
	CKPT_A_STATS_BYTES,
	CKPT_A_STATS_ABORTS,
	CKPT_A_STATS_WAIT_NS,
	CKPT_A_STATS_RESTARTS,
	CKPT_A_STATS_RESTART_REJECTS,
	CKPT_A_STATS_FRAG_PAGES_NEW,
	CKPT_A_STATS_FRAG_PAGES_REUSED,
	CKPT_A_STATS_HELD_BYTES,
	CKPT_A_STATS_HOLD_RESERVED_PAGES,

	__CKPT_A_STATS_MAX,
	CKPT_A_STATS_MAX = (__CKPT_A_STATS_MAX - 1)
};

enum {
	CKPT_CMD_SINK_REGISTER = 1,
	CKPT_CMD_SINK_UNREGISTER,
	CKPT_CMD_CHECKPOINT,
	CKPT_CMD_STREAM_BEGIN,
	CKPT_CMD_RECORD,
	CKPT_CMD_STREAM_END,
	CKPT_CMD_STREAM_ABORT,
	CKPT_CMD_RESTART_BEGIN,
	CKPT_CMD_RESTART_RECORD,
	CKPT_CMD_RESTART_COMMIT,
	CKPT_CMD_RESTART_ABORT,
	CKPT_CMD_STATS_GET,
	CKPT_CMD_CHECKPOINT_DONE,
	CKPT_CMD_RESTART_WRITTEN,
	CKPT_CMD_RESTART_DONE,
	CKPT_CMD_CHECKPOINT_READ,
	CKPT_CMD_CHECKPOINT_RESERVED,
	CKPT_CMD_CHECKPOINT_GO,

	__CKPT_CMD_MAX,
	CKPT_CMD_MAX = (__CKPT_CMD_MAX - 1)
};

#endif /* _UAPI_LINUX_CKPT_H */
