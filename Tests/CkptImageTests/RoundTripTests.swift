import CkptProtocol
import SystemPackage
import Testing
@testable import CkptImage

@Suite struct RoundTripTests {
    @Test func writeThenReadEveryShape() throws {
        let dir = TempDir(), path = dir.file("1.ckpt")
        let records = sampleRecords()
        let size = try writeImage(path, records)
        // The writer's own running summary equals StreamSummaryBuilder's.
        let fd = try FileDescriptor.open("/dev/null", .writeOnly)
        defer { try? fd.close() }
        let w = try ImageWriter(fd: fd, header: testHeader)
        for (i, r) in records.enumerated() {
            try write(r, to: w)
            #expect(w.streamSummary == summary(of: Array(records[0...i])))
        }
        let reader = try ImageReader(path: path)
        #expect(reader.fileSize == size)
        #expect(reader.header == testHeader)
        #expect(reader.summary == summary(of: records))
        #expect(reader.index.map(\.id) == records.map(\.id))
        #expect(try reader.source() == ImageSource(arch: "x86_64", pageSize: 4096, release: "6.12.0-test", timeNs: 1_700_000_000_000_000_000))
        for r in records {
            let e = try #require(reader.entry(id: r.id))
            #expect(e.type == r.type && e.parent == r.parent && e.dataLength == UInt64(r.data.count))
            #expect(try reader.meta(of: e) == r.meta)
            // Whole data, then from a few offsets, with a small buffer.
            var whole = [UInt8](repeating: 0, count: r.data.count + 10)
            let n = try whole.withUnsafeMutableBytes { try reader.readData(of: e, offset: 0, into: $0) }
            #expect(n == r.data.count && Array(whole[0..<n]) == r.data)
            for start in [0, 1, 7, r.data.count / 2, r.data.count] where start <= r.data.count {
                var got: [UInt8] = []
                var buf = [UInt8](repeating: 0, count: 333)
                var at = UInt64(start)
                while true {
                    let k = try buf.withUnsafeMutableBytes { try reader.readData(of: e, offset: at, into: $0) }
                    if k == 0 { break }
                    got += buf[0..<k]
                    at += UInt64(k)
                }
                #expect(got == Array(r.data[start...]))
            }
        }
        let v = try verifyImage(path: path)
        #expect(v.trailer.summary == summary(of: records))
        #expect(v.recordsByType[.pages] == 2)
        #expect(v.dataBytes == UInt64(records.reduce(0) { $0 + $1.data.count }))
    }

