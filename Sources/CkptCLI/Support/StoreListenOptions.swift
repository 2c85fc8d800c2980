import ArgumentParser
import CkptListener
import CkptStore
import Logging

/// `ckpt listen --store s3://BUCKET/PREFIX` and its options: the spool (`--dir`) is uploaded
/// to an S3 store by CkptStore's `ImageUploader` (docs/object-store.md).
struct StoreListenOptions: ParsableArguments {
    @Option(name: .customLong("store"),
            help: "Upload every image to this S3 location (s3://BUCKET/PREFIX); --dir is the spool. Endpoint, region and credentials: AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws profiles (AWS_PROFILE).")
    var url: String?

    @Flag(name: .customLong("store-keep-local"), help: "Keep each image in --dir after the store confirmed it (default: delete it then).")
    var keepLocal = false

    @Option(name: .customLong("store-spool-max"),
            help: "Spool bytes (suffix K, M, G): images waiting for upload plus streams not yet published, at which the listener stops reading until uploads free room.")
    var spoolMax: String?

    @Option(name: .customLong("store-part-size"), help: "Multipart part size in bytes (suffix K, M, G; at least 5M).")
    var partSize: String = "16M"

    @Option(name: .customLong("store-uploads"), help: "Images uploaded at once (one connection each).")
    var uploads: Int = 2

    @Option(name: .customLong("store-drain"), help: "At exit, wait up to this many seconds for pending uploads (the rest resume at the next start).")
    var drain: Double = 10

    @Option(name: .customLong("store-abort-stale"),
            help: "At start, abort ckpt's unfinished multipart uploads under the prefix older than this (suffix s, m, h, d; by the store's clock) that this spool does not resume; 'never' to keep them.")
    var abortStale: String = "24h"

    func validate() throws {
        guard let url else { return }
        do { _ = try ObjectURL(parsing: url) } catch { throw ValidationError("--store: \(error)") }
        guard let part = parseBytes(partSize), part >= UploaderConfiguration.minimumPartSize else {
            throw ValidationError("--store-part-size must be a size of at least 5M")
        }
        if let spoolMax, parseBytes(spoolMax) == nil { throw ValidationError("--store-spool-max must be a size such as 2G") }
        guard uploads >= 1, uploads <= 64 else { throw ValidationError("--store-uploads must be 1 ... 64") }
        guard drain >= 0 else { throw ValidationError("--store-drain must not be negative") }
        guard abortStale == "never" || parseSeconds(abortStale) != nil else {
            throw ValidationError("--store-abort-stale must be an age such as 24h, 90m or 3600s, or never")
        }
    }

    /// What the listener does when the store's first answer (the bucket's HEAD) is `error`.
    enum StartDecision: Equatable {
        /// Capture into the spool; uploads start when the store answers.
        case wait(String)
        /// Exit with this code: it will not mend while images pile up.
        case stop(String, Int32)
    }

    /// An unreachable or busy store (no answer, 5xx, 429, SlowDown: `isRetryableSoon`)
    /// mends by itself: wait. Anything else the store answered stops the listener with 69,
    /// "the store refused us", whatever the status (a wrong region's 301 too); no libcurl
    /// is 69 as well; a configuration error keeps its 64.
    static func atStart(_ error: StoreError) -> StartDecision {
        if case .unreachable = error {
            return .wait("store unreachable at start; images stay in the spool until it answers")
        }
        if error.isRetryableSoon {
            return .wait("store unavailable at start; images stay in the spool until it answers")
        }
        switch error {
        case .libcurlUnavailable: return .stop("no libcurl for the store", 69)
        case .configuration: return .stop("store configuration", error.exitCode)
        default: return .stop("store refused", 69)
        }
    }

