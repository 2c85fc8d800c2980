import CCkptUAPI

/// How an attribute's value is encoded (the YNL spec's `type:`).
public enum AttributeKind: Sendable {
    /// `pad`: alignment filler for the next u64 (`nla_put_u64_64bit`); empty value, skipped.
    case pad
    case u32
    case u64
    /// NUL-terminated (`NLA_NUL_STRING`); `maxLength` counts bytes before the NUL.
    case string(maxLength: Int)
    case binary
    /// A nest of attributes of another set; sent with `NLA_F_NESTED`.
    case nest
}

/// Name and value kind of one attribute type in one attribute set.
public struct AttributeSpec: Sendable {
    public var name: StaticString
    public var kind: AttributeKind
}

/// The three attribute sets of the ckpt family (`ckpt`, `meta`, `stats` in the YNL spec),
/// as lookup tables indexed by attribute type. Every number comes from the UAPI header;
/// this file only attaches names (for errors) and value kinds (for size checks).
public enum AttributeSchema {
    /// Bytes of a comm before its NUL (`TASK_COMM_LEN - 1`, per the spec's doc).
    public static let commMax = 15
    /// Bytes of a uname field (`__NEW_UTS_LEN`).
    public static let utsMax = 64
    /// Bytes of a path before its NUL (`PATH_MAX - 1`).
    public static let pathMax = 4095
    /// Bytes of an abort's message before its NUL.
    public static let messageMax = 1024

    /// `enum ckpt` attributes, index = type.
    public static let top: [AttributeSpec?] = table(Int(CKPT_A_MAX), [
        (CKPT_A_PAD, "CKPT_A_PAD", .pad),
        (CKPT_A_PID, "CKPT_A_PID", .u32),
        (CKPT_A_CHECKPOINT_FLAGS, "CKPT_A_CHECKPOINT_FLAGS", .u32),
        (CKPT_A_RESTART_FLAGS, "CKPT_A_RESTART_FLAGS", .u32),
        (CKPT_A_TIMEOUT_MS, "CKPT_A_TIMEOUT_MS", .u32),
        (CKPT_A_CRID, "CKPT_A_CRID", .u64),
        (CKPT_A_SEQ, "CKPT_A_SEQ", .u32),
        (CKPT_A_REC_TYPE, "CKPT_A_REC_TYPE", .u32),
        (CKPT_A_REC_ID, "CKPT_A_REC_ID", .u32),
        (CKPT_A_REC_PARENT, "CKPT_A_REC_PARENT", .u32),
        (CKPT_A_DATA_LEN, "CKPT_A_DATA_LEN", .u64),
        (CKPT_A_DATA_OFFSET, "CKPT_A_DATA_OFFSET", .u64),
        (CKPT_A_META, "CKPT_A_META", .nest),
        (CKPT_A_DATA, "CKPT_A_DATA", .binary),
        (CKPT_A_RECORDS, "CKPT_A_RECORDS", .u64),
        (CKPT_A_BYTES, "CKPT_A_BYTES", .u64),
        (CKPT_A_CHECKSUM, "CKPT_A_CHECKSUM", .u32),
        (CKPT_A_REASON, "CKPT_A_REASON", .u32),
        (CKPT_A_MESSAGE, "CKPT_A_MESSAGE", .string(maxLength: messageMax)),
        (CKPT_A_RSID, "CKPT_A_RSID", .u32),
        (CKPT_A_STATS, "CKPT_A_STATS", .nest),
        (CKPT_A_ERROR, "CKPT_A_ERROR", .u32),
        (CKPT_A_PARENT_CRID, "CKPT_A_PARENT_CRID", .u64),
        (CKPT_A_DIRTY_RANGES, "CKPT_A_DIRTY_RANGES", .binary),
        (CKPT_A_DATA_CHECKSUM, "CKPT_A_DATA_CHECKSUM", .u32),
        (CKPT_A_FROZEN_NS, "CKPT_A_FROZEN_NS", .u64),
        (CKPT_A_RESERVED_PAGES, "CKPT_A_RESERVED_PAGES", .u64),
    ])

