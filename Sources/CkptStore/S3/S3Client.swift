#if canImport(Glibc)
import Glibc
#endif

/// The S3 calls ckpt makes, over one `HTTPConnection` (signing is libcurl's). Every error
/// answer becomes a `StoreError` that says what to do. Not thread-safe: one per thread.
///
/// Multipart upload is S3's own protocol, used as specified: CreateMultipartUpload,
/// UploadPart (parts of 5 MiB and more but the last, numbered from 1), ListParts (what the
/// store holds of an unfinished upload, to resume it), CompleteMultipartUpload (the part
/// list with each ETag), AbortMultipartUpload, and ListMultipartUploads (to find uploads
/// nobody will finish).
public final class S3Client {
    public let configuration: StoreConfiguration
    private let http: HTTPConnection

    public init(configuration: StoreConfiguration) {
        self.configuration = configuration
        http = HTTPConnection(signing: configuration)
    }

    public struct ObjectInfo: Equatable, Sendable {
        public var size: UInt64
        public var etag: String
        /// `x-amz-meta-*` headers, names lower-cased without the prefix.
        public var metadata: [String: String]
    }

    public struct ListedObject: Equatable, Sendable {
        public var key: String
        public var size: UInt64
        public var lastModified: String
    }

    /// An unfinished multipart upload (ListMultipartUploads).
    public struct MultipartUpload: Equatable, Sendable {
        public var key: String
        public var uploadID: String
        /// When it was created, seconds since the epoch by the store's clock; nil if the
        /// answer's `Initiated` could not be read.
        public var initiated: Int?
    }

    public struct Part: Equatable, Sendable {
        public var number: Int
        public var etag: String
        public var size: UInt64
    }

    // MARK: objects and buckets

    /// A missing object and a missing bucket both answer a HEAD with a bare 404: the
    /// bucket is asked after, so the error says which.
    public func head(_ object: ObjectURL) throws(StoreError) -> ObjectInfo {
        let r: HTTPConnection.Response
        do { r = try send("HEAD", object) } catch {
            guard case .noSuchKey = error else { throw error }
            try headBucket(object.bucket)
            throw error
        }
        var metadata: [String: String] = [:]
        for (k, v) in r.headers where k.hasPrefix("x-amz-meta-") { metadata[String(k.dropFirst(11))] = v }
        return ObjectInfo(size: UInt64(r.headers["content-length"] ?? "") ?? 0, etag: r.headers["etag"] ?? "", metadata: metadata)
    }

    /// Checks that the bucket exists and that we may use it.
    public func headBucket(_ bucket: String) throws(StoreError) {
        do { _ = try send("HEAD", ObjectURL(bucket: bucket, key: ""), bucketOnly: true) } catch {
            if case let .noSuchKey(what, _, _) = error { throw .noSuchBucket(what: what, bucket: bucket) }
            throw error
        }
    }

    public func createBucket(_ bucket: String) throws(StoreError) {
        _ = try send("PUT", ObjectURL(bucket: bucket, key: ""), bucketOnly: true)
    }

    /// Reads `buffer.count` bytes at `offset` (a ranged GET) straight into `buffer`; returns
    /// the bytes read (fewer only at the object's end).
    public func get(_ object: ObjectURL, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) -> Int {
        guard buffer.count > 0 else { return 0 }
        let r = try send("GET", object, headers: ["Range: bytes=\(offset)-\(offset + UInt64(buffer.count) - 1)"],
                         target: .buffer(buffer))
        return r.received
    }

    /// A whole small object in one PUT (tests; images go by multipart upload).
    public func put(_ object: ObjectURL, bytes: [UInt8], metadata: [String: String] = [:]) throws(StoreError) {
        _ = try send("PUT", object, headers: metadataHeaders(metadata), body: .bytes(bytes))
    }

    public func delete(_ object: ObjectURL) throws(StoreError) {
        _ = try send("DELETE", object)
    }

