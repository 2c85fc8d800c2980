/// One fragment of one record, as a `CKPT_CMD_RECORD` message (or `CKPT_CMD_RESTART_RECORD`)
/// carries it. See "Fragments" in the UAPI header's protocol comment.
///
/// Zero-copy: `meta` and `data` point into the buffer the datagram was received into.
/// They are valid only while that buffer is; a consumer that keeps bytes past the
/// callback must keep the buffer (the listener's pool does) or copy.
public struct RecordFragment {
    /// The stream (`CKPT_A_CRID`); for restart messages, the session id (`CKPT_A_RSID`).
    public var crid: UInt64
    public var seq: UInt32
    public var type: RecordType
    public var id: UInt32
    /// 0 for a root record.
    public var parent: UInt32
    /// Total data bytes of the record, the same in every fragment.
    public var dataLength: UInt64
    /// Where `data` goes within the record's data.
    public var dataOffset: UInt64
    /// Payload of `CKPT_A_META` (a sequence of `CKPT_A_META_*` attributes), first fragment only.
    public var meta: UnsafeRawBufferPointer?
    /// This fragment's data; empty when the message has no `CKPT_A_DATA`.
    public var data: UnsafeRawBufferPointer
    /// `CKPT_A_DATA_CHECKSUM`: the sender's CRC-32C of `data`, in a fragment with data from a
    /// sender that sends it (the kernel module since it was added; never in restart).
    public var dataChecksum: UInt32?

    public init(
        crid: UInt64, seq: UInt32, type: RecordType, id: UInt32, parent: UInt32,
        dataLength: UInt64, dataOffset: UInt64, meta: UnsafeRawBufferPointer?, data: UnsafeRawBufferPointer,
        dataChecksum: UInt32? = nil
    ) {
        self.crid = crid
        self.seq = seq
        self.type = type
        self.id = id
        self.parent = parent
        self.dataLength = dataLength
        self.dataOffset = dataOffset
        self.meta = meta
        self.data = data
        self.dataChecksum = dataChecksum
    }

    /// True for the first fragment of a record (the one that carries `meta`).
    public var isFirst: Bool { dataOffset == 0 }
    /// True when this fragment completes the record's data.
    public var isLast: Bool { dataOffset + UInt64(data.count) == dataLength }
}

/// What a capture stream says, message by message (kernel -> sink, or injector -> listener).
public enum StreamEvent {
    /// `CKPT_CMD_STREAM_BEGIN`: a new stream, seq 0.
    case begin(crid: UInt64, seq: UInt32, pid: UInt32)
    /// `CKPT_CMD_RECORD`: one fragment.
    case record(RecordFragment)
    /// `CKPT_CMD_STREAM_END`: the sender's totals, to compare with what arrived.
    case end(crid: UInt64, seq: UInt32, summary: StreamSummary)
    /// `CKPT_CMD_STREAM_ABORT`: the sender gave up; `reason` is an `enum ckpt_abort_reason` value.
    case abort(crid: UInt64, seq: UInt32, reason: UInt32, message: String?)

    public var crid: UInt64 {
        switch self {
        case let .begin(crid, _, _), let .end(crid, _, _), let .abort(crid, _, _, _): crid
        case let .record(fragment): fragment.crid
        }
    }

    public var seq: UInt32 {
        switch self {
        case let .begin(_, seq, _), let .end(_, seq, _), let .abort(_, seq, _, _): seq
        case let .record(fragment): fragment.seq
        }
    }
}

/// A stream's totals: record count, bytes (meta payload + data of every record) and the
/// CRC-32C of those bytes in order (`CKPT_A_RECORDS`, `CKPT_A_BYTES`, `CKPT_A_CHECKSUM`).
public struct StreamSummary: Equatable, Sendable, BitwiseCopyable {
    public var records: UInt64
    public var bytes: UInt64
    public var checksum: UInt32

    public init(records: UInt64, bytes: UInt64, checksum: UInt32) {
        self.records = records
        self.bytes = bytes
        self.checksum = checksum
    }
}

/// Accumulates a `StreamSummary` from records as they pass: feed each record's meta
/// payload once and its data fragments in order. Sender and receiver both use it, so the
/// definition of the checksum lives in one place.
public struct StreamSummaryBuilder: Sendable {
    private var crc = CRC32C()
    public private(set) var records: UInt64 = 0
    public private(set) var bytes: UInt64 = 0
    /// False: count records and bytes only, `summary.checksum` stays 0. For a receiver
    /// whose image writer checksums the same bytes anyway (one pass over the data, not two).
    public let checksumming: Bool

    public init(checksumming: Bool = true) {
        self.checksumming = checksumming
    }

    /// A new record begins; `meta` is its `CKPT_A_META` payload (may be empty).
    public mutating func beginRecord(meta: UnsafeRawBufferPointer) {
        records += 1
        bytes += UInt64(meta.count)
        if checksumming { crc.update(meta) }
    }

    /// The next slice of the current record's data.
    public mutating func data(_ bytes: UnsafeRawBufferPointer) {
        self.bytes += UInt64(bytes.count)
        if checksumming { crc.update(bytes) }
    }

    /// The same, for `count` bytes whose CRC-32C the caller already computed (`crc`): they
    /// are not read again.
    public mutating func data(count: Int, crc partCRC: UInt32) {
        bytes += UInt64(count)
        if checksumming { crc.append(crc: partCRC, length: count) }
    }

    public var summary: StreamSummary { StreamSummary(records: records, bytes: bytes, checksum: crc.value) }
}