    /// `enum ckpt_meta` attributes (inside `CKPT_A_META`), index = type.
    public static let meta: [AttributeSpec?] = table(Int(CKPT_A_META_MAX), [
        (CKPT_A_META_PAD, "CKPT_A_META_PAD", .pad),
        (CKPT_A_META_ARCH, "CKPT_A_META_ARCH", .string(maxLength: utsMax)),
        (CKPT_A_META_PAGE_SIZE, "CKPT_A_META_PAGE_SIZE", .u32),
        (CKPT_A_META_RELEASE, "CKPT_A_META_RELEASE", .string(maxLength: utsMax)),
        (CKPT_A_META_TIME_NS, "CKPT_A_META_TIME_NS", .u64),
        (CKPT_A_META_PID, "CKPT_A_META_PID", .u32),
        (CKPT_A_META_TGID, "CKPT_A_META_TGID", .u32),
        (CKPT_A_META_PPID, "CKPT_A_META_PPID", .u32),
        (CKPT_A_META_COMM, "CKPT_A_META_COMM", .string(maxLength: commMax)),
        (CKPT_A_META_UID, "CKPT_A_META_UID", .u32),
        (CKPT_A_META_GID, "CKPT_A_META_GID", .u32),
        (CKPT_A_META_EUID, "CKPT_A_META_EUID", .u32),
        (CKPT_A_META_EGID, "CKPT_A_META_EGID", .u32),
        (CKPT_A_META_TID, "CKPT_A_META_TID", .u32),
        (CKPT_A_META_START_CODE, "CKPT_A_META_START_CODE", .u64),
        (CKPT_A_META_END_CODE, "CKPT_A_META_END_CODE", .u64),
        (CKPT_A_META_START_DATA, "CKPT_A_META_START_DATA", .u64),
        (CKPT_A_META_END_DATA, "CKPT_A_META_END_DATA", .u64),
        (CKPT_A_META_START_BRK, "CKPT_A_META_START_BRK", .u64),
        (CKPT_A_META_BRK, "CKPT_A_META_BRK", .u64),
        (CKPT_A_META_START_STACK, "CKPT_A_META_START_STACK", .u64),
        (CKPT_A_META_ARG_START, "CKPT_A_META_ARG_START", .u64),
        (CKPT_A_META_ARG_END, "CKPT_A_META_ARG_END", .u64),
        (CKPT_A_META_ENV_START, "CKPT_A_META_ENV_START", .u64),
        (CKPT_A_META_ENV_END, "CKPT_A_META_ENV_END", .u64),
        (CKPT_A_META_START, "CKPT_A_META_START", .u64),
        (CKPT_A_META_END, "CKPT_A_META_END", .u64),
        (CKPT_A_META_VM_FLAGS, "CKPT_A_META_VM_FLAGS", .u64),
        (CKPT_A_META_PGOFF, "CKPT_A_META_PGOFF", .u64),
        (CKPT_A_META_PATH, "CKPT_A_META_PATH", .string(maxLength: pathMax)),
        (CKPT_A_META_ADDR, "CKPT_A_META_ADDR", .u64),
        (CKPT_A_META_NR_PAGES, "CKPT_A_META_NR_PAGES", .u32),
        (CKPT_A_META_FD, "CKPT_A_META_FD", .u32),
        (CKPT_A_META_F_FLAGS, "CKPT_A_META_F_FLAGS", .u32),
        (CKPT_A_META_POS, "CKPT_A_META_POS", .u64),
        (CKPT_A_META_NR_THREADS, "CKPT_A_META_NR_THREADS", .u32),
        (CKPT_A_META_NR_VMAS, "CKPT_A_META_NR_VMAS", .u32),
        (CKPT_A_META_NR_PAGES_TOTAL, "CKPT_A_META_NR_PAGES_TOTAL", .u64),
        (CKPT_A_META_NR_FILES, "CKPT_A_META_NR_FILES", .u32),
        (CKPT_A_META_INO, "CKPT_A_META_INO", .u64),
        (CKPT_A_META_DEV, "CKPT_A_META_DEV", .u32),
        (CKPT_A_META_SIZE, "CKPT_A_META_SIZE", .u64),
        (CKPT_A_META_MTIME_NS, "CKPT_A_META_MTIME_NS", .u64),
        (CKPT_A_META_SIGMASK, "CKPT_A_META_SIGMASK", .u64),
        (CKPT_A_META_NR_SIGS, "CKPT_A_META_NR_SIGS", .u32),
        (CKPT_A_META_XFEATURES, "CKPT_A_META_XFEATURES", .u64),
        (CKPT_A_META_RSEQ, "CKPT_A_META_RSEQ", .u64),
        (CKPT_A_META_RSEQ_LEN, "CKPT_A_META_RSEQ_LEN", .u32),
        (CKPT_A_META_RSEQ_SIG, "CKPT_A_META_RSEQ_SIG", .u32),
        (CKPT_A_META_ROBUST_LIST, "CKPT_A_META_ROBUST_LIST", .u64),
        (CKPT_A_META_CLEAR_CHILD_TID, "CKPT_A_META_CLEAR_CHILD_TID", .u64),
        (CKPT_A_META_CWD, "CKPT_A_META_CWD", .string(maxLength: pathMax)),
        (CKPT_A_META_UMASK, "CKPT_A_META_UMASK", .u32),
        (CKPT_A_META_SHARED_PENDING, "CKPT_A_META_SHARED_PENDING", .u64),
        (CKPT_A_META_SIGPENDING, "CKPT_A_META_SIGPENDING", .u64),
        (CKPT_A_META_ALTSTACK_SP, "CKPT_A_META_ALTSTACK_SP", .u64),
        (CKPT_A_META_ALTSTACK_SIZE, "CKPT_A_META_ALTSTACK_SIZE", .u64),
        (CKPT_A_META_ALTSTACK_FLAGS, "CKPT_A_META_ALTSTACK_FLAGS", .u32),
        (CKPT_A_META_NR_RLIMITS, "CKPT_A_META_NR_RLIMITS", .u32),
        (CKPT_A_META_PIPE_SIZE, "CKPT_A_META_PIPE_SIZE", .u32),
        (CKPT_A_META_PIPE_BYTES, "CKPT_A_META_PIPE_BYTES", .u32),
        (CKPT_A_META_NR_SIGINFO, "CKPT_A_META_NR_SIGINFO", .u32),
        (CKPT_A_META_NR_QUEUED, "CKPT_A_META_NR_QUEUED", .u32),
        (CKPT_A_META_PERSONALITY, "CKPT_A_META_PERSONALITY", .u32),
        (CKPT_A_META_ROOT, "CKPT_A_META_ROOT", .string(maxLength: pathMax)),
        (CKPT_A_META_SOCK_TYPE, "CKPT_A_META_SOCK_TYPE", .u32),
        (CKPT_A_META_SOCK_STATE, "CKPT_A_META_SOCK_STATE", .u32),
        (CKPT_A_META_SOCK_FLAGS, "CKPT_A_META_SOCK_FLAGS", .u32),
        (CKPT_A_META_PEER_INO, "CKPT_A_META_PEER_INO", .u64),
        (CKPT_A_META_SOCK_SHUTDOWN, "CKPT_A_META_SOCK_SHUTDOWN", .u32),
        (CKPT_A_META_SOCK_BYTES, "CKPT_A_META_SOCK_BYTES", .u64),
        (CKPT_A_META_SNDBUF, "CKPT_A_META_SNDBUF", .u32),
        (CKPT_A_META_RCVBUF, "CKPT_A_META_RCVBUF", .u32),
        (CKPT_A_META_PARENT_CRID, "CKPT_A_META_PARENT_CRID", .u64),
        (CKPT_A_META_CHECKPOINT_FLAGS, "CKPT_A_META_CHECKPOINT_FLAGS", .u32),
        (CKPT_A_META_DUMPABLE, "CKPT_A_META_DUMPABLE", .u32),
        (CKPT_A_META_SOCK_FAMILY, "CKPT_A_META_SOCK_FAMILY", .u32),
        (CKPT_A_META_SOCK_PROTOCOL, "CKPT_A_META_SOCK_PROTOCOL", .u32),
        (CKPT_A_META_SOCK_ADDR, "CKPT_A_META_SOCK_ADDR", .binary),
        (CKPT_A_META_SOCK_PEER_ADDR, "CKPT_A_META_SOCK_PEER_ADDR", .binary),
        (CKPT_A_META_SOCK_BACKLOG, "CKPT_A_META_SOCK_BACKLOG", .u32),
        (CKPT_A_META_SOCK_QUEUED, "CKPT_A_META_SOCK_QUEUED", .u32),
        (CKPT_A_META_SEALS, "CKPT_A_META_SEALS", .u32),
        (CKPT_A_META_PGID, "CKPT_A_META_PGID", .u32),
        (CKPT_A_META_SID, "CKPT_A_META_SID", .u32),
        (CKPT_A_META_FILE_ID, "CKPT_A_META_FILE_ID", .u64),
        (CKPT_A_META_EXIT_STATUS, "CKPT_A_META_EXIT_STATUS", .u32),
    ])

