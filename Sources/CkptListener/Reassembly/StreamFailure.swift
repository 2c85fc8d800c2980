import CCkptUAPI
import CkptProtocol

/// Why a stream failed: the rule it broke (or what happened to it), named so an operator can
/// find the spot. Every failure also carries the crid, the sequence number of the message
/// that revealed it and the record involved (`StreamFailure`).
public enum FailureRule: Equatable, Sendable, CustomStringConvertible {
    // Stream framing.
    /// `CKPT_CMD_STREAM_BEGIN` must carry seq 0.
    case beginNotAtSeqZero(seq: UInt32)
    /// A second begin for a crid already in flight (both are failed: which bytes belong to
    /// which is unknowable).
    case duplicateBegin
    /// A message for a stream that never began here (its begin was lost, or it started
    /// before this listener did).
    case unknownStream
    /// Sequence numbers must grow by one per message with no gap: a message was lost.
    case sequenceGap(expected: UInt32, got: UInt32)
    /// More streams in flight than `--max-streams`.
    case tooManyStreams(limit: Int)

    // Fragments.
    /// A fragment of another record arrived while a record's data was incomplete (the
    /// fragments of one record are consecutive).
    case recordInterleaved(openID: UInt32, received: UInt64, dataLength: UInt64)
    /// A later fragment disagrees with the first on type, parent or data-len.
    case fragmentMismatch(field: String)
    /// A fragment does not start where the previous one ended (the first must start at 0).
    case fragmentOffset(expected: UInt64, got: UInt64)
    /// A fragment's data runs past the record's data-len.
    case fragmentOverrun(offset: UInt64, count: Int, dataLength: UInt64)
    /// A fragment with no data for a record whose data is incomplete (no progress).
    case emptyFragment(offset: UInt64, dataLength: UInt64)
    /// Meta on a fragment other than the first, or no meta on the first.
    case metaPlacement(String)
    /// data-len above `CKPT_RECORD_DATA_MAX`.
    case recordTooLarge(dataLength: UInt64)
    /// A record type this listener does not know.
    case unknownRecordType(UInt32)

    // Records and the end.
    /// A record tree rule (`RecordTreeRules`).
    case nesting(RecordTreeViolation)
    /// The record's meta is malformed or contradicts its data (`RecordMeta`'s check).
    case meta(String)
    /// `CKPT_CMD_STREAM_END` while a record's data was incomplete.
    case endInsideRecord(id: UInt32, received: UInt64, dataLength: UInt64)
    /// The end message's records/bytes/checksum differ from what arrived.
    case summaryMismatch(sent: StreamSummary, received: StreamSummary)
    /// A message of the stream could not be decoded.
    case malformed(String)

    // Ends that are not a broken rule.
    /// The sender aborted (`CKPT_CMD_STREAM_ABORT`) with `enum ckpt_abort_reason` and a message.
    case aborted(reason: UInt32, message: String?)
    /// No message for longer than `--stream-timeout`.
    case abandoned(silentNs: UInt64)
    /// The image could not be written (disk full, permission, vanished directory...).
    case io(String)
    /// The listener was told to stop (SIGTERM/SIGINT) while the stream was in flight.
    case interrupted
    /// A `.partial` file found at start: a listener died while writing it.
    case leftover

    /// A short stable token, for stats, logs and tests: `sequence-gap`, `disk`, ...
    public var name: String {
        switch self {
        case .beginNotAtSeqZero: "begin-not-seq-0"
        case .duplicateBegin: "duplicate-begin"
        case .unknownStream: "unknown-stream"
        case .sequenceGap: "sequence-gap"
        case .tooManyStreams: "too-many-streams"
        case .recordInterleaved: "record-interleaved"
        case .fragmentMismatch: "fragment-mismatch"
        case .fragmentOffset: "fragment-offset"
        case .fragmentOverrun: "fragment-overrun"
        case .emptyFragment: "empty-fragment"
        case .metaPlacement: "meta-placement"
        case .recordTooLarge: "record-too-large"
        case .unknownRecordType: "unknown-record-type"
        case .nesting: "nesting"
        case .meta: "meta"
        case .endInsideRecord: "end-inside-record"
        case .summaryMismatch: "summary-mismatch"
        case .malformed: "malformed"
        case .aborted: "aborted"
        case .abandoned: "abandoned"
        case .io: "io"
        case .interrupted: "interrupted"
        case .leftover: "leftover"
        }
    }

