import CCkptUAPI

/// The typed fields of a record: the `CKPT_A_META` nest, one struct per `RecordType`.
///
/// Which fields each type requires (and that it carries no others) is `MetaSchema`;
/// decoding is `RecordMeta(type:payload:)`, encoding `RecordMeta.encode(into:padded:)`.
public enum RecordMeta: Equatable, Sendable {
    case header(HeaderMeta)
    case task(TaskMeta)
    case regs(RegsMeta)
    case mm(MMMeta)
    case vma(VMAMeta)
    case pages(PagesMeta)
    case file(FileMeta)
    case trailer(TrailerMeta)
    case sigactions(SigactionsMeta)
    case xstate(XStateMeta)
    case rlimits(RlimitsMeta)
    case pipe(PipeMeta)
    /// A thread's queued signals.
    case siginfo(SiginfoMeta)
    /// The process's queued signals.
    case sharedSiginfo(SiginfoMeta)
    /// The unnamed shared memory object behind a vma.
    case shmem(ShmemMeta)
    /// A descriptor's /proc fdinfo text (the data); no fields.
    case fdinfo
    /// The Unix socket behind a file record; the data is its queued messages.
    case unix(UnixMeta)
    /// Pages the parent image (a pre-copy) holds: no data.
    case parentPages(PagesMeta)
    /// The TCP or UDP socket behind a file record: no data.
    case inet(InetMeta)

    public var type: RecordType {
        switch self {
        case .header: .header
        case .task: .task
        case .regs: .regs
        case .mm: .mm
        case .vma: .vma
        case .pages: .pages
        case .file: .file
        case .trailer: .trailer
        case .sigactions: .sigactions
        case .xstate: .xstate
        case .rlimits: .rlimits
        case .pipe: .pipe
        case .siginfo: .siginfo
        case .sharedSiginfo: .sharedSiginfo
        case .shmem: .shmem
        case .fdinfo: .fdinfo
        case .unix: .unix
        case .parentPages: .parentPages
        case .inet: .inet
        }
    }
}

/// First record of a stream: where the image came from.
public struct HeaderMeta: Equatable, Sendable {
    /// `uname -m` of the source machine, e.g. "x86_64".
    public var arch: String
    /// Page size in bytes (a power of two).
    public var pageSize: UInt32
    /// `uname -r` of the source kernel.
    public var release: String
    /// CLOCK_REALTIME when the checkpoint began, ns.
    public var timeNs: UInt64
    /// The crid of the pre-copy image this one's parent-pages records refer to.
    public var parentCrid: UInt64?
    /// The request's `CKPT_CHECKPOINT_FLAGS_*` (0 when absent).
    public var checkpointFlags: UInt32

    public init(arch: String, pageSize: UInt32, release: String, timeNs: UInt64, parentCrid: UInt64? = nil,
                checkpointFlags: UInt32 = 0) {
        self.arch = arch
        self.pageSize = pageSize
        self.release = release
        self.timeNs = timeNs
        self.parentCrid = parentCrid
        self.checkpointFlags = checkpointFlags
    }

    /// A pre-copy: memory only, read while the task ran (the parent of a later checkpoint).
    public var isPreCopy: Bool { checkpointFlags & UInt32(CKPT_CHECKPOINT_FLAGS_PRE_COPY.rawValue) != 0 }
}

/// The task (ids as seen in the requester's namespaces).
public struct TaskMeta: Equatable, Sendable {
    public var pid: UInt32
    public var tgid: UInt32
    public var ppid: UInt32
    /// At most 15 bytes.
    public var comm: String
    public var uid: UInt32
    public var gid: UInt32
    public var euid: UInt32
    public var egid: UInt32
    /// The working directory as d_path prints it (absent in images of older modules).
    public var cwd: String?
    /// The file-creation mask (absent in images of older modules).
    public var umask: UInt32?
    /// `personality(2)` (absent in images of older modules).
    public var personality: UInt32?
    /// The root directory as d_path prints it (absent in images of older modules).
    public var root: String?
    /// Its process group and session (0: a leader the checkpointer could not see; absent in
    /// images of older modules).
    public var pgid: UInt32?
    public var sid: UInt32?
    /// A zombie's status as wait(2) gives it (exit code << 8, or the killing signal and
    /// 0x80 when it dumped core): present only in a zombie's image, which has nothing else.
    public var exitStatus: UInt32?