    /// Every object whose key starts with `prefix` (ListObjectsV2, all pages).
    public func list(bucket: String, prefix: String) throws(StoreError) -> [ListedObject] {
        var result: [ListedObject] = []
        var token: String? = nil
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let r = try send("GET", ObjectURL(bucket: bucket, key: ""), query: query, bucketOnly: true)
            let xml = Substring(String(decoding: r.body, as: UTF8.self))
            for c in XMLFields.blocks("Contents", in: xml) {
                guard let key = XMLFields.first("Key", in: c) else { continue }
                result.append(ListedObject(key: key, size: UInt64(XMLFields.first("Size", in: c) ?? "") ?? 0,
                                           lastModified: XMLFields.first("LastModified", in: c) ?? ""))
            }
            token = XMLFields.first("IsTruncated", in: xml) == "true" ? XMLFields.first("NextContinuationToken", in: xml) : nil
        } while token != nil
        return result
    }

    // MARK: multipart upload

    public func createMultipartUpload(_ object: ObjectURL, metadata: [String: String]) throws(StoreError) -> String {
        let r = try send("POST", object, query: [("uploads", "")],
                         headers: metadataHeaders(metadata) + ["Content-Type: application/octet-stream"])
        guard let id = XMLFields.first("UploadId", in: Substring(String(decoding: r.body, as: UTF8.self))), !id.isEmpty else {
            throw .server(what: "POST \(object)?uploads", status: r.status, code: "NoUploadId", message: "the answer has no UploadId")
        }
        return id
    }

    /// Sends one part from a file range; returns its ETag. `region.crc` is then the
    /// CRC-32C of exactly the bytes sent.
    func uploadPart(_ object: ObjectURL, uploadID: String, number: Int, region: HTTPConnection.FileRegion) throws(StoreError) -> String {
        let r = try send("PUT", object, query: [("partNumber", "\(number)"), ("uploadId", uploadID)], body: .file(region))
        guard let etag = r.headers["etag"], !etag.isEmpty else {
            throw .server(what: "PUT \(object) part \(number)", status: r.status, code: "NoETag", message: "the answer has no ETag")
        }
        return etag
    }

    /// The parts the store holds of an unfinished upload (all pages).
    public func listParts(_ object: ObjectURL, uploadID: String) throws(StoreError) -> [Part] {
        var parts: [Part] = []
        var marker: String? = nil
        repeat {
            var query = [("uploadId", uploadID)]
            if let marker { query.append(("part-number-marker", marker)) }
            let r = try send("GET", object, query: query)
            let xml = Substring(String(decoding: r.body, as: UTF8.self))
            for p in XMLFields.blocks("Part", in: xml) {
                guard let n = Int(XMLFields.first("PartNumber", in: p) ?? ""), let etag = XMLFields.first("ETag", in: p) else { continue }
                parts.append(Part(number: n, etag: etag, size: UInt64(XMLFields.first("Size", in: p) ?? "") ?? 0))
            }
            marker = XMLFields.first("IsTruncated", in: xml) == "true" ? XMLFields.first("NextPartNumberMarker", in: xml) : nil
        } while marker != nil
        return parts
    }

    public func completeMultipartUpload(_ object: ObjectURL, uploadID: String, parts: [Part]) throws(StoreError) {
        var xml = "<CompleteMultipartUpload>"
        for p in parts.sorted(by: { $0.number < $1.number }) {
            xml += "<Part><PartNumber>\(p.number)</PartNumber><ETag>\(XMLFields.escape(p.etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let what = "POST \(object)?uploadId"
        let r = try send("POST", object, query: [("uploadId", uploadID)], headers: ["Content-Type: application/xml"],
                         body: .bytes(Array(xml.utf8)))
        // S3 may answer 200 and still fail: the error is then in the body.
        let body = Substring(String(decoding: r.body, as: UTF8.self))
        if body.range(of: "<Error>") != nil {
            throw Self.error(what: what, object: object, status: 500, body: body)
        }
    }

    /// The unfinished multipart uploads whose keys start with `prefix` (all pages), and the
    /// store's clock when it answered (the last answer's `Date`), so that their ages are
    /// the store's to tell, not this machine's clock.
    public func listMultipartUploads(bucket: String, prefix: String) throws(StoreError) -> (uploads: [MultipartUpload], storeNow: Int?) {
        var uploads: [MultipartUpload] = []
        var storeNow: Int? = nil
        var markers: (key: String, id: String)? = nil
        repeat {
            var query = [("uploads", ""), ("prefix", prefix)]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.id)] }
            let r = try send("GET", ObjectURL(bucket: bucket, key: ""), query: query, bucketOnly: true)
            storeNow = r.headers["date"].flatMap(Self.parseHTTPDate) ?? storeNow
            let xml = Substring(String(decoding: r.body, as: UTF8.self))
            for u in XMLFields.blocks("Upload", in: xml) {
                guard let key = XMLFields.first("Key", in: u), let id = XMLFields.first("UploadId", in: u) else { continue }
                uploads.append(MultipartUpload(key: key, uploadID: id,
                                               initiated: XMLFields.first("Initiated", in: u).flatMap(Self.parseISO8601)))
            }
            let next = (XMLFields.first("NextKeyMarker", in: xml) ?? "", XMLFields.first("NextUploadIdMarker", in: xml) ?? "")
            let more = XMLFields.first("IsTruncated", in: xml) == "true" && !next.0.isEmpty
                && (markers.map { $0.key != next.0 || $0.id != next.1 } ?? true)
            markers = more ? (next.0, next.1) : nil
        } while markers != nil
        return (uploads, storeNow)
    }

    public func abortMultipartUpload(_ object: ObjectURL, uploadID: String) throws(StoreError) {
        _ = try send("DELETE", object, query: [("uploadId", uploadID)])
    }

    // MARK: requests

    private func metadataHeaders(_ metadata: [String: String]) -> [String] {
        metadata.keys.sorted().map { "x-amz-meta-\($0): \(metadata[$0]!)" }
    }

    /// `ENDPOINT/BUCKET/KEY?QUERY`, path style, the query sorted and encoded as SigV4's
    /// canonical request has it (libcurl 7.88 signs the query as it finds it in the URL).
    func url(_ object: ObjectURL, query: [(String, String)], bucketOnly: Bool) -> String {
        var s = configuration.endpoint + "/" + object.bucket
        if !bucketOnly { s += "/" + uriEncode(object.key, keepSlash: true) }
        if !query.isEmpty {
            s += "?" + query.sorted { $0.0 < $1.0 }
                .map { uriEncode($0.0, keepSlash: false) + "=" + uriEncode($0.1, keepSlash: false) }.joined(separator: "&")
        }
        return s
    }

    private func send(_ method: String, _ object: ObjectURL, query: [(String, String)] = [], headers: [String] = [],
                      body: HTTPConnection.Body = .none, target: HTTPConnection.Target = .memory(limit: 4 << 20),
                      bucketOnly: Bool = false) throws(StoreError) -> HTTPConnection.Response {
        let u = url(object, query: query, bucketOnly: bucketOnly)
        let r = try http.perform(method: method, url: u, headers: headers, body: body, target: target)
        guard r.status >= 200, r.status < 300 else {
            throw Self.error(what: "\(method) \(bucketOnly ? "s3://\(object.bucket)" : object.description)", object: object,
                             status: r.status, body: Substring(String(decoding: r.body, as: UTF8.self)),
                             storeDate: r.headers["date"], now: time(nil))
        }
        return r
    }

    /// An S3 error answer, by its `<Code>` (a HEAD has no body: its status decides).
    ///
    /// A request signed more than 15 minutes away from the store's clock is refused with
    /// `RequestTimeTooSkewed`, but an answer to HEAD has no body to say so: it is a bare
    /// 403, which alone reads as bad credentials. So a 403 whose `Date` header (`storeDate`,
    /// the store's clock) is more than `maximumSkew` from `now` (this machine's clock, the
    /// one the request was signed with) is the clock's fault, whatever the code; the
    /// message then says by how much and which way.
    static func error(what: String, object: ObjectURL, status: Int, body: Substring,
                      storeDate: String? = nil, now: Int = 0) -> StoreError {
        let code = XMLFields.first("Code", in: body) ?? (status == 404 ? "NotFound" : status == 403 ? "AccessDenied" : "HTTP\(status)")
        let message = XMLFields.first("Message", in: body) ?? ""
        let skew = storeDate.flatMap(parseHTTPDate).map { now - $0 }
        if code == "RequestTimeTooSkewed" || (status == 403 && skew.map { abs($0) > maximumSkew } == true) {
            let detail = skew.map(describeSkew) ?? message
            return .clockSkew(what: what, message: detail)
        }
        switch code {
        case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken":
            return .credentials(what: what, code: code, message: message)
        case "NoSuchBucket":
            return .noSuchBucket(what: what, bucket: object.bucket)
        case "NoSuchKey", "NotFound":
            return .noSuchKey(what: what, bucket: object.bucket, key: object.key)
        case "NoSuchUpload":
            return .noSuchUpload(what: what, uploadID: "")
        default:
            return .server(what: what, status: status, code: code, message: message)
        }
    }

    /// S3 (and RGW) refuse a request signed more than 15 minutes from their clock.
    static let maximumSkew = 15 * 60

    /// `this machine's clock is 20 min 5 s behind the store's`
    static func describeSkew(_ seconds: Int) -> String {
        let a = abs(seconds)
        let amount = a >= 3600 ? "\(a / 3600) h \(a % 3600 / 60) min" : a >= 60 ? "\(a / 60) min \(a % 60) s" : "\(a) s"
        return "this machine's clock is \(amount) \(seconds < 0 ? "behind" : "ahead of") the store's"
    }

    /// An HTTP `Date` (RFC 7231 IMF-fixdate: `Tue, 01 Dec 2026 11:18:41 GMT`) as seconds
    /// since the epoch; nil if it is not one.
    static func parseHTTPDate(_ s: String) -> Int? {
        let f = s.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let t = f.count == 6 ? f[4].split(separator: ":").compactMap { Int($0) } : []
        guard f.count == 6, f[5] == "GMT", let day = Int(f[1]), let m = months.firstIndex(of: String(f[2])),
              let year = Int(f[3]), t.count == 3 else { return nil }
        return epochSeconds(year: year, month: m + 1, day: day, hour: t[0], minute: t[1], second: t[2])
    }

    /// An S3 timestamp (`2026-12-01T11:18:41.000Z`, UTC) as seconds since the epoch
    /// (fractions dropped); nil if it is not one.
    static func parseISO8601(_ s: String) -> Int? {
        let dt = s.split(separator: "T")
        guard dt.count == 2, dt[1].hasSuffix("Z") else { return nil }
        let d = dt[0].split(separator: "-").compactMap { Int($0) }
        let t = dt[1].dropLast().split(separator: ":")
        guard d.count == 3, t.count == 3, let h = Int(t[0]), let m = Int(t[1]),
              let sec = Int(t[2].split(separator: ".", maxSplits: 1).first ?? "") else { return nil }
        return epochSeconds(year: d[0], month: d[1], day: d[2], hour: h, minute: m, second: sec)
    }

    /// Seconds since 1970-01-01 UTC of a proleptic Gregorian date and time (the usual era
    /// arithmetic, with years starting in March so that the leap day comes last).
    static func epochSeconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int? {
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month <= 2 ? month + 9 : month - 3) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return (era * 146_097 + doe - 719_468) * 86400 + hour * 3600 + minute * 60 + second
    }
}