    @Test func lookupByID() throws {
        let dir = TempDir(), path = dir.file("1.ckpt")
        try writeImage(path, sampleRecords())
        let reader = try ImageReader(path: path)
        for id: UInt32 in [0, 4, 8, 11, 13, .max] { #expect(reader.entry(id: id) == nil) }
        #expect(reader.entry(id: 1)?.type == .header)
        #expect(reader.entry(id: 12)?.type == .trailer)
        #expect(reader.entry(id: 9)?.dataLength == 8)
        let e = try #require(reader.entry(id: 9))
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { buf.deallocate() }
        let err = imageError { () throws(ImageError) in try reader.readData(of: e, offset: 9, into: buf) }
        guard case .misuse(_, _, 9, "readData", _, _)? = err else { Issue.record("\(String(describing: err))"); return }
    }

    @Test func iteratorYieldsEveryRecordWithData() throws {
        let dir = TempDir(), path = dir.file("1.ckpt")
        let records = sampleRecords()
        try writeImage(path, records)
        let reader = try ImageReader(path: path)
        var it = reader.records()
        var seen: [(UInt32, [UInt8], [UInt8])] = []
        var buf = [UInt8](repeating: 0, count: 777)
        while let (entry, meta) = try it.next() {
            var data: [UInt8] = []
            // Read the data of every other record; the iterator checks the rest itself.
            if entry.id % 2 == 1 {
                while case let n = try buf.withUnsafeMutableBytes({ try it.readData(into: $0) }), n > 0 { data += buf[0..<n] }
            }
            seen.append((entry.id, Array(meta), data))
        }
        #expect(seen.map(\.0) == records.map(\.id))
        for (s, r) in zip(seen, records) {
            #expect(s.1 == r.meta)
            if r.id % 2 == 1 { #expect(s.2 == r.data) }
        }
    }

    /// A local image's data comes as views of its mapping: the same bytes and the same CRCs
    /// as reading it, pointing into the file's one mapping (no copy), and a damaged record
    /// is caught the same way when the walk moves past it.
    @Test func mappedDataEqualsReadData() throws {
        let dir = TempDir(), path = dir.file("1.ckpt")
        let records = sampleRecords()
        try writeImage(path, records)
        let source = try LocalImageBytes(path: path)
        let map = try #require(source.mapping())
        #expect(map.count == Int(source.size))
        #expect(source.mapping()?.baseAddress == map.baseAddress, "mapped once")
        var mapped = try ImageReader(source: source).records()
        var read = try ImageReader(source: LocalImageBytes(path: path, mappable: false)).records()
        var buf = [UInt8](repeating: 0, count: 1000)
        while let (entry, _) = try mapped.next() {
            #expect(try read.next()?.entry == entry)
            while true {
                let view = try #require(try mapped.mappedData(max: 1000))
                let n = try buf.withUnsafeMutableBytes { try read.readData(into: $0) }
                #expect(view.count == n)
                if n == 0 { break }
                #expect(Array(view) == Array(buf[0..<n]))
                #expect(mapped.lastDataCRC == read.lastDataCRC)
                #expect(view.baseAddress! >= map.baseAddress! && view.baseAddress! + n <= map.baseAddress! + map.count)
            }
        }
        #expect(try read.next() == nil)

        var bytes = readFile(path)
        let e = try #require(try ImageReader(path: path).entry(id: 7))
        bytes[Int(e.dataOffset) + 5] ^= 0x40
        writeFile(path, bytes)
        var damaged = try ImageReader(path: path).records()
        let err = imageError { () throws(ImageError) in
            while let (entry, _) = try damaged.next() {
                if entry.id == 7 { #expect(try damaged.mappedData(max: 4096)?.count == 4096) }
            }
        }
        guard case .checksumMismatch(_, _, 7, _, _, _)? = err else { Issue.record("\(String(describing: err))"); return }
    }

    @Test func unmappedSourceHasNoMappedData() throws {
        let dir = TempDir(), path = dir.file("1.ckpt")
        try writeImage(path, sampleRecords())
        var it = try ImageReader(source: LocalImageBytes(path: path, mappable: false)).records()
        _ = try it.next()
        _ = try it.next()
        _ = try it.next()
        #expect(try it.mappedData(max: 64) == nil)
    }

    @Test func emptyImageIsStructurallyValidButNotAStream() throws {
        let dir = TempDir(), path = dir.file("1.ckpt")
        try writeImage(path, [])
        let reader = try ImageReader(path: path)
        #expect(reader.index.isEmpty)
        let err = imageError { () throws(ImageError) in try verifyImage(path: path) }
        guard case .nesting(_, _, .missingTrailer(0))? = err else { Issue.record("\(String(describing: err))"); return }
    }

    @Test func largeRecordManyFragments() throws {
        let dir = TempDir(), path = dir.file("big.ckpt")
        var records = sampleRecords(pages: 256 * 4096)
        records[5].fragment = 65531
        try writeImage(path, records)
        var calls = 0
        _ = try verifyImage(path: path) { done, total in
            calls += 1
            #expect(done <= total)
        }
        #expect(calls >= 1)
        let reader = try ImageReader(path: path)
        let e = try #require(reader.entry(id: 7))
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = try buf.withUnsafeMutableBytes { try reader.readData(of: e, offset: 4096 * 100, into: $0) }
        #expect(n == 4096 && buf == Array(records[5].data[(4096 * 100)..<(4096 * 101)]))
    }

    @Test func crcCombineEqualsDirect() {
        let a = bytes(1000, seed: 1), b = bytes(12345, seed: 2)
        for cut in [0, 1, 7, 8, 500, 1000] {
            for len in [0, 1, 3, 8, 4096, 12345] {
                let x = Array(a[0..<cut]), y = Array(b[0..<len])
                #expect(CRC32CCombine.combine(CRC32C.checksum(x), CRC32C.checksum(y), lengthB: UInt64(len)) == CRC32C.checksum(x + y))
                // The running form: a register extended by a part's CRC, then fed on.
                var c = CRC32C()
                c.update(x)
                c.append(crc: CRC32C.checksum(y), length: y.count)
                c.update(x)
                #expect(c.value == CRC32C.checksum(x + y + x))
                // The same with the length's shift made once, used twice (`ShiftCache`).
                var shifts = CRC32CCombine.ShiftCache()
                var s = CRC32C()
                for _ in 0..<2 {
                    s.update(x)
                    s.append(crc: CRC32C.checksum(y), shift: shifts.shift(length: y.count))
                }
                #expect(s.value == CRC32C.checksum(x + y + x + y))
                // The summary fed a part's CRC equals the one fed its bytes.
                var direct = StreamSummaryBuilder(), combined = StreamSummaryBuilder()
                x.withUnsafeBytes { direct.beginRecord(meta: $0); combined.beginRecord(meta: $0) }
                y.withUnsafeBytes { direct.data($0) }
                combined.data(count: y.count, crc: CRC32C.checksum(y))
                #expect(direct.summary == combined.summary)
            }
        }
    }
}

@Suite struct TypedMetaTests {
    @Test func typedMetaThroughTheHook() throws {
        let dir = TempDir(), path = dir.file("1.ckpt")
        var records = sampleRecords()
        let vma = VMAMeta(start: 0x7000_0000, end: 0x7000_4000, vmFlags: 0x3, pgoff: 0, path: "/lib/x.so")
        records[4].meta = RecordMeta.vma(vma).encodedPayload()
        try writeImage(path, records)
        let reader = try ImageReader(path: path)
        #expect(try reader.typedMeta(of: reader.entry(id: 6)!) == .vma(vma))
        guard case .header(let h) = try reader.typedMeta(of: reader.entry(id: 1)!) else { Issue.record("not a header"); return }
        #expect(h.arch == "x86_64")
        // Task meta of 13 arbitrary bytes: an error at a file offset inside that record's meta.
        let task = try #require(reader.entry(id: 2))
        let e = imageError { () throws(ImageError) in try reader.typedMeta(of: task) }
        guard case let .badField(_, offset, 2, "task record meta", _, _)? = e else { Issue.record("\(String(describing: e))"); return }
        #expect(offset >= task.offset && offset < task.dataOffset)
    }
}
