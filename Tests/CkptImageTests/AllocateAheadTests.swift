#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import SystemPackage
import Testing
@testable import CkptImage

/// `ImageWriter`'s allocating ahead: every write lands in blocks allocated before it, in
/// steps that follow one another, the file's size stays what was written, and the image is
/// byte for byte the one written without it; a refusal ends it and costs nothing else.
@Suite struct AllocateAheadTests {
    /// ~5 MiB of page data in 32 KiB fragments, and the odd shapes.
    private static let records: [TestRecord] = sampleRecordsWithOddData().map {
        var r = $0
        if r.type == .pages { r.data = bytes(5 << 20, seed: 9); r.fragment = 32768 }
        return r
    }
    private static let mib: UInt64 = 1 << 20

    /// Records each `fallocate` and makes it.
    final class Allocations {
        var calls: [(offset: UInt64, length: UInt64)] = []
        var refuse: Int32 = 0
        func allocate(_ fd: Int32, _ offset: UInt64, _ length: UInt64) -> Int32 {
            calls.append((offset, length))
            return refuse != 0 ? refuse : ImageFileIO.systemAllocate(fd, offset, length)
        }
        var end: UInt64 { calls.last.map { $0.offset + $0.length } ?? 0 }
    }

    private func blocks(_ fd: FileDescriptor) -> (size: UInt64, allocated: UInt64) {
        var st = stat()
        #expect(fstat(fd.rawValue, &st) == 0)
        return (UInt64(st.st_size), UInt64(st.st_blocks) * 512)
    }

    @Test func everyWriteLandsInBlocksAllocatedBeforeIt() throws {
        let dir = TempDir(), ref = dir.file("ref.ckpt"), name = dir.file("w.partial")
        try writeImage(ref, Self.records)
        let fd = try FileDescriptor.open(FilePath(name), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        let a = Allocations()
        let w = try ImageWriter(fd: fd, header: testHeader, path: name, writev: ImageFileIO.systemWritev,
                                coalesceBytes: 1 << 20, alignWrites: 32768, allocateAhead: 2 * Self.mib,
                                allocate: a.allocate)
        var sawPastEnd = false
        for r in Self.records {
            try write(r, to: w)
            try w.flush()
            let (size, allocated) = blocks(fd)
            #expect(a.end >= size, "a write past the blocks allocated ahead")
            if allocated >= size + Self.mib / 2 { sawPastEnd = true }
        }
        try w.finish(summary: summary(of: Self.records))
        #expect(readFile(name) == readFile(ref))
        #expect(w.allocatedAhead)
        #expect(sawPastEnd, "no blocks were allocated past the end of the file")
        #expect(a.calls.count >= 3, "\(a.calls)")
        var at: UInt64 = 0
        for c in a.calls {
            #expect(c.offset == at, "steps follow one another")
            #expect(c.length % Self.mib == 0 && c.length >= Self.mib && c.length <= 2 * Self.mib, "\(c.length)")
            at = c.offset + c.length
        }
    }

    @Test(arguments: [EOPNOTSUPP, ENOSPC, ESPIPE])
    func aRefusalEndsItAndTheImageIsWhole(errno refused: Int32) throws {
        let dir = TempDir(), ref = dir.file("ref.ckpt"), name = dir.file("w.partial")
        try writeImage(ref, Self.records)
        let fd = try FileDescriptor.open(FilePath(name), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        let a = Allocations()
        a.refuse = refused
        let w = try ImageWriter(fd: fd, header: testHeader, path: name, writev: ImageFileIO.systemWritev,
                                coalesceBytes: 1 << 20, alignWrites: 32768, allocateAhead: 2 * Self.mib,
                                allocate: a.allocate)
        for r in Self.records { try write(r, to: w) }
        try w.finish(summary: summary(of: Self.records))
        #expect(a.calls.count == 1, "tried once")
        #expect(!w.allocatedAhead)
        #expect(readFile(name) == readFile(ref))
    }

    @Test func offByDefault() throws {
        let disk = AlignedWriteTests.EndsDisk()
        let a = Allocations()
        let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev,
                                coalesceBytes: 1 << 20, allocate: a.allocate)
        for r in Self.records { try write(r, to: w) }
        try w.finish(summary: summary(of: Self.records))
        #expect(a.calls.isEmpty)
        #expect(!w.allocatedAhead)
    }
}
