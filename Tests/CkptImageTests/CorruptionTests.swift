import CkptProtocol
import Testing
@testable import CkptImage

/// Where each structure of a small image lies, to check that an error names the right one.
struct ImageMap {
    var headerLength: Int
    var records: [(id: UInt32, range: Range<Int>)]
    var index: Range<Int>
    var trailer: Range<Int>

    init(path: String) throws {
        let r = try ImageReader(path: path)
        headerLength = Int(r.recordsOffset)
        records = r.index.map { ($0.id, Int($0.offset)..<Int($0.offset + $0.recordSize)) }
        index = Int(r.trailer.indexOffset)..<(Int(r.fileSize) - 64)
        trailer = (Int(r.fileSize) - 64)..<Int(r.fileSize)
    }

    func record(at offset: Int) -> (id: UInt32, range: Range<Int>)? { records.first { $0.range.contains(offset) } }
}

/// A small image: every shape, little data, so every-byte loops stay fast.
func smallRecords() -> [TestRecord] { sampleRecords(pages: 20) }

@Suite struct CorruptionTests {
    /// Every prefix of a complete image: the reader and the verifier refuse it with an offset
    /// inside the file; the partial scanner returns exactly the records that are whole.
    @Test func truncationAtEveryByte() throws {
        let dir = TempDir(), good = dir.file("good.ckpt"), cut = dir.file("cut.partial")
        try writeImage(good, smallRecords())
        let full = readFile(good)
        let map = try ImageMap(path: good)
        for n in 0..<full.count {
            writeFile(cut, Array(full[0..<n]))
            let readErr = imageError { () throws(ImageError) in try ImageReader(path: cut) }
            #expect(readErr.map { $0.offset <= UInt64(n) } == true, "prefix \(n): \(String(describing: readErr))")
            let verifyErr = imageError { () throws(ImageError) in try verifyImage(path: cut) }
            #expect(verifyErr.map { $0.offset <= UInt64(n) } == true, "prefix \(n): \(String(describing: verifyErr))")

            if n < map.headerLength {
                let e = imageError { () throws(ImageError) in try PartialImageScanner(path: cut).scan() }
                guard case .truncated? = e else { Issue.record("prefix \(n): \(String(describing: e))"); continue }
                continue
            }
            let result = try PartialImageScanner(path: cut).scan()
            let whole = map.records.filter { $0.range.upperBound <= n }
            #expect(result.lastRecordID == whole.last?.id, "prefix \(n)")
            #expect(result.summary.records == UInt64(whole.count))
            #expect(result.goodBytes == UInt64(whole.last?.range.upperBound ?? map.headerLength))
            let atBoundary = n == Int(result.goodBytes)
            switch result.stop {
            case .endOfFile: #expect(atBoundary, "prefix \(n)")
            case .reachedIndex: #expect(n >= map.index.lowerBound + 4, "prefix \(n)")
            case let .damaged(err):
                guard case .truncated = err else { Issue.record("prefix \(n): \(err)"); break }
                #expect(err.offset == result.goodBytes, "prefix \(n): \(err)")
                if let next = map.record(at: Int(result.goodBytes)), n - next.range.lowerBound >= 32 {
                    #expect(err.recordID == next.id, "prefix \(n): \(err)")
                }
            }
        }
    }

    /// Every single-byte corruption of a complete image: the verifier reports it, in the
    /// structure that holds the byte, with that record's id and an offset in that record.
    @Test func flippedByteAnywhereIsDetected() throws {
        let dir = TempDir(), good = dir.file("good.ckpt"), bad = dir.file("bad.ckpt")
        try writeImage(good, smallRecords())
        let full = readFile(good)
        let map = try ImageMap(path: good)
        for i in 0..<full.count {
            var b = full
            b[i] ^= 0x40
            writeFile(bad, b)
            guard let err = imageError({ () throws(ImageError) in try verifyImage(path: bad) }) else { continue }
            let where_ = "byte \(i): \(err)"
            // The file is verified through its mapping; read with pread, the same error.
            let read = imageError { () throws(ImageError) in try verifyImage(source: LocalImageBytes(path: bad, mappable: false)) }
            #expect(read == err, "\(where_); read: \(String(describing: read))")
            if i < map.headerLength {
                #expect(err.offset < UInt64(map.headerLength) && err.recordID == nil, "\(where_)")
            } else if let r = map.record(at: i) {
                #expect(map.record(at: Int(err.offset))?.id == r.id, "\(where_)")
                #expect(err.recordID == r.id || (err.recordID == nil && err.offset == UInt64(r.range.lowerBound)), "\(where_)")
                // The partial scanner stops at the same record.
                let scan = try PartialImageScanner(path: bad).scan()
                #expect(scan.goodBytes == UInt64(r.range.lowerBound), "\(where_)")
                guard case .damaged = scan.stop else { Issue.record("\(where_): scan \(scan.stop)"); continue }
            } else if map.index.contains(i) {
                #expect(map.index.contains(Int(err.offset)), "\(where_)")
            } else {
                #expect(map.trailer.contains(Int(err.offset)), "\(where_)")
            }
        }
    }

