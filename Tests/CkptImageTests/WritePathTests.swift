#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SystemPackage
import Testing
@testable import CkptImage

/// `ImageWritePath.splice`: the same bytes as `writev`, whatever the shape of the buffers,
/// and a pipe that is empty after every call, failed ones included.
@Suite struct WritePathTests {
    private func open(_ path: String, append: Bool = false) throws -> FileDescriptor {
        try FileDescriptor.open(
            FilePath(path), .writeOnly, options: append ? [.create, .truncate, .append] : [.create, .truncate],
            permissions: [.ownerReadWrite])
    }

    /// Writes `parts` of `buffer` through `call` with `ImageFileIO.writeAll`; returns the calls made.
    private func writeAll(_ fd: FileDescriptor, _ buffer: UnsafeRawBufferPointer, _ parts: [Range<Int>],
                          _ call: @escaping ImageFileIO.Writev) throws -> Int {
        let iov = UnsafeMutableBufferPointer<iovec>.allocate(capacity: parts.count)
        defer { iov.deallocate() }
        for (i, r) in parts.enumerated() {
            iov[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: buffer.baseAddress! + r.lowerBound), iov_len: r.count)
        }
        var calls = 0
        try ImageFileIO.writeAll(fd, iov, count: parts.count, offset: 0, path: "test") { fd, v, n in
            calls += 1
            return call(fd, v, n)
        }
        return calls
    }

    @Test func imageThroughThePipeIsByteIdentical() throws {
        let dir = TempDir()
        var files: [[UInt8]] = []
        for path in ImageWritePath.allCases {
            for coalesce in [0, 1 << 20] {
                let name = dir.file("\(path)-\(coalesce)")
                let fd = try open(name)
                defer { try? fd.close() }
                let w = try ImageWriter(fd: fd, header: testHeader, path: name, coalesceBytes: coalesce, writePath: path)
                let records = sampleRecords(pages: 700_000)
                for r in records {
                    try r.meta.withUnsafeBytes { try w.beginRecord(type: r.type, id: r.id, parent: r.parent, meta: $0, dataLength: UInt64(r.data.count)) }
                    // Coalesced fragments must outlive the flush: append the record whole.
                    try r.data.withUnsafeBytes { d in
                        if !d.isEmpty { try w.appendData(d) }
                        try w.flush()
                    }
                    try w.endRecord()
                }
                try w.finish(summary: summary(of: records))
                files.append(readFile(name))
            }
        }
        #expect(files[0].count > 700_000)
        for f in files.dropFirst() {
            let same = f == files[0]
            #expect(same, "\(f.count) bytes against \(files[0].count)")
        }
    }

    /// 2.5 MB in unaligned 61,000-byte parts: more than the pipe holds, so calls return short
    /// and `writeAll` continues; the file is the parts in order.
    @Test func largeUnalignedWritesContinueAfterShortCalls() throws {
        let dir = TempDir(), name = dir.file("big")
        let stride = 65_536, count = 40
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: stride * count, alignment: 4096)
        defer { buffer.deallocate() }
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: i &* 7 &+ i >> 13) }
        let parts = (0..<count).map { i in (i * stride + 3 + i)..<(i * stride + 3 + i + 61_000) }
        let pipe = try SplicePipe(path: name)
        let fd = try open(name)
        let calls = try writeAll(fd, UnsafeRawBufferPointer(buffer), parts, pipe.writev)
        try fd.close()
        #expect(calls > 1, "2.44 MB fit one pipe: the short-call path went untested")
        let expected = parts.flatMap { Array(UnsafeRawBufferPointer(rebasing: buffer[$0])) }
        let got = readFile(name)
        let same = got == expected
        #expect(same, "\(got.count) bytes against \(expected.count)")
    }

    /// `splice` refuses an O_APPEND file (EINVAL, nothing written): the writer falls back to
    /// `writev` and the file is whole.
    @Test func appendOnlyFileFallsBackToWritev() throws {
        let dir = TempDir(), name = dir.file("append")
        let data = bytes(300_000, seed: 5)
        let pipe = try SplicePipe(path: name)
        let fd = try open(name, append: true)
        try data.withUnsafeBytes { d in
            _ = try writeAll(fd, d, [0..<100_000, 100_000..<300_000], pipe.writev)
        }
        try fd.close()
        let got = readFile(name)
        let same = got == data
        #expect(same, "\(got.count) bytes against \(data.count)")
    }

    /// A splice that fails leaves nothing in the pipe: the next write through it carries only
    /// its own bytes.
    @Test func failedSpliceLeavesThePipeEmpty() throws {
        let dir = TempDir(), name = dir.file("ok")
        writeFile(dir.file("ro"), [])
        let readOnly = try FileDescriptor.open(FilePath(dir.file("ro")), .readOnly)
        defer { try? readOnly.close() }
        let pipe = try SplicePipe(path: name)
        let first = bytes(200_000, seed: 1), second = bytes(50_000, seed: 2)
        let n = first.withUnsafeBytes { d in
            var v = iovec(iov_base: UnsafeMutableRawPointer(mutating: d.baseAddress!), iov_len: d.count)
            return pipe.writev(readOnly.rawValue, &v, 1)
        }
        #expect(n == -Int(EBADF))
        let fd = try open(name)
        try second.withUnsafeBytes { d in _ = try writeAll(fd, d, [0..<d.count], pipe.writev) }
        try fd.close()
        let got = readFile(name)
        let same = got == second
        #expect(same, "\(got.count) bytes against \(second.count): bytes of the failed write were left in the pipe")
    }

    @Test func measureTimesBothInTheDirectory() throws {
        let dir = TempDir()
        let m = try ImageWritePath.measure(directory: dir.path).get()
        #expect(m.writevNs > 0 && m.spliceNs > 0)
        // O_TMPFILE: nothing is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        guard case .failure(.noSuchFileOrDirectory) = ImageWritePath.measure(directory: dir.file("absent")) else {
            Issue.record("a missing directory was timed")
            return
        }
    }
}

/// `Measurement.chosen`: splice only when it took less than 2/3 of writev's time.
@Suite struct WritePathChoiceTests {
    @Test(arguments: [
        (writev: 31_000_000, splice: 11_000_000, chosen: ImageWritePath.splice),  // the TCG guest's probe
        (writev: 500_000, splice: 400_000, chosen: .writev),  // a native start that picked splice before
        (writev: 400_000, splice: 500_000, chosen: .writev),
        (writev: 300, splice: 199, chosen: .splice),
        (writev: 300, splice: 200, chosen: .writev),  // exactly 1.5x
        (writev: 0, splice: 0, chosen: .writev),  // a clock too coarse to tell
    ] as [(writev: UInt64, splice: UInt64, chosen: ImageWritePath)])
    func spliceOnlyWhenClearlyFaster(_ c: (writev: UInt64, splice: UInt64, chosen: ImageWritePath)) {
        #expect(ImageWritePath.Measurement(writevNs: c.writev, spliceNs: c.splice).chosen == c.chosen)
    }
}
