#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import SystemPackage

/// An image object in the store, read with ranged GETs: an `ImageByteSource`, so
/// `ImageReader` (header, trailer, index: three small reads for `ckpt show`) and
/// `verifyImage` (one pass, 1 MiB per GET) read it where it lies, never copying it whole.
/// Opening it HEADs the object and checks its checksum metadata against its trailer.
public final class ObjectImageBytes: ImageByteSource {
    public let object: ObjectURL
    public let info: S3Client.ObjectInfo
    public var path: String { object.description }
    public var size: UInt64 { info.size }
    private let client: S3Client
    /// GETs sent (for tests and `--json` output).
    public private(set) var requests = 0

    /// HEADs the object; then, unless `checkMetadata` is false, reads its trailer and checks
    /// that the object's `ckpt-crc32c` metadata is the CRC the trailer implies
    /// (`StoreError.checksumMismatch` if not).
    public init(client: S3Client, object: ObjectURL, checkMetadata: Bool = true) throws(StoreError) {
        self.client = client
        self.object = object
        info = try client.head(object)
        guard checkMetadata else { return }
        guard let stored = info.metadata[ImageChecksum.metadataKey] else {
            throw .checksumMismatch(what: "HEAD \(object)", expected: 0, found: 0,
                                    detail: "the object has no \(ImageChecksum.metadataKey) metadata: not stored by ckpt listen --store")
        }
        guard info.size >= UInt64(ImageChecksum.trailerSize) else {
            throw .checksumMismatch(what: "HEAD \(object)", expected: 0, found: 0, detail: "object of \(info.size) bytes: too short for an image")
        }
        let trailerBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ImageChecksum.trailerSize, alignment: 8)
        defer { trailerBuffer.deallocate() }
        let got = try client.get(object, offset: info.size - UInt64(ImageChecksum.trailerSize), into: trailerBuffer)
        let trailer = Array(trailerBuffer)
        requests += 1
        let implied = got == trailer.count ? ImageChecksum.wholeImageCRC(trailer: trailer) : nil
        guard let implied, ImageChecksum.hex(implied) == stored.lowercased() else {
            throw .checksumMismatch(what: "GET \(object)", expected: UInt32(stored, radix: 16) ?? 0, found: implied ?? 0,
                                    detail: implied == nil ? "the object's last 64 bytes are not a valid image trailer"
                                        : "the object's metadata and its trailer disagree: the object was changed after ckpt stored it")
        }
    }

    /// Transient failures (endpoint down for a moment, 5xx) are retried 3 times, 0.2, 0.4,
    /// 0.8 s apart; then, or for any other failure (a clock skew at once), `ImageError.io`
    /// naming the store error.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        guard offset < size else { return 0 }
        let want = Int(min(UInt64(buffer.count), size - offset))
        let out = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want])
        var attempt = 0
        while true {
            do {
                requests += 1
                return try client.get(object, offset: offset, into: out)
            } catch {
                attempt += 1
                if error.isRetryableSoon, attempt <= 3 {
                    usleep(UInt32(200_000 << (attempt - 1)))
                    continue
                }
                throw .io(operation: "read from the store (\(error))", path: path, offset: offset, errno: .ioError)
            }
        }
    }
}