    @Test func wrongFileMagicAndVersion() throws {
        let dir = TempDir(), good = dir.file("good.ckpt"), bad = dir.file("bad.ckpt")
        try writeImage(good, smallRecords())
        var b = readFile(good)
        b[0] = UInt8(ascii: "X")
        writeFile(bad, b)
        var e = imageError { () throws(ImageError) in try ImageReader(path: bad) }
        guard case .badMagic(_, 0, nil, "file header", _, _)? = e else { Issue.record("\(String(describing: e))"); return }

        b = readFile(good)
        put32(&b, 8, 2)
        writeFile(bad, b)
        e = imageError { () throws(ImageError) in try ImageReader(path: bad) }
        guard case .unsupportedVersion(_, 8, "file header", 2, 1)? = e else { Issue.record("\(String(describing: e))"); return }

        // Trailer version 2 with a correct trailer CRC.
        b = readFile(good)
        let t = b.count - 64
        put32(&b, t + 8, 2)
        put32(&b, t + 60, crc(b[t..<(t + 60)]))
        writeFile(bad, b)
        e = imageError { () throws(ImageError) in try ImageReader(path: bad) }
        guard case .unsupportedVersion(_, UInt64(t + 8), "trailer", 2, 1)? = e else { Issue.record("\(String(describing: e))"); return }

        // Not an image at all, and an empty file.
        writeFile(bad, Array("hello, this is not an image at all".utf8))
        e = imageError { () throws(ImageError) in try ImageReader(path: bad) }
        guard case .badMagic(_, 0, _, _, _, _)? = e else { Issue.record("\(String(describing: e))"); return }
        writeFile(bad, [])
        e = imageError { () throws(ImageError) in try ImageReader(path: bad) }
        guard case .truncated(_, 0, nil, "file header", 24, 0)? = e else { Issue.record("\(String(describing: e))"); return }
        e = imageError { () throws(ImageError) in try ImageReader(path: dir.file("missing")) }
        guard case .io("open", _, 0, .noSuchFileOrDirectory)? = e else { Issue.record("\(String(describing: e))"); return }
    }

    @Test func treeRuleViolationIsReportedAtTheRecord() throws {
        let dir = TempDir(), path = dir.file("1.ckpt")
        var records = smallRecords()
        records[4].parent = 2  // a vma directly under the task
        try writeImage(path, records)
        _ = try ImageReader(path: path)  // the structure is fine
        let e = imageError { () throws(ImageError) in try verifyImage(path: path) }
        let vma = try #require(ImageReader(path: path).entry(id: 6))
        guard case let .nesting(_, offset, .wrongParentType(6, .vma, .task, .mm))? = e else { Issue.record("\(String(describing: e))"); return }
        #expect(offset == vma.offset)
        let scan = try PartialImageScanner(path: path).scan()
        #expect(scan.lastRecordID == 5)
        guard case .damaged(.nesting)? = Optional(scan.stop) else { Issue.record("\(scan.stop)"); return }

        // Iterating the records finds the same problem.
        var it = try ImageReader(path: path).records()
        let iterErr = imageError { () throws(ImageError) in while try it.next() != nil {} }
        #expect(iterErr == e)
    }

    @Test func missingTrailerRecordAndNonHeaderFirst() throws {
        let dir = TempDir(), path = dir.file("1.ckpt")
        var records = smallRecords()
        records.removeLast()
        try writeImage(path, records)
        var e = imageError { () throws(ImageError) in try verifyImage(path: path) }
        guard case .nesting(_, _, .missingTrailer(8))? = e else { Issue.record("\(String(describing: e))"); return }

        records = Array(smallRecords().dropFirst())
        try writeImage(path, records)
        e = imageError { () throws(ImageError) in try verifyImage(path: path) }
        guard case .nesting(_, _, .firstRecordNotHeader(2, .task))? = e else { Issue.record("\(String(describing: e))"); return }
    }

    @Test func headerRecordWithBadMeta() throws {
        let dir = TempDir(), path = dir.file("1.ckpt")
        var records = smallRecords()
        records[0].meta = [1, 2, 3]
        try writeImage(path, records)
        let e = imageError { () throws(ImageError) in try verifyImage(path: path) }
        guard case .badField(_, _, 1, "header record meta", _, _)? = e else { Issue.record("\(String(describing: e))"); return }
    }
}
