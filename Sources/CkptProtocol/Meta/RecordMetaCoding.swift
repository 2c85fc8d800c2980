#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI

extension RecordMeta {
    /// Decodes a `CKPT_A_META` payload (the nest's value, as `RecordFragment.meta` holds it)
    /// of a record of `type`, after `MetaSchema.validate`. `offset` is the datagram offset
    /// of the `CKPT_A_META` header, for errors (pass 0 when decoding a payload on its own:
    /// offsets are then relative to 4 bytes before the payload).
    /// Allocates only for the strings (arch, release, comm, path) and socket addresses.
    public init(type: RecordType, payload: UnsafeRawBufferPointer, offset: Int = 0) throws(ProtocolError) {
        let t = try MetaSchema.validate(type, payload: payload, offset: offset)
        func u32(_ a: Int) -> UInt32 { t.u32(a) }
        func u64(_ a: Int) -> UInt64 { t.u64(a) }
        func str(_ a: Int) -> String { t.string(a) ?? "" }
        /// True when all of `fields` are present, false when none is; one missing of a group
        /// that belongs together is `.missingAttribute`.
        func allOrNone(_ fields: [Int]) throws(ProtocolError) -> Bool {
            guard fields.contains(where: { t.has($0) }) else { return false }
            if let missing = fields.first(where: { !t.has($0) }) {
                throw ProtocolError(.missingAttribute, field: AttributeSchema.metaName(UInt16(missing)), offset: offset)
            }
            return true
        }
        /// The four identity fields together, or none of them.
        func identity() throws(ProtocolError) -> FileIdentity? {
            guard try allOrNone([CKPT_A_META_INO, CKPT_A_META_DEV, CKPT_A_META_SIZE, CKPT_A_META_MTIME_NS]) else { return nil }
            return FileIdentity(inode: u64(CKPT_A_META_INO), device: u32(CKPT_A_META_DEV),
                                size: u64(CKPT_A_META_SIZE), mtimeNs: u64(CKPT_A_META_MTIME_NS))
        }
        /// A socket address attribute: absent, or bytes `make` accepts (`SocketAddress`,
        /// `UnixAddress`: of their family and length); others are out of range, named.
        func address<A>(_ a: Int, _ make: ([UInt8]) -> A?, longest: Int) throws(ProtocolError) -> A? {
            guard t.has(a) else { return nil }
            let bytes = Array(t.value(a))
            guard let address = make(bytes) else {
                throw ProtocolError(.valueOutOfRange, field: AttributeSchema.metaName(UInt16(a)), offset: t.offset(a),
                                    value: UInt64(bytes.count), limit: UInt64(longest))
            }
            return address
        }
        switch type {
        case .header:
            self = .header(HeaderMeta(
                arch: str(CKPT_A_META_ARCH), pageSize: u32(CKPT_A_META_PAGE_SIZE),
                release: str(CKPT_A_META_RELEASE), timeNs: u64(CKPT_A_META_TIME_NS),
                parentCrid: t.has(CKPT_A_META_PARENT_CRID) ? u64(CKPT_A_META_PARENT_CRID) : nil,
                checkpointFlags: t.has(CKPT_A_META_CHECKPOINT_FLAGS) ? u32(CKPT_A_META_CHECKPOINT_FLAGS) : 0))
        case .task:
            self = .task(TaskMeta(
                pid: u32(CKPT_A_META_PID), tgid: u32(CKPT_A_META_TGID), ppid: u32(CKPT_A_META_PPID),
                comm: str(CKPT_A_META_COMM), uid: u32(CKPT_A_META_UID), gid: u32(CKPT_A_META_GID),
                euid: u32(CKPT_A_META_EUID), egid: u32(CKPT_A_META_EGID), cwd: t.string(CKPT_A_META_CWD),
                umask: t.has(CKPT_A_META_UMASK) ? u32(CKPT_A_META_UMASK) : nil,
                personality: t.has(CKPT_A_META_PERSONALITY) ? u32(CKPT_A_META_PERSONALITY) : nil,
                root: t.string(CKPT_A_META_ROOT),
                pgid: t.has(CKPT_A_META_PGID) ? u32(CKPT_A_META_PGID) : nil,
                sid: t.has(CKPT_A_META_SID) ? u32(CKPT_A_META_SID) : nil,
                exitStatus: t.has(CKPT_A_META_EXIT_STATUS) ? u32(CKPT_A_META_EXIT_STATUS) : nil))
        case .regs:
            var rseq: RseqRegistration?
            if try allOrNone([CKPT_A_META_RSEQ, CKPT_A_META_RSEQ_LEN, CKPT_A_META_RSEQ_SIG]) {
                rseq = RseqRegistration(address: u64(CKPT_A_META_RSEQ), length: u32(CKPT_A_META_RSEQ_LEN),
                                        signature: u32(CKPT_A_META_RSEQ_SIG))
            }
            var altstack: AltStack?
            if try allOrNone([CKPT_A_META_ALTSTACK_SP, CKPT_A_META_ALTSTACK_SIZE, CKPT_A_META_ALTSTACK_FLAGS]) {
                altstack = AltStack(sp: u64(CKPT_A_META_ALTSTACK_SP), size: u64(CKPT_A_META_ALTSTACK_SIZE),
                                    flags: u32(CKPT_A_META_ALTSTACK_FLAGS))
            }
            func optional64(_ a: Int) -> UInt64? { t.has(a) ? u64(a) : nil }
            self = .regs(RegsMeta(tid: u32(CKPT_A_META_TID), sigmask: optional64(CKPT_A_META_SIGMASK), rseq: rseq,
                                  robustList: optional64(CKPT_A_META_ROBUST_LIST),
                                  clearChildTid: optional64(CKPT_A_META_CLEAR_CHILD_TID),
                                  sigpending: optional64(CKPT_A_META_SIGPENDING), altstack: altstack))
        case .mm:
            self = .mm(MMMeta(
                startCode: u64(CKPT_A_META_START_CODE), endCode: u64(CKPT_A_META_END_CODE),
                startData: u64(CKPT_A_META_START_DATA), endData: u64(CKPT_A_META_END_DATA),
                startBrk: u64(CKPT_A_META_START_BRK), brk: u64(CKPT_A_META_BRK),
                startStack: u64(CKPT_A_META_START_STACK), argStart: u64(CKPT_A_META_ARG_START),
                argEnd: u64(CKPT_A_META_ARG_END), envStart: u64(CKPT_A_META_ENV_START),
                envEnd: u64(CKPT_A_META_ENV_END),
                dumpable: t.has(CKPT_A_META_DUMPABLE) ? u32(CKPT_A_META_DUMPABLE) : nil))
        case .vma:
            self = .vma(VMAMeta(
                start: u64(CKPT_A_META_START), end: u64(CKPT_A_META_END), vmFlags: u64(CKPT_A_META_VM_FLAGS),
                pgoff: u64(CKPT_A_META_PGOFF), path: t.string(CKPT_A_META_PATH), identity: try identity()))
        case .pages:
            self = .pages(PagesMeta(addr: u64(CKPT_A_META_ADDR), nrPages: u32(CKPT_A_META_NR_PAGES)))
        case .parentPages:
            self = .parentPages(PagesMeta(addr: u64(CKPT_A_META_ADDR), nrPages: u32(CKPT_A_META_NR_PAGES)))
        case .file:
            self = .file(FileMeta(
                fd: u32(CKPT_A_META_FD), fFlags: u32(CKPT_A_META_F_FLAGS), pos: u64(CKPT_A_META_POS),
                path: t.string(CKPT_A_META_PATH), identity: try identity(),
                fileID: t.has(CKPT_A_META_FILE_ID) ? u64(CKPT_A_META_FILE_ID) : nil))
        case .trailer:
            self = .trailer(TrailerMeta(
                nrThreads: u32(CKPT_A_META_NR_THREADS), nrVMAs: u32(CKPT_A_META_NR_VMAS),
                nrPagesTotal: u64(CKPT_A_META_NR_PAGES_TOTAL), nrFiles: u32(CKPT_A_META_NR_FILES)))
        case .sigactions:
            self = .sigactions(SigactionsMeta(
                nrSigs: u32(CKPT_A_META_NR_SIGS),
                sharedPending: t.has(CKPT_A_META_SHARED_PENDING) ? u64(CKPT_A_META_SHARED_PENDING) : nil))
        case .xstate:
            self = .xstate(XStateMeta(xfeatures: u64(CKPT_A_META_XFEATURES)))
        case .rlimits:
            self = .rlimits(RlimitsMeta(nrRlimits: u32(CKPT_A_META_NR_RLIMITS)))
        case .pipe:
            self = .pipe(PipeMeta(size: u32(CKPT_A_META_PIPE_SIZE), bytes: u32(CKPT_A_META_PIPE_BYTES)))
        case .siginfo:
            self = .siginfo(SiginfoMeta(nrSiginfo: u32(CKPT_A_META_NR_SIGINFO), nrQueued: u32(CKPT_A_META_NR_QUEUED)))
        case .sharedSiginfo:
            self = .sharedSiginfo(SiginfoMeta(nrSiginfo: u32(CKPT_A_META_NR_SIGINFO), nrQueued: u32(CKPT_A_META_NR_QUEUED)))
        case .shmem:
            self = .shmem(ShmemMeta(inode: u64(CKPT_A_META_INO), size: u64(CKPT_A_META_SIZE),
                                    seals: t.has(CKPT_A_META_SEALS) ? u32(CKPT_A_META_SEALS) : nil))
        case .fdinfo:
            self = .fdinfo
        case .unix:
            self = .unix(UnixMeta(
                type: u32(CKPT_A_META_SOCK_TYPE), state: u32(CKPT_A_META_SOCK_STATE),
                flags: u32(CKPT_A_META_SOCK_FLAGS), peerInode: u64(CKPT_A_META_PEER_INO),
                shutdown: u32(CKPT_A_META_SOCK_SHUTDOWN), bytes: u64(CKPT_A_META_SOCK_BYTES),
                sndbuf: u32(CKPT_A_META_SNDBUF), rcvbuf: u32(CKPT_A_META_RCVBUF),
                address: try address(CKPT_A_META_SOCK_ADDR, UnixAddress.init, longest: MemoryLayout<sockaddr_un>.size),
                peerAddress: try address(CKPT_A_META_SOCK_PEER_ADDR, UnixAddress.init, longest: MemoryLayout<sockaddr_un>.size),
                backlog: t.has(CKPT_A_META_SOCK_BACKLOG) ? u32(CKPT_A_META_SOCK_BACKLOG) : nil,
                queued: t.has(CKPT_A_META_SOCK_QUEUED) ? u32(CKPT_A_META_SOCK_QUEUED) : nil))
        case .inet:
            self = .inet(InetMeta(
                family: u32(CKPT_A_META_SOCK_FAMILY), type: u32(CKPT_A_META_SOCK_TYPE),
                proto: u32(CKPT_A_META_SOCK_PROTOCOL), state: u32(CKPT_A_META_SOCK_STATE),
                flags: u32(CKPT_A_META_SOCK_FLAGS), shutdown: u32(CKPT_A_META_SOCK_SHUTDOWN),
                backlog: u32(CKPT_A_META_SOCK_BACKLOG), queued: u32(CKPT_A_META_SOCK_QUEUED),
                sndbuf: u32(CKPT_A_META_SNDBUF), rcvbuf: u32(CKPT_A_META_RCVBUF),
                address: try address(CKPT_A_META_SOCK_ADDR, SocketAddress.init, longest: MemoryLayout<sockaddr_in6>.size),
                peer: try address(CKPT_A_META_SOCK_PEER_ADDR, SocketAddress.init, longest: MemoryLayout<sockaddr_in6>.size)))
        }
    }

