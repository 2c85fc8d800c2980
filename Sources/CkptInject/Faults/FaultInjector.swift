import CCkptUAPI
import CkptProtocol

/// One fault as asked for: a kind, and the stream seq it aims at (nil: the injector picks).
public struct FaultRequest: Equatable, Sendable {
    public var kind: FaultKind
    public var at: UInt32?

    public init(_ kind: FaultKind, at: UInt32? = nil) {
        self.kind = kind
        self.at = at
    }
}

/// A fault as it was put into a stream, and what the listener must make of it.
public struct AppliedFault: Equatable, Sendable, Codable {
    public var kind: FaultKind
    /// The seq of the message it hit (for garbage: the message it precedes).
    public var seq: UInt32
    /// What was done, in words ("cut datagram 412 -> 214 bytes").
    public var detail: String
    /// The `FailureRule.name` the listener must fail the stream with; nil: the stream completes.
    public var expectedRule: String?
    /// The seq of the message that reveals it (the reason file's `seq N`), when known.
    public var detectSeq: UInt32?
    /// Datagrams the listener cannot decode because of it (counted as malformed).
    public var malformedDatagrams: Int
}

/// How one stream must end at the listener.
public struct StreamExpectation: Equatable, Sendable, Codable {
    /// `complete` (a `<crid>.ckpt` equal to the stream) or `failed` (`<crid>.failed` + reason).
    public var outcome: String
    /// The `FailureRule.name` when failed.
    public var rule: String?
    /// The reason's `seq N`, when it is certain (single faults).
    public var seq: UInt32?
    /// Datagrams of this stream the listener must count as malformed.
    public var malformedDatagrams: Int

    public static let complete = StreamExpectation(outcome: "complete", rule: nil, seq: nil, malformedDatagrams: 0)
    public var isComplete: Bool { outcome == "complete" }
}

/// One stream ready to send: the clean stream, the datagrams that will actually go out
/// (faults applied, garbage included, in order) and the expectation.
public struct PreparedStream: Sendable {
    public var stream: SyntheticStream
    /// The stream as it would be without faults (after record-level faults: orphans and
    /// reused ids change the records themselves).
    public var cleanMessages: [StreamMessage]
    public var datagrams: [[UInt8]]
    public var faults: [AppliedFault]
    public var expectation: StreamExpectation
}

/// Puts faults into a stream's messages. Pure and deterministic (bytes in, bytes out,
/// randomness from the seed); see `FaultKind` for the list. The expectation of several
/// faults is that of the one the listener meets first (a fault that ends the stream, abort
/// or silent, makes the faults after it moot: they are not applied).
public enum FaultInjector {
    static let garbageTexts = ["this is not a netlink message\n", "GET / HTTP/1.1\r\nHost: ckpt\r\n\r\n", "\u{1B}[31mCKPT\u{1B}[0m?"]

