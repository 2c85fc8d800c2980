import CCkptUAPI
import Testing
@testable import CkptProtocol

/// `RecordFastPath` against the table's decoding (`StreamDecoder.event`), message by
/// message: the fast path must accept exactly the record messages the table accepts, with
/// the same fragment, and nothing else.
@Suite struct RecordFastPathTests {
    /// Record messages of every sample record type: first fragments with meta, continuations,
    /// records without data; fragments of 64 bytes, so most records take several; every other
    /// record's fragments with their data checksums.
    func records() -> [UInt8] {
        let b = MessageBuffer()
        let e = MessageEncoder.usersock
        var seq: UInt32 = 1
        for (n, meta) in allSampleMetas.enumerated() {
            let payload = metaBytes(meta, padded: n % 2 == 0)
            let data: [UInt8] = meta.type == .pages ? (0..<200).map { UInt8($0 & 0xff) } : []
            payload.withUnsafeBytes { m in
                data.withUnsafeBytes { d in
                    seq = Fragmenter(maxDataPerFragment: 64, dataChecksums: n % 2 == 1).fragments(
                        crid: 0x1_0000_0007, firstSeq: seq, type: meta.type, id: UInt32(n + 1), parent: UInt32(n),
                        meta: m, data: d) { e.record($0, into: b) }
                }
            }
        }
        e.streamEnd(crid: 0x1_0000_0007, seq: seq, summary: StreamSummary(records: 1, bytes: 2, checksum: 3), into: b)
        return Array(b.bytes)
    }

    /// For each message of `bytes` (as far as its framing goes): the fast path's fragment
    /// and the table's event. Records a failed expectation for any disagreement; returns
    /// how many messages the fast path took and how many the table decoded as records.
    @discardableResult
    func compare(_ bytes: [UInt8]) -> (fast: Int, table: Int) {
        var fast = 0, table = 0
        bytes.withUnsafeBytes { raw in
            var reader = NetlinkMessageReader(raw)
            while let message = try? reader.next() {
                let quick = RecordFastPath.fragment(message)
                let event = try? StreamDecoder.event(message)
                var slow: RecordFragment? = nil
                if case let .record(f)? = event { slow = f }
                if quick != nil { fast += 1 }
                if slow != nil { table += 1 }
                switch (quick, slow) {
                case (nil, nil): break
                case let (q?, s?): #expect(same(q, s), "message at \(message.offset)")
                case (nil, _?): Issue.record("the table decoded a record the fast path refused, message at \(message.offset)")
                case (_?, nil): Issue.record("the fast path took a message the table refuses, message at \(message.offset)")
                }
            }
        }
        return (fast, table)
    }

    func same(_ a: RecordFragment, _ b: RecordFragment) -> Bool {
        func same(_ x: UnsafeRawBufferPointer?, _ y: UnsafeRawBufferPointer?) -> Bool {
            x?.baseAddress == y?.baseAddress && x?.count == y?.count
        }
        return a.crid == b.crid && a.seq == b.seq && a.type == b.type && a.id == b.id && a.parent == b.parent
            && a.dataLength == b.dataLength && a.dataOffset == b.dataOffset && same(a.meta, b.meta)
            && same(a.data, b.data) && a.dataChecksum == b.dataChecksum
    }

    @Test func takesEveryRecordTheEncoderMakes() {
        let bytes = records()
        let (fast, table) = compare(bytes)
        // Every message but the end is a record (one a sample, the pages record's 200 bytes
        // four), and the fast path takes each one.
        #expect(table == allSampleMetas.count + 3)
        #expect(fast == table)
    }

