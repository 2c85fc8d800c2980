/// `s3://BUCKET/KEY`: an object, or with a key ending in `/` (or empty) a prefix.
/// Keys are kept as given; they are percent-encoded only when a request is built.
public struct ObjectURL: Equatable, Sendable, CustomStringConvertible {
    public var bucket: String
    public var key: String

    public init(bucket: String, key: String) {
        self.bucket = bucket
        self.key = key
    }

    /// True for arguments that name an object store location rather than a local path.
    public static func isStoreURL(_ s: String) -> Bool { s.hasPrefix("s3://") }

    /// Parses `s3://BUCKET[/KEY]`. Bucket names follow S3's rules (3-63 characters of
    /// lower-case letters, digits, `.` and `-`), checked here so the user gets the reason
    /// instead of the store's `InvalidBucketName`.
    public init(parsing s: String) throws(StoreError) {
        guard Self.isStoreURL(s) else { throw .configuration("\(s): not an s3://BUCKET/KEY URL") }
        let rest = s.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        let key = String(rest.dropFirst(bucket.count + 1))
        let allowed = bucket.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "." || $0 == "-" }
        guard bucket.count >= 3, bucket.count <= 63, allowed else {
            throw .configuration("\(s): bucket name \"\(bucket)\" is not valid (3-63 characters: a-z, 0-9, '.', '-')")
        }
        self.init(bucket: bucket, key: key)
    }

    /// The key as a prefix for names under it: `p` becomes `p/`, `` stays ``.
    public var prefix: String { key.isEmpty || key.hasSuffix("/") ? key : key + "/" }

    public func appending(_ name: String) -> ObjectURL { ObjectURL(bucket: bucket, key: prefix + name) }

    public var description: String { "s3://\(bucket)/\(key)" }
}
