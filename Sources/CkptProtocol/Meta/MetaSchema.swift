import CCkptUAPI

/// Which `CKPT_A_META_*` fields each record type requires and which it may carry; any
/// other field is `.unknownAttribute`. (The table of the UAPI header's `enum ckpt_record_type`.)
public enum MetaSchema {
    public static func required(_ type: RecordType) -> AttributeMask {
        switch type {
        case .header:
            AttributeMask(CKPT_A_META_ARCH, CKPT_A_META_PAGE_SIZE, CKPT_A_META_RELEASE, CKPT_A_META_TIME_NS)
        case .task:
            AttributeMask(
                CKPT_A_META_PID, CKPT_A_META_TGID, CKPT_A_META_PPID, CKPT_A_META_COMM, CKPT_A_META_UID,
                CKPT_A_META_GID, CKPT_A_META_EUID, CKPT_A_META_EGID)
        case .regs:
            AttributeMask(CKPT_A_META_TID)
        case .mm:
            AttributeMask(
                CKPT_A_META_START_CODE, CKPT_A_META_END_CODE, CKPT_A_META_START_DATA, CKPT_A_META_END_DATA,
                CKPT_A_META_START_BRK, CKPT_A_META_BRK, CKPT_A_META_START_STACK, CKPT_A_META_ARG_START,
                CKPT_A_META_ARG_END, CKPT_A_META_ENV_START, CKPT_A_META_ENV_END)
        case .vma:
            AttributeMask(CKPT_A_META_START, CKPT_A_META_END, CKPT_A_META_VM_FLAGS, CKPT_A_META_PGOFF)
        case .pages, .parentPages:
            AttributeMask(CKPT_A_META_ADDR, CKPT_A_META_NR_PAGES)
        case .file:
            AttributeMask(CKPT_A_META_FD, CKPT_A_META_F_FLAGS, CKPT_A_META_POS)
        case .trailer:
            AttributeMask(CKPT_A_META_NR_THREADS, CKPT_A_META_NR_VMAS, CKPT_A_META_NR_PAGES_TOTAL, CKPT_A_META_NR_FILES)
        case .sigactions:
            AttributeMask(CKPT_A_META_NR_SIGS)
        case .xstate:
            AttributeMask(CKPT_A_META_XFEATURES)
        case .rlimits:
            AttributeMask(CKPT_A_META_NR_RLIMITS)
        case .pipe:
            AttributeMask(CKPT_A_META_PIPE_SIZE, CKPT_A_META_PIPE_BYTES)
        case .siginfo, .sharedSiginfo:
            AttributeMask(CKPT_A_META_NR_SIGINFO, CKPT_A_META_NR_QUEUED)
        case .shmem:
            AttributeMask(CKPT_A_META_INO, CKPT_A_META_SIZE)
        case .fdinfo:
            AttributeMask()
        case .unix:
            AttributeMask(
                CKPT_A_META_SOCK_TYPE, CKPT_A_META_SOCK_STATE, CKPT_A_META_SOCK_FLAGS, CKPT_A_META_PEER_INO,
                CKPT_A_META_SOCK_SHUTDOWN, CKPT_A_META_SOCK_BYTES, CKPT_A_META_SNDBUF, CKPT_A_META_RCVBUF)
        case .inet:
            AttributeMask(
                CKPT_A_META_SOCK_FAMILY, CKPT_A_META_SOCK_TYPE, CKPT_A_META_SOCK_PROTOCOL, CKPT_A_META_SOCK_STATE,
                CKPT_A_META_SOCK_FLAGS, CKPT_A_META_SOCK_SHUTDOWN, CKPT_A_META_SOCK_BACKLOG, CKPT_A_META_SOCK_QUEUED,
                CKPT_A_META_SNDBUF, CKPT_A_META_RCVBUF)
        }
    }

