import CkptProtocol
import Logging
import XCTest

@testable import CkptStore

/// The parts of CkptStore that need no store: URL and configuration resolution, the XML
/// fields read from S3 answers, the checksum an image object carries, the resume state.
/// The store itself is tested for real by tools/store/test (Ceph RGW).
final class StoreUnitTests: XCTestCase {
    func testObjectURLParsing() throws {
        let u = try ObjectURL(parsing: "s3://my-bucket/host1/7.ckpt")
        XCTAssertEqual(u, ObjectURL(bucket: "my-bucket", key: "host1/7.ckpt"))
        XCTAssertEqual(try ObjectURL(parsing: "s3://my-bucket/host1").appending("7.ckpt").key, "host1/7.ckpt")
        XCTAssertEqual(try ObjectURL(parsing: "s3://my-bucket").prefix, "")
        for bad in ["s3://ab/x", "s3://Upper/x", "http://b/x", "s3:///x", "s3://bad_name/x"] {
            XCTAssertThrowsError(try ObjectURL(parsing: bad), bad) { e in
                guard case .configuration = e as? StoreError else { return XCTFail("\(bad): \(e)") }
            }
        }
    }

    func testConfigurationEnvironmentWinsOverFiles() throws {
        let files = ["/h/.aws/credentials": "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n"]
        let c = try StoreConfiguration.resolve(
            environment: ["HOME": "/h", "AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "ENVSECRET",
                          "AWS_DEFAULT_REGION": "eu-west-3", "AWS_ENDPOINT_URL": "http://127.0.0.1:7480/"],
            readFile: { files[$0] })
        XCTAssertEqual(c.accessKeyID, "ENVKEY")
        XCTAssertEqual(c.region, "eu-west-3")
        XCTAssertEqual(c.endpoint, "http://127.0.0.1:7480")
        XCTAssertEqual(c.credentialSource, "environment")
    }

    func testConfigurationProfilesFromFiles() throws {
        let files = [
            "/h/.aws/credentials": "# comment\n[default]\naws_access_key_id=D\naws_secret_access_key=DS\r\n\n[prod]\naws_access_key_id = P\naws_secret_access_key = PS\n",
            "/h/.aws/config": "[default]\nregion = us-west-2\n[profile prod]\nregion = eu-central-1\nendpoint_url = https://rgw.example:8443\ns3 =\n  addressing_style = path\n",
        ]
        let d = try StoreConfiguration.resolve(environment: ["HOME": "/h"], readFile: { files[$0] })
        XCTAssertEqual([d.accessKeyID, d.secretAccessKey, d.region, d.endpoint], ["D", "DS", "us-west-2", "https://s3.us-west-2.amazonaws.com"])
        let p = try StoreConfiguration.resolve(environment: ["HOME": "/h", "AWS_PROFILE": "prod"], readFile: { files[$0] })
        XCTAssertEqual([p.accessKeyID, p.secretAccessKey, p.region, p.endpoint], ["P", "PS", "eu-central-1", "https://rgw.example:8443"])
        XCTAssertEqual(p.credentialSource, "/h/.aws/credentials [prod]")
        XCTAssertThrowsError(try StoreConfiguration.resolve(environment: ["HOME": "/h", "AWS_PROFILE": "none"], readFile: { files[$0] }))
        XCTAssertThrowsError(try StoreConfiguration.resolve(
            environment: ["AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL": "ftp://x"], readFile: { _ in nil }))
    }

    func testXMLFieldsFromS3Answers() {
        let xml: Substring = """
            <?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated>\
            <Contents><Key>a/1 &amp; 2.ckpt</Key><Size>10</Size></Contents>\
            <Contents><Key>a/3.ckpt</Key><ETag>&quot;abc&quot;</ETag><Size>20</Size></Contents></ListBucketResult>
            """
        XCTAssertEqual(XMLFields.blocks("Contents", in: xml).compactMap { XMLFields.first("Key", in: $0) }, ["a/1 & 2.ckpt", "a/3.ckpt"])
        XCTAssertEqual(XMLFields.all("Size", in: xml), ["10", "20"])
        XCTAssertEqual(XMLFields.first("ETag", in: xml), "\"abc\"")
        XCTAssertNil(XMLFields.first("UploadId", in: xml))
        XCTAssertEqual(XMLFields.escape("\"a&b<c>\""), "&quot;a&amp;b&lt;c&gt;&quot;")
    }

