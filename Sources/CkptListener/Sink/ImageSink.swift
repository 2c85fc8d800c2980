#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import Logging
import Synchronization
import SystemPackage

/// Work for the image sink, queued by the receive loop in stream order.
public enum SinkOp {
    case open(session: UInt64, info: StreamImageInfo)
    /// `buffer` is the pool buffer `write`'s pointers are into; released once written.
    case write(WriteOp, buffer: Int)
    /// `summary` is the sender's; the writer checks its checksum. `seq`: the end message.
    case complete(session: UInt64, crid: UInt64, summary: StreamSummary, seq: UInt32)
    case fail(session: UInt64?, StreamFailure)
    /// Finish the queue and stop the thread.
    case stop
}

/// How a stream ended, once its file is settled.
public struct SettledStream: Sendable {
    public enum Outcome: Sendable {
        /// Published as `name` (`<crid>.ckpt`, or `<crid>-N.ckpt` when that was taken).
        case completed(name: String, summary: StreamSummary)
        /// Kept as `name` (`<crid>.failed`, nil when no file could be kept) beside `name.reason`.
        case failed(name: String?, StreamFailure)
    }
    public var session: UInt64?
    public var crid: UInt64
    public var outcome: Outcome
    /// Bytes written to the file.
    public var bytes: UInt64
}

/// The writer thread: takes the reassembler's actions in order and turns them into files
/// (`ImageDirectory` says which). Writes go straight from pool buffers to the file; each
/// buffer is released as soon as its bytes are written, which is what unstalls the reader.
///
/// I/O failures (disk full, permission denied, a vanished directory) fail only the stream
/// they hit: its bytes are kept as `.failed` with the reason when the directory allows, the
/// receive loop is told (`onWriterFailure`) so it drops the stream's remaining messages,
/// and the sink keeps serving the others.
///
/// The queue is not bounded by a count of its own: every `write` holds a pool buffer, so the
/// pool bounds it; the other ops are a handful per stream.
public final class ImageSink: @unchecked Sendable {
    public typealias Settled = @Sendable (SettledStream) -> Void

    private let directory: ImageDirectory
    private let makeWriter: StreamImageWriterFactory
    private let pool: BufferPool
    private let logger: Logger
    private let onSettled: Settled
    private let onWriterFailure: @Sendable (UInt64) -> Void

    private let lock = ConditionLock()
    private var queue: [SinkOp] = []
    private var thread: JoinableThread?
    private var writerWaiting = false
    private let queueCapacity: Int

    // Writer-thread state.
    struct OpenImage {
        var crid: UInt64
        var fd: Int32
        var name: String
        var writer: StreamImageWriter
        var bytes: UInt64 = 0
        var lastRecordID: UInt32?
    }
    /// Streams with an open image. A session missing here has settled (or failed on the
    /// writer's side): its remaining ops are dropped, their buffers released.
    private var images: [UInt64: OpenImage] = [:]
    /// Pool buffers written from but perhaps only queued by a coalescing writer, and the
    /// sessions whose writers may have queued parts: `flushWrites` writes, then releases.
    private var held: [Int] = []
    private var dirty: [UInt64] = []
    /// Flush after this many writes even within a batch, so the pool is not held for long.
    private static let holdAtMost = 16
    /// Makes finished images durable and visible, on its own thread.
    private var publisher: ImagePublisher!
    private let _bytesWritten = Atomic<UInt64>(0)

    public init(
        directory: ImageDirectory, pool: BufferPool, logger: Logger,
        makeWriter: @escaping StreamImageWriterFactory,
        onSettled: @escaping Settled, onWriterFailure: @escaping @Sendable (UInt64) -> Void,
        syncFile: ((Int32) throws(Errno) -> Void)? = nil  // fsync(2); tests slow it down
    ) {
        self.directory = directory
        self.pool = pool
        self.logger = logger
        self.makeWriter = makeWriter
        self.onSettled = onSettled
        self.onWriterFailure = onWriterFailure
        queueCapacity = pool.count * 2 + 64
        queue.reserveCapacity(queueCapacity)
        held.reserveCapacity(Self.holdAtMost)
        dirty.reserveCapacity(Self.holdAtMost)
        // Not `syncFile ?? FileSyscalls.sync`: Swift 6.3.1 crashes lowering `??` over a
        // typed-throws function.
        var sync: (Int32) throws(Errno) -> Void = FileSyscalls.sync
        if let syncFile { sync = syncFile }
        publisher = ImagePublisher(
            directory: directory, logger: logger, onSettled: onSettled,
            onFailed: { [unowned self] f, what in ioFailure(session: f.session, f.image, what) }, syncFile: sync)
    }