    public var description: String {
        switch self {
        case let .beginNotAtSeqZero(seq): "begin: stream begin carries seq \(seq), must be 0"
        case .duplicateBegin: "begin: a second begin for a stream already in flight"
        case .unknownStream: "sequence: message for a stream that never began here (its begin was lost or predates the listener)"
        case let .sequenceGap(expected, got): "sequence: gap, expected seq \(expected), got \(got) (messages were lost)"
        case let .tooManyStreams(limit): "limit: more than \(limit) streams in flight (--max-streams)"
        case let .recordInterleaved(openID, received, dataLength):
            "fragments: record \(openID) has \(received) of \(dataLength) data bytes; its fragments must be consecutive"
        case let .fragmentMismatch(field): "fragments: \(field) differs from the record's first fragment"
        case let .fragmentOffset(expected, got): "fragments: data-offset \(got), expected \(expected)"
        case let .fragmentOverrun(offset, count, dataLength):
            "fragments: \(count) bytes at offset \(offset) run past data-len \(dataLength)"
        case let .emptyFragment(offset, dataLength):
            "fragments: fragment without data at offset \(offset) of data-len \(dataLength)"
        case let .metaPlacement(what): "fragments: \(what)"
        case let .recordTooLarge(dataLength): "limit: data-len \(dataLength) exceeds \(CKPT_RECORD_DATA_MAX)"
        case let .unknownRecordType(type): "record: unknown record type \(type)"
        case let .nesting(violation): violation.description
        case let .meta(what): "meta: \(what)"
        case let .endInsideRecord(id, received, dataLength):
            "end: stream ended inside record \(id) (\(received) of \(dataLength) data bytes)"
        case let .summaryMismatch(sent, received):
            // The checksum only when the counts agree: the listener's reassembler counts but
            // leaves the CRC to the image writer, which compares it only then.
            if sent.records == received.records, sent.bytes == received.bytes {
                "end: sender counted \(sent.records) records, \(sent.bytes) bytes, crc32c \(hex(sent.checksum)); "
                    + "received the same counts but crc32c \(hex(received.checksum))"
            } else {
                "end: sender counted \(sent.records) records, \(sent.bytes) bytes; "
                    + "received \(received.records) records, \(received.bytes) bytes"
            }
        case let .malformed(what): "decode: \(what)"
        case let .aborted(reason, message):
            "aborted by the sender: \(abortReasonName(reason))" + (message.map { ": \($0)" } ?? "")
        case let .abandoned(silentNs): "abandoned: no message for \(formatSeconds(silentNs)) (--stream-timeout)"
        case let .io(what): "io: \(what)"
        case .interrupted: "interrupted: the listener was stopped (SIGTERM/SIGINT) while the stream was in flight"
        case .leftover: "listener crashed or was killed mid-capture"
        }
    }
}

/// A failed stream: which, where, why.
public struct StreamFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public var crid: UInt64
    /// The message that revealed the failure (the last one seen for timeouts and interrupts).
    public var seq: UInt32?
    /// The record involved, if any (the record being received, or the one that broke a rule).
    public var recordID: UInt32?
    public var rule: FailureRule
    /// The socket reported ENOBUFS while this stream was in flight: the kernel dropped
    /// messages, some of which may have been this stream's.
    public var lossSuspected: Bool

    public init(crid: UInt64, seq: UInt32?, recordID: UInt32?, rule: FailureRule, lossSuspected: Bool = false) {
        self.crid = crid
        self.seq = seq
        self.recordID = recordID
        self.rule = rule
        self.lossSuspected = lossSuspected
    }

    public var description: String {
        var where_ = "crid \(crid)"
        if let seq { where_ += " seq \(seq)" }
        if let recordID { where_ += " record \(recordID)" }
        return "\(where_): \(rule)"
            + (lossSuspected ? " [the socket reported ENOBUFS while this stream was in flight: messages were dropped]" : "")
    }
}

/// The name of an `enum ckpt_abort_reason` value, e.g. `SINK_TIMEOUT`.
public func abortReasonName(_ reason: UInt32) -> String {
    switch reason {
    case CKPT_ABORT_REASON_SINK_GONE.rawValue: "SINK_GONE (the sink's socket closed)"
    case CKPT_ABORT_REASON_SINK_TIMEOUT.rawValue: "SINK_TIMEOUT (the sink did not drain in time)"
    case CKPT_ABORT_REASON_TASK_EXITED.rawValue: "TASK_EXITED (the task exited while being read)"
    case CKPT_ABORT_REASON_INTERRUPTED.rawValue: "INTERRUPTED (the requester was interrupted)"
    case CKPT_ABORT_REASON_FAULT.rawValue: "FAULT (reading the task failed)"
    case CKPT_ABORT_REASON_NOMEM.rawValue: "NOMEM (the kernel could not allocate)"
    case CKPT_ABORT_REASON_UNLOAD.rawValue: "UNLOAD (the module is being unloaded)"
    case CKPT_ABORT_REASON_EXEC.rawValue: "EXEC (the task called execve() during the checkpoint)"
    case CKPT_ABORT_REASON_REQUESTER_GONE.rawValue: "REQUESTER_GONE (the requester closed its socket)"
    default: "reason \(reason) (unknown)"
    }
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

func formatSeconds(_ ns: UInt64) -> String {
    let tenths = ns / 100_000_000
    return "\(tenths / 10).\(tenths % 10) s"
}
