#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CCkptShims
import CkptImage
import CkptListener
import CkptProtocol
import Logging
import Synchronization

/// `ckpt listen`: the capture sink. Records every checkpoint stream the kernel (or, with
/// `--usersock`, any local sender) sends into an image file in `--dir`. docs/listener.md is
/// the operator's guide: flags, files, logs, status line, stats, exit codes.
public struct ListenCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "listen",
        _superCommandName: Ckpt.name,  // Ckpt.main parses it directly: see there
        abstract: "Record checkpoint streams into image files (the capture sink).",
        discussion: """
            Each stream is written to DIR/<crid>.partial as it arrives and, once its end verifies (record count, bytes, CRC-32C), fsynced and renamed to DIR/<crid>.ckpt, never replacing a file (<crid>-1.ckpt... when taken). A failed stream keeps its bytes as DIR/<crid>.failed with the reason in DIR/<crid>.failed.reason. A .partial left by a listener that was killed is published at the next start if it is complete and verifies, else kept as .failed. Counters: DIR/.ckpt-listen.stats (JSON, rewritten every second).

            SIGTERM/SIGINT: stop reading, fail the streams in flight as interrupted (bytes kept), exit 0.

            Exit codes: 0 stopped cleanly; 1 streams failed (or images were found corrupt after publication) and --strict was given; 64 usage; 69 the ckpt family is unavailable or refused the sink, or the --store refused us (credentials, bucket, clock skew, any other refusal) or libcurl is missing; 74 the directory or socket is unusable. See docs/listener.md, and docs/object-store.md for --store.
            """)

    @Option(help: "Directory for images (created, mode 0700, if missing).")
    var dir: String = "/var/lib/ckpt"

    @Flag(help: "Listen on a NETLINK_USERSOCK socket instead of the ckpt genl family; prints 'usersock port N' as the first line of stdout.")
    var usersock = false

    @Option(help: "Receive buffers in the pool (the memory bound).")
    var poolBuffers: Int = 64

    @Option(help: "Bytes per pool buffer; below 69632 a maximal message may truncate.")
    var bufferSize: Int = 64 * 1024 + 4096

    @Option(help: "Socket receive buffer in bytes (SO_RCVBUFFORCE when root).")
    var socketBuffer: Int = 4 * 1024 * 1024

    @Option(help: "Streams in flight at once; more are refused.")
    var maxStreams: Int = 256

    @Option(help: "Fail a stream as abandoned after this many seconds without a message.")
    var streamTimeout: Double = 60

    @Option(help: "Exit after this many seconds with nothing in flight and nothing received.")
    var idleTimeout: Double?

    @Option(help: "Exit after this many streams have settled (completed or failed).")
    var exitAfter: Int?

    @Option(help: "One-line status on stderr every second: auto (when stderr is a terminal), always, never.")
    var status: StatusMode = .auto

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Flag(help: "Exit 1 if any stream failed, or a published image failed its check after publication.")
    var strict = false

    @Option(help: ArgumentHelp(
        "How images are written: auto (time both in DIR at start; splice when over 1.5x faster, else writev), writev, or splice (through a pipe).",
        discussion: "splice hands the pool's pages to a pipe and copies them into the page cache from there; where user-memory copies are slow (qemu TCG) it is the faster by 2.5x, elsewhere the two are close and writev costs less CPU. The choice and both times are logged at start."))
    var writePath: WritePathMode = .auto

    @Option(help: ArgumentHelp(
        "When each stream's data is checked against the sender's checksums: auto, inline (as it arrives), at-end (read back from the file, by the stream's end at the latest), or after-publish (read back once the image is published).",
        discussion: "The kernel keeps a checkpointed task stopped until it has handed the listener the last message, so the task waits for whatever the listener does per byte. inline checksums each fragment as it is written: one pass over bytes already in memory, best where CRC-32C is fast (the crc32 instruction). at-end writes the data unchecked; a low-priority (SCHED_IDLE) thread per stream reads it back from the file while the stream lasts, and what it has not reached is read after the last message, before the image is published: the task runs again sooner. With inline and at-end no image is published whose bytes differ from what the sender checksummed. after-publish takes the checksum the kernel sends with each fragment (the CRC-32C it computed as it copied the data) as the image's own, so the image is published without waiting for any check: a low-priority thread reads the data back behind the writer, as at-end does, and what it has not reached when the stream ends is read after the image is published ('image checked' in the log). An image that fails is renamed <crid>.corrupt with a .reason file, logged as an error and counted (stats: streams.corrupt; --strict exits 1); a restore would refuse it anyway, as it checks every record's CRC. With --store an image is uploaded only once checked. Fragments that carry no checksum (older modules, 'ckpt inject' without --data-checksums) are checksummed inline. auto is after-publish where CRC-32C runs on its table (no fast crc32 instruction, as under qemu TCG), inline elsewhere. The choice is logged at start; at-end, each image's 'image complete' line says how many bytes were read after the last message (checked_at_end)."))
    var dataCheck: DataCheckMode = .auto

    @Option(help: ArgumentHelp(
        "Who writes the image files: thread (a writer thread of its own) or inline (the receive thread, between receive batches).",
        discussion: "With a writer thread the receive thread reads on while a batch is written, and each batch crosses between the two threads (a lock and a wake-up). inline writes on the receive thread whenever the socket has nothing more to give or the pool runs dry: no hand-over, one thread fewer to schedule, and while it writes the kernel queues into the socket buffer (--socket-buffer). Measured on 2 CPUs: inline received one stream 1.04-1.15x as fast with 4 to 64 KiB fragments at less CPU per GB, and froze a 256 MiB checkpoint under qemu 0.92-0.93x as long; with 64 interleaved streams the thread was 3-5 % faster. The choice is logged at start (writer=)."))
    var writer: ImageSink.Writer = .inline

    @Option(help: ArgumentHelp(
        "Space kept allocated in DIR for the next image: auto (as large as the largest image published since start), off, or a size (suffix K, M, G).",
        discussion: "The reserve is a file, DIR/.ckpt-reserve, empty but with blocks allocated past its end (fallocate, FALLOC_FL_KEEP_SIZE: 'du' shows them, 'ls -l' does not), made after an image is published by a thread of the lowest priority (SCHED_IDLE), at most half the file system's free space (it is the next image's own space, allocated early). The next stream's file is renamed from it and written into; what the image did not fill is freed once it is published: writing into allocated space allocates nothing while the task is frozen (on tmpfs the pages are already there and zeroed: under qemu a 256 MiB checkpoint's freeze fell to 0.6x). It costs its size in DIR (on tmpfs, in memory) while no stream runs. 'ckpt listen' logs each reserve it makes; the stats file shows its size (write.reserved_bytes). While a stream is written, its file's blocks are also allocated ahead of the writes, a quarter of what it holds at a time (1 to 16 MiB), and what it did not fill is freed the same way; not on tmpfs or ramfs, where allocating means the pages themselves, nor with --store-spool-max. On ext4 writes into allocated blocks took ~30 % less system time. 'off' turns both off."))
    var reserve: ReservePolicy = .auto

    @OptionGroup var store: StoreListenOptions

    enum StatusMode: String, ExpressibleByArgument, CaseIterable { case auto, always, never }
    enum WritePathMode: String, ExpressibleByArgument, CaseIterable { case auto, writev, splice }
    enum DataCheckMode: String, ExpressibleByArgument, CaseIterable {
        case auto, inline
        case atEnd = "at-end"
        case afterPublish = "after-publish"
    }

    /// `--data-check`: auto is after-publish when CRC-32C runs on its table, where a pass over
    /// the data costs more than the copies around it, and inline elsewhere.
    static func chooseDataCheck(_ mode: DataCheckMode, logger: Logger) -> DataCheck {
        let check: DataCheck, why: String
        switch mode {
        case .inline: (check, why) = (.inline, "--data-check")
        case .atEnd: (check, why) = (.atEnd, "--data-check")
        case .afterPublish: (check, why) = (.afterPublish, "--data-check")
        case .auto:
            check = CRC32C.isHardwareAccelerated ? .inline : .afterPublish
            why = CRC32C.isHardwareAccelerated ? "CRC-32C by \(CRC32C.implementation)" : "CRC-32C by table"
        }
        logger.info("data check", metadata: ["when": "\(check.rawValue)", "why": "\(why)"])
        return check
    }

    public init() {}

    /// `--write-path`: a fixed choice, or (auto) the two timed in the image directory, splice
    /// only when clearly faster (`Measurement.chosen`); `writev` when they cannot be timed there (no `O_TMPFILE`). Logged either way.
    static func chooseWritePath(_ mode: WritePathMode, directory: String, logger: Logger) -> ImageWritePath {
        switch mode {
        case .writev: logger.info("image writes", metadata: ["path": "writev", "chosen": "--write-path"]); return .writev
        case .splice: logger.info("image writes", metadata: ["path": "splice", "chosen": "--write-path"]); return .splice
        case .auto: break
        }
        switch ImageWritePath.measure(directory: directory) {
        case let .success(m):
            let ms = { (ns: UInt64) in "\(ns / 1_000_000).\(ns / 100_000 % 10)" }
            logger.info("image writes", metadata: [
                "path": "\(m.chosen.rawValue)", "chosen": "timed", "rule": "splice when over 1.5x faster",
                "timed": "\(ImageWritePath.probeBytes >> 20) MiB by writev \(ms(m.writevNs)) ms, by splice \(ms(m.spliceNs)) ms",
            ])
            return m.chosen
        case let .failure(errno):
            logger.info("image writes", metadata: [
                "path": "writev", "chosen": "default", "why": "cannot time the two in \(directory): \(errno)",
            ])
            return .writev
        }
    }

    /// The largest step of allocating each image's blocks ahead of its writes (`ImageWriter`),
    /// 0 for none: none with `--reserve off`; none under a spool bound (`--store-spool-max`),
    /// which counts the bytes written and the reserve, not blocks allocated ahead; nor on a
    /// file system in memory (tmpfs, ramfs), where `fallocate` allocates and zeroes the pages
    /// a write would (1 GiB there: 0.37-0.43 s of system time either way;
    /// docs/benchmarks.md, "Allocated ahead"). Logged.
    static func chooseAllocateAhead(_ reserve: ReservePolicy, spoolBounded: Bool, directory: String,
                                    logger: Logger) -> UInt64 {
        let why: String
        if reserve == .off {
            why = "--reserve off"
        } else if spoolBounded {
            why = "--store-spool-max: the spool bound counts bytes written, not blocks allocated ahead"
        } else if let memory = memoryFileSystem(directory) {
            why = "\(memory): allocating is the pages themselves"
        } else {
            logger.info("image blocks", metadata: ["allocated-ahead": "up to \(allocateAheadMax >> 20) MiB at a time"])
            return allocateAheadMax
        }
        logger.info("image blocks", metadata: ["allocated-ahead": "no", "why": "\(why)"])
        return 0
    }

    static let allocateAheadMax: UInt64 = 16 << 20

    /// "tmpfs" or "ramfs" when `path` is on one (`statfs(2)`'s magic), else nil.
    static func memoryFileSystem(_ path: String) -> String? {
        switch ckpt_fs_magic(path) {
        case 0x0102_1994: return "tmpfs"  // TMPFS_MAGIC
        case 0x8584_58f6: return "ramfs"  // RAMFS_MAGIC
        default: return nil
        }
    }

    /// The longest --stream-timeout / --idle-timeout, in seconds: a year.
    static let maxTimeout: Double = 365 * 86400

    public func validate() throws {
        guard poolBuffers >= 1, poolBuffers <= 65536 else { throw ValidationError("--pool-buffers must be 1 ... 65536") }
        guard bufferSize >= 4096, bufferSize <= 16 << 20 else { throw ValidationError("--buffer-size must be 4096 ... 16 MiB") }
        // The pool is allocated whole at start; an allocation that fails traps. Refuse a pool
        // larger than half the machine's memory as a usage error instead.
        let memory = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        guard poolBuffers * bufferSize <= memory / 2 else {
            throw ValidationError("--pool-buffers x --buffer-size is \(poolBuffers * bufferSize) bytes, more than half of this machine's \(memory) bytes of memory")
        }
        guard socketBuffer >= 4096 else { throw ValidationError("--socket-buffer must be at least 4096") }
        guard maxStreams >= 1 else { throw ValidationError("--max-streams must be at least 1") }
        // Seconds become UInt64 nanoseconds: inf, nan or 1e12 would trap in the conversion.
        guard streamTimeout > 0, streamTimeout <= Self.maxTimeout else {
            throw ValidationError("--stream-timeout must be more than 0 and at most \(Int(Self.maxTimeout)) seconds (a year)")
        }
        if let idleTimeout, !(idleTimeout > 0 && idleTimeout <= Self.maxTimeout) {
            throw ValidationError("--idle-timeout must be more than 0 and at most \(Int(Self.maxTimeout)) seconds (a year)")
        }
        if let exitAfter, exitAfter < 1 { throw ValidationError("--exit-after must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        try store.validate()
    }

    public func run() throws {
        let statusLine = status == .always || (status == .auto && isatty(STDERR_FILENO) == 1)
        let logger = Self.bootstrapLogging(level: Logger.Level(rawValue: logLevel)!, statusLine: statusLine)
        var configuration = ListenerConfiguration(directory: dir)
        configuration.poolBuffers = poolBuffers
        configuration.bufferSize = bufferSize
        configuration.socketReceiveBuffer = socketBuffer
        configuration.writer = writer
        configuration.reserve = reserve
        configuration.maxStreams = maxStreams
        configuration.streamTimeoutNs = UInt64(streamTimeout * 1e9)
        configuration.idleTimeoutNs = idleTimeout.map { UInt64($0 * 1e9) }
        configuration.exitAfter = exitAfter
        configuration.statusLine = statusLine
        if bufferSize < 64 * 1024 + 4096 {
            logger.warning("--buffer-size below 69632: a maximal message will truncate and fail its stream")
        }

        // Signals are taken by a sigwait thread, never by a handler: block them before any
        // thread starts so every thread inherits the mask.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        if mkdir(dir, 0o700) != 0, errno != EEXIST {
            let error = ListenerFileError("create directory", dir, errno: errno)
            logger.critical("cannot create the image directory", metadata: ["error": "\(error)"])
            throw CkptExit.ioError
        }
        let source: DatagramSource
        do {
            if usersock {
                source = try NetlinkSource.usersock(receiveBuffer: socketBuffer)
            } else {
                source = try NetlinkSource.genlSink(receiveBuffer: socketBuffer)
            }
        } catch let error as SinkUnavailable {
            logger.critical("cannot become the capture sink", metadata: ["error": "\(error)"])
            throw CkptExit.unavailable
        } catch {
            logger.critical("cannot open the socket", metadata: ["error": "\(error)"])
            throw CkptExit.ioError
        }
        // `--store`: the uploader starts before the listener, so the spool it leaves is
        // uploaded while capture goes on (StoreListenOptions.swift).
        let uploader = try store.makeUploader(directory: dir, logger: logger)
        uploader?.connect(&configuration)
        let path = Self.chooseWritePath(writePath, directory: dir, logger: logger)
        let ahead = Self.chooseAllocateAhead(reserve, spoolBounded: configuration.spoolFull != nil, directory: dir, logger: logger)
        let listener: Listener
        do {
            listener = try Listener(configuration: configuration, source: source, logger: logger,
                                    makeWriter: ImageWriters.through(path, dataCheck: Self.chooseDataCheck(dataCheck, logger: logger),
                                                                     allocateAhead: ahead))
        } catch {
            logger.critical("cannot use the image directory", metadata: ["error": "\(error)"])
            throw CkptExit.ioError
        }
        if usersock, let socket = source as? NetlinkSource {
            // The first line of stdout, flushed, once everything that can fail at start has
            // not: tests and injectors wait for it, then send (the socket queues meanwhile).
            print("usersock port \(socket.portID)")
            fflush(nil)  // all of stdio: `stdout` itself is a global Swift 6 will not read
        }
        // A detached thread: it lives until the process exits.
        let stop = listener.stopHandle
        _ = SignalWaiter(signals: signals, logger: logger) { stop.requestStop() }
        let outcome = listener.run()
        if let uploader { store.finish(uploader, listener: listener, stats: outcome.stats, logger: logger) }
        if case let .socketError(what) = outcome.reason {
            logger.critical("stopped on a socket error", metadata: ["error": "\(what)"])
            throw CkptExit.ioError
        }
        if strict, outcome.stats.failed + outcome.stats.corrupt > 0 { throw CkptExit.failed }
    }

    /// Set before logging is bootstrapped: whether log lines must first clear the status line.
    private static let clearsStatusLine = Atomic<Bool>(false)
    private static let loggingOnce: Void = {
        let clear = clearsStatusLine.load(ordering: .sequentiallyConsistent)
        LoggingSystem.bootstrap { label in
            let handler = StreamLogHandler.standardError(label: label)
            return clear ? StatusLineClearingHandler(handler) : handler
        }
    }()

    /// swift-log to stderr, structured metadata (`crid=7 file=7.ckpt ...`) on each line.
    static func bootstrapLogging(level: Logger.Level, statusLine: Bool) -> Logger {
        clearsStatusLine.store(statusLine, ordering: .sequentiallyConsistent)
        _ = loggingOnce
        var logger = Logger(label: "ckpt.listen")
        logger.logLevel = level
        return logger
    }
}

