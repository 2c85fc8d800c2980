#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import Foundation
import SystemPackage
import Testing
@testable import CkptImage

/// One record to write: its fields, meta payload, data, and how the data is cut into
/// `appendData` calls (fragment sizes; the last fragment takes the rest).
struct TestRecord {
    var type: RecordType
    var id: UInt32
    var parent: UInt32
    var meta: [UInt8]
    var data: [UInt8] = []
    var fragment: Int = 65531
}

let testHeader = ImageHeader(crid: 0x1122_3344_5566_7788, pid: 4242, captureStartNs: 1_700_000_000_123_456_789, host: "capture-host")

/// A valid header record meta (the verifier decodes it).
func headerMeta() -> [UInt8] {
    RecordMeta.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12.0-test", timeNs: 1_700_000_000_000_000_000)).encodedPayload()
}

func bytes(_ n: Int, seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

/// A stream with every shape: no data, data in one piece, data in many fragments, data not
/// a multiple of 8, empty meta, meta not a multiple of 8, non-contiguous ids.
func sampleRecords(pages: Int = 3 * 4096 + 5) -> [TestRecord] {
    [
        TestRecord(type: .header, id: 1, parent: 0, meta: headerMeta()),
        TestRecord(type: .task, id: 2, parent: 0, meta: bytes(13, seed: 1)),
        TestRecord(type: .regs, id: 3, parent: 2, meta: bytes(8, seed: 2), data: bytes(216, seed: 3), fragment: 100),
        TestRecord(type: .mm, id: 5, parent: 2, meta: []),
        TestRecord(type: .vma, id: 6, parent: 5, meta: bytes(44, seed: 4)),
        TestRecord(type: .pages, id: 7, parent: 6, meta: bytes(24, seed: 5), data: bytes(pages, seed: 6), fragment: 1000),
        TestRecord(type: .pages, id: 9, parent: 6, meta: bytes(24, seed: 7), data: bytes(8, seed: 8)),
        TestRecord(type: .file, id: 10, parent: 2, meta: bytes(3, seed: 9)),
        TestRecord(type: .trailer, id: 12, parent: 0, meta: bytes(32, seed: 10)),
    ]
}

/// Every record shape of `sampleRecords`, plus data that needs a pad (odd lengths), data
/// aligned to a page (64 KiB and up) and fragments that do not divide it.
func sampleRecordsWithOddData() -> [TestRecord] {
    var r = sampleRecords(pages: 20)
    var trailer = r.removeLast()
    r.append(TestRecord(type: .regs, id: 13, parent: 2, meta: bytes(24, seed: 20), data: bytes(200_003, seed: 5), fragment: 32768))
    r.append(TestRecord(type: .regs, id: 14, parent: 2, meta: bytes(24, seed: 21), data: bytes(7, seed: 11), fragment: 3))
    r.append(TestRecord(type: .regs, id: 15, parent: 2, meta: bytes(24, seed: 22), data: bytes(70_001, seed: 17), fragment: 4096))
    trailer.id = 16
    r.append(trailer)
    return r
}

func summary(of records: [TestRecord]) -> StreamSummary {
    var b = StreamSummaryBuilder()
    for r in records {
        r.meta.withUnsafeBytes { b.beginRecord(meta: $0) }
        r.data.withUnsafeBytes { b.data($0) }
    }
    return b.summary
}

/// A fresh temporary directory for one test.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "ckpt-image-tests-\(getpid())-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Writes `records` to `path` with ImageWriter; `finish` false leaves a partial image.
@discardableResult
func writeImage(_ path: String, _ records: [TestRecord], header: ImageHeader = testHeader, finish: Bool = true,
                summaryOverride: StreamSummary? = nil) throws -> UInt64 {
    let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
    defer { try? fd.close() }
    let w = try ImageWriter(fd: fd, header: header, path: path)
    for r in records { try write(r, to: w) }
    if finish { try w.finish(summary: summaryOverride ?? summary(of: records)) }
    return w.bytesWritten
}

func write(_ r: TestRecord, to w: ImageWriter) throws {
    try r.meta.withUnsafeBytes { try w.beginRecord(type: r.type, id: r.id, parent: r.parent, meta: $0, dataLength: UInt64(r.data.count)) }
    try r.data.withUnsafeBytes { d in
        var at = 0
        while at < d.count {
            let n = min(r.fragment, d.count - at)
            try w.appendData(UnsafeRawBufferPointer(rebasing: d[at..<(at + n)]))
            at += n
        }
    }
    try w.endRecord()
}

func readFile(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path)!) }
func writeFile(_ path: String, _ bytes: [UInt8]) { _ = FileManager.default.createFile(atPath: path, contents: Data(bytes)) }

/// The ImageError `body` throws; records an issue if it throws nothing or something else.
func imageError<T>(_ body: () throws(ImageError) -> T, sourceLocation: SourceLocation = #_sourceLocation) -> ImageError? {
    do {
        _ = try body()
        Issue.record("expected an ImageError", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

func le32(_ b: [UInt8], _ at: Int) -> UInt32 { b[at..<(at + 4)].enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } }
func le64(_ b: [UInt8], _ at: Int) -> UInt64 { b[at..<(at + 8)].enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } }
func put32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) { for i in 0..<4 { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
func crc(_ b: ArraySlice<UInt8>) -> UInt32 { CRC32C.portableChecksum(Array(b)) }