    /// Appends the meta fields as attributes (the nest's payload, without the nest header)
    /// in `CKPT_A_META_*` order.
    ///
    /// - Parameter padded: insert `CKPT_A_META_PAD` before u64s that would not be 8-aligned,
    ///   as the kernel does in stream messages. Requests to the kernel (restart-record) must
    ///   use `false`: the kernel's strict policy rejects pad attributes.
    ///
    /// The payload bytes feed the stream checksum; `MessageEncoder` always starts the
    /// payload at an 8-aligned offset, so a payload encoded on its own at offset 0 of a
    /// buffer (`encodedPayload`) is byte-identical to the one in the message.
    static func encode(_ id: FileIdentity, into b: MessageBuffer, pad: Int?) {
        b.appendU64(Int(CKPT_A_META_INO), id.inode, padType: pad)
        b.appendU32(Int(CKPT_A_META_DEV), id.device)
        b.appendU64(Int(CKPT_A_META_SIZE), id.size, padType: pad)
        b.appendU64(Int(CKPT_A_META_MTIME_NS), id.mtimeNs, padType: pad)
    }

    public func encode(into b: MessageBuffer, padded: Bool) {
        let pad: Int? = padded ? Int(CKPT_A_META_PAD) : nil
        switch self {
        case let .header(m):
            b.appendString(Int(CKPT_A_META_ARCH), m.arch)
            b.appendU32(Int(CKPT_A_META_PAGE_SIZE), m.pageSize)
            b.appendString(Int(CKPT_A_META_RELEASE), m.release)
            b.appendU64(Int(CKPT_A_META_TIME_NS), m.timeNs, padType: pad)
            if let crid = m.parentCrid { b.appendU64(Int(CKPT_A_META_PARENT_CRID), crid, padType: pad) }
            if m.checkpointFlags != 0 { b.appendU32(Int(CKPT_A_META_CHECKPOINT_FLAGS), m.checkpointFlags) }
        case let .task(m):
            b.appendU32(Int(CKPT_A_META_PID), m.pid)
            b.appendU32(Int(CKPT_A_META_TGID), m.tgid)
            b.appendU32(Int(CKPT_A_META_PPID), m.ppid)
            b.appendString(Int(CKPT_A_META_COMM), m.comm)
            b.appendU32(Int(CKPT_A_META_UID), m.uid)
            b.appendU32(Int(CKPT_A_META_GID), m.gid)
            b.appendU32(Int(CKPT_A_META_EUID), m.euid)
            b.appendU32(Int(CKPT_A_META_EGID), m.egid)
            if let cwd = m.cwd { b.appendString(Int(CKPT_A_META_CWD), cwd) }
            if let umask = m.umask { b.appendU32(Int(CKPT_A_META_UMASK), umask) }
            if let p = m.personality { b.appendU32(Int(CKPT_A_META_PERSONALITY), p) }
            if let root = m.root { b.appendString(Int(CKPT_A_META_ROOT), root) }
            if let pgid = m.pgid { b.appendU32(Int(CKPT_A_META_PGID), pgid) }
            if let sid = m.sid { b.appendU32(Int(CKPT_A_META_SID), sid) }
            if let status = m.exitStatus { b.appendU32(Int(CKPT_A_META_EXIT_STATUS), status) }
        case let .regs(m):
            b.appendU32(Int(CKPT_A_META_TID), m.tid)
            if let mask = m.sigmask { b.appendU64(Int(CKPT_A_META_SIGMASK), mask, padType: pad) }
            if let r = m.rseq {
                b.appendU64(Int(CKPT_A_META_RSEQ), r.address, padType: pad)
                b.appendU32(Int(CKPT_A_META_RSEQ_LEN), r.length)
                b.appendU32(Int(CKPT_A_META_RSEQ_SIG), r.signature)
            }
            if let head = m.robustList { b.appendU64(Int(CKPT_A_META_ROBUST_LIST), head, padType: pad) }
            if let ctid = m.clearChildTid { b.appendU64(Int(CKPT_A_META_CLEAR_CHILD_TID), ctid, padType: pad) }
            if let p = m.sigpending { b.appendU64(Int(CKPT_A_META_SIGPENDING), p, padType: pad) }
            if let a = m.altstack {
                b.appendU64(Int(CKPT_A_META_ALTSTACK_SP), a.sp, padType: pad)
                b.appendU64(Int(CKPT_A_META_ALTSTACK_SIZE), a.size, padType: pad)
                b.appendU32(Int(CKPT_A_META_ALTSTACK_FLAGS), a.flags)
            }
        case let .mm(m):
            b.appendU64(Int(CKPT_A_META_START_CODE), m.startCode, padType: pad)
            b.appendU64(Int(CKPT_A_META_END_CODE), m.endCode, padType: pad)
            b.appendU64(Int(CKPT_A_META_START_DATA), m.startData, padType: pad)
            b.appendU64(Int(CKPT_A_META_END_DATA), m.endData, padType: pad)
            b.appendU64(Int(CKPT_A_META_START_BRK), m.startBrk, padType: pad)
            b.appendU64(Int(CKPT_A_META_BRK), m.brk, padType: pad)
            b.appendU64(Int(CKPT_A_META_START_STACK), m.startStack, padType: pad)
            b.appendU64(Int(CKPT_A_META_ARG_START), m.argStart, padType: pad)
            b.appendU64(Int(CKPT_A_META_ARG_END), m.argEnd, padType: pad)
            b.appendU64(Int(CKPT_A_META_ENV_START), m.envStart, padType: pad)
            b.appendU64(Int(CKPT_A_META_ENV_END), m.envEnd, padType: pad)
            if let d = m.dumpable { b.appendU32(Int(CKPT_A_META_DUMPABLE), d) }
        case let .vma(m):
            b.appendU64(Int(CKPT_A_META_START), m.start, padType: pad)
            b.appendU64(Int(CKPT_A_META_END), m.end, padType: pad)
            b.appendU64(Int(CKPT_A_META_VM_FLAGS), m.vmFlags, padType: pad)
            b.appendU64(Int(CKPT_A_META_PGOFF), m.pgoff, padType: pad)
            if let path = m.path { b.appendString(Int(CKPT_A_META_PATH), path) }
            if let id = m.identity { Self.encode(id, into: b, pad: pad) }
        case let .pages(m), let .parentPages(m):
            b.appendU64(Int(CKPT_A_META_ADDR), m.addr, padType: pad)
            b.appendU32(Int(CKPT_A_META_NR_PAGES), m.nrPages)
        case let .file(m):
            b.appendU32(Int(CKPT_A_META_FD), m.fd)
            b.appendU32(Int(CKPT_A_META_F_FLAGS), m.fFlags)
            b.appendU64(Int(CKPT_A_META_POS), m.pos, padType: pad)
            if let path = m.path { b.appendString(Int(CKPT_A_META_PATH), path) }
            if let id = m.identity { Self.encode(id, into: b, pad: pad) }
            if let fileID = m.fileID { b.appendU64(Int(CKPT_A_META_FILE_ID), fileID, padType: pad) }
        case let .trailer(m):
            b.appendU32(Int(CKPT_A_META_NR_THREADS), m.nrThreads)
            b.appendU32(Int(CKPT_A_META_NR_VMAS), m.nrVMAs)
            b.appendU64(Int(CKPT_A_META_NR_PAGES_TOTAL), m.nrPagesTotal, padType: pad)
            b.appendU32(Int(CKPT_A_META_NR_FILES), m.nrFiles)
        case let .sigactions(m):
            b.appendU32(Int(CKPT_A_META_NR_SIGS), m.nrSigs)
            if let p = m.sharedPending { b.appendU64(Int(CKPT_A_META_SHARED_PENDING), p, padType: pad) }
        case let .xstate(m):
            b.appendU64(Int(CKPT_A_META_XFEATURES), m.xfeatures, padType: pad)
        case let .rlimits(m):
            b.appendU32(Int(CKPT_A_META_NR_RLIMITS), m.nrRlimits)
        case let .pipe(m):
            b.appendU32(Int(CKPT_A_META_PIPE_SIZE), m.size)
            b.appendU32(Int(CKPT_A_META_PIPE_BYTES), m.bytes)
        case let .siginfo(m), let .sharedSiginfo(m):
            b.appendU32(Int(CKPT_A_META_NR_SIGINFO), m.nrSiginfo)
            b.appendU32(Int(CKPT_A_META_NR_QUEUED), m.nrQueued)
        case let .shmem(m):
            b.appendU64(Int(CKPT_A_META_INO), m.inode, padType: pad)
            b.appendU64(Int(CKPT_A_META_SIZE), m.size, padType: pad)
            if let seals = m.seals { b.appendU32(Int(CKPT_A_META_SEALS), seals) }
        case .fdinfo:
            break
        case let .unix(m):
            b.appendU32(Int(CKPT_A_META_SOCK_TYPE), m.type)
            b.appendU32(Int(CKPT_A_META_SOCK_STATE), m.state)
            b.appendU32(Int(CKPT_A_META_SOCK_FLAGS), m.flags)
            b.appendU64(Int(CKPT_A_META_PEER_INO), m.peerInode, padType: pad)
            b.appendU32(Int(CKPT_A_META_SOCK_SHUTDOWN), m.shutdown)
            b.appendU64(Int(CKPT_A_META_SOCK_BYTES), m.bytes, padType: pad)
            b.appendU32(Int(CKPT_A_META_SNDBUF), m.sndbuf)
            b.appendU32(Int(CKPT_A_META_RCVBUF), m.rcvbuf)
            if let a = m.address { a.bytes.withUnsafeBytes { b.appendAttribute(Int(CKPT_A_META_SOCK_ADDR), $0) } }
            if let p = m.peerAddress { p.bytes.withUnsafeBytes { b.appendAttribute(Int(CKPT_A_META_SOCK_PEER_ADDR), $0) } }
            if let backlog = m.backlog { b.appendU32(Int(CKPT_A_META_SOCK_BACKLOG), backlog) }
            if let queued = m.queued { b.appendU32(Int(CKPT_A_META_SOCK_QUEUED), queued) }
        case let .inet(m):
            b.appendU32(Int(CKPT_A_META_SOCK_TYPE), m.type)
            b.appendU32(Int(CKPT_A_META_SOCK_STATE), m.state)
            b.appendU32(Int(CKPT_A_META_SOCK_FLAGS), m.flags)
            b.appendU32(Int(CKPT_A_META_SOCK_SHUTDOWN), m.shutdown)
            b.appendU32(Int(CKPT_A_META_SNDBUF), m.sndbuf)
            b.appendU32(Int(CKPT_A_META_RCVBUF), m.rcvbuf)
            b.appendU32(Int(CKPT_A_META_SOCK_FAMILY), m.family)
            b.appendU32(Int(CKPT_A_META_SOCK_PROTOCOL), m.proto)
            if let a = m.address { a.bytes.withUnsafeBytes { b.appendAttribute(Int(CKPT_A_META_SOCK_ADDR), $0) } }
            if let p = m.peer { p.bytes.withUnsafeBytes { b.appendAttribute(Int(CKPT_A_META_SOCK_PEER_ADDR), $0) } }
            b.appendU32(Int(CKPT_A_META_SOCK_BACKLOG), m.backlog)
            b.appendU32(Int(CKPT_A_META_SOCK_QUEUED), m.queued)
        }
    }

    /// The payload on its own (allocates; for tests, the injector and replay).
    public func encodedPayload(padded: Bool = true) -> [UInt8] {
        let b = MessageBuffer(capacity: 512)
        encode(into: b, padded: padded)
        return Array(b.bytes)
    }
}
