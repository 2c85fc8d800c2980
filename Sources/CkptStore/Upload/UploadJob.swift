#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import Logging

/// One attempt at storing one image: a multipart upload that resumes where an earlier
/// attempt (or an earlier listener) stopped, checks every byte sent against the image's own
/// checksum, and confirms the result with a HEAD before the image counts as stored.
struct UploadJob {
    enum Outcome {
        case stored
        /// Try again after a backoff (the store is down, refused us, or answered wrongly).
        case retry(StoreError)
        /// The local image does not match its own trailer: it is kept, never uploaded.
        case abandoned
        /// The local image is gone (removed by an operator): nothing to do.
        case gone
        /// The listener is stopping; the upload resumes at the next start.
        case interrupted
    }

    let uploader: ImageUploader
    let client: S3Client
    let name: String
    let bytes: UInt64
    let worker: Int

    private var configuration: UploaderConfiguration { uploader.configuration }
    private var files: SpoolFiles { SpoolFiles(directory: uploader.directory) }
    private var path: String { uploader.directory + "/" + name }

    private struct Interrupted: Error {}

    func run() -> Outcome {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT {
                uploader.log.warning("image left the spool before it was stored", metadata: ["file": "\(name)"])
                files.remove(UploadState.fileName(for: name))
                return .gone
            }
            return .retry(.local(what: "open", path: path, errno: errno))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .retry(.local(what: "fstat", path: path, errno: errno)) }
        let size = UInt64(st.st_size)
        guard let expected = trailerCRC(fd: fd, size: size) else {
            let why = "\(name): not a complete image (no valid trailer): kept in the spool, not uploaded"
            uploader.log.error("image abandoned", metadata: ["file": "\(name)", "reason": "\(why)"])
            uploader.noteAbandoned(why)
            return .abandoned
        }
        do {
            try upload(fd: fd, size: size, expected: expected)
            return .stored
        } catch let error as StoreError {
            if case let .checksumMismatch(_, _, _, detail) = error, detail.hasPrefix("local:") {
                uploader.log.error("image abandoned", metadata: ["file": "\(name)", "reason": "\(error)"])
                uploader.noteAbandoned("\(name): \(error)")
                return .abandoned
            }
            uploader.log.warning("upload attempt failed; will retry", metadata: ["file": "\(name)", "error": "\(error)"])
            return .retry(error)
        } catch {
            return .interrupted
        }
    }

    /// The whole image's CRC-32C, from its trailer (`ImageChecksum`).
    private func trailerCRC(fd: Int32, size: UInt64) -> UInt32? {
        guard size >= UInt64(ImageChecksum.trailerSize) else { return nil }
        var t = [UInt8](repeating: 0, count: ImageChecksum.trailerSize)
        let n = t.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(size) - off_t($0.count)) }
        return n == t.count ? ImageChecksum.wholeImageCRC(trailer: t) : nil
    }

    private func matches(_ info: S3Client.ObjectInfo, size: UInt64, expected: UInt32) -> Bool {
        info.size == size && info.metadata[ImageChecksum.metadataKey]?.lowercased() == ImageChecksum.hex(expected)
    }

    private func headIfExists(_ object: ObjectURL) throws(StoreError) -> S3Client.ObjectInfo? {
        do { return try client.head(object) } catch {
            if case .noSuchKey = error { return nil }
            throw error
        }
    }

    private func upload(fd: Int32, size: UInt64, expected: UInt32) throws {
        let bucket = configuration.target.bucket
        let stateName = UploadState.fileName(for: name)
        var state = files.read(stateName).flatMap(UploadState.parse)
        if let s = state {
            // Resume: keep the parts the store still holds exactly as recorded.
            let object = ObjectURL(bucket: bucket, key: s.key)
            do {
                let held = try client.listParts(object, uploadID: s.uploadID)
                var kept: [Int: UploadState.PartRecord] = [:]
                for p in held {
                    if let r = s.parts[p.number], r.etag == p.etag, r.size == p.size { kept[p.number] = r }
                }
                state!.parts = kept
                uploader.noteResumed(kept.count)
                uploader.log.info("resuming upload", metadata: [
                    "file": "\(name)", "key": "\(s.key)", "parts-kept": "\(kept.count)",
                ])
            } catch {
                guard case .noSuchUpload = error else { throw error }
                // Completed by an earlier attempt that died before confirming, or aborted.
                if let info = try headIfExists(object), matches(info, size: size, expected: expected) {
                    try confirm(object, size: size)
                    return
                }
                state = nil
            }
        }
        if state == nil {
            var key = configuration.target.prefix + name
            // Never replace an object: crids repeat across reboots, and hosts share prefixes.
            var n = 0
            while let info = try headIfExists(ObjectURL(bucket: bucket, key: key)) {
                if matches(info, size: size, expected: expected) {
                    try confirm(ObjectURL(bucket: bucket, key: key), size: size)
                    return
                }
                n += 1
                let stem = name.hasSuffix(".ckpt") ? String(name.dropLast(5)) : name
                key = configuration.target.prefix + "\(stem)-\(n).ckpt"
            }
            let object = ObjectURL(bucket: bucket, key: key)
            let id = try client.createMultipartUpload(object, metadata: [
                ImageChecksum.metadataKey: ImageChecksum.hex(expected), "ckpt-size": "\(size)",
            ])
            state = UploadState(key: key, uploadID: id)
            try files.write(stateName, state!.text)
        }
        var s = state!
        let object = ObjectURL(bucket: bucket, key: s.key)
        let partSize = configuration.partSize
        let count = max(1, Int((size + partSize - 1) / partSize))
        for number in 1...count where s.parts[number] == nil {
            if uploader.isStopping { throw Interrupted() }
            let offset = UInt64(number - 1) * partSize
            let region = HTTPConnection.FileRegion(fd: fd, path: path, offset: offset, length: min(partSize, size - offset))
            let etag = try client.uploadPart(object, uploadID: s.uploadID, number: number, region: region)
            let record = UploadState.PartRecord(number: number, size: region.length, crc: region.crc.value, etag: etag)
            s.parts[number] = record
            try files.append(stateName, UploadState.line(record))
            uploader.noteSent(region.length)
        }
        // The parts' CRCs, combined in order, must be the image's checksum: else the local
        // file is not what its trailer says (disk damage, or changed under us).
        var combined: UInt32 = 0
        for number in 1...count {
            let p = s.parts[number]!
            combined = number == 1 ? p.crc : CRC32CCombine.combine(combined, p.crc, lengthB: p.size)
        }
        guard combined == expected else {
            try? client.abortMultipartUpload(object, uploadID: s.uploadID)
            files.remove(stateName)
            throw StoreError.checksumMismatch(what: "upload of \(path)", expected: expected, found: combined,
                                              detail: "local: the bytes read from the spool do not match the image's trailer")
        }
        try client.completeMultipartUpload(object, uploadID: s.uploadID,
                                           parts: s.parts.values.map { S3Client.Part(number: $0.number, etag: $0.etag, size: $0.size) })
        let info = try client.head(object)
        guard matches(info, size: size, expected: expected) else {
            files.remove(stateName)
            throw StoreError.checksumMismatch(what: "HEAD \(object)", expected: expected,
                                              found: UInt32(info.metadata[ImageChecksum.metadataKey] ?? "", radix: 16) ?? 0,
                                              detail: "the stored object (\(info.size) bytes) is not the image (\(size) bytes)")
        }
        try confirm(object, size: size)
    }

    /// The store holds the image: log it, then drop or mark the local copy.
    private func confirm(_ object: ObjectURL, size: UInt64) throws(StoreError) {
        uploader.log.info("image stored", metadata: ["file": "\(name)", "object": "\(object)", "bytes": "\(size)"])
        if configuration.deleteLocal {
            if unlink(path) != 0, errno != ENOENT { throw .local(what: "unlink", path: path, errno: errno) }
        } else {
            try files.write(UploadState.storedMarker(for: name), "key \(object.key)\n")
        }
        files.remove(UploadState.fileName(for: name))
    }
}