    /// `enum ckpt_stats` attributes (inside `CKPT_A_STATS`), index = type.
    public static let stats: [AttributeSpec?] = table(Int(CKPT_A_STATS_MAX), [
        (CKPT_A_STATS_PAD, "CKPT_A_STATS_PAD", .pad),
        (CKPT_A_STATS_STREAMS, "CKPT_A_STATS_STREAMS", .u64),
        (CKPT_A_STATS_RECORDS, "CKPT_A_STATS_RECORDS", .u64),
        (CKPT_A_STATS_BYTES, "CKPT_A_STATS_BYTES", .u64),
        (CKPT_A_STATS_ABORTS, "CKPT_A_STATS_ABORTS", .u64),
        (CKPT_A_STATS_WAIT_NS, "CKPT_A_STATS_WAIT_NS", .u64),
        (CKPT_A_STATS_RESTARTS, "CKPT_A_STATS_RESTARTS", .u64),
        (CKPT_A_STATS_RESTART_REJECTS, "CKPT_A_STATS_RESTART_REJECTS", .u64),
        (CKPT_A_STATS_FRAG_PAGES_NEW, "CKPT_A_STATS_FRAG_PAGES_NEW", .u64),
        (CKPT_A_STATS_FRAG_PAGES_REUSED, "CKPT_A_STATS_FRAG_PAGES_REUSED", .u64),
        (CKPT_A_STATS_HELD_BYTES, "CKPT_A_STATS_HELD_BYTES", .u64),
        (CKPT_A_STATS_HOLD_RESERVED_PAGES, "CKPT_A_STATS_HOLD_RESERVED_PAGES", .u64),
    ])

