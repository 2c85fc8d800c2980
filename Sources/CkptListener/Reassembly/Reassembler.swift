import CCkptUAPI
import CkptProtocol

/// The start of a record, as its first fragment announces it. `meta` points into the
/// receive buffer of that fragment.
///
/// `@unchecked Sendable`, sound because `meta` points into a pool buffer that the listener
/// retains for the op carrying it and nothing writes until the writer has released it.
public struct RecordHead: @unchecked Sendable, BitwiseCopyable {
    public var type: RecordType
    public var id: UInt32
    public var parent: UInt32
    public var meta: UnsafeRawBufferPointer
    public var dataLength: UInt64
}

/// One fragment's worth of image writing: optionally begin a record, write `data` (may be
/// empty), optionally end the record. Pointers are into the receive buffer the fragment
/// arrived in; the listener keeps that buffer referenced until the write is done.
///
/// `@unchecked Sendable`, sound for the same reason as `RecordHead`: the buffer under `data`
/// stays retained and unwritten until the writer thread releases it.
public struct WriteOp: @unchecked Sendable, BitwiseCopyable {
    public var session: UInt64
    public var crid: UInt64
    public var head: RecordHead?
    public var data: UnsafeRawBufferPointer
    /// The sender's CRC-32C of `data` (`CKPT_A_DATA_CHECKSUM`), when it sent one.
    public var dataChecksum: UInt32? = nil
    public var endsRecord: Bool
}

/// What the reassembler asks the image writer to do for one stream message.
public enum ReassemblyAction {
    /// Nothing to write (a message of an already failed stream, counted and dropped).
    case none
    /// A new stream: create its image. `session` names this stream in every later action
    /// (crids repeat across reboots; sessions never repeat within one listener).
    case open(session: UInt64, crid: UInt64, pid: UInt32)
    case write(WriteOp)
    /// A verified end: finish and publish the image. `summary` is the sender's; with
    /// `Configuration.checksumData` off its checksum is not yet verified here and the image
    /// writer must compare it with its own before publishing (`seq`: the end message, for
    /// the failure if it differs).
    case complete(session: UInt64, crid: UInt64, summary: StreamSummary, seq: UInt32)
    /// The stream failed. `session` is nil when it never had an image here (its begin was
    /// never seen, or it was refused at begin).
    case fail(session: UInt64?, StreamFailure)
}

/// Reassembles interleaved capture streams into per-stream record writes, enforcing every
/// rule of the protocol, as a pure state machine: no sockets, no files, no clock (time is a
/// parameter), so each rule is tested without I/O.
///
/// Streams are demultiplexed by crid; each holds O(depth) state (no record data: fragments
/// are written as they arrive, so a stream that goes quiet holds no receive buffer and cannot
/// starve the others). A stream that breaks a rule is failed, with the rule, crid, seq and
/// record, and forgotten; its crid is remembered (boundedly) so its remaining messages are
/// dropped quietly instead of each being reported as an unknown stream. Other streams carry on.
///
/// Per message: at most one hash lookup and O(1) work plus the checksum of the bytes (O(n)).
public struct Reassembler {
    public struct Configuration: Sendable {
        /// Streams in flight at once; a begin beyond it is refused (`tooManyStreams`).
        public var maxStreams: Int
        /// A stream silent for longer is failed as abandoned.
        public var streamTimeoutNs: UInt64
        /// Decode each record's meta and check it against its data-len and the stream's
        /// header (`RecordDataRules`: pages data-len = nr-pages x page-size, alignment...).
        /// Off only in tests that feed placeholder meta bytes.
        public var checkRecordData: Bool
        /// CRC-32C every meta and data byte and compare the end's checksum here. The listener
        /// turns it off: its image writer checksums the same bytes as it writes them (the
        /// record CRCs need that pass anyway) and refuses to finish an image whose checksum
        /// differs from the sender's, so a second pass would only cost CPU. Records and
        /// bytes are always counted and compared here.
        public var checksumData: Bool

        public init(maxStreams: Int = 256, streamTimeoutNs: UInt64 = 60_000_000_000, checkRecordData: Bool = true,
                    checksumData: Bool = true) {
            self.maxStreams = maxStreams
            self.streamTimeoutNs = streamTimeoutNs
            self.checkRecordData = checkRecordData
            self.checksumData = checksumData
        }
    }