    /// `valid` with one to three bytes changed: random bytes in even rounds, one flipped
    /// bit each in odd ones.
    func mutant(of valid: [UInt8], round: Int, using rng: inout SystemRandomNumberGenerator) -> [UInt8] {
        var bytes = valid
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            bytes[i] = round % 2 == 0 ? UInt8.random(in: 0...255, using: &rng) : bytes[i] ^ (1 << UInt8.random(in: 0...7, using: &rng))
        }
        return bytes
    }

    @Test func agreesWithTheTableOnMutants() {
        let valid = records()
        let records = compare(valid).table
        var rng = SystemRandomNumberGenerator()
        var fastTotal = 0, refused = 0
        for round in 0..<4000 {
            let bytes = mutant(of: valid, round: round, using: &rng)
            let (fast, table) = compare(bytes)
            fastTotal += fast
            refused += table < records ? 1 : 0
        }
        // Both sides of the comparison were exercised: most mutants still carry records the
        // fast path takes, and many broke some.
        #expect(fastTotal > 4000 * records / 2)
        #expect(refused > 1000)
    }

    /// Changes the table refuses, each to one attribute of a valid fragment.
    @Test func refusesWhatTheTableRefuses() {
        func fragment(_ attrs: (MessageBuffer) -> Void) -> [UInt8] { message(command: CKPT_CMD_RECORD, attrs) }
        func base(_ b: MessageBuffer, skip: Int = -1, dataLength: UInt64 = 8, offset: UInt64 = 4) {
            if skip != CKPT_A_CRID { b.appendU64(CKPT_A_CRID, 7, padType: CKPT_A_PAD) }
            if skip != CKPT_A_SEQ { b.appendU32(CKPT_A_SEQ, 2) }
            if skip != CKPT_A_REC_TYPE { b.appendU32(CKPT_A_REC_TYPE, UInt32(CKPT_RECORD_TYPE_PAGES.rawValue)) }
            if skip != CKPT_A_REC_ID { b.appendU32(CKPT_A_REC_ID, 3) }
            if skip != CKPT_A_REC_PARENT { b.appendU32(CKPT_A_REC_PARENT, 1) }
            if skip != CKPT_A_DATA_LEN { b.appendU64(CKPT_A_DATA_LEN, dataLength, padType: CKPT_A_PAD) }
            if skip != CKPT_A_DATA_OFFSET { b.appendU64(CKPT_A_DATA_OFFSET, offset, padType: CKPT_A_PAD) }
        }
        let data: [UInt8] = [1, 2, 3, 4]
        func bytesAttribute(_ b: MessageBuffer, _ type: Int, _ value: [UInt8], flags: Int32 = 0) {
            value.withUnsafeBytes { b.appendAttribute(type, flags: UInt16(flags), $0) }
        }
        let good = fragment { b in base(b); bytesAttribute(b, CKPT_A_DATA, data) }
        #expect(compare(good) == (1, 1))
        var cases: [(String, [UInt8])] = [
            ("no data", fragment { b in base(b) }),
            ("data past the record", fragment { b in base(b, offset: 6); bytesAttribute(b, CKPT_A_DATA, data) }),
            ("empty data", fragment { b in base(b); bytesAttribute(b, CKPT_A_DATA, []) }),
            ("data twice", fragment { b in base(b); bytesAttribute(b, CKPT_A_DATA, data); bytesAttribute(b, CKPT_A_DATA, data) }),
            ("an unknown attribute", fragment { b in base(b); b.appendU32(CKPT_A_PID, 1); bytesAttribute(b, CKPT_A_DATA, data) }),
            ("seq as a u64", fragment { b in base(b, skip: CKPT_A_SEQ); b.appendU64(CKPT_A_SEQ, 2, padType: CKPT_A_PAD); bytesAttribute(b, CKPT_A_DATA, data) }),
            ("no rec-id", fragment { b in base(b, skip: CKPT_A_REC_ID); bytesAttribute(b, CKPT_A_DATA, data) }),
            ("rec-id 0", fragment { b in base(b, skip: CKPT_A_REC_ID); b.appendU32(CKPT_A_REC_ID, 0); bytesAttribute(b, CKPT_A_DATA, data) }),
            ("meta on a continuation", fragment { b in base(b); bytesAttribute(b, CKPT_A_META, [], flags: NLA_F_NESTED); bytesAttribute(b, CKPT_A_DATA, data) }),
            ("no meta on a first fragment", fragment { b in base(b, offset: 0); bytesAttribute(b, CKPT_A_DATA, data) }),
            ("an empty meta on a first fragment", fragment { b in
                base(b, offset: 0); bytesAttribute(b, CKPT_A_META, [], flags: NLA_F_NESTED); bytesAttribute(b, CKPT_A_DATA, data)
            }),
            ("a record too large", fragment { b in base(b, dataLength: UInt64(CKPT_RECORD_DATA_MAX) + 1); bytesAttribute(b, CKPT_A_DATA, data) }),
        ]
        cases.append(("a byte-order flag", fragment { b in
            base(b); bytesAttribute(b, CKPT_A_DATA, data, flags: NLA_F_NET_BYTEORDER)
        }))
        cases.append(("a data checksum as a u64", fragment { b in
            base(b); bytesAttribute(b, CKPT_A_DATA, data); b.appendU64(CKPT_A_DATA_CHECKSUM, 1, padType: CKPT_A_PAD)
        }))
        cases.append(("a data checksum twice", fragment { b in
            base(b); bytesAttribute(b, CKPT_A_DATA, data); b.appendU32(CKPT_A_DATA_CHECKSUM, 1); b.appendU32(CKPT_A_DATA_CHECKSUM, 1)
        }))
        // A record without data, valid as it is, broken by a checksum.
        let pagesMeta = metaBytes(samplePages)
        func noData(checksum: Bool) -> [UInt8] {
            fragment { b in
                base(b, dataLength: 0, offset: 0)
                bytesAttribute(b, CKPT_A_META, pagesMeta, flags: NLA_F_NESTED)
                if checksum { b.appendU32(CKPT_A_DATA_CHECKSUM, 0) }
            }
        }
        #expect(compare(noData(checksum: false)) == (1, 1))
        cases.append(("a data checksum without data", noData(checksum: true)))
        // With its checksum, the good fragment is still good, and the fast path reads it.
        let summed = fragment { b in base(b); bytesAttribute(b, CKPT_A_DATA, data); b.appendU32(CKPT_A_DATA_CHECKSUM, 0xC0FFEE) }
        #expect(compare(summed) == (1, 1))
        summed.withUnsafeBytes { raw in
            var reader = NetlinkMessageReader(raw)
            let f = (try? reader.next()).flatMap { $0 }.flatMap(RecordFastPath.fragment)
            #expect(f?.dataChecksum == 0xC0FFEE)
        }
        for (what, bytes) in cases {
            let (fast, table) = compare(bytes)
            #expect(fast == 0 && table == 0, "\(what)")
        }
    }
}