    func testS3ErrorCodesMapToActionableErrors() {
        let o = ObjectURL(bucket: "bkt", key: "k")
        func err(_ code: String, _ status: Int = 403) -> StoreError {
            S3Client.error(what: "GET", object: o, status: status, body: "<Error><Code>\(code)</Code><Message>m</Message></Error>")
        }
        XCTAssertEqual(err("SignatureDoesNotMatch").exitCode, 69)
        guard case .credentials = err("InvalidAccessKeyId") else { return XCTFail() }
        guard case .clockSkew = err("RequestTimeTooSkewed") else { return XCTFail() }
        guard case .noSuchBucket = err("NoSuchBucket", 404) else { return XCTFail() }
        guard case .noSuchKey = S3Client.error(what: "HEAD", object: o, status: 404, body: "") else { return XCTFail() }
        // A HEAD answer has no body: a bare 403 is the clock's fault when the store's Date
        // is more than 15 min from ours, the credentials' otherwise.
        let now = S3Client.parseHTTPDate("Tue, 01 Dec 2026 11:18:41 GMT")!
        XCTAssertEqual(now, 1_796_123_921)
        XCTAssertNil(S3Client.parseHTTPDate("Tue, 01 Dec 2026 11:18:41"))
        let skewed = S3Client.error(what: "HEAD", object: o, status: 403, body: "", storeDate: "Tue, 01 Dec 2026 11:18:41 GMT", now: now - 1205)
        XCTAssertEqual(skewed, .clockSkew(what: "HEAD", message: "this machine's clock is 20 min 5 s behind the store's"))
        XCTAssertEqual(skewed.exitCode, 69)
        XCTAssertTrue(skewed.isTransient, "the uploader's spool waits for the clock to be fixed")
        XCTAssertFalse(skewed.isRetryableSoon, "a reader does not retry it for 1.4 s")
        XCTAssertTrue(err("SlowDown", 503).isRetryableSoon)
        guard case .credentials = S3Client.error(what: "HEAD", object: o, status: 403, body: "", storeDate: "Tue, 01 Dec 2026 11:18:41 GMT",
                                                 now: now + 60) else { return XCTFail("a 1 min skew is not the refusal's cause") }
        XCTAssertEqual(S3Client.describeSkew(3 * 3600 + 120), "this machine's clock is 3 h 2 min ahead of the store's")
        XCTAssertTrue(err("InternalError", 500).isTransient)
        XCTAssertFalse(err("AccessDenied").isTransient)
        XCTAssertEqual(StoreError.checksumMismatch(what: "x", expected: 1, found: 2, detail: "").exitCode, 65)
    }

    /// At start only ckpt's own uploads under the prefix, old by the store's clock and not
    /// resumed from the spool, are aborted.
    func testStaleUploadSelection() {
        let now = S3Client.parseISO8601("2026-12-01T12:00:00.000Z")!
        XCTAssertEqual(now, S3Client.parseHTTPDate("Tue, 01 Dec 2026 12:00:00 GMT"))
        XCTAssertEqual(S3Client.parseISO8601("2024-02-29T23:59:59Z"), 1_709_251_199, "a leap day")
        XCTAssertNil(S3Client.parseISO8601("2026-12-01 12:00:00Z"))
        func u(_ key: String, _ id: String, age: Int?) -> S3Client.MultipartUpload {
            .init(key: key, uploadID: id, initiated: age.map { now - $0 })
        }
        let listed = [
            u("h/1.ckpt", "old", age: 90000), u("h/2.ckpt", "young", age: 60), u("h/3.ckpt", "resumed", age: 90000),
            u("h/sub/4.ckpt", "deeper", age: 90000), u("h/notes.txt", "not-ours", age: 90000), u("h/5.ckpt", "no-date", age: nil),
            u("other/6.ckpt", "elsewhere", age: 90000),
        ]
        let picked = StaleUploads.select(listed, prefix: "h/", storeNow: now, maxAge: 86400, resuming: ["resumed"])
        XCTAssertEqual(picked.map(\.uploadID), ["old"])
        XCTAssertEqual(StaleUploads.select(listed, prefix: "h/", storeNow: nil, maxAge: 0, resuming: []), [],
                       "no store clock: nothing is old")
    }

    func testURIEncodingIsSigV4Canonical() {
        XCTAssertEqual(uriEncode("a b/c~d_e.f-g+h", keepSlash: true), "a%20b/c~d_e.f-g%2Bh")
        XCTAssertEqual(uriEncode("a/b=c", keepSlash: false), "a%2Fb%3Dc")
        let client = S3Client(configuration: StoreConfiguration(endpoint: "http://e", region: "r", accessKeyID: "k", secretAccessKey: "s"))
        XCTAssertEqual(client.url(ObjectURL(bucket: "bkt", key: "p/1.ckpt"), query: [("uploadId", "2~x"), ("partNumber", "3")], bucketOnly: false),
                       "http://e/bkt/p/1.ckpt?partNumber=3&uploadId=2~x")
        XCTAssertEqual(client.url(ObjectURL(bucket: "bkt", key: ""), query: [("uploads", "")], bucketOnly: true), "http://e/bkt?uploads=")
    }

