import SystemPackage

/// An image file open for reading, with one reusable read window: `bytes(at:count:)`
/// returns a view into it, valid until the next call. Sequential readers (the verifier,
/// the partial scanner) get one `pread` per window, not per structure. Not thread-safe.
final class ImageFile {
    let fd: FileDescriptor
    let path: String
    /// The size when opened; reads never go past it.
    let size: UInt64
    private var buffer: UnsafeMutableRawBufferPointer
    private var windowStart: UInt64 = 0
    private var windowCount = 0

    /// Default window: large enough that sequential reads cost few system calls.
    static let windowSize = 1 << 20

    init(path: String, windowSize: Int = ImageFile.windowSize) throws(ImageError) {
        self.path = path
        fd = try ImageFileIO.open(path)
        do {
            size = try ImageFileIO.size(fd, path: path)
        } catch {
            try? fd.close()
            throw error
        }
        buffer = .allocate(byteCount: windowSize, alignment: 8)
    }

    deinit {
        buffer.deallocate()
        try? fd.close()
    }

    /// `count` bytes at `offset`, which must lie in the file: else `.truncated` naming
    /// `structure` (and the record) at `offset`.
    func bytes(at offset: UInt64, count: Int, structure: @autoclosure () -> String, recordID: UInt32?) throws(ImageError) -> UnsafeRawBufferPointer {
        guard offset <= size, UInt64(count) <= size - offset else {
            throw .truncated(
                path: path, offset: offset, recordID: recordID, structure: structure(),
                needed: UInt64(count), available: offset <= size ? size - offset : 0)
        }
        if offset >= windowStart, offset + UInt64(count) <= windowStart + UInt64(windowCount) {
            let from = Int(offset - windowStart)
            return UnsafeRawBufferPointer(rebasing: buffer[from..<(from + count)])
        }
        if count > buffer.count {
            buffer.deallocate()
            buffer = .allocate(byteCount: count, alignment: 8)
        }
        let want = Int(min(UInt64(buffer.count), size - offset))
        windowCount = 0
        let got = try ImageFileIO.read(fd, at: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), path: path)
        windowStart = offset
        windowCount = got
        guard got >= count else {
            // The file shrank since it was opened.
            throw .truncated(
                path: path, offset: offset, recordID: recordID, structure: structure(),
                needed: UInt64(count), available: UInt64(got))
        }
        return UnsafeRawBufferPointer(rebasing: buffer[0..<count])
    }

    /// Reads straight into the caller's buffer (random access to record data), all of it.
    func read(at offset: UInt64, into out: UnsafeMutableRawBufferPointer, structure: @autoclosure () -> String, recordID: UInt32?) throws(ImageError) {
        guard offset <= size, UInt64(out.count) <= size - offset else {
            throw .truncated(
                path: path, offset: offset, recordID: recordID, structure: structure(),
                needed: UInt64(out.count), available: offset <= size ? size - offset : 0)
        }
        let got = try ImageFileIO.read(fd, at: offset, into: out, path: path)
        guard got == out.count else {
            throw .truncated(path: path, offset: offset, recordID: recordID, structure: structure(), needed: UInt64(out.count), available: UInt64(got))
        }
    }
}