    /// The uploader, started, or nil without `--store`. Wrong credentials, a missing bucket,
    /// a skewed clock, any other refusal or a missing libcurl stop the listener here (exit 69,
    /// `atStart`): they will not fix themselves while images pile up. An unreachable or busy
    /// endpoint does not: the spool waits for it.
    func makeUploader(directory: String, logger: Logger) throws -> ImageUploader? {
        guard let url else { return nil }
        let target = try! ObjectURL(parsing: url)  // validated
        let store: StoreConfiguration
        do { store = try StoreConfiguration.fromEnvironment() } catch {
            logger.critical("store configuration", metadata: ["error": "\(error)"])
            throw ExitCode(error.exitCode)
        }
        do {
            try S3Client(configuration: store).headBucket(target.bucket)
        } catch {
            switch Self.atStart(error) {
            case let .wait(message):
                logger.warning("\(message)", metadata: ["error": "\(error)"])
            case let .stop(message, code):
                logger.critical("\(message)", metadata: ["error": "\(error)"])
                throw ExitCode(code)
            }
        }
        var configuration = UploaderConfiguration(target: target, store: store)
        configuration.partSize = parseBytes(partSize)!
        configuration.spoolLimit = spoolMax.flatMap(parseBytes)
        configuration.workers = uploads
        configuration.deleteLocal = !keepLocal
        configuration.staleUploadAge = abortStale == "never" ? nil : parseSeconds(abortStale)
        let uploader = ImageUploader(configuration: configuration, directory: directory, logger: logger)
        uploader.start()
        logger.info("uploading to the store", metadata: [
            "store": "\(target)", "endpoint": "\(store.endpoint)", "region": "\(store.region)",
            "credentials": "\(store.credentialSource)", "local": "\(keepLocal ? "keep" : "delete after upload")",
            "spool-max": "\(configuration.spoolLimit.map { "\($0)" } ?? "none")", "abort-stale": "\(abortStale)",
        ])
        return uploader
    }

    /// After the listener stopped: wait up to `--store-drain` for pending uploads, stop the
    /// uploader, and rewrite the stats file with its final counters.
    func finish(_ uploader: ImageUploader, listener: Listener, stats: ListenerStats, logger: Logger) {
        if !uploader.drain(timeoutNs: UInt64(drain * 1e9)) {
            logger.notice("uploads still pending at exit: they resume at the next start",
                          metadata: ["pending": "\(uploader.snapshot().pending)"])
        }
        uploader.stop()
        var final = stats
        let s = uploader.snapshot()
        final.store = StatsSection(s.json(target: uploader.configuration.target.description))
        final.storeStatus = s.statusText
        try? listener.directory.replaceFile(ListenerConfiguration.statsFileName, contents: final.json())
    }
}

extension ImageUploader {
    /// Wires the listener's hooks to this uploader.
    func connect(_ c: inout ListenerConfiguration) {
        c.publishedImage = { [self] name, bytes in published(name: name, bytes: bytes) }
        c.spoolFull = { [self] in spoolFull(unsettledBytes: $0) }
        c.spoolRoom = { [self] in spoolRoom() }
        c.storeStats = { [self] in
            let s = snapshot()
            return (s.json(target: configuration.target.description), s.statusText)
        }
    }
}

/// `3600`, `3600s`, `90m`, `24h`, `7d`: seconds.
func parseSeconds(_ s: String) -> Int? {
    guard let last = s.last else { return nil }
    let unit = ["s": 1, "m": 60, "h": 3600, "d": 86400][String(last)]
    guard let n = Int(unit == nil ? s : String(s.dropLast())), n >= 0, n <= Int.max / 86400 else { return nil }
    return n * (unit ?? 1)
}

/// `123`, `64K`, `16M`, `2G` (powers of 1024).
func parseBytes(_ s: String) -> UInt64? {
    guard let last = s.last else { return nil }
    let shift: UInt64 = switch last.uppercased() {
    case "K": 10
    case "M": 20
    case "G": 30
    default: 0
    }
    guard let n = UInt64(shift == 0 ? s : String(s.dropLast())), n <= UInt64.max >> shift else { return nil }
    return n << shift
}