    /// The whole-object CRC derived from a trailer equals the CRC-32C of every byte.
    func testWholeImageCRCFromTrailer() {
        var bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var trailer = Array("CKPTEND\0".utf8) + [UInt8](repeating: 0, count: 56)
        func put(_ v: UInt32, at: Int) { for i in 0..<4 { trailer[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
        put(CRC32C.checksum(bytes), at: 56)
        put(CRC32C.checksum(Array(trailer[0..<60])), at: 60)
        bytes += trailer
        XCTAssertEqual(ImageChecksum.wholeImageCRC(trailer: trailer), CRC32C.checksum(bytes))
        var bad = trailer
        bad[40] ^= 1
        XCTAssertNil(ImageChecksum.wholeImageCRC(trailer: bad), "a trailer whose own CRC fails")
        XCTAssertNil(ImageChecksum.wholeImageCRC(trailer: Array(trailer[0..<63])))
    }

    /// libcurl is loaded at the first store use (`Libcurl.load`); this machine has it
    /// (tools/setup-deps installs libcurl4).
    func testLibcurlLoadsOnceAndReportsIt() throws {
        try Libcurl.load()
        XCTAssertTrue(Libcurl.isLoaded)
        try Libcurl.load()  // once: the second call returns the first result
        XCTAssertTrue(Libcurl.isLoaded)
        XCTAssertNoThrow(try Libcurl.probe(soname: Libcurl.soname))
    }

    /// A machine without libcurl gets a typed error naming the library and the package,
    /// exit 69 (the store is unavailable to us), not a crash at start.
    func testMissingLibcurlIsATypedError() {
        XCTAssertThrowsError(try Libcurl.probe(soname: "libckpt-no-such-curl.so.4")) { e in
            guard case let .libcurlUnavailable(soname, reason) = e as? StoreError else { return XCTFail("\(e)") }
            XCTAssertEqual(soname, "libckpt-no-such-curl.so.4")
            XCTAssertTrue(reason.contains("cannot open shared object file"), reason)
            let error = e as! StoreError
            XCTAssertEqual(error.exitCode, 69)
            XCTAssertFalse(error.isTransient)
            XCTAssertEqual(error.description, "libckpt-no-such-curl.so.4 could not be loaded: \(reason); install libcurl4 (apt-get install libcurl4)")
        }
        // A library that loads but is not libcurl: the first missing function is named.
        XCTAssertThrowsError(try Libcurl.probe(soname: "libc.so.6")) { e in
            XCTAssertEqual(e as? StoreError, .libcurlUnavailable(soname: "libc.so.6", reason: "libc.so.6: no function curl_global_init"))
        }
    }

    func testUploadStateRoundTripAndTornLine() {
        var s = UploadState(key: "p/1.ckpt", uploadID: "2~abc")
        s.parts[2] = .init(number: 2, size: 5, crc: 0xDEAD_BEEF, etag: "\"e2\"")
        s.parts[1] = .init(number: 1, size: 7, crc: 0x1, etag: "\"e1\"")
        XCTAssertEqual(UploadState.parse(s.text), s)
        XCTAssertEqual(UploadState.parse(s.text + "part 3 5 0000"), s, "a torn last line is ignored")
        XCTAssertNil(UploadState.parse("upload x\n"), "no key")
    }
}

/// The uploader's spool accounting, without a store (no worker is started).
final class SpoolAccountingTests: XCTestCase {
    private func uploader(limit: UInt64?) -> ImageUploader {
        var configuration = UploaderConfiguration(
            target: ObjectURL(bucket: "bkt", key: "host1"),
            store: StoreConfiguration(endpoint: "http://127.0.0.1:9", region: "r", accessKeyID: "k", secretAccessKey: "s"))
        configuration.spoolLimit = limit
        return ImageUploader(configuration: configuration, directory: "/nonexistent", logger: Logger(label: "test"))
    }

    /// The room is the limit less the images waiting for upload; the listener's reserve
    /// stays below it (`SpaceReserve.target`) and counts in `spoolFull`'s bytes.
    func testTheRoomIsTheLimitLessWhatWaits() {
        XCTAssertNil(uploader(limit: nil).spoolRoom(), "no limit, no bound")
        let u = uploader(limit: 100)
        XCTAssertEqual(u.spoolRoom(), 100)
        u.published(name: "1.ckpt", bytes: 30)  // not on disk: the listener's count is used
        XCTAssertEqual(u.spoolRoom(), 70)
        XCTAssertFalse(u.spoolFull(unsettledBytes: 69))
        XCTAssertTrue(u.spoolFull(unsettledBytes: 70))
        u.published(name: "2.ckpt", bytes: 90)
        XCTAssertEqual(u.spoolRoom(), 0, "over the limit: no room, not a wrapped count")
    }
}