/// Clears the status line (`\r` + erase line) before each log line, so the two share
/// stderr; the status line is redrawn at the next second.
private struct StatusLineClearingHandler: LogHandler {
    var inner: StreamLogHandler
    init(_ inner: StreamLogHandler) { self.inner = inner }

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }
    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        _ = write(2, "\r\u{1B}[K", 4)  // clear the status line (stderr is unbuffered: order holds)
        inner.log(event: event)
    }
}

/// Waits for SIGINT/SIGTERM (blocked in every thread) and asks the listener to stop.
/// A second signal while stopping is logged; the listener is already settling.
private final class SignalWaiter {
    init(signals: sigset_t, logger: Logger, _ stop: @escaping @Sendable () -> Void) {
        var thread = pthread_t()
        final class Context {
            let signals: sigset_t
            let logger: Logger
            let stop: @Sendable () -> Void
            init(_ s: sigset_t, _ l: Logger, _ f: @escaping @Sendable () -> Void) { signals = s; logger = l; stop = f }
        }
        let context = Unmanaged.passRetained(Context(signals, logger, stop)).toOpaque()
        pthread_create(&thread, nil, { raw in
            let context = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
            var set = context.signals
            var count = 0
            while true {
                var signal: Int32 = 0
                guard sigwait(&set, &signal) == 0 else { continue }
                count += 1
                context.logger.notice(count == 1 ? "signal received: stopping" : "signal received: already stopping",
                                      metadata: ["signal": "\(signal == SIGINT ? "SIGINT" : "SIGTERM")"])
                context.stop()
            }
        }, context)
        pthread_detach(thread)
        // Threads the Swift runtime started before the mask was set do not block the
        // signals, and the kernel may deliver SIGTERM to one of them: its default action
        // would kill the listener (exit 143) instead of settling. A handler forwards any
        // such delivery to the waiter thread (pthread_kill is async-signal-safe).
        signalWaiterThread = thread
        signal(SIGINT) { pthread_kill(signalWaiterThread, $0) }
        signal(SIGTERM) { pthread_kill(signalWaiterThread, $0) }
    }
}

/// The sigwait thread, for the forwarding handler (a C handler cannot capture it).
nonisolated(unsafe) private var signalWaiterThread = pthread_t()

extension ImageSink.Writer: ExpressibleByArgument {}

/// `--reserve auto|off|SIZE`.
extension ReservePolicy: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "auto": self = .auto
        case "off", "0": self = .off
        default:
            guard let n = parseBytes(argument), n > 0 else { return nil }
            self = .bytes(n)
        }
    }

    public var defaultValueDescription: String {
        switch self {
        case .auto: "auto"
        case .off: "off"
        case let .bytes(n): "\(n)"
        }
    }
}
