#if canImport(Glibc)
import Glibc
#endif
import CCkptCurl
import CkptProtocol

/// One HTTP connection to the store: a libcurl easy handle, reused request after request so
/// the TCP connection stays open (`curl_easy_reset` keeps it). libcurl is loaded by the first
/// request (`Libcurl`). Every request is signed by
/// libcurl itself with AWS Signature Version 4 (`CURLOPT_AWS_SIGV4`); the payload is sent
/// as `UNSIGNED-PAYLOAD` (its integrity is the CRC-32C this package checks end to end).
/// Not thread-safe: one per thread.
final class HTTPConnection {
    enum Body {
        case none
        case bytes([UInt8])
        /// `length` bytes of a file from `offset`, read with `pread` as libcurl sends them,
        /// each byte checksummed once on the way (`FileRegion.crc`).
        case file(FileRegion)
    }

    /// Where a successful response's body goes. Error bodies always go to memory.
    enum Target {
        case memory(limit: Int)
        case buffer(UnsafeMutableRawBufferPointer)
    }

    struct Response {
        var status: Int
        /// Header names lower-cased.
        var headers: [String: String]
        var body: [UInt8]
        /// Bytes written into a `.buffer` target.
        var received: Int
    }

    /// A file range sent as a request body; `crc` is the CRC-32C of what was actually sent.
    final class FileRegion {
        let fd: Int32
        let path: String
        let offset: UInt64
        let length: UInt64
        private(set) var sent: UInt64 = 0
        private(set) var crc = CRC32C()
        fileprivate(set) var readErrno: Int32 = 0

        init(fd: Int32, path: String, offset: UInt64, length: UInt64) {
            self.fd = fd
            self.path = path
            self.offset = offset
            self.length = length
        }

        /// libcurl may rewind a body (a redirect, an auth retry): start over.
        func rewind() {
            sent = 0
            crc = CRC32C()
        }

        /// Fills `out` with the next bytes; 0 at the end; nil on a read error.
        fileprivate func next(into out: UnsafeMutableRawBufferPointer) -> Int? {
            let want = Int(min(UInt64(out.count), length - sent))
            var done = 0
            while done < want {
                let n = pread(fd, out.baseAddress! + done, want - done, off_t(offset + sent) + off_t(done))
                if n < 0, errno == EINTR { continue }
                if n < 0 { readErrno = errno; return nil }
                if n == 0 { readErrno = EIO; return nil }  // the file shrank under us
                done += n
            }
            crc.update(UnsafeRawBufferPointer(rebasing: out[0..<done]))
            sent += UInt64(done)
            return done
        }
    }

    /// The easy handle, made by the first request (which loads libcurl: `Libcurl.load`).
    private var easy: UnsafeMutableRawPointer?
    private let signing: StoreConfiguration
    private var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    init(signing: StoreConfiguration) {
        self.signing = signing
    }

    deinit { if let easy { ckpt_curl_easy_cleanup(easy) } }

    /// The easy handle; the first call loads libcurl (a missing library throws
    /// `.libcurlUnavailable`). `curl_easy_init` fails only when out of memory: reported as
    /// the endpoint unreachable, a transient error retried later.
    private func easyHandle(for what: String) throws(StoreError) -> UnsafeMutableRawPointer {
        if let easy { return easy }
        try Libcurl.load()
        guard let h = ckpt_curl_easy_init() else {
            throw .unreachable(what: what, endpoint: signing.endpoint, curl: "curl_easy_init failed (out of memory?)")
        }
        easy = h
        return h
    }

    /// Per-request state reached from libcurl's callbacks.
    fileprivate final class Transfer {
        var body: Body
        var bytesOffset = 0
        var target: Target
        var status = 0
        var headers: [String: String] = [:]
        var memory: [UInt8] = []
        var received = 0
        var overflow = false
        init(body: Body, target: Target) {
            self.body = body
            self.target = target
        }
    }

