import CCkptUAPI
import Testing
@testable import CkptProtocol

/// A comparable copy of an event (meta and data as arrays).
struct EventValue: Equatable, CustomStringConvertible {
    var kind: String
    var crid: UInt64
    var seq: UInt32
    var numbers: [UInt64]
    var text: String?
    var meta: [UInt8]?
    var data: [UInt8]

    init(_ e: StreamEvent) {
        crid = e.crid
        seq = e.seq
        text = nil
        meta = nil
        data = []
        switch e {
        case let .begin(_, _, pid):
            kind = "begin"; numbers = [UInt64(pid)]
        case let .record(f):
            kind = "record"
            numbers = [UInt64(f.type.rawValue), UInt64(f.id), UInt64(f.parent), f.dataLength, f.dataOffset]
            meta = f.meta.map { Array($0) }
            data = Array(f.data)
        case let .end(_, _, s):
            kind = "end"; numbers = [s.records, s.bytes, UInt64(s.checksum)]
        case let .abort(_, _, reason, message):
            kind = "abort"; numbers = [UInt64(reason)]; text = message
        }
    }

    var description: String { "\(kind) crid \(crid) seq \(seq) \(numbers) \(text ?? "") meta \(meta?.count ?? -1) data \(data.count)" }
}

@Suite struct RoundTripTests {
    func roundTrip(_ events: [StreamEvent], encoder: MessageEncoder = .usersock) throws -> [EventValue] {
        let b = MessageBuffer(capacity: 64)  // small on purpose: exercises growth
        for e in events { encoder.event(e, header: MessageHeader(seq: e.seq), into: b) }
        var out: [EventValue] = []
        try StreamDecoder().decode(datagram: b.bytes, expectedType: encoder.messageType) { out.append(EventValue($0)) }
        return out
    }

    @Test func everyEventKindInOneDatagram() throws {
        let meta = metaBytes(sampleRegs)
        let data = (0..<216).map { UInt8(truncatingIfNeeded: $0) }
        try meta.withUnsafeBytes { (m) throws in
            try data.withUnsafeBytes { (d) throws in
                let events: [StreamEvent] = [
                    .begin(crid: 77, seq: 0, pid: 4242),
                    .record(RecordFragment(crid: 77, seq: 1, type: .regs, id: 3, parent: 2, dataLength: 216,
                                           dataOffset: 0, meta: m, data: d)),
                    .end(crid: 77, seq: 2, summary: StreamSummary(records: 8, bytes: 9000, checksum: 0xDEADBEEF)),
                    .abort(crid: 78, seq: 3, reason: CKPT_ABORT_REASON_SINK_TIMEOUT.rawValue, message: "sink too slow"),
                    .abort(crid: 79, seq: 0, reason: CKPT_ABORT_REASON_FAULT.rawValue, message: nil),
                ]
                #expect(try roundTrip(events) == events.map(EventValue.init))
            }
        }
    }

    @Test func everyRecordTypeMetaRoundTrips() throws {
        for meta in allSampleMetas {
            for padded in [true, false] {
                let bytes = metaBytes(meta, padded: padded)
                let decoded = try bytes.withUnsafeBytes { try RecordMeta(type: meta.type, payload: $0) }
                #expect(decoded == meta)
            }
        }
    }

    @Test func fragmenterSplitsAndDecoderRejoins() throws {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let meta = metaBytes(samplePages)
        let fragmenter = Fragmenter(maxDataPerFragment: 4096)
        #expect(fragmenter.fragmentCount(dataLength: 10_000) == 3)
        #expect(fragmenter.fragmentCount(dataLength: 0) == 1)
        var rejoined: [UInt8] = []
        var seqs: [UInt32] = []
        var metas = 0
        let buffer = MessageBuffer()
        let next = try meta.withUnsafeBytes { m in
            try data.withUnsafeBytes { d in
                try fragmenter.encode(crid: 5, firstSeq: 10, type: .pages, id: 6, parent: 5, meta: m, data: d,
                                      encoder: .usersock, buffer: buffer) { message in
                    try StreamDecoder().decode(datagram: message, expectedType: usersockType) { event in
                        guard case let .record(f) = event else { Issue.record("not a record"); return }
                        #expect(f.dataOffset == UInt64(rejoined.count))
                        #expect(f.dataLength == 10_000)
                        if let fm = f.meta { metas += 1; #expect(Array(fm) == meta) }
                        rejoined += Array(f.data)
                        seqs.append(f.seq)
                    }
                }
            }
        }
        #expect(rejoined == data)
        #expect(seqs == [10, 11, 12])
        #expect(next == 13)
        #expect(metas == 1)
    }

    /// With `dataChecksums`, each fragment's checksum is its data's CRC-32C and survives the
    /// encoding; without, fragments carry none. Restart requests never carry one.
    @Test func fragmentDataChecksums() throws {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let meta = metaBytes(samplePages)
        for withSums in [false, true] {
            var decoded = 0
            let buffer = MessageBuffer()
            try meta.withUnsafeBytes { m in
                try data.withUnsafeBytes { d in
                    try Fragmenter(maxDataPerFragment: 4096, dataChecksums: withSums).encode(
                        crid: 5, firstSeq: 1, type: .pages, id: 6, parent: 5, meta: m, data: d,
                        encoder: .usersock, buffer: buffer) { message in
                        try StreamDecoder().decode(datagram: message, expectedType: usersockType) { event in
                            guard case let .record(f) = event else { Issue.record("not a record"); return }
                            decoded += 1
                            var c = CRC32C()
                            c.update(f.data)
                            #expect(f.dataChecksum == (withSums ? c.value : nil))
                        }
                    }
                    let restart = MessageBuffer()
                    let unpadded = metaBytes(samplePages, padded: false)  // requests carry no pads
                    _ = unpadded.withUnsafeBytes { m in Fragmenter(maxDataPerFragment: 4096, dataChecksums: withSums).fragments(
                        crid: 5, firstSeq: 1, type: .pages, id: 6, parent: 5, meta: m, data: d) { f in
                        restart.removeAll()
                        MessageEncoder.usersock.restartRecord(rsid: 3, f, into: restart)
                        // The kernel's policy for restart-record refuses it, as its decoder here does.
                        #expect(throws: Never.self) {
                            try RequestDecoder().decode(datagram: restart.bytes, expectedType: usersockType) { _, _ in }
                        }
                    } }
                }
            }
            #expect(decoded == 3)
        }
    }

