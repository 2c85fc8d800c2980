#if canImport(Glibc)
import Glibc
#endif

/// What survives a restart of an upload in progress: `DIR/.NAME.upload`, one line each:
///
///     key PREFIX/NAME.ckpt
///     upload UPLOAD-ID
///     part NUMBER SIZE CRC32C ETAG        (one per part the store accepted, appended)
///
/// A listener that starts again finds it, asks the store which parts it holds
/// (ListParts) and sends only the others; a part's CRC-32C is kept here because the store
/// cannot give it back, and the image's checksum is the parts' CRCs combined. Losing the
/// file (it is not fsynced) costs a fresh upload, never a wrong one. Hidden (dot) files, so
/// `ckpt list DIR` does not show them.
struct UploadState: Equatable {
    struct PartRecord: Equatable {
        var number: Int
        var size: UInt64
        var crc: UInt32
        var etag: String
    }

    var key: String
    var uploadID: String
    var parts: [Int: PartRecord] = [:]

    static func fileName(for image: String) -> String { ".\(image).upload" }
    /// With `--store-keep-local`: the image is in the store (its key inside).
    static func storedMarker(for image: String) -> String { ".\(image).stored" }

    static func parse(_ text: String) -> UploadState? {
        var key: String?, upload: String?, parts: [Int: PartRecord] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 4).map(String.init)
            switch f.first {
            case "key" where f.count == 2: key = f[1]
            case "upload" where f.count == 2: upload = f[1]
            case "part" where f.count == 5:
                if let n = Int(f[1]), let size = UInt64(f[2]), let crc = UInt32(f[3], radix: 16) {
                    parts[n] = PartRecord(number: n, size: size, crc: crc, etag: f[4])
                }
            default: continue  // a torn last line after a crash: that part is sent again
            }
        }
        guard let key, let upload else { return nil }
        return UploadState(key: key, uploadID: upload, parts: parts)
    }

    var text: String {
        "key \(key)\nupload \(uploadID)\n" + parts.keys.sorted().map { Self.line(parts[$0]!) }.joined()
    }

    static func line(_ p: PartRecord) -> String { "part \(p.number) \(p.size) \(hex8(p.crc)) \(p.etag)\n" }
}

/// Small files in the spool directory (state, markers), by name relative to it.
struct SpoolFiles {
    let directory: String

    func read(_ name: String) -> String? { readSmallFile(directory + "/" + name) }

    /// Replaces `name` with `text` (write to a temporary name, rename).
    func write(_ name: String, _ text: String) throws(StoreError) {
        let tmp = directory + "/" + name + ".tmp"
        try writeFile(tmp, text, flags: O_WRONLY | O_CREAT | O_TRUNC)
        guard rename(tmp, directory + "/" + name) == 0 else {
            throw .local(what: "rename to", path: directory + "/" + name, errno: errno)
        }
    }

    func append(_ name: String, _ text: String) throws(StoreError) {
        try writeFile(directory + "/" + name, text, flags: O_WRONLY | O_CREAT | O_APPEND)
    }

    func remove(_ name: String) {
        unlink(directory + "/" + name)
    }

    private func writeFile(_ path: String, _ text: String, flags: Int32) throws(StoreError) {
        let fd = open(path, flags | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .local(what: "open", path: path, errno: errno) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw .local(what: "write", path: path, errno: n < 0 ? errno : ENOSPC) }
            done += n
        }
    }
}