    /// Sends one request and returns the answer, whatever its status; throws only when no
    /// complete answer came (`.unreachable`) or the body could not be read (`.local`).
    func perform(method: String, url: String, headers: [String] = [], body: Body = .none,
                 target: Target = .memory(limit: 1 << 20)) throws(StoreError) -> Response {
        let what = "\(method) \(url)"
        let handle = try easyHandle(for: what)
        ckpt_curl_easy_reset(handle)
        let transfer = Transfer(body: body, target: target)
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>? = nil
        // The payload is not hashed into the signature (libcurl would need the whole body
        // first); S3 and RGW accept that for requests signed this way.
        for h in ["x-amz-content-sha256: UNSIGNED-PAYLOAD"] + headers
            + (signing.sessionToken.map { ["x-amz-security-token: \($0)"] } ?? []) {
            guard let longer = ckpt_curl_slist_append(list, h) else {
                ckpt_curl_slist_free_all(list)
                throw .unreachable(what: what, endpoint: signing.endpoint, curl: "curl_slist_append failed (out of memory?)")
            }
            list = longer
        }
        defer { ckpt_curl_slist_free_all(list) }
        errorBuffer[0] = 0
        let rc: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { eb in
            ckpt_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, eb.baseAddress)
            ckpt_curl_setopt_str(handle, CURLOPT_URL, url)
            ckpt_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            ckpt_curl_setopt_str(handle, CURLOPT_AWS_SIGV4, "aws:amz:\(signing.region):s3")
            ckpt_curl_setopt_str(handle, CURLOPT_USERNAME, signing.accessKeyID)
            ckpt_curl_setopt_str(handle, CURLOPT_PASSWORD, signing.secretAccessKey)
            ckpt_curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, list.map { UnsafeMutableRawPointer($0) })
            ckpt_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 5000)
            // Bodies over 1 MiB are sent with `Expect: 100-continue`; do not wait for the
            // interim answer. (An empty `Expect:` header, the usual way to drop it, ends up
            // in libcurl 7.88's signed headers and breaks the signature.)
            ckpt_curl_setopt_long(handle, CURLOPT_EXPECT_100_TIMEOUT_MS, 0)
            // A transfer that moves nothing for 30 s is broken (the store hung).
            ckpt_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
            ckpt_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, 30)
            ckpt_curl_setopt_long(handle, CURLOPT_BUFFERSIZE, 512 * 1024)
            ckpt_curl_setopt_long(handle, CURLOPT_UPLOAD_BUFFERSIZE, 512 * 1024)
            ckpt_curl_set_header(handle, { p, size, n, user in
                let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                t.header(UnsafeRawBufferPointer(start: p, count: size * n))
                return size * n
            }, context)
            ckpt_curl_set_write(handle, { p, size, n, user in
                let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                return t.write(UnsafeRawBufferPointer(start: p, count: size * n)) ? size * n : 0
            }, context)
            switch method {
            case "HEAD":
                ckpt_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
            case "GET":
                break
            default:
                ckpt_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, method)
            }
            switch body {
            case .none:
                if method == "POST" || method == "PUT" {
                    ckpt_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                    ckpt_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, 0)
                }
            case let .bytes(b):
                ckpt_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                ckpt_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(b.count))
            case let .file(region):
                region.rewind()
                ckpt_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                ckpt_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(region.length))
            }
            if case .none = body {} else {
                ckpt_curl_set_read(handle, { p, size, n, user in
                    let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                    return t.read(UnsafeMutableRawBufferPointer(start: p, count: size * n)) ?? Int(CURL_READFUNC_ABORT)
                }, context)
            }
            return ckpt_curl_easy_perform(handle)
        }
        withExtendedLifetime(transfer) {}
        if case let .file(region) = body, region.readErrno != 0 {
            throw .local(what: "read for \(what):", path: region.path, errno: region.readErrno)
        }
        if transfer.overflow {
            throw .server(what: what, status: transfer.status, code: "ResponseTooLarge",
                          message: "the answer is longer than the \(transfer.received)-byte range asked for")
        }
        guard rc == CURLE_OK else {
            let detail = errorBuffer[0] != 0 ? errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                : String(cString: ckpt_curl_easy_strerror(rc))
            throw .unreachable(what: what, endpoint: signing.endpoint, curl: detail)
        }
        var status = 0
        ckpt_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, headers: transfer.headers, body: transfer.memory, received: transfer.received)
    }
}

private extension HTTPConnection.Transfer {
    func header(_ line: UnsafeRawBufferPointer) {
        let s = String(decoding: line, as: UTF8.self)
        if s.hasPrefix("HTTP/") {
            // A new response (after `100 Continue`, or a redirect): start over.
            headers = [:]
            let parts = s.split(separator: " ")
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            return
        }
        guard let colon = s.firstIndex(of: ":") else { return }
        var value = s[s.index(after: colon)...]
        while let c = value.first, c == " " { value.removeFirst() }
        // "\r\n" is one Character in Swift: compare it whole.
        while let c = value.last, c == "\r\n" || c == "\r" || c == "\n" || c == " " { value.removeLast() }
        headers[s[..<colon].lowercased()] = String(value)
    }

    /// Response bytes: into the caller's buffer on success, else to memory (bounded).
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if status < 300, case let .buffer(out) = target {
            guard bytes.count <= out.count - received else { overflow = true; return false }
            UnsafeMutableRawBufferPointer(rebasing: out[received...]).copyMemory(from: bytes)
            received += bytes.count
            return true
        }
        let limit: Int = if case let .memory(l) = target { l } else { 1 << 20 }
        guard memory.count + bytes.count <= limit else { overflow = true; return false }
        memory += bytes
        return true
    }

    func read(_ out: UnsafeMutableRawBufferPointer) -> Int? {
        switch body {
        case .none:
            return 0
        case let .bytes(b):
            let n = min(out.count, b.count - bytesOffset)
            b.withUnsafeBytes { src in
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[bytesOffset..<(bytesOffset + n)]))
            }
            bytesOffset += n
            return n
        case let .file(region):
            return region.next(into: out)
        }
    }
}

/// RFC 3986 percent-encoding as SigV4 canonicalizes it: every byte but the unreserved
/// `A-Z a-z 0-9 - _ . ~` (and `/` when `keepSlash`, for key paths) becomes `%XX`.
func uriEncode(_ s: String, keepSlash: Bool) -> String {
    var out = ""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(b))
        case UInt8(ascii: "/") where keepSlash:
            out += "/"
        default:
            let hex = Array("0123456789ABCDEF".utf8)
            out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
        }
    }
    return out
}