    public static func optional(_ type: RecordType) -> AttributeMask {
        switch type {
        case .vma:
            AttributeMask(CKPT_A_META_PAD, CKPT_A_META_PATH, CKPT_A_META_INO, CKPT_A_META_DEV, CKPT_A_META_SIZE,
                          CKPT_A_META_MTIME_NS)
        case .file:
            // The open file's id since session 35.
            AttributeMask(CKPT_A_META_PAD, CKPT_A_META_PATH, CKPT_A_META_INO, CKPT_A_META_DEV, CKPT_A_META_SIZE,
                          CKPT_A_META_MTIME_NS, CKPT_A_META_FILE_ID)
        case .task:
            // Absent in images of older modules.
            AttributeMask(CKPT_A_META_PAD, CKPT_A_META_CWD, CKPT_A_META_UMASK, CKPT_A_META_PERSONALITY,
                          CKPT_A_META_ROOT, CKPT_A_META_PGID, CKPT_A_META_SID, CKPT_A_META_EXIT_STATUS)
        case .regs:
            // Absent in images of older modules.
            AttributeMask(CKPT_A_META_PAD, CKPT_A_META_SIGMASK, CKPT_A_META_RSEQ, CKPT_A_META_RSEQ_LEN,
                          CKPT_A_META_RSEQ_SIG, CKPT_A_META_ROBUST_LIST, CKPT_A_META_CLEAR_CHILD_TID,
                          CKPT_A_META_SIGPENDING, CKPT_A_META_ALTSTACK_SP, CKPT_A_META_ALTSTACK_SIZE,
                          CKPT_A_META_ALTSTACK_FLAGS)
        case .sigactions:
            // Absent in images of older modules.
            AttributeMask(CKPT_A_META_PAD, CKPT_A_META_SHARED_PENDING)
        case .mm:
            // Absent in images of older modules.
            AttributeMask(CKPT_A_META_PAD, CKPT_A_META_DUMPABLE)
        case .header:
            // Only in pre-copies and the checkpoints built on them.
            AttributeMask(CKPT_A_META_PAD, CKPT_A_META_PARENT_CRID, CKPT_A_META_CHECKPOINT_FLAGS)
        case .shmem:
            // Tmpfs memory's seals; absent in images of older modules.
            AttributeMask(CKPT_A_META_PAD, CKPT_A_META_SEALS)
        case .inet:
            // Absent while the socket has no local port, or no peer.
            AttributeMask(CKPT_A_META_PAD, CKPT_A_META_SOCK_ADDR, CKPT_A_META_SOCK_PEER_ADDR)
        case .unix:
            // The names while bound, the backlog and queue while listening; absent in images
            // of older modules.
            AttributeMask(CKPT_A_META_PAD, CKPT_A_META_SOCK_ADDR, CKPT_A_META_SOCK_PEER_ADDR, CKPT_A_META_SOCK_BACKLOG,
                          CKPT_A_META_SOCK_QUEUED)
        default: AttributeMask(CKPT_A_META_PAD)
        }
    }

    /// Checks a `CKPT_A_META` payload for a record of `type`: framing, flags (no nests
    /// inside), sizes, strings, no duplicates, the type's required fields present and no
    /// others, and ranges (`nr-pages` 1 ... `CKPT_PAGES_RUN_MAX`, `page-size` a power of two).
    /// `offset` is the datagram offset of the `CKPT_A_META` attribute header; the payload
    /// starts 4 bytes after it. No allocation.
    ///
    /// `allowPad`: `CKPT_A_META_PAD` is allowed in kernel-sent stream messages; requests
    /// (restart-record) must not carry it: the kernel's strict policy rejects it.
    public static func validate(
        _ type: RecordType, payload: UnsafeRawBufferPointer, offset: Int, allowPad: Bool = true
    ) throws(ProtocolError) -> AttributeTable {
        var table = AttributeTable()
        var allowed = required(type).union(optional(type))
        if !allowPad { allowed = allowed.subtracting(AttributeMask(CKPT_A_META_PAD)) }
        try table.parse(
            payload, baseOffset: offset + NetlinkLayout.attributeHeaderSize, container: "CKPT_A_META",
            schema: AttributeSchema.meta, allowed: allowed, depth: 1)
        try table.require(required(type), schema: AttributeSchema.meta, offset: offset)
        switch type {
        case .pages, .parentPages:
            let n = table.u32(Int(CKPT_A_META_NR_PAGES))
            if n < 1 || n > UInt32(CKPT_PAGES_RUN_MAX) {
                throw ProtocolError(.valueOutOfRange, field: "CKPT_A_META_NR_PAGES",
                                    offset: table.offset(Int(CKPT_A_META_NR_PAGES)),
                                    value: UInt64(n), limit: UInt64(CKPT_PAGES_RUN_MAX))
            }
        case .header:
            let size = table.u32(Int(CKPT_A_META_PAGE_SIZE))
            if size == 0 || size & (size - 1) != 0 {
                throw ProtocolError(.valueOutOfRange, field: "CKPT_A_META_PAGE_SIZE",
                                    offset: table.offset(Int(CKPT_A_META_PAGE_SIZE)), value: UInt64(size))
            }
        default:
            break
        }
        return table
    }

    /// Appends `payload` (a `CKPT_A_META` payload) to `b` without its `CKPT_A_META_PAD`
    /// attributes: what replay sends in restart-record, whose strict kernel policy rejects
    /// pad attributes. The result is a different byte string, so the restart checksum
    /// (`StreamSummaryBuilder`) must be fed the stripped bytes, not the image's.
    /// Returns the range appended. Framing is checked; no allocation once `b` is warm.
    @discardableResult
    public static func appendStrippingPads(_ payload: UnsafeRawBufferPointer, into b: MessageBuffer) throws(ProtocolError) -> Range<Int> {
        let start = b.count
        var reader = NetlinkAttributeReader(payload, baseOffset: 0, container: "CKPT_A_META")
        while let a = try reader.next() {
            if a.type == UInt16(CKPT_A_META_PAD), a.flags == 0 { continue }
            b.appendAttribute(Int(a.type), flags: a.flags, a.value)
        }
        return start..<b.count
    }
}