    public init(pid: UInt32, tgid: UInt32, ppid: UInt32, comm: String, uid: UInt32, gid: UInt32, euid: UInt32, egid: UInt32,
                cwd: String? = nil, umask: UInt32? = nil, personality: UInt32? = nil, root: String? = nil,
                pgid: UInt32? = nil, sid: UInt32? = nil, exitStatus: UInt32? = nil) {
        self.exitStatus = exitStatus
        self.pgid = pgid
        self.sid = sid
        self.cwd = cwd
        self.umask = umask
        self.personality = personality
        self.root = root
        self.pid = pid
        self.tgid = tgid
        self.ppid = ppid
        self.comm = comm
        self.uid = uid
        self.gid = gid
        self.euid = euid
        self.egid = egid
    }
}

/// One thread's registers; the data is the arch's `user_regs_struct`.
public struct RegsMeta: Equatable, Sendable {
    public var tid: UInt32
    /// Blocked signals, bit i for signal i + 1 (absent in images of older modules).
    public var sigmask: UInt64?
    /// The thread's rseq registration (address 0: none; absent in images of older modules).
    public var rseq: RseqRegistration?
    /// Its `set_robust_list` head (absent in images of older modules).
    public var robustList: UInt64?
    /// Its `set_tid_address` pointer (absent in images of older modules).
    public var clearChildTid: UInt64?
    /// Signals pending for this thread alone, bit i for signal i + 1 (absent in images of
    /// older modules).
    public var sigpending: UInt64?
    /// Its `sigaltstack(2)` (absent in images of older modules).
    public var altstack: AltStack?

    public init(tid: UInt32, sigmask: UInt64? = nil, rseq: RseqRegistration? = nil, robustList: UInt64? = nil,
                clearChildTid: UInt64? = nil, sigpending: UInt64? = nil, altstack: AltStack? = nil) {
        self.tid = tid
        self.sigmask = sigmask
        self.rseq = rseq
        self.robustList = robustList
        self.clearChildTid = clearChildTid
        self.sigpending = sigpending
        self.altstack = altstack
    }
}

/// A thread's alternate signal stack: `CKPT_A_META_ALTSTACK_SP`, `_SIZE`, `_FLAGS` (all
/// three or none), as `sigaltstack(2)` reports it (sp 0: none).
public struct AltStack: Equatable, Sendable {
    public var sp: UInt64
    public var size: UInt64
    public var flags: UInt32

    public init(sp: UInt64, size: UInt64, flags: UInt32) {
        self.sp = sp
        self.size = size
        self.flags = flags
    }
}

/// What a thread registered with rseq(2): `CKPT_A_META_RSEQ`, `_RSEQ_LEN`, `_RSEQ_SIG`
/// (all three or none).
public struct RseqRegistration: Equatable, Sendable {
    public var address: UInt64
    public var length: UInt32
    public var signature: UInt32

    public init(address: UInt64, length: UInt32, signature: UInt32) {
        self.address = address
        self.length = length
        self.signature = signature
    }
}

/// The process's signal dispositions; the data is `nrSigs` entries of
/// `CKPT_SIGACTION_SIZE` bytes (`SigactionTable` reads them).
public struct SigactionsMeta: Equatable, Sendable {
    public var nrSigs: UInt32
    /// Signals pending for the whole process, bit i for signal i + 1 (absent in images of
    /// older modules). The set only: queued siginfo is not in the image.
    public var sharedPending: UInt64?
    public init(nrSigs: UInt32, sharedPending: UInt64? = nil) {
        self.nrSigs = nrSigs
        self.sharedPending = sharedPending
    }
}