    @Test func recordWithoutDataIsOneMessage() throws {
        let meta = metaBytes(sampleTask)
        var count = 0
        meta.withUnsafeBytes { m in
            _ = Fragmenter().fragments(crid: 1, firstSeq: 1, type: .task, id: 2, parent: 0, meta: m,
                                   data: UnsafeRawBufferPointer(start: nil, count: 0)) { f in
                count += 1
                #expect(f.isFirst && f.isLast && f.data.isEmpty && f.meta != nil)
                let b = MessageBuffer()
                MessageEncoder.usersock.record(f, into: b)
                try? StreamDecoder().decode(datagram: b.bytes, expectedType: usersockType) { e in
                    #expect(EventValue(e) == EventValue(.record(f)))
                }
            }
        }
        #expect(count == 1)
    }

    @Test func restartRecordRoundTripsWithRsid() throws {
        let meta = metaBytes(samplePages, padded: false)
        let data = [UInt8](repeating: 0xAB, count: 8192)
        let b = MessageBuffer()
        try meta.withUnsafeBytes { m in
            try data.withUnsafeBytes { d in
                let f = RecordFragment(crid: 0, seq: 4, type: .pages, id: 6, parent: 5, dataLength: 8192, dataOffset: 0,
                                       meta: m, data: d)
                MessageEncoder(messageType: 0x1c).restartRecord(rsid: 3, f, header: MessageHeader(seq: 99), into: b)
                var got: [(RecordFragment, NetlinkMessage)] = []
                try StreamDecoder().decodeRestartRecords(datagram: b.bytes, expectedType: 0x1c) { got.append(($0, $1)) }
                #expect(got.count == 1)
                #expect(got[0].0.crid == 3 && got[0].0.seq == 4 && Array(got[0].0.data) == data)
                #expect(got[0].1.seq == 99 && got[0].1.flags == UInt16(NLM_F_REQUEST | NLM_F_ACK))
            }
        }
    }

    /// Random streams (random metas of every type, random data sizes, random fragment
    /// sizes), packed several messages per datagram, decode to exactly what was encoded.
    @Test func randomStreamsRoundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            let crid = UInt64.random(in: 1...UInt64.max, using: &rng)
            var records: [(RecordMeta, [UInt8], [UInt8])] = []
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                let meta = allSampleMetas.randomElement(using: &rng)!
                let n = Bool.random(using: &rng) ? 0 : Int.random(in: 1...5000, using: &rng)
                records.append((meta, metaBytes(meta, padded: Bool.random(using: &rng)),
                                (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }))
            }
            var expected: [EventValue] = [EventValue(.begin(crid: crid, seq: 0, pid: 7))]
            let b = MessageBuffer(capacity: 128)
            let encoder = MessageEncoder.usersock
            encoder.streamBegin(crid: crid, pid: 7, into: b)
            var seq: UInt32 = 1
            var id: UInt32 = 1
            for (meta, metaPayload, data) in records {
                let fragmenter = Fragmenter(maxDataPerFragment: Int.random(in: 1...3000, using: &rng))
                metaPayload.withUnsafeBytes { m in
                    data.withUnsafeBytes { d in
                        seq = fragmenter.fragments(crid: crid, firstSeq: seq, type: meta.type, id: id, parent: 0,
                                                   meta: m, data: d) { f in
                            expected.append(EventValue(.record(f)))
                            encoder.record(f, into: b)
                        }
                    }
                }
                id += 1
            }
            let summary = StreamSummary(records: UInt64(records.count), bytes: 1, checksum: 2)
            expected.append(EventValue(.end(crid: crid, seq: seq, summary: summary)))
            encoder.streamEnd(crid: crid, seq: seq, summary: summary, into: b)
            var got: [EventValue] = []
            try StreamDecoder().decode(datagram: b.bytes, expectedType: usersockType) { got.append(EventValue($0)) }
            #expect(got == expected)
        }
    }
}
