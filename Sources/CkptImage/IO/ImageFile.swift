import SystemPackage

/// An image file open for reading, with one reusable read window: `bytes(at:count:)`
/// returns a view into it, valid until the next call. Sequential readers (the verifier,
/// the partial scanner) get one `pread` per window, not per structure. Once `mapping()`
/// mapped the file, `bytes` returns views of the mapping instead (no copy). Not
/// thread-safe.
final class ImageFile {
    private let source: any ImageByteSource
    let path: String
    /// The size when opened; reads never go past it.
    let size: UInt64
    private var buffer: UnsafeMutableRawBufferPointer
    private var windowStart: UInt64 = 0
    private var windowCount = 0
    /// The source's mapping, once `mapping()` asked for it.
    private var mapped: UnsafeRawBufferPointer?

    /// Default window: large enough that sequential reads cost few system calls.
    static let windowSize = 1 << 20

    convenience init(path: String, windowSize: Int = ImageFile.windowSize) throws(ImageError) {
        try self.init(source: LocalImageBytes(path: path), windowSize: windowSize)
    }

    /// Reads from any byte source (a local file, an object in a store). `mapNow`: take the
    /// source's mapping at once, so every read is a view of it and no window is ever copied
    /// (falls back to the window where the source cannot be mapped).
    init(source: any ImageByteSource, windowSize: Int = ImageFile.windowSize, mapNow: Bool = false) {
        self.source = source
        path = source.path
        size = source.size
        mapped = mapNow ? source.mapping() : nil
        buffer = .allocate(byteCount: mapped == nil ? windowSize : 0, alignment: 8)
    }

    deinit {
        buffer.deallocate()
    }

    /// `count` bytes at `offset`, which must lie in the file: else `.truncated` naming
    /// `structure` (and the record) at `offset`.
    func bytes(at offset: UInt64, count: Int, structure: @autoclosure () -> String, recordID: UInt32?) throws(ImageError) -> UnsafeRawBufferPointer {
        guard offset <= size, UInt64(count) <= size - offset else {
            throw .truncated(
                path: path, offset: offset, recordID: recordID, structure: structure(),
                needed: UInt64(count), available: offset <= size ? size - offset : 0)
        }
        if let mapped {
            // Within `size` (checked above), which the mapping covers.
            return UnsafeRawBufferPointer(rebasing: mapped[Int(offset)..<(Int(offset) + count)])
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
        let got = try source.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
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

    /// The whole file as one view (`ImageByteSource.mapping()`), nil when not mappable;
    /// from then on `bytes` reads from it too.
    func mapping() -> UnsafeRawBufferPointer? {
        if mapped == nil { mapped = source.mapping() }
        return mapped
    }

    /// Reads straight into the caller's buffer (random access to record data), all of it.
    func read(at offset: UInt64, into out: UnsafeMutableRawBufferPointer, structure: @autoclosure () -> String, recordID: UInt32?) throws(ImageError) {
        guard offset <= size, UInt64(out.count) <= size - offset else {
            throw .truncated(
                path: path, offset: offset, recordID: recordID, structure: structure(),
                needed: UInt64(out.count), available: offset <= size ? size - offset : 0)
        }
        let got = try source.read(at: offset, into: out)
        guard got == out.count else {
            throw .truncated(path: path, offset: offset, recordID: recordID, structure: structure(), needed: UInt64(out.count), available: UInt64(got))
        }
    }
}

/// Where an image's bytes come from: a local file (`LocalImageBytes`) or anything else that
/// can read a range at an offset, such as an object in an S3 store read with ranged GETs
/// (CkptStore). Readers (`ImageReader`, `verifyImage`) take one instead of a path, so an
/// image is read where it lies, without a local copy.
public protocol ImageByteSource: AnyObject {
    /// Names the image in errors (a path, an `s3://` URL).
    var path: String { get }
    /// The image's size in bytes, fixed when the source was opened.
    var size: UInt64 { get }
    /// Reads up to `buffer.count` bytes at `offset`, filling the buffer unless the image
    /// ends first; returns the bytes read. Failures are `ImageError.io`.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int
    /// The image's `size` bytes as one read-only view that lives as long as the source,
    /// mapped at the first call; nil when the source cannot be mapped (then `read`).
    func mapping() -> UnsafeRawBufferPointer?
}

extension ImageByteSource {
    /// Not mappable (an object in a store): read with `read`.
    public func mapping() -> UnsafeRawBufferPointer? { nil }
}

/// A local image file (`pread(2)` through `ImageFileIO`), or mapped whole for a caller
/// that walks all of it (`mapping()`: the restart's walk, which then copies nothing).
public final class LocalImageBytes: ImageByteSource {
    let fd: FileDescriptor
    public let path: String
    public let size: UInt64
    private var mapped: UnsafeRawBufferPointer?
    private var mapTried: Bool

    /// The open descriptor's number, for checks on the file itself (`fstat`: who owns it).
    public var descriptor: Int32 { fd.rawValue }

    /// `mappable: false`: never mapped, every byte read with pread (tests compare the two).
    public init(path: String, mappable: Bool = true) throws(ImageError) {
        self.path = path
        mapTried = !mappable
        fd = try ImageFileIO.open(path)
        do {
            size = try ImageFileIO.size(fd, path: path)
        } catch {
            try? fd.close()
            throw error
        }
    }

    deinit {
        if let mapped { ImageFileIO.unmap(mapped) }
        try? fd.close()
    }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        try ImageFileIO.read(fd, at: offset, into: buffer, path: path)
    }

    /// The file mapped read-only at its size when opened (once; nil if mmap fails). A file
    /// truncated while mapped kills the reader with SIGBUS when it touches the lost bytes;
    /// published images are never truncated (the listener renames complete files into place).
    public func mapping() -> UnsafeRawBufferPointer? {
        if !mapTried {
            mapTried = true
            mapped = ImageFileIO.map(fd, size: size)
        }
        return mapped
    }
}
