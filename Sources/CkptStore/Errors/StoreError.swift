/// Everything that can go wrong talking to an S3 store, typed by what the user can do about
/// it. Each case carries the request it happened on (`what`: method and URL) so a message
/// names the object and the endpoint.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The command line or configuration is wrong: a malformed `s3://` URL, no credentials,
    /// an endpoint that is not an http(s) URL.
    case configuration(String)
    /// No TCP connection or no HTTP answer: the endpoint is down, refused, timed out or
    /// the connection broke mid-transfer. `curl` is libcurl's own message.
    case unreachable(what: String, endpoint: String, curl: String)
    /// The store refused our identity: unknown access key, wrong secret (signature
    /// mismatch) or no permission.
    case credentials(what: String, code: String, message: String)
    /// The request's time differs too much from the store's clock (S3: 15 minutes).
    /// `message` says by how much when the answer's `Date` told (`S3Client.error`).
    case clockSkew(what: String, message: String)
    case noSuchBucket(what: String, bucket: String)
    case noSuchKey(what: String, bucket: String, key: String)
    /// The multipart upload is gone (aborted, or completed by an earlier attempt).
    case noSuchUpload(what: String, uploadID: String)
    /// Any other error answer; 5xx and throttling are retried, the rest are not.
    case server(what: String, status: Int, code: String, message: String)
    /// Bytes read back, or a part sent, do not have the CRC-32C they must have.
    case checksumMismatch(what: String, expected: UInt32, found: UInt32, detail: String)
    /// A local file (the spool) could not be read or written.
    case local(what: String, path: String, errno: Int32)
    /// libcurl, which ckpt loads at the first store request (`Libcurl`), is missing or
    /// unusable on this machine. `reason` is `dlerror()`'s text or the function not found.
    case libcurlUnavailable(soname: String, reason: String)

    /// Worth trying again later without anyone changing anything.
    public var isTransient: Bool {
        switch self {
        case .unreachable: return true
        case let .server(_, status, code, _): return status >= 500 || status == 429 || code == "SlowDown" || code == "RequestTimeout"
        case .clockSkew: return true  // clocks get fixed (ntp) while the spool waits
        default: return false
        }
    }

    /// Worth a retry within a second or two (a reader's short backoff): transient, but
    /// not a clock skew, which no one fixes that fast.
    public var isRetryableSoon: Bool {
        if case .clockSkew = self { return false }
        return isTransient
    }

    /// The `ckpt` exit code for this error (docs/object-store.md): 69 the store is
    /// unavailable to us (down, bad credentials, clock skew, missing bucket, no libcurl), 74 an object
    /// or local file cannot be read or written, 65 the data is corrupt, 64 usage.
    public var exitCode: Int32 {
        switch self {
        case .configuration: return 64
        case .unreachable, .credentials, .clockSkew, .noSuchBucket, .libcurlUnavailable: return 69
        case .noSuchKey, .noSuchUpload, .local: return 74
        case let .server(_, status, _, _): return status >= 500 ? 69 : 74
        case .checksumMismatch: return 65
        }
    }

    public var description: String {
        switch self {
        case let .configuration(why):
            return why
        case let .unreachable(what, endpoint, curl):
            return "\(what): store endpoint \(endpoint) unreachable: \(curl) (is the store running? check AWS_ENDPOINT_URL)"
        case let .credentials(what, code, message):
            return "\(what): the store refused the credentials (\(code)\(message.isEmpty ? "" : ": " + message)); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS_PROFILE's keys"
        case let .clockSkew(what, message):
            return "\(what): this machine's clock differs too much from the store's\(message.isEmpty ? "" : ": " + message) (S3 refuses requests signed more than 15 min off: RequestTimeTooSkewed); fix the clock (NTP)"
        case let .noSuchBucket(what, bucket):
            return "\(what): bucket \(bucket) does not exist (create it, or fix the s3:// URL)"
        case let .noSuchKey(what, bucket, key):
            return "\(what): no object s3://\(bucket)/\(key)"
        case let .noSuchUpload(what, id):
            return "\(what): multipart upload \(id) no longer exists"
        case let .server(what, status, code, message):
            return "\(what): HTTP \(status) \(code)\(message.isEmpty ? "" : ": " + message)"
        case let .checksumMismatch(what, expected, found, detail):
            return "\(what): CRC-32C mismatch: expected \(hex8(expected)), found \(hex8(found)) (\(detail))"
        case let .local(what, path, errno):
            return "\(what) \(path): \(errnoText(errno))"
        case let .libcurlUnavailable(soname, reason):
            return "\(soname) could not be loaded: \(reason); install libcurl4 (apt-get install libcurl4)"
        }
    }
}

func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 8 - s.count) + s
}
