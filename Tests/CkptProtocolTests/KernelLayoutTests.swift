import CCkptUAPI
import Testing
@testable import CkptProtocol

/// `KernelLayout`: record messages laid out as the kernel lays them out (x86-64: u64s
/// unpadded; checksum, then data, last) are read at fixed offsets, and what that reads is
/// what the attribute walk and the table read.
@Suite struct KernelLayoutTests {
    /// One record message in the kernel's order (emit.c: `ckpt_frag_open`, then the meta
    /// nest on a first fragment, then `ckpt_frag_data`'s checksum and data).
    func kernelMessage(seq: UInt32, type: RecordType, id: UInt32, dataLength: UInt64, offset: UInt64,
                       meta: [UInt8]?, data: [UInt8], checksum: UInt32?) -> [UInt8] {
        message(command: CKPT_CMD_RECORD) { b in
            b.appendU64(CKPT_A_CRID, 0x1_0000_0009, padType: nil)
            b.appendU32(CKPT_A_SEQ, seq)
            b.appendU32(CKPT_A_REC_TYPE, type.rawValue)
            b.appendU32(CKPT_A_REC_ID, id)
            b.appendU32(CKPT_A_REC_PARENT, id - 1)
            b.appendU64(CKPT_A_DATA_LEN, dataLength, padType: nil)
            b.appendU64(CKPT_A_DATA_OFFSET, offset, padType: nil)
            if let meta {
                let nest = b.beginNest(CKPT_A_META)
                b.appendRaw(meta)
                b.endNest(nest)
            }
            if !data.isEmpty {
                if let checksum { b.appendU32(CKPT_A_DATA_CHECKSUM, checksum) }
                data.withUnsafeBytes { b.appendAttribute(CKPT_A_DATA, $0) }
            }
        }
    }

    /// Every sample record, its data (pages: 203 bytes, so the last attribute needs its
    /// alignment) in fragments of 64, every other fragment with its checksum.
    func kernelStream() -> (bytes: [UInt8], messages: Int, continuations: Int, summed: Int) {
        var bytes: [UInt8] = [], seq: UInt32 = 1, continuations = 0, summed = 0
        for (n, meta) in allSampleMetas.enumerated() {
            let data: [UInt8] = meta.type == .pages ? (0..<203).map { UInt8($0 & 0xff) } : []
            var offset = 0
            repeat {
                let piece = Array(data[offset..<min(offset + 64, data.count)])
                let sum = seq % 2 == 0 && !piece.isEmpty ? CRC32C.checksum(piece) : nil
                bytes += kernelMessage(seq: seq, type: meta.type, id: UInt32(n + 1), dataLength: UInt64(data.count),
                                       offset: UInt64(offset), meta: offset == 0 ? metaBytes(meta, padded: false) : nil,
                                       data: piece, checksum: sum)
                continuations += offset > 0 ? 1 : 0
                summed += offset > 0 && sum != nil ? 1 : 0
                seq += 1
                offset += piece.count
            } while offset < data.count
        }
        return (bytes, Int(seq) - 1, continuations, summed)
    }

    /// Each message's genl payload, as `RecordFastPath` sees it.
    func payloads(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { raw in
            var reader = NetlinkMessageReader(raw)
            while let m = try? reader.next() { body(m.payload) }
        }
    }

    @Test func readsTheKernelsMessagesAtFixedOffsets() {
        let stream = kernelStream()
        var prefixes = 0, tails = 0, summed = 0, odd = 0
        payloads(stream.bytes) { p in
            guard let k = KernelLayout.prefix(p) else { return }
            prefixes += 1
            #expect(k.crid == 0x1_0000_0009 && k.id >= 1 && k.parent == k.id - 1)
            guard let t = KernelLayout.dataTail(p, at: NetlinkLayout.genlHeaderSize + KernelLayout.prefixSize) else { return }
            tails += 1
            if let sum = t.checksum {
                summed += 1
                #expect(sum == CRC32C.checksum(Array(t.data)))
            }
            odd += t.data.count == 203 - 192 ? 1 : 0  // the last piece, which needs its alignment
        }
        #expect(prefixes == stream.messages)
        // A first fragment's data comes after its meta: only continuations end in a tail here.
        #expect(tails == stream.continuations && summed == stream.summed && summed > 0 && odd == 1)
        // And the walk and the table read the same fragments from them.
        let (fast, table) = RecordFastPathTests().compare(stream.bytes)
        #expect(fast == table && table == stream.messages)
    }

    @Test func leavesOtherLayoutsToTheWalk() {
        // The encoder pads its u64s (as the kernel does where unaligned access is slow) and
        // puts the meta first: no prefix, and the walk still takes every record.
        payloads(RecordFastPathTests().records()) { p in #expect(KernelLayout.prefix(p) == nil) }
        // A tail with anything after the data, or the checksum after it, is not a tail.
        let data: [UInt8] = [1, 2, 3, 4, 5]
        let after = message(command: CKPT_CMD_RECORD) { b in
            b.appendU64(CKPT_A_CRID, 7, padType: nil)
            for t in [CKPT_A_SEQ, CKPT_A_REC_TYPE, CKPT_A_REC_ID, CKPT_A_REC_PARENT] {
                b.appendU32(t, t == CKPT_A_REC_TYPE ? RecordType.pages.rawValue : 2)
            }
            b.appendU64(CKPT_A_DATA_LEN, 4096, padType: nil)
            b.appendU64(CKPT_A_DATA_OFFSET, 8, padType: nil)
            data.withUnsafeBytes { b.appendAttribute(CKPT_A_DATA, $0) }
            b.appendU32(CKPT_A_DATA_CHECKSUM, 1)
        }
        payloads(after) { p in
            #expect(KernelLayout.prefix(p) != nil)
            #expect(KernelLayout.dataTail(p, at: NetlinkLayout.genlHeaderSize + KernelLayout.prefixSize) == nil)
        }
        #expect(RecordFastPathTests().compare(after) == (1, 1))
    }

    @Test func agreesWithTheTableOnMutantsOfTheKernelsMessages() {
        let valid = kernelStream().bytes
        let records = RecordFastPathTests().compare(valid).table
        var rng = SystemRandomNumberGenerator()
        var fastTotal = 0, refused = 0, prefixes = 0
        let fastPath = RecordFastPathTests()
        for round in 0..<4000 {
            let bytes = fastPath.mutant(of: valid, round: round, using: &rng)
            let (fast, table) = fastPath.compare(bytes)
            fastTotal += fast
            refused += table < records ? 1 : 0
            payloads(bytes) { p in prefixes += KernelLayout.prefix(p) == nil ? 0 : 1 }
        }
        #expect(fastTotal > 4000 * records / 2)
        #expect(refused > 1000)
        #expect(prefixes > 4000 * records / 2)
    }
}