    /// Name of a top-level attribute type for messages ("CKPT_A_CRID"), or "attribute N".
    public static func topName(_ type: UInt16) -> String { name(top, type) }
    public static func metaName(_ type: UInt16) -> String { name(meta, type) }

    static func name(_ table: [AttributeSpec?], _ type: UInt16) -> String {
        if Int(type) < table.count, let spec = table[Int(type)] { return "\(spec.name)" }
        return "attribute \(type)"
    }

    private static func table(_ max: Int, _ entries: [(Int, StaticString, AttributeKind)]) -> [AttributeSpec?] {
        var t = [AttributeSpec?](repeating: nil, count: max + 1)
        for (type, name, kind) in entries {
            precondition(t[type] == nil, "attribute \(type) listed twice")
            t[type] = AttributeSpec(name: name, kind: kind)
        }
        precondition(t.dropFirst().allSatisfy { $0 != nil }, "an attribute of the UAPI header has no spec here")
        return t
    }
}

/// A set of attribute types as a bit mask (types of every ckpt set are below 128).
public struct AttributeMask: Equatable, Sendable {
    public static let capacity = 128
    public var bits: UInt128

    public init(bits: UInt128 = 0) { self.bits = bits }
    public init(_ types: Int...) {
        bits = 0
        for t in types {
            precondition(t >= 0 && t < Self.capacity, "attribute \(t) is beyond AttributeMask")
            bits |= 1 << UInt128(t)
        }
    }

    @inlinable public func contains(_ type: UInt16) -> Bool { type < 128 && bits & (1 << UInt128(type)) != 0 }
    @inlinable public mutating func insert(_ type: UInt16) { bits |= 1 << UInt128(type) }
    public func union(_ other: AttributeMask) -> AttributeMask { AttributeMask(bits: bits | other.bits) }
    public func subtracting(_ other: AttributeMask) -> AttributeMask { AttributeMask(bits: bits & ~other.bits) }
    /// The lowest type in the mask, if any.
    public var first: UInt16? { bits == 0 ? nil : UInt16(bits.trailingZeroBitCount) }
}