    public static func prepare(_ stream: SyntheticStream, faults requests: [FaultRequest], seed: UInt64,
                               encoder: MessageEncoder = .usersock) -> PreparedStream {
        var stream = stream
        var rng = SeededGenerator(seed: seed, stream: stream.crid, purpose: 0xFA17)
        let clean = stream.encodeMessages(encoder: encoder)
        let last = clean.last!.seq
        var applied: [AppliedFault] = []

        // Record-level faults first: they change the records, then everything is re-encoded.
        var recordFaults: [(FaultRequest, Int)] = []
        for r in requests where r.kind == .orphan || r.kind == .reuseID {
            let target = firstFragment(clean, from: r.at ?? UInt32(rng.int(1...Int(last))), minRecord: 2, last: last)
            if case let .record(index, _, _) = clean[Int(target)].kind { recordFaults.append((r, index)) }
        }
        if !recordFaults.isEmpty {
            stream.replaceRecords { records in
                for (request, index) in recordFaults {
                    if request.kind == .orphan {
                        records[index].parent = 0x7fff_fff0
                    } else {
                        records[index].id = records[index - 1].id
                    }
                }
            }
        }
        let messages = recordFaults.isEmpty ? clean : stream.encodeMessages(encoder: encoder)

        // Entries: (original seq or nil for garbage, bytes).
        var entries: [(seq: UInt32?, bytes: [UInt8])] = messages.map { ($0.seq, $0.bytes) }
        func index(of seq: UInt32) -> Int? { entries.firstIndex { $0.seq == seq } }
        var cutFrom: UInt32? = nil  // abort/silent: nothing from here on

        for (request, recordIndex) in recordFaults {
            let seq = firstSeq(of: recordIndex, in: messages)
            applied.append(AppliedFault(
                kind: request.kind, seq: seq,
                detail: request.kind == .orphan ? "record \(messages[Int(seq)].recordID(stream)) names parent 0x7ffffff0"
                                                : "record at seq \(seq) reuses id \(stream.records[recordIndex].id)",
                expectedRule: "nesting", detectSeq: seq, malformedDatagrams: 0))
        }

        // Message-level faults, each aimed at an original seq.
        for request in requests where request.kind != .orphan && request.kind != .reuseID {
            func clamp(_ lo: UInt32, _ hi: UInt32) -> UInt32 {
                let want = request.at ?? UInt32(rng.int(Int(lo)...Int(max(lo, hi))))
                return min(max(want, lo), max(lo, hi))
            }
            var fault: AppliedFault
            switch request.kind {
            case .drop:
                let k = clamp(1, last)
                guard let i = index(of: k) else { continue }
                entries.remove(at: i)
                fault = k < last
                    ? AppliedFault(kind: .drop, seq: k, detail: "message \(k) not sent", expectedRule: "sequence-gap", detectSeq: k + 1, malformedDatagrams: 0)
                    : AppliedFault(kind: .drop, seq: k, detail: "end message not sent", expectedRule: "abandoned", detectSeq: k - 1, malformedDatagrams: 0)
            case .duplicate:
                let k = clamp(0, last - 1)
                guard let i = index(of: k) else { continue }
                entries.insert((k, entries[i].bytes), at: i + 1)
                fault = AppliedFault(kind: .duplicate, seq: k, detail: "message \(k) sent twice",
                                     expectedRule: k == 0 ? "duplicate-begin" : "sequence-gap", detectSeq: k, malformedDatagrams: 0)
            case .reorder:
                let k = clamp(1, last - 1)
                guard let i = index(of: k), let j = index(of: k + 1) else { continue }
                entries.swapAt(i, j)
                fault = AppliedFault(kind: .reorder, seq: k, detail: "messages \(k) and \(k + 1) swapped",
                                     expectedRule: "sequence-gap", detectSeq: k + 1, malformedDatagrams: 0)
            case .truncateMessage:
                let k = clamp(1, last)
                guard let i = index(of: k) else { continue }
                let full = entries[i].bytes.count
                let cut = 16 + (full - 16) / 2
                entries[i].bytes.removeLast(full - cut)
                fault = AppliedFault(kind: .truncateMessage, seq: k, detail: "datagram cut \(full) -> \(cut) bytes, nlmsg_len kept",
                                     expectedRule: k < last ? "sequence-gap" : "abandoned", detectSeq: k < last ? k + 1 : k - 1,
                                     malformedDatagrams: 1)
            case .truncateAttribute:
                let k = clamp(1, last)
                guard let i = index(of: k) else { continue }
                let (at, length) = lastAttribute(entries[i].bytes)
                let keep = at + 4 + ((length - 4) / 2) & ~3
                entries[i].bytes.removeLast(entries[i].bytes.count - keep)
                entries[i].bytes.put32(UInt32(keep), at: 0)
                fault = AppliedFault(kind: .truncateAttribute, seq: k,
                                     detail: "message cut inside its last attribute (type \(entries[i].bytes.u16(at: at + 2) & 0x3fff), nla_len \(length)) to \(keep) bytes",
                                     expectedRule: "malformed", detectSeq: k, malformedDatagrams: 1)
            case .corruptPayload:
                let k = firstData(messages, from: clamp(1, last))
                guard let i = index(of: k), let (at, length) = attribute(Int(CKPT_A_DATA), in: entries[i].bytes) else { continue }
                let byte = at + 4 + rng.int(0...(length - 5))
                entries[i].bytes[byte] ^= UInt8(rng.int(1...255))
                // With data checksums the flip comes after the fragment's checksum: a listener
                // that takes those (--data-check after-publish) publishes, then sets it aside.
                let after = stream.shape.dataChecksums
                    ? " (after its data checksum: ckpt listen --data-check after-publish publishes the image, then renames it .corrupt)" : ""
                fault = AppliedFault(kind: .corruptPayload, seq: k, detail: "data byte at message offset \(byte) flipped" + after,
                                     expectedRule: "summary-mismatch", detectSeq: last, malformedDatagrams: 0)
            case .corruptChecksum:
                guard let i = index(of: last), let (at, _) = attribute(Int(CKPT_A_CHECKSUM), in: entries[i].bytes) else { continue }
                let bit = UInt32(1) << UInt32(rng.int(0...31))
                entries[i].bytes.put32(entries[i].bytes.u32(at: at + 4) ^ bit, at: at + 4)
                fault = AppliedFault(kind: .corruptChecksum, seq: last, detail: "end checksum xor 0x\(String(bit, radix: 16))",
                                     expectedRule: "summary-mismatch", detectSeq: last, malformedDatagrams: 0)
            case .lieLength:
                let k = clamp(1, last)
                guard let i = index(of: k) else { continue }
                let (at, length) = lastAttribute(entries[i].bytes)
                if length + 8 <= 0xffff {
                    entries[i].bytes.put16(UInt16(length + 8), at: at)
                } else {
                    // nla_len cannot grow: shrink the message under it instead.
                    let keep = at + ((length - 4) & ~3)
                    entries[i].bytes.removeLast(entries[i].bytes.count - keep)
                    entries[i].bytes.put32(UInt32(keep), at: 0)
                }
                fault = AppliedFault(kind: .lieLength, seq: k, detail: "nla_len of the last attribute (\(length)) claims 8 bytes past the message",
                                     expectedRule: "malformed", detectSeq: k, malformedDatagrams: 1)
            case .nestTooDeep:
                let k = firstFragment(messages, from: clamp(1, last), minRecord: 0, last: last)
                guard let i = index(of: k), case let .record(recordIndex, _, _) = messages[Int(k)].kind else { continue }
                entries[i].bytes = deepMessage(stream, record: recordIndex, seq: k, encoder: encoder)
                fault = AppliedFault(kind: .nestTooDeep, seq: k, detail: "a nest inside CKPT_A_META of record \(stream.records[recordIndex].id)",
                                     expectedRule: "malformed", detectSeq: k, malformedDatagrams: 1)
            case .abort:
                let k = clamp(1, last)
                guard let i = index(of: k) else { continue }
                let reason = UInt32(rng.int(Int(CKPT_ABORT_REASON_SINK_GONE.rawValue)...Int(CKPT_ABORT_REASON_UNLOAD.rawValue)))
                let b = MessageBuffer(capacity: 256)
                encoder.streamAbort(crid: stream.crid, seq: k, reason: reason, message: "injected abort at seq \(k)",
                                    header: MessageHeader(seq: k), into: b)
                entries[i].bytes = Array(b.bytes)
                entries.removeLast(entries.count - i - 1)
                cutFrom = min(cutFrom ?? .max, k)
                fault = AppliedFault(kind: .abort, seq: k, detail: "CKPT_CMD_STREAM_ABORT reason \(reason) instead of message \(k); nothing after",
                                     expectedRule: "aborted", detectSeq: k, malformedDatagrams: 0)
            case .silent:
                let k = clamp(1, last)
                guard let i = index(of: k) else { continue }
                entries.removeLast(entries.count - i)
                cutFrom = min(cutFrom ?? .max, k)
                fault = AppliedFault(kind: .silent, seq: k, detail: "nothing sent from message \(k) on",
                                     expectedRule: "abandoned", detectSeq: k - 1, malformedDatagrams: 0)
            case .garbage:
                let k = clamp(1, last)
                guard let i = index(of: k) else { continue }
                let n = rng.int(1...3)
                for g in 0..<n { entries.insert((nil, garbage(&rng, variant: g + rng.int(0...3))), at: i) }
                fault = AppliedFault(kind: .garbage, seq: k, detail: "\(n) non-netlink datagrams before message \(k)",
                                     expectedRule: nil, detectSeq: nil, malformedDatagrams: n)
            case .orphan, .reuseID:
                continue
            }
            applied.append(fault)
        }
        // Faults aimed past an abort/silent point were never sent.
        if let cutFrom {
            applied.removeAll { $0.kind != .abort && $0.kind != .silent && $0.seq >= cutFrom }
        }
        return PreparedStream(stream: stream, cleanMessages: messages, datagrams: entries.map(\.bytes), faults: applied,
                              expectation: expectation(applied))
    }