    public func start() {
        publisher.start()
        thread = JoinableThread { [self] in run() }
    }

    /// Queues `op`; the writer sees it at the next `flush()` at the latest. Never blocks on
    /// I/O (only on the queue's lock).
    public func submit(_ op: SinkOp) {
        lock.withLock { queue.append(op) }
    }

    /// Wakes the writer if it waits for work. The receive loop calls it once per burst of
    /// datagrams rather than once per message: no futex wake per message while busy.
    public func flush() {
        let wake = lock.withLock { writerWaiting && !queue.isEmpty }
        if wake { lock.signal() }
    }

    /// Writes everything queued, publishes everything finished, then stops both threads.
    public func stop() {
        submit(.stop)
        flush()
        thread?.join()
        thread = nil
        publisher.stop()
    }

    /// Bytes written to image files so far (any thread).
    public var bytesWritten: UInt64 { _bytesWritten.load(ordering: .relaxed) }

    private func run() {
        var batch: [SinkOp] = []
        batch.reserveCapacity(queueCapacity)
        var running = true
        while running {
            lock.lock()
            while queue.isEmpty {
                writerWaiting = true
                lock.wait()
                writerWaiting = false
            }
            swap(&queue, &batch)  // both keep their capacity: no allocation per batch
            lock.unlock()
            var written: UInt64 = 0
            for op in batch {
                switch op {
                case .stop: running = false
                default: written += process(op)
                }
            }
            batch.removeAll(keepingCapacity: true)
            flushWrites()
            if written > 0 { _bytesWritten.add(written, ordering: .relaxed) }
        }
    }

    /// Runs one op; returns the data bytes it wrote.
    private func process(_ op: SinkOp) -> UInt64 {
        switch op {
        case let .open(session, info):
            open(session: session, info: info)
        case let .write(write, buffer):
            // The writer may only have queued the fragment (coalescing): the buffer is
            // released after the flush.
            let n = self.write(write)
            held.append(buffer)
            if dirty.last != write.session { dirty.append(write.session) }
            if held.count >= Self.holdAtMost { flushWrites() }
            return n
        case let .complete(session, crid, summary, seq):
            complete(session: session, crid: crid, summary: summary, seq: seq)
        case let .fail(session, failure):
            if let session {
                guard let image = images.removeValue(forKey: session) else { return 0 }  // already failed here
                try? image.writer.flush()  // keep every byte that arrived
                settleFailed(session: session, image, failure)
            } else {
                logger.warning("stream failed before it had an image", metadata: failureMetadata(failure))
                onSettled(SettledStream(session: nil, crid: failure.crid, outcome: .failed(name: nil, failure), bytes: 0))
            }
        case .stop:
            break
        }
        return 0
    }

    private func open(session: UInt64, info: StreamImageInfo) {
        let created: (fd: Int32, name: String)
        do {
            created = try directory.createPartial(crid: info.crid)
        } catch {
            failWithoutFile(session: session, crid: info.crid, error)
            return
        }
        var info = info
        info.fileName = created.name
        do {
            let writer = try makeWriter(created.fd, info)
            images[session] = OpenImage(crid: info.crid, fd: created.fd, name: created.name, writer: writer)
            logger.info("stream began", metadata: ["crid": "\(info.crid)", "pid": "\(info.pid)", "file": "\(created.name)"])
        } catch {
            let image = OpenImage(crid: info.crid, fd: created.fd, name: created.name, writer: NoWriter())
            ioFailure(session: session, image, errorText(error))
        }
    }

    private func write(_ op: WriteOp) -> UInt64 {
        guard var image = images[op.session] else { return 0 }  // failed by the writer earlier
        do {
            if let head = op.head {
                image.lastRecordID = head.id
                try image.writer.beginRecord(head)
            }
            if op.data.count > 0 { try image.writer.appendData(op.data) }
            if op.endsRecord { try image.writer.endRecord() }
        } catch {
            images[op.session] = nil
            ioFailure(session: op.session, image, errorText(error))
            return 0
        }
        image.bytes += UInt64(op.data.count)
        images[op.session] = image
        return UInt64(op.data.count)
    }