/// The pipe or FIFO behind a file record; the data is the bytes it held (for a read end,
/// when at most `CKPT_PIPE_DATA_MAX`), or none.
public struct PipeMeta: Equatable, Sendable {
    /// Capacity in bytes (`F_GETPIPE_SZ`).
    public var size: UInt32
    /// Bytes it held (`FIONREAD`).
    public var bytes: UInt32
    public init(size: UInt32, bytes: UInt32) {
        self.size = size
        self.bytes = bytes
    }
}

/// Queued signals (a thread's or the process's); the data is `nrSiginfo` entries of
/// `CKPT_SIGINFO_SIZE` bytes, each a siginfo_t, oldest first.
public struct SiginfoMeta: Equatable, Sendable {
    public var nrSiginfo: UInt32
    /// How many were queued (more than `nrSiginfo` when the queue was longer than
    /// `CKPT_SIGINFO_MAX`).
    public var nrQueued: UInt32
    public init(nrSiginfo: UInt32, nrQueued: UInt32) {
        self.nrSiginfo = nrSiginfo
        self.nrQueued = nrQueued
    }
}

/// The shared memory object behind a vma that no path reaches (shared anonymous memory,
/// memfd, SysV shm, a deleted tmpfs file): the image carries its pages in the vma's
/// range as pages records of the vma; a page without one was a hole.
public struct ShmemMeta: Equatable, Sendable {
    /// Its inode number: vmas mapping the same object have the same one.
    public var inode: UInt64
    /// Its size in bytes.
    public var size: UInt64
    /// Its seals (`F_GET_SEALS`) when it is tmpfs memory; nil in images of older modules.
    /// `F_SEAL_SEAL` alone: nobody may seal it (shared anonymous memory, a memfd made
    /// without `MFD_ALLOW_SEALING`).
    public var seals: UInt32?
    public init(inode: UInt64, size: UInt64, seals: UInt32? = nil) {
        self.inode = inode
        self.size = size
        self.seals = seals
    }
}

/// The process's resource limits; the data is `nrRlimits` entries of `CKPT_RLIMIT_SIZE`
/// bytes (soft, hard), entry i for resource i.
public struct RlimitsMeta: Equatable, Sendable {
    public var nrRlimits: UInt32
    public init(nrRlimits: UInt32) { self.nrRlimits = nrRlimits }
}

/// One thread's FPU/SSE/AVX state; the data is the XSAVE area (ptrace's NT_X86_XSTATE).
public struct XStateMeta: Equatable, Sendable {
    /// XCR0 of the checkpointing CPU: the features the area's layout covers.
    public var xfeatures: UInt64
    public init(xfeatures: UInt64) { self.xfeatures = xfeatures }
}

/// The address-space layout (`struct mm_struct` fields).
public struct MMMeta: Equatable, Sendable {
    public var startCode: UInt64
    public var endCode: UInt64
    public var startData: UInt64
    public var endData: UInt64
    public var startBrk: UInt64
    public var brk: UInt64
    public var startStack: UInt64
    public var argStart: UInt64
    public var argEnd: UInt64
    public var envStart: UInt64
    public var envEnd: UInt64
    /// get_dumpable(): 0 not dumpable, 1 dumpable, 2 by root only (absent in images of
    /// older modules). Who may ptrace the process and read its /proc files.
    public var dumpable: UInt32?

