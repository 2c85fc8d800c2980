import CkptImage
import CkptProtocol

/// The checksum an image object carries (metadata `x-amz-meta-ckpt-crc32c`, 8 hex digits):
/// the CRC-32C of every byte of the image. It is not computed over the file again: the
/// image's trailer already holds the CRC-32C of every byte before it (file CRC, trailer
/// offset 56; docs/image-format.md), so the whole-object CRC is that combined with the
/// CRC of the 64 trailer bytes. The uploader checks the bytes it sends against it; a reader
/// checks the object's metadata against the trailer it reads back, and `verify` checks
/// every byte against the trailer.
public enum ImageChecksum {
    public static let metadataKey = "ckpt-crc32c"
    public static let trailerSize = 64

    /// The whole image's CRC-32C from its last 64 bytes, or nil when they are not a valid
    /// trailer (magic `CKPTEND\0`, trailer CRC of bytes 0..<60 at offset 60).
    public static func wholeImageCRC(trailer t: [UInt8]) -> UInt32? {
        guard t.count == trailerSize, t[0..<8].elementsEqual(Array("CKPTEND\0".utf8)) else { return nil }
        func u32(_ at: Int) -> UInt32 { t[at..<(at + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        guard CRC32C.checksum(Array(t[0..<60])) == u32(60) else { return nil }
        return CRC32CCombine.combine(u32(56), CRC32C.checksum(t), lengthB: UInt64(trailerSize))
    }

    public static func hex(_ crc: UInt32) -> String { hex8(crc) }
}
