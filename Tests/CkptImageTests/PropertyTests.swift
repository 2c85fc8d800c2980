import CkptProtocol
import SystemPackage
import Testing
@testable import CkptImage

/// SplitMix64: a small seeded generator, so a failing seed can be replayed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A random stream that follows the tree rules: header, task { regs*, mm { vma { pages* }* }, file* }, trailer,
/// with random id gaps, meta sizes (0 ... 300), data sizes (0 ... 20000) and fragment sizes.
func randomRecords(_ rng: inout SeededRandom) -> [TestRecord] {
    var id: UInt32 = 0
    func nextID() -> UInt32 { id += UInt32.random(in: 1...3, using: &rng); return id }
    func meta() -> [UInt8] { bytes(Int.random(in: 0...300, using: &rng), seed: UInt8.random(in: 0...255, using: &rng)) }
    func data(_ max: Int) -> [UInt8] { Int.random(in: 0...3, using: &rng) == 0 ? [] : bytes(Int.random(in: 0...max, using: &rng), seed: 3) }
    func frag() -> Int { [1, 7, 8, 100, 4096, 65531].randomElement(using: &rng)! }
    var r = [TestRecord(type: .header, id: nextID(), parent: 0, meta: headerMeta())]
    let task = nextID()
    r.append(TestRecord(type: .task, id: task, parent: 0, meta: meta()))
    for _ in 0..<Int.random(in: 0...3, using: &rng) {
        r.append(TestRecord(type: .regs, id: nextID(), parent: task, meta: meta(), data: data(400), fragment: frag()))
    }
    let mm = nextID()
    r.append(TestRecord(type: .mm, id: mm, parent: task, meta: meta()))
    for _ in 0..<Int.random(in: 0...4, using: &rng) {
        let vma = nextID()
        r.append(TestRecord(type: .vma, id: vma, parent: mm, meta: meta()))
        for _ in 0..<Int.random(in: 0...3, using: &rng) {
            r.append(TestRecord(type: .pages, id: nextID(), parent: vma, meta: meta(), data: data(20000), fragment: frag()))
        }
    }
    for _ in 0..<Int.random(in: 0...3, using: &rng) { r.append(TestRecord(type: .file, id: nextID(), parent: task, meta: meta())) }
    r.append(TestRecord(type: .trailer, id: nextID(), parent: 0, meta: meta()))
    return r
}

@Suite struct PropertyTests {
    /// Random streams: write, verify, read back every record by id and in order.
    @Test(arguments: 0..<40) func randomStreamRoundTrips(seed: UInt64) throws {
        var rng = SeededRandom(state: seed)
        let records = randomRecords(&rng)
        let host = String(repeating: "h", count: Int.random(in: 1...255, using: &rng))
        let header = ImageHeader(crid: rng.next(), pid: UInt32.random(in: 1...4_000_000, using: &rng), captureStartNs: rng.next(), host: host)
        let dir = TempDir(), path = dir.file("r.ckpt")
        try writeImage(path, records, header: header)

        let v = try verifyImage(path: path)
        #expect(v.header == header)
        #expect(v.trailer.summary == summary(of: records))
        let reader = try ImageReader(path: path)
        #expect(reader.index.map(\.id) == records.map(\.id))
        for r in records.shuffled(using: &rng) {
            let e = try #require(reader.entry(id: r.id))
            #expect(try reader.meta(of: e) == r.meta)
            var buf = [UInt8](repeating: 0, count: r.data.count)
            let n = try buf.withUnsafeMutableBytes { try reader.readData(of: e, offset: 0, into: $0) }
            #expect(n == r.data.count && buf == r.data)
        }
        // A random cut scans up to the last whole record before it.
        let full = readFile(path)
        let cut = Int.random(in: Int(reader.recordsOffset)..<full.count, using: &rng)
        let partial = dir.file("r.partial")
        writeFile(partial, Array(full[0..<cut]))
        let scan = try PartialImageScanner(path: partial).scan()
        let whole = reader.index.filter { $0.offset + $0.recordSize <= UInt64(cut) }
        #expect(scan.lastRecordID == whole.last?.id)
        #expect(scan.summary == summary(of: Array(records.prefix(whole.count))))
    }
}