    /// The listener meets the fault with the lowest detection seq first; silence (and an
    /// end that never comes) is detected last, by the stream timeout.
    static func expectation(_ faults: [AppliedFault]) -> StreamExpectation {
        let malformed = faults.reduce(0) { $0 + $1.malformedDatagrams }
        let failing = faults.filter { $0.expectedRule != nil }
        guard !failing.isEmpty else {
            return StreamExpectation(outcome: "complete", rule: nil, seq: nil, malformedDatagrams: malformed)
        }
        func order(_ f: AppliedFault) -> UInt64 { f.expectedRule == "abandoned" ? .max : UInt64(f.detectSeq ?? 0) }
        let first = failing.min { order($0) < order($1) }!
        let certain = failing.count == 1
        return StreamExpectation(outcome: "failed", rule: first.expectedRule, seq: certain ? first.detectSeq : nil,
                                 malformedDatagrams: malformed)
    }

    // MARK: aiming

    /// The seq of the first fragment of a record with index >= `minRecord` at or after
    /// `from` (wrapping to the first such record).
    static func firstFragment(_ m: [StreamMessage], from: UInt32, minRecord: Int, last: UInt32) -> UInt32 {
        func ok(_ x: StreamMessage) -> Bool {
            if case let .record(r, 0, _) = x.kind { return r >= minRecord }
            return false
        }
        return (m.first { $0.seq >= from && ok($0) } ?? m.first(where: ok)!).seq
    }

