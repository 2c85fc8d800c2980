#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CkptProtocol
import SystemPackage

/// CRC-32C of bytes already written to a file, read back through the page cache: mapped a
/// window at a time (`mmap(2)`, 8 MiB, unmapped before the next is mapped: the image is never
/// mapped whole), or read with `pread(2)` into a 64 KiB buffer where the file cannot be
/// mapped. The descriptor must be open for reading.
enum FileRangeChecksum {
    static let window = 8 << 20

    static func crc32c(_ fd: FileDescriptor, offset: UInt64, length: UInt64, path: String) throws(ImageError) -> UInt32 {
        var crc = CRC32C()
        var at = offset
        let end = offset + length
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        while at < end {
            let start = at - at % page  // mmap's offset must be page-aligned
            let span = Int(min(UInt64(window), end - start))
            let p = mmap(nil, span, PROT_READ, MAP_SHARED, fd.rawValue, off_t(start))
            guard let p, p != MAP_FAILED else {
                try readBack(fd, from: at, to: end, into: &crc, path: path)
                return crc.value
            }
            _ = madvise(p, span, MADV_SEQUENTIAL)  // MADV_POPULATE_READ measured no faster (runs 30-31)
            let skip = Int(at - start)
            crc.update(UnsafeRawBufferPointer(start: p + skip, count: span - skip))
            _ = munmap(p, span)
            at = start + UInt64(span)
        }
        return crc.value
    }

    private static func readBack(_ fd: FileDescriptor, from: UInt64, to end: UInt64, into crc: inout CRC32C,
                                 path: String) throws(ImageError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        var at = from
        while at < end {
            let want = Int(min(UInt64(buffer.count), end - at))
            let n = try ImageFileIO.read(fd, at: at, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), path: path)
            guard n == want else {
                throw .io(operation: "read back", path: path, offset: at + UInt64(n), errno: .ioError)
            }
            crc.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            at += UInt64(n)
        }
    }
}