    /// Writes what the writers queued, then releases the buffers it came from.
    private func flushWrites() {
        for session in dirty {
            guard let image = images[session] else { continue }  // settled: its writer flushed or failed
            do {
                try image.writer.flush()
            } catch {
                images[session] = nil
                ioFailure(session: session, image, errorText(error))
            }
        }
        dirty.removeAll(keepingCapacity: true)
        for buffer in held { pool.release(buffer) }
        held.removeAll(keepingCapacity: true)
    }

    /// Finishes a verified stream: index and trailer (after the writer's own check of the
    /// sender's summary), then hands it to the publisher.
    private func complete(session: UInt64, crid: UInt64, summary: StreamSummary, seq: UInt32) {
        guard let image = images.removeValue(forKey: session) else { return }
        do {
            do {
                try image.writer.finish(summary: summary)
            } catch ImageError.summaryMismatch {
                // The data's checksum (or count) differs from the sender's: the stream's
                // rule, not an I/O failure. No trailer was written.
                let rule = FailureRule.summaryMismatch(sent: summary, received: image.writer.written)
                settleFailed(session: session, image, StreamFailure(crid: crid, seq: seq, recordID: nil, rule: rule))
                return
            }
        } catch {
            ioFailure(session: session, image, errorText(error))
            return
        }
        publisher.submit(ImagePublisher.Finished(session: session, crid: crid, summary: summary, image: image))
    }

    /// The sink itself failed the stream (I/O): settle it and tell the receive loop. Uses no
    /// writer-thread state (the publisher calls it too).
    func ioFailure(session: UInt64, _ image: OpenImage, _ what: String) {
        settleFailed(session: session, image,
                     StreamFailure(crid: image.crid, seq: nil, recordID: image.lastRecordID, rule: .io(what)))
        onWriterFailure(session)
    }

    private func failWithoutFile(session: UInt64, crid: UInt64, _ error: ListenerFileError) {
        let failure = StreamFailure(crid: crid, seq: 0, recordID: nil, rule: .io(error.description))
        logger.error("stream failed: no image file", metadata: failureMetadata(failure))
        onSettled(SettledStream(session: session, crid: crid, outcome: .failed(name: nil, failure), bytes: 0))
        onWriterFailure(session)
    }

    /// Keeps a failed stream's bytes as `<crid>.failed` with `<crid>.failed.reason` beside
    /// it. Best effort: on a full disk or a vanished directory some of it may not be possible,
    /// which is logged; nothing here stops the listener.
    /// Thread-safe like `ioFailure`.
    private func settleFailed(session: UInt64, _ image: OpenImage, _ failure: StreamFailure) {
        try? FileSyscalls.sync(image.fd)
        close(image.fd)
        var metadata = failureMetadata(failure)
        var kept: String? = nil
        do {
            let name = try directory.moveToFreeName(image.name, crid: image.crid, ext: "failed")
            kept = name
            metadata["file"] = "\(name)"
            try directory.writeReason(for: name, partial: image.name, failure.description)
            try directory.sync()
        } catch {
            metadata["keep-error"] = "\(error)"
        }
        logger.error("stream failed", metadata: metadata)
        onSettled(SettledStream(session: session, crid: image.crid, outcome: .failed(name: kept, failure), bytes: image.bytes))
    }

    private func failureMetadata(_ failure: StreamFailure) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["crid": "\(failure.crid)", "rule": "\(failure.rule.name)", "reason": "\(failure)"]
        if let seq = failure.seq { metadata["seq"] = "\(seq)" }
        if let record = failure.recordID { metadata["record"] = "\(record)" }
        return metadata
    }
}

/// Stands in for a writer that could not be made, so the failure path is the usual one.
private final class NoWriter: StreamImageWriter {
    func beginRecord(_ head: RecordHead) throws {}
    func appendData(_ bytes: UnsafeRawBufferPointer) throws {}
    func endRecord() throws {}
    func flush() throws {}
    func finish(summary: StreamSummary) throws {}
    var written: StreamSummary { StreamSummary(records: 0, bytes: 0, checksum: 0) }
}