    public init(
        startCode: UInt64, endCode: UInt64, startData: UInt64, endData: UInt64, startBrk: UInt64, brk: UInt64,
        startStack: UInt64, argStart: UInt64, argEnd: UInt64, envStart: UInt64, envEnd: UInt64, dumpable: UInt32? = nil
    ) {
        self.dumpable = dumpable
        self.startCode = startCode
        self.endCode = endCode
        self.startData = startData
        self.endData = endData
        self.startBrk = startBrk
        self.brk = brk
        self.startStack = startStack
        self.argStart = argStart
        self.argEnd = argEnd
        self.envStart = envStart
        self.envEnd = envEnd
    }
}

/// One mapping.
public struct VMAMeta: Equatable, Sendable {
    public var start: UInt64
    public var end: UInt64
    /// The kernel's `vm_flags` (VM_READ 0x1, VM_WRITE 0x2, VM_EXEC 0x4, VM_SHARED 0x8, ...).
    public var vmFlags: UInt64
    /// Offset in the file, in pages.
    public var pgoff: UInt64
    /// Backing file, when file-backed.
    public var path: String?
    /// The backing file's identity when the image was taken (absent in older images).
    public var identity: FileIdentity?

    public init(start: UInt64, end: UInt64, vmFlags: UInt64, pgoff: UInt64, path: String? = nil,
                identity: FileIdentity? = nil) {
        self.start = start
        self.end = end
        self.vmFlags = vmFlags
        self.pgoff = pgoff
        self.path = path
        self.identity = identity
    }
}

/// What identifies a file: `CKPT_A_META_INO`, `_DEV`, `_SIZE`, `_MTIME_NS` (all four or none).
public struct FileIdentity: Equatable, Sendable {
    public var inode: UInt64
    /// As stat(2) reports `st_dev`.
    public var device: UInt32
    public var size: UInt64
    /// Modification time, ns since the epoch.
    public var mtimeNs: UInt64

    public init(inode: UInt64, device: UInt32, size: UInt64, mtimeNs: UInt64) {
        self.inode = inode
        self.device = device
        self.size = size
        self.mtimeNs = mtimeNs
    }
}

/// A run of present pages; the data is `nrPages * pageSize` bytes.
public struct PagesMeta: Equatable, Sendable {
    public var addr: UInt64
    /// 1 ... CKPT_PAGES_RUN_MAX.
    public var nrPages: UInt32

    public init(addr: UInt64, nrPages: UInt32) {
        self.addr = addr
        self.nrPages = nrPages
    }
}

/// One open file descriptor.
public struct FileMeta: Equatable, Sendable {
    public var fd: UInt32
    public var fFlags: UInt32
    public var pos: UInt64
    public var path: String?
    /// The open file's identity when the image was taken (absent in older images).
    public var identity: FileIdentity?
    /// Which open file the fd refers to (a keyed hash of the kernel's, equal for fds that
    /// share one open file and offset, across the images one module load took; absent in
    /// older images).
    public var fileID: UInt64?

    public init(fd: UInt32, fFlags: UInt32, pos: UInt64, path: String? = nil, identity: FileIdentity? = nil,
                fileID: UInt64? = nil) {
        self.fileID = fileID
        self.fd = fd
        self.fFlags = fFlags
        self.pos = pos
        self.path = path
        self.identity = identity
    }
}

/// Last record of a stream: the sender's counts.
public struct TrailerMeta: Equatable, Sendable {
    public var nrThreads: UInt32
    public var nrVMAs: UInt32
    public var nrPagesTotal: UInt64
    public var nrFiles: UInt32

    public init(nrThreads: UInt32, nrVMAs: UInt32, nrPagesTotal: UInt64, nrFiles: UInt32) {
        self.nrThreads = nrThreads
        self.nrVMAs = nrVMAs
        self.nrPagesTotal = nrPagesTotal
        self.nrFiles = nrFiles
    }
}

