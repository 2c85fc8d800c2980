import CkptJSON

/// How `ckpt listen --store` uploads (docs/object-store.md).
public struct UploaderConfiguration: Sendable {
    /// `s3://BUCKET/PREFIX`: image `NAME.ckpt` becomes object `PREFIX/NAME.ckpt`.
    public var target: ObjectURL
    public var store: StoreConfiguration
    /// Bytes per multipart part (S3: at least 5 MiB but the last, at most 10,000 parts).
    public var partSize: UInt64 = 16 << 20
    /// Uploader threads, each with its own connection: images uploading at once.
    public var workers = 2
    /// Delete the local image once the store confirmed it (else keep it, marked stored).
    public var deleteLocal = true
    /// While the spool holds this many bytes or more (images waiting for upload, and streams
    /// written but not yet published), the listener stops reading new data (its senders
    /// wait) until uploads free room. nil: no bound.
    public var spoolLimit: UInt64? = nil
    /// At start, abort ckpt's unfinished multipart uploads under the prefix older than this
    /// many seconds (by the store's clock) and not resumed from this spool (`StaleUploads`).
    /// nil: never.
    public var staleUploadAge: Int? = 24 * 3600
    /// Backoff after a failed attempt: doubling from `retryBaseNs` up to `retryMaxNs`.
    public var retryBaseNs: UInt64 = 500_000_000
    public var retryMaxNs: UInt64 = 30_000_000_000

    public static let minimumPartSize: UInt64 = 5 << 20

    public init(target: ObjectURL, store: StoreConfiguration) {
        self.target = target
        self.store = store
    }
}

/// The uploader's counters, for the listener's stats file and status line.
public struct UploaderStats: Sendable, Equatable {
    /// Images in the spool not yet confirmed by the store (queued or uploading), and their bytes.
    public var pending = 0
    public var pendingBytes: UInt64 = 0
    /// The most `pendingBytes` ever was.
    public var peakPendingBytes: UInt64 = 0
    /// With `spoolLimit`: the most the spool held when the listener asked (images waiting
    /// plus streams written but not yet published).
    public var peakSpoolBytes: UInt64 = 0
    public var uploading = 0
    /// Images the store confirmed (size and checksum read back), and their bytes.
    public var stored: UInt64 = 0
    public var storedBytes: UInt64 = 0
    /// Part bytes the store accepted (a part sent twice counts twice).
    public var sentBytes: UInt64 = 0
    /// Parts found in the store on resume and not sent again.
    public var resumedParts: UInt64 = 0
    /// Failed attempts (each retried after a backoff) and images given up on.
    public var failures: UInt64 = 0
    public var abandoned: UInt64 = 0
    /// Stale multipart uploads aborted at start (`StaleUploads`).
    public var abortedStaleUploads: UInt64 = 0
    public var lastError: String? = nil
    public var spoolLimit: UInt64? = nil
    /// Times the spool bound held the listener back, and the time spent so.
    public var spoolStalls: UInt64 = 0
    public var spoolStalledNs: UInt64 = 0

    public init() {}

    /// The `"store"` object of the stats file.
    public func json(target: String) -> JSON {
        .object([
            ("target", .string(target)), ("pending", .int(Int64(pending))), ("pending_bytes", .uint(pendingBytes)),
            ("peak_pending_bytes", .uint(peakPendingBytes)), ("peak_spool_bytes", .uint(peakSpoolBytes)),
            ("uploading", .int(Int64(uploading))), ("stored", .uint(stored)), ("stored_bytes", .uint(storedBytes)),
            ("sent_bytes", .uint(sentBytes)), ("resumed_parts", .uint(resumedParts)), ("failures", .uint(failures)),
            ("abandoned", .uint(abandoned)), ("aborted_stale_uploads", .uint(abortedStaleUploads)),
            ("last_error", .optional(lastError)),
            ("spool_limit", spoolLimit.map { JSON.uint($0) } ?? .null), ("spool_stalls", .uint(spoolStalls)),
            ("spool_stalled_ms", .uint(spoolStalledNs / 1_000_000)),
        ])
    }

    /// The status line's part: `store 3 pending (48.0 MB), 12 stored, 1 failures`.
    public var statusText: String {
        "store \(pending) pending (\(mb(pendingBytes))), \(stored) stored, \(failures) failures"
    }
}

private func mb(_ b: UInt64) -> String {
    let tenths = (b + 50_000) / 100_000
    return "\(tenths / 10).\(tenths % 10) MB"
}