    /// A record whose data has not all arrived.
    struct OpenRecord {
        var type: RecordType
        var id: UInt32
        var parent: UInt32
        var dataLength: UInt64
        var received: UInt64
    }

    struct Stream {
        var crid: UInt64
        var session: UInt64
        var pid: UInt32
        var nextSeq: UInt32 = 1
        var lastActivityNs: UInt64
        var tree = RecordTreeRules()
        var summary: StreamSummaryBuilder
        var dataRules = RecordDataRules()
        var current: OpenRecord?
        var lastRecordID: UInt32?
        var lossSuspected = false
    }

    public let configuration: Configuration
    private var slots: [Stream?] = []
    private var freeSlots: [Int] = []
    private var slotOfCrid: [UInt64: Int] = [:]
    /// The slot of the last message's stream (`lastCrid`), -1 for none: a stream's messages
    /// mostly come one after another, and this skips the hash of `slotOfCrid` for them
    /// (~140 instructions a message). `remove` forgets it, so it never names a freed slot.
    private var lastCrid: UInt64 = 0
    private var lastSlot = -1
    private var nextSession: UInt64 = 1
    private var tombstones = CridTombstones(capacity: 4096)

    /// Messages dropped because their stream had already failed.
    public private(set) var droppedMessages: UInt64 = 0
    public private(set) var streamsBegun: UInt64 = 0
    public var streamsInFlight: Int { slotOfCrid.count }

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        slots.reserveCapacity(configuration.maxStreams)
        slotOfCrid.reserveCapacity(configuration.maxStreams)
    }

    /// True while `crid` is in flight.
    public func isInFlight(_ crid: UInt64) -> Bool { slotOfCrid[crid] != nil }

    /// One decoded stream message arrived at `now`.
    public mutating func receive(_ event: StreamEvent, now: UInt64) -> ReassemblyAction {
        let crid = event.crid
        let slot: Int
        if crid == lastCrid, lastSlot >= 0 {
            slot = lastSlot
        } else {
            guard let found = slotOfCrid[crid] else { return receiveForUnknown(event, now: now) }
            (slot, lastCrid, lastSlot) = (found, crid, found)
        }
        // One in-place access to the stream per message: reading `slots[slot]!.field`
        // copied the whole Stream (its arrays and strings retained and released) per read.
        switch slots[slot]!.take(event, now: now, configuration) {
        case let .write(op):
            return .write(op)
        case let .broke(seq, record, rule):
            return fail(slot, seq: seq, record: record, rule)
        case let .ended(session, seq, sent):
            remove(slot)
            return .complete(session: session, crid: crid, summary: sent, seq: seq)
        }
    }

    private mutating func receiveForUnknown(_ event: StreamEvent, now: UInt64) -> ReassemblyAction {
        let crid = event.crid
        guard case let .begin(_, seq, pid) = event else {
            if tombstones.contains(crid) {
                droppedMessages += 1
                return .none
            }
            tombstones.insert(crid)
            let record: UInt32? = if case let .record(f) = event { f.id } else { nil }
            return .fail(session: nil, StreamFailure(crid: crid, seq: event.seq, recordID: record, rule: .unknownStream))
        }
        if seq != 0 {
            tombstones.insert(crid)
            return .fail(session: nil, StreamFailure(crid: crid, seq: seq, recordID: nil, rule: .beginNotAtSeqZero(seq: seq)))
        }
        if slotOfCrid.count >= configuration.maxStreams {
            tombstones.insert(crid)
            return .fail(session: nil, StreamFailure(
                crid: crid, seq: seq, recordID: nil, rule: .tooManyStreams(limit: configuration.maxStreams)))
        }
        tombstones.remove(crid)
        let session = nextSession
        nextSession += 1
        streamsBegun += 1
        let stream = Stream(crid: crid, session: session, pid: pid, lastActivityNs: now,
                            summary: StreamSummaryBuilder(checksumming: configuration.checksumData))
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
            slots[slot] = stream
        } else {
            slot = slots.count
            slots.append(stream)
        }
        slotOfCrid[crid] = slot
        return .open(session: session, crid: crid, pid: pid)
    }

    /// A message of stream `crid` could not be decoded (the decoder read its crid and seq
    /// before the violation): the stream fails, since a message of it is lost either way.
    /// Nil when `crid` is not in flight (the caller only counts it).
    public mutating func malformed(crid: UInt64, seq: UInt32?, _ what: String) -> ReassemblyAction? {
        guard let slot = slotOfCrid[crid] else { return nil }
        return fail(slot, seq: seq, record: slots[slot]!.current?.id, .malformed(what))
    }

    /// Streams silent for longer than the stream timeout, failed as abandoned. Call
    /// periodically (the listener does every 100 ms). O(streams in flight).
    public mutating func expire(now: UInt64) -> [ReassemblyAction] {
        var actions: [ReassemblyAction] = []
        for (slot, stream) in slots.enumerated() {
            guard let stream, now > stream.lastActivityNs,
                  now - stream.lastActivityNs > configuration.streamTimeoutNs else { continue }
            actions.append(fail(slot, seq: stream.nextSeq &- 1, record: stream.current?.id,
                                .abandoned(silentNs: now - stream.lastActivityNs)))
        }
        return actions
    }

    /// The socket reported ENOBUFS: messages were dropped, and any stream in flight may have
    /// lost some. Each is marked so that its failure (a gap, an unknown stream, a timeout)
    /// says so; a stream that still arrives gapless and verifies against its end is intact.
    /// Returns how many streams may have been hit.
    @discardableResult
    public mutating func noteLoss() -> Int {
        for slot in slotOfCrid.values { slots[slot]!.lossSuspected = true }
        return slotOfCrid.count
    }

    /// Fails every stream in flight with `rule` (used on SIGTERM/SIGINT with `.interrupted`).
    public mutating func failAll(_ rule: FailureRule) -> [ReassemblyAction] {
        slotOfCrid.values.sorted().map { slot in
            let stream = slots[slot]!
            return fail(slot, seq: stream.nextSeq &- 1, record: stream.current?.id, rule)
        }
    }

    /// The image writer failed `session` on its own (disk full...): forget the stream, drop
    /// its remaining messages quietly. No action: the writer already settled it.
    public mutating func writerFailed(session: UInt64) {
        guard let slot = slotOfCrid.values.first(where: { slots[$0]!.session == session }) else { return }
        let crid = slots[slot]!.crid
        remove(slot)
        tombstones.insert(crid)
    }

    private mutating func fail(_ slot: Int, seq: UInt32?, record: UInt32?, _ rule: FailureRule) -> ReassemblyAction {
        let stream = slots[slot]!
        remove(slot)
        tombstones.insert(stream.crid)
        return .fail(session: stream.session, StreamFailure(
            crid: stream.crid, seq: seq, recordID: record, rule: rule, lossSuspected: stream.lossSuspected))
    }

    private mutating func remove(_ slot: Int) {
        if slot == lastSlot { lastSlot = -1 }
        slotOfCrid[slots[slot]!.crid] = nil
        slots[slot] = nil
        freeSlots.append(slot)
    }
}

/// The crids of recently failed streams, at most `capacity`, oldest forgotten first.
/// O(1) per operation.
struct CridTombstones {
    private var ring: [UInt64?]
    private var next = 0
    /// Each member's slot in `ring` (a slot whose crid was removed and re-inserted elsewhere
    /// no longer owns it, so reusing the old slot does not evict the newer tombstone).
    private var members: [UInt64: Int] = [:]

    init(capacity: Int) {
        ring = Array(repeating: nil, count: capacity)
        members.reserveCapacity(capacity)
    }

    func contains(_ crid: UInt64) -> Bool { members[crid] != nil }

    mutating func insert(_ crid: UInt64) {
        guard members[crid] == nil else { return }
        if let old = ring[next], members[old] == next { members[old] = nil }
        ring[next] = crid
        members[crid] = next
        next = (next + 1) % ring.count
    }

    /// Forgets `crid` (a new stream with that crid began).
    mutating func remove(_ crid: UInt64) { members[crid] = nil }
}