/// The Unix-domain socket behind a file record; the data is the messages its receive
/// queue held, oldest first, each a little-endian u32 length and that many bytes (see
/// `UnixMessages`), or none (`CKPT_SOCK_FLAGS_RIGHTS`, `CKPT_SOCK_FLAGS_BUSY`, a listener,
/// or more than `CKPT_UNIX_DATA_MAX`).
public struct UnixMeta: Equatable, Sendable {
    /// `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    public var type: UInt32
    /// The kernel's sk_state: 1 connected, 7 unconnected, 10 listening.
    public var state: UInt32
    /// `CKPT_SOCK_FLAGS_*` bits.
    public var flags: UInt32
    /// Inode of the peer socket, 0 if none.
    public var peerInode: UInt64
    /// sk_shutdown: 1 no more receiving, 2 no more sending.
    public var shutdown: UInt32
    /// Bytes queued, captured or not.
    public var bytes: UInt64
    public var sndbuf: UInt32
    public var rcvbuf: UInt32
    /// Its name when bound (`CKPT_SOCK_FLAGS_NAMED`); nil while unbound, and in images of
    /// older modules, which flagged a bound socket without its name.
    public var address: UnixAddress?
    /// Its peer's name, when it has a peer bound to one (a client's of a server on a path:
    /// /dev/log for syslog's); nil otherwise, and in images of older modules.
    public var peerAddress: UnixAddress?
    /// A listener's backlog and the connections waiting for accept(2) (counted only); nil
    /// for any other socket, and for listeners in images of older modules.
    public var backlog: UInt32?
    public var queued: UInt32?
    public init(type: UInt32, state: UInt32, flags: UInt32, peerInode: UInt64, shutdown: UInt32, bytes: UInt64,
                sndbuf: UInt32, rcvbuf: UInt32, address: UnixAddress? = nil, peerAddress: UnixAddress? = nil,
                backlog: UInt32? = nil, queued: UInt32? = nil) {
        self.type = type
        self.state = state
        self.flags = flags
        self.peerInode = peerInode
        self.shutdown = shutdown
        self.bytes = bytes
        self.sndbuf = sndbuf
        self.rcvbuf = rcvbuf
        self.address = address
        self.peerAddress = peerAddress
        self.backlog = backlog
        self.queued = queued
    }
}

/// The TCP or UDP socket (IPv4 or IPv6) behind a file record. Nothing it held is in the
/// image: `queued` counts what a restored socket will not have.
public struct InetMeta: Equatable, Sendable {
    /// `AF_INET` or `AF_INET6`.
    public var family: UInt32
    /// `SOCK_STREAM` or `SOCK_DGRAM`.
    public var type: UInt32
    /// `IPPROTO_TCP` or `IPPROTO_UDP`.
    public var proto: UInt32
    /// The kernel's sk_state (TCP's numbering: 1 established, 7 closed, 10 listening; a
    /// connected UDP socket is 1).
    public var state: UInt32
    /// `CKPT_SOCK_FLAGS_*` bits (reuseaddr ... nodelay).
    public var flags: UInt32
    /// sk_shutdown: 1 no more receiving, 2 no more sending.
    public var shutdown: UInt32
    /// A listener's backlog.
    public var backlog: UInt32
    /// Datagrams (UDP) or connections not yet accepted (a TCP listener) it held.
    public var queued: UInt32
    public var sndbuf: UInt32
    public var rcvbuf: UInt32
    /// Its local address; nil while it has no local port.
    public var address: SocketAddress?
    /// The peer's address while connected.
    public var peer: SocketAddress?
    public init(family: UInt32, type: UInt32, proto: UInt32, state: UInt32, flags: UInt32, shutdown: UInt32,
                backlog: UInt32, queued: UInt32, sndbuf: UInt32, rcvbuf: UInt32, address: SocketAddress?,
                peer: SocketAddress?) {
        self.family = family
        self.type = type
        self.proto = proto
        self.state = state
        self.flags = flags
        self.shutdown = shutdown
        self.backlog = backlog
        self.queued = queued
        self.sndbuf = sndbuf
        self.rcvbuf = rcvbuf
        self.address = address
        self.peer = peer
    }
}
