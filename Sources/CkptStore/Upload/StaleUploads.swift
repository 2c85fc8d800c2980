#if canImport(Glibc)
import Glibc
#endif

/// Multipart uploads nobody will finish: a listener killed for good with its spool (or its
/// `.NAME.upload` state file) gone leaves an unfinished upload in the bucket, and its parts
/// take space until someone aborts it. At start the uploader lists the unfinished uploads
/// under its prefix and aborts those that are
///
/// - ckpt's: the key is `PREFIX` + a name ending in `.ckpt`, with no further `/`;
/// - older than `--store-abort-stale` (24 h by default) by the store's clock (the
///   `Initiated` time and the answer's `Date` are both the store's, so a skewed clock here
///   cannot make a fresh upload look old);
/// - not named by a state file in this spool (those are resumed, not aborted).
///
/// Listeners on several hosts may share a prefix; an upload of another host's older than
/// the bound is aborted too. That costs that host a fresh upload, never an image: a
/// resume that finds its upload gone starts over (`UploadJob`).
enum StaleUploads {
    /// The uploads to abort, by the rules above; `resuming` holds the upload ids of this
    /// spool's state files. Nothing when the store's clock is unknown.
    static func select(_ uploads: [S3Client.MultipartUpload], prefix: String, storeNow: Int?, maxAge: Int,
                       resuming: Set<String>) -> [S3Client.MultipartUpload] {
        guard let storeNow else { return [] }
        return uploads.filter { u in
            guard u.key.hasPrefix(prefix), let initiated = u.initiated else { return false }
            let name = u.key.dropFirst(prefix.count)
            return name.hasSuffix(".ckpt") && !name.contains("/") && !resuming.contains(u.uploadID)
                && storeNow - initiated > maxAge
        }
    }

    /// Lists, selects and aborts; logs each abort and returns how many. Failures are logged
    /// and end the sweep (the next start tries again): it is housekeeping, never a reason
    /// to stop uploading.
    static func sweep(_ uploader: ImageUploader, client: S3Client, maxAge: Int) -> Int {
        let target = uploader.configuration.target
        let listed: (uploads: [S3Client.MultipartUpload], storeNow: Int?)
        do { listed = try client.listMultipartUploads(bucket: target.bucket, prefix: target.prefix) } catch {
            uploader.log.notice("could not list unfinished uploads; stale ones are left for the next start",
                                metadata: ["error": "\(error)"])
            return 0
        }
        // The state files are read after the listing: an upload created since is too
        // young to be selected, and one being resumed has its state file already.
        let stale = select(listed.uploads, prefix: target.prefix, storeNow: listed.storeNow, maxAge: maxAge,
                           resuming: resumingUploadIDs(directory: uploader.directory))
        var aborted = 0
        for u in stale {
            do { try client.abortMultipartUpload(ObjectURL(bucket: target.bucket, key: u.key), uploadID: u.uploadID) } catch {
                if case .noSuchUpload = error { continue }  // finished or aborted meanwhile
                uploader.log.notice("could not abort a stale upload", metadata: ["key": "\(u.key)", "error": "\(error)"])
                break
            }
            aborted += 1
            uploader.log.info("aborted a stale multipart upload", metadata: [
                "key": "\(u.key)", "upload-id": "\(u.uploadID)",
                "age-s": "\(listed.storeNow.map { "\($0 - (u.initiated ?? $0))" } ?? "?")",
            ])
        }
        return aborted
    }

    /// The upload ids named by the spool's `.NAME.upload` state files.
    static func resumingUploadIDs(directory: String) -> Set<String> {
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var ids: Set<String> = []
        let files = SpoolFiles(directory: directory)
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard name.hasPrefix("."), name.hasSuffix(".upload"),
                  let state = files.read(name).flatMap(UploadState.parse) else { continue }
            ids.insert(state.uploadID)
        }
        return ids
    }
}