    static func firstData(_ m: [StreamMessage], from: UInt32) -> UInt32 {
        (m.first { $0.seq >= from && $0.hasData } ?? m.first(where: \.hasData)!).seq
    }

    static func firstSeq(of record: Int, in m: [StreamMessage]) -> UInt32 {
        m.first { if case .record(record, 0, _) = $0.kind { return true } else { return false } }!.seq
    }

    // MARK: bytes

    /// Offset and nla_len of the message's last top-level attribute.
    static func lastAttribute(_ b: [UInt8]) -> (Int, Int) {
        var at = 20
        var last = (20, 4)
        let end = Int(b.u32(at: 0))
        while at + 4 <= end {
            let length = Int(b.u16(at: at))
            if length < 4 { break }
            last = (at, length)
            at += (length + 3) & ~3
        }
        return last
    }

    /// Offset and nla_len of the top-level attribute `type`, if present.
    static func attribute(_ type: Int, in b: [UInt8]) -> (Int, Int)? {
        var at = 20
        let end = Int(b.u32(at: 0))
        while at + 4 <= end {
            let length = Int(b.u16(at: at))
            if length < 4 { return nil }
            if Int(b.u16(at: at + 2) & 0x3fff) == type { return (at, length) }
            at += (length + 3) & ~3
        }
        return nil
    }

    /// The first fragment of `record`, re-encoded with a nest inside its meta.
    static func deepMessage(_ s: SyntheticStream, record index: Int, seq: UInt32, encoder: MessageEncoder) -> [UInt8] {
        let r = s.records[index]
        var meta = r.meta
        // CKPT_A_META_PATH | NLA_F_NESTED { CKPT_A_META_PAD | NLA_F_NESTED { u32 } }
        meta += [16, 0, UInt8(CKPT_A_META_PATH), 0x80, 12, 0, 1, 0x80, 8, 0, 1, 0, 0xEF, 0xBE, 0xAD, 0xDE]
        let b = MessageBuffer()
        let n = min(r.data.count, s.shape.fragmentSize)
        meta.withUnsafeBytes { metaBytes in
            r.data.withUnsafeBytes { data in
                let f = RecordFragment(crid: s.crid, seq: seq, type: r.type, id: r.id, parent: r.parent,
                                       dataLength: UInt64(r.data.count), dataOffset: 0, meta: metaBytes,
                                       data: UnsafeRawBufferPointer(rebasing: data[0..<n]))
                encoder.record(f, header: MessageHeader(seq: seq), into: b)
            }
        }
        return Array(b.bytes)
    }

    /// A datagram that is not a ckpt netlink message, of one of four sorts.
    static func garbage(_ rng: inout SeededGenerator, variant: Int) -> [UInt8] {
        switch variant % 4 {
        case 0:  // shorter than a netlink header
            return rng.bytes(rng.int(1...15))
        case 1:  // random, nlmsg_len past the datagram
            var b = rng.bytes(rng.int(16...300))
            b.put32(UInt32(b.count + rng.int(1...100_000)), at: 0)
            return b
        case 2:  // text
            return Array(garbageTexts[rng.int(0...garbageTexts.count - 1)].utf8)
        default:  // a well-formed netlink message of a type nobody speaks here
            var b = [UInt8](repeating: 0, count: 16) + rng.bytes(4 * rng.int(1...16))
            b.put32(UInt32(b.count), at: 0)
            b.put16(0x4242, at: 4)
            return b
        }
    }
}

extension StreamMessage {
    func recordID(_ s: SyntheticStream) -> UInt32 {
        if case let .record(r, _, _) = kind { return s.records[r].id }
        return 0
    }
}

extension Array where Element == UInt8 {
    func u16(at i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    func u32(at i: Int) -> UInt32 { UInt32(u16(at: i)) | UInt32(u16(at: i + 2)) << 16 }
    mutating func put16(_ v: UInt16, at i: Int) {
        self[i] = UInt8(truncatingIfNeeded: v)
        self[i + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
    mutating func put32(_ v: UInt32, at i: Int) {
        put16(UInt16(truncatingIfNeeded: v), at: i)
        put16(UInt16(truncatingIfNeeded: v >> 16), at: i + 2)
    }
}
