#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import Logging
import Synchronization
import CkptSystem
import SystemPackage

/// Work for the image sink, queued by the receive loop in stream order.
///
/// Plain bytes (`BitwiseCopyable`, which the compiler checks): an op a fragment passes
/// through the outbox, the writer's queue and its batch, and an op of plain bytes is copied
/// and dropped as such. With strings in `.open` and `.fail`, every op, a `.write` too, was
/// copied and destroyed through a switch over the cases (~145 instructions a 4 KiB message,
/// callgrind, session 51). So the host comes from the sink, and a failure is parked with it
/// (`ImageSink.failOp`).
public enum SinkOp: Sendable, BitwiseCopyable {
    case open(session: UInt64, stream: StreamStart)
    /// `buffer` is the pool buffer `write`'s pointers are into; released once written.
    case write(WriteOp, buffer: Int)
    /// `summary` is the sender's; the writer checks its checksum. `seq`: the end message.
    case complete(session: UInt64, crid: UInt64, summary: StreamSummary, seq: UInt32)
    case fail(session: UInt64?, ParkedFailure)
}

/// A new stream as `.open` carries it; the writer adds the sink's host for the image's
/// header. (Made by the listener: its memberwise init is the module's.)
public struct StreamStart: Sendable, BitwiseCopyable {
    public var crid: UInt64
    public var pid: UInt32
    /// Wall-clock time the stream began, ns since the epoch.
    public var captureStartNs: UInt64
}

/// A `StreamFailure` parked with the sink by `ImageSink.failOp`, taken by the writer when it
/// runs the `.fail` op.
public struct ParkedFailure: Sendable, BitwiseCopyable {
    fileprivate let key: UInt64
}

/// The parked failures: a handful per failed stream, so one lock each is nothing.
final class FailureParking: Sendable {
    private let state = Mutex<(next: UInt64, parked: [UInt64: StreamFailure])>((0, [:]))

    func park(_ failure: StreamFailure) -> ParkedFailure {
        state.withLock {
            $0.next += 1
            $0.parked[$0.next] = failure
            return ParkedFailure(key: $0.next)
        }
    }

    /// Each parked failure is taken once: its `.fail` op runs once.
    func take(_ parked: ParkedFailure) -> StreamFailure {
        guard let failure = state.withLock({ $0.parked.removeValue(forKey: parked.key) }) else {
            preconditionFailure("parked failure \(parked.key) taken twice or never parked")
        }
        return failure
    }

    var count: Int { state.withLock { $0.parked.count } }
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
    /// Completed, but its data is still to be read back and checked against the sender's
    /// checksums (`PublishedImageCheck`): the image is handed on (`onChecked`) once it was.
    public var checkPending = false
}

/// A stream's image file as the writer hands it on: values only, so it may cross to the
/// publisher thread.
struct ImageFile: Sendable {
    var crid: UInt64
    var fd: Int32
    var name: String
    /// Data bytes written to it.
    var bytes: UInt64 = 0
    var lastRecordID: UInt32?
    /// Written into the space reserved for the next image: what it did not fill is freed
    /// once it is published or kept (`ImageDirectory.releaseSurplus`).
    var reserved = false
    /// Its writer allocated blocks ahead of its writes: freed the same way.
    var allocatedAhead = false
    /// Blocks past its end may be allocated: `releaseSurplus` once it is settled.
    var blocksPastEnd: Bool { reserved || allocatedAhead }
}

/// The image sink: takes the reassembler's actions in order and turns them into files
/// (`ImageDirectory` says which), on a writer thread of its own. Writes go straight from
/// pool buffers to the file; each buffer is released as soon as its bytes are written, which
/// is what unstalls the reader.
///
/// I/O failures (disk full, permission denied, a vanished directory) fail only the stream
/// they hit: its bytes are kept as `.failed` with the reason when the directory allows, the
/// receive loop is told (`onWriterFailure`) so it drops the stream's remaining messages,
/// and the sink keeps serving the others.
///
/// The queue is not bounded by a count of its own: every `write` holds a pool buffer, so the
/// pool bounds it; the other ops are a handful per stream.
///
/// Threads: the owner (the listener's receive thread) calls `submit`, `flush`, `stop` and
/// reads `bytesWritten`; the writer thread runs a `SinkWriter`, made on that thread from
/// Sendable parts (`SinkWriter.Parts`) and used by it alone; the publisher thread runs an
/// `ImagePublisher.Worker`. What they share is Sendable: the queues, the pool, the directory,
/// the settler and the atomic byte count. `.inline` has no writer thread: the owner's own
/// `flush` writes everything submitted (the `SinkWriter` is then made and used on the owner's
/// thread alone), as a single-threaded receiver does.
public final class ImageSink {
    public typealias Settled = @Sendable (SettledStream) -> Void

    /// Who writes the files (`ckpt listen --writer`).
    public enum Writer: String, Sendable, CaseIterable {
        /// A writer thread of its own, woken by `flush`: the receive thread reads on while
        /// the writer writes.
        case thread
        /// The owner's thread, inside `flush`: no hand-over between threads and no wake-up,
        /// but nothing is received while a batch is written (the socket buffers meanwhile).
        case inline
    }

    private let parts: SinkWriter.Parts
    private let publisher: ImagePublisher
    private let reserve: SpaceReserve
    public let writer: Writer
    private var thread: JoinableThread?
    /// `.inline`: the writer, on the owner's thread, and the ops submitted since the last flush.
    private var inlineWriter: SinkWriter?
    private var inlineBatch: [SinkOp] = []

    /// `host`: this machine's name, written into each image's header.
    public init(
        directory: ImageDirectory, pool: BufferPool, logger: Logger, host: String,
        makeWriter: @escaping StreamImageWriterFactory,
        onSettled: @escaping Settled, onWriterFailure: @escaping @Sendable (UInt64) -> Void,
        writer: Writer, reserve reservePolicy: ReservePolicy = .off,
        reserveRoom: (@Sendable () -> UInt64?)? = nil,  // the store's spool room (`SpaceReserve`)
        syncFile: (@Sendable (Int32) throws(Errno) -> Void)? = nil,  // fsync(2); tests slow it down
        onChecked: @escaping @Sendable (_ name: String, _ bytes: UInt64) -> Void = { _, _ in },
        onCorrupt: @escaping @Sendable (_ crid: UInt64) -> Void = { _ in }
    ) {
        self.writer = writer
        let reserve = SpaceReserve(policy: reservePolicy, directory: directory, logger: logger, room: reserveRoom)
        self.reserve = reserve
        var made = StreamSettler(directory: directory, logger: logger, onSettled: onSettled,
                                 onWriterFailure: onWriterFailure)
        made.onReserveSpent = { reserve.request(imageBytes: 0) }
        let settler = made
        // Not `syncFile ?? Syscall.sync`: Swift 6.3.1 crashes lowering `??` over a
        // typed-throws function.
        var sync: @Sendable (Int32) throws(Errno) -> Void = Syscall.sync
        if let syncFile { sync = syncFile }
        publisher = ImagePublisher(
            directory: directory, logger: logger, onSettled: onSettled,
            onFailed: { f, what in settler.ioFailure(session: f.session, f.file, what) }, syncFile: sync,
            onPublished: { reserve.request(imageBytes: $0) }, releaseSurplus: { reserve.release($0) },
            onChecked: onChecked, onCorrupt: onCorrupt)
        let capacity = pool.count * 2 + 64
        parts = SinkWriter.Parts(
            queue: WorkQueue(capacity: capacity), queueCapacity: capacity, publish: publisher.queue,
            directory: directory, pool: pool, logger: logger, makeWriter: makeWriter, settler: settler,
            counters: SinkCounters(), reserve: reserve, host: host, failures: FailureParking())
    }

    /// The op that fails `session` (nil: a stream that never had an image here) with
    /// `failure`, which is parked with the sink until the writer runs the op. Submit it.
    public func failOp(session: UInt64?, _ failure: StreamFailure) -> SinkOp {
        .fail(session: session, parts.failures.park(failure))
    }

    /// Failures parked by `failOp` whose ops have not run yet.
    var parkedFailures: Int { parts.failures.count }

    public func start() {
        reserve.start()
        publisher.start()
        let parts = self.parts
        switch writer {
        case .thread:
            thread = JoinableThread { SinkWriter(parts, holdAtMost: SinkWriter.holdAtMostBesideReceiver).run() }
        case .inline:
            // Inline, nothing is received while the batch is written, so holding every
            // buffer until the batch's end starves nobody, and each stream's fragments of
            // the batch go out together (in writes of up to the writer's 1 MiB).
            inlineWriter = SinkWriter(parts, holdAtMost: .max)
            inlineBatch.reserveCapacity(parts.queueCapacity)
        }
    }

    /// Queues `op`; the writer sees it at the next `flush()` at the latest. Never blocks on
    /// I/O (only on the queue's lock; `.inline`: not even that).
    public func submit(_ op: SinkOp) {
        switch writer {
        case .thread: parts.queue.submit(op, wake: false)
        case .inline: inlineBatch.append(op)
        }
    }

    /// Queues `ops` in order (one lock round trip) and empties the array, keeping its
    /// capacity; the writer sees them at the next `flush()` at the latest.
    public func submit(contentsOf ops: inout [SinkOp]) {
        switch writer {
        case .thread:
            parts.queue.submit(contentsOf: &ops)
        case .inline:
            // Usually nothing is pending: trade storage instead of copying the ops.
            if inlineBatch.isEmpty { swap(&inlineBatch, &ops) } else { inlineBatch.append(contentsOf: ops) }
            ops.removeAll(keepingCapacity: true)
        }
    }

    /// `.thread`: wakes the writer if it waits for work. The receive loop calls it once per
    /// burst of datagrams rather than once per message: no futex wake per message while
    /// busy. `.inline`: writes everything submitted and releases its pool buffers before it
    /// returns (so a caller whose pool ran dry has it back).
    public func flush() {
        switch writer {
        case .thread:
            parts.queue.wake()
        case .inline:
            inlineWriter?.write(batch: &inlineBatch)
        }
    }

    /// Writes everything queued, publishes everything finished, then stops both threads.
    public func stop() {
        switch writer {
        case .thread:
            parts.queue.close()
            thread?.join()
            thread = nil
        case .inline:
            inlineWriter?.write(batch: &inlineBatch)
            inlineWriter = nil
        }
        publisher.stop()
        reserve.stop()
    }

    /// Bytes kept allocated for the next image (`--reserve`).
    public var reservedBytes: UInt64 { reserve.allocatedBytes() }

    /// Removes the space reserve until the next image asks for one (`SpaceReserve.drop`).
    public func dropReserve() { reserve.drop() }

    /// Bytes written to image files so far.
    public var bytesWritten: UInt64 { parts.counters.bytesWritten.load(ordering: .relaxed) }
}

/// What the writer thread counts for the owner to read.
final class SinkCounters: Sendable {
    let bytesWritten = Atomic<UInt64>(0)
}

/// Settles the streams the sink itself failed (I/O): keeps their bytes, says why, tells the
/// receive loop. Called on the writer and on the publisher thread; holds only Sendable parts.
struct StreamSettler: Sendable {
    let directory: ImageDirectory
    let logger: Logger
    let onSettled: ImageSink.Settled
    let onWriterFailure: @Sendable (UInt64) -> Void
    /// A failed stream had taken the space reserve: the next one should have one again
    /// (a published image asks through the publisher).
    var onReserveSpent: @Sendable () -> Void = {}

    /// The sink failed the stream (I/O): settle it and tell the receive loop.
    func ioFailure(session: UInt64, _ file: ImageFile, _ what: String) {
        settleFailed(session: session, file,
                     StreamFailure(crid: file.crid, seq: nil, recordID: file.lastRecordID, rule: .io(what)))
        onWriterFailure(session)
    }

    func failWithoutFile(session: UInt64, crid: UInt64, _ error: ListenerFileError) {
        let failure = StreamFailure(crid: crid, seq: 0, recordID: nil, rule: .io(error.description))
        logger.error("stream failed: no image file", metadata: failureMetadata(failure))
        onSettled(SettledStream(session: session, crid: crid, outcome: .failed(name: nil, failure), bytes: 0))
        onWriterFailure(session)
    }

    /// Keeps a failed stream's bytes as `<crid>.failed` with `<crid>.failed.reason` beside
    /// it. Best effort: on a full disk or a vanished directory some of it may not be possible,
    /// which is logged; nothing here stops the listener.
    func settleFailed(session: UInt64?, _ file: ImageFile, _ failure: StreamFailure) {
        if file.blocksPastEnd { ImageDirectory.releaseSurplus(file.fd) }
        if file.reserved { onReserveSpent() }
        try? Syscall.sync(file.fd)
        Syscall.close(file.fd)
        var metadata = failureMetadata(failure)
        var kept: String? = nil
        do {
            let name = try directory.moveToFreeName(file.name, crid: file.crid, ext: "failed")
            kept = name
            metadata["file"] = "\(name)"
            try directory.writeReason(for: name, partial: file.name, failure.description)
            try directory.sync()
        } catch {
            metadata["keep-error"] = "\(error)"
        }
        logger.error("stream failed", metadata: metadata)
        onSettled(SettledStream(session: session, crid: file.crid, outcome: .failed(name: kept, failure), bytes: file.bytes))
    }

    /// A stream that failed before it had an image.
    func settledWithoutImage(_ failure: StreamFailure) {
        logger.warning("stream failed before it had an image", metadata: failureMetadata(failure))
        onSettled(SettledStream(session: nil, crid: failure.crid, outcome: .failed(name: nil, failure), bytes: 0))
    }

    func failureMetadata(_ failure: StreamFailure) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["crid": "\(failure.crid)", "rule": "\(failure.rule.name)", "reason": "\(failure)"]
        if let seq = failure.seq { metadata["seq"] = "\(seq)" }
        if let record = failure.recordID { metadata["record"] = "\(record)" }
        return metadata
    }
}

/// The writer's state: made on the thread that writes (the writer thread, or the owner's
/// with `.inline`) and used by it alone (not Sendable).
final class SinkWriter {
    /// What the writer thread is started with.
    struct Parts: Sendable {
        let queue: WorkQueue<SinkOp>
        let queueCapacity: Int
        let publish: WorkQueue<ImagePublisher.Finished>
        let directory: ImageDirectory
        let pool: BufferPool
        let logger: Logger
        let makeWriter: StreamImageWriterFactory
        let settler: StreamSettler
        let counters: SinkCounters
        let reserve: SpaceReserve
        /// This machine's name, for each image's header.
        let host: String
        let failures: FailureParking
    }

    /// A class, so the write of each fragment finds it with one lookup and updates it in
    /// place (as a struct it was copied out, its name and writer retained, and stored back).
    final class OpenImage {
        var file: ImageFile
        let writer: StreamImageWriter
        init(file: ImageFile, writer: StreamImageWriter) {
            self.file = file
            self.writer = writer
        }

        /// The file as it is handed on to be settled: whether its writer allocated ahead
        /// is known only now.
        var settling: ImageFile {
            var f = file
            f.allocatedAhead = writer.allocatedAhead
            return f
        }
    }

    private let parts: Parts
    /// Streams with an open image. A session missing here has settled (or failed on the
    /// writer's side): its remaining ops are dropped, their buffers released.
    private var images: [UInt64: OpenImage] = [:]
    /// A batch's pool buffers written from but perhaps only queued by a coalescing writer,
    /// and the sessions whose writers may have queued parts (`flushWrites` writes, then
    /// releases); and the image the last write went to, so that a run of writes to one
    /// stream looks it up in `images` once (nil whenever `images` changes).
    struct Unflushed {
        var held: [Int] = []
        var dirty: [UInt64] = []
        var last: (session: UInt64, image: OpenImage)?
    }
    /// Empty between batches; kept for its arrays' capacity. A batch takes it into a local
    /// and passes that on inout: each access to a stored property of this class is a
    /// run-time exclusivity check, and the ops of a batch would pay three each.
    private var unflushed = Unflushed()
    /// Flush after this many writes even within a batch, so the pool is not held for long.
    private let holdAtMost: Int
    /// The writer thread's: 48 of the default 64 buffers, so that while it writes, the
    /// receive thread (handing over every 32 ops) still has buffers to receive into, and 32
    /// KiB fragments reach the writer's 1 MiB writes (docs/benchmarks.md, "Write size
    /// again").
    static let holdAtMostBesideReceiver = 48

    init(_ parts: Parts, holdAtMost: Int) {
        self.parts = parts
        self.holdAtMost = holdAtMost
        unflushed.held.reserveCapacity(parts.pool.count)
        unflushed.dirty.reserveCapacity(parts.pool.count)
    }

    /// Takes batches until the queue is closed and empty.
    func run() {
        var batch: [SinkOp] = []
        batch.reserveCapacity(parts.queueCapacity)
        while parts.queue.take(into: &batch) {  // both keep their capacity: no allocation per batch
            write(batch: &batch)
        }
    }

    /// Runs `batch`'s ops in order, writes what they queued and releases their pool
    /// buffers; empties `batch`, keeping its capacity.
    func write(batch: inout [SinkOp]) {
        guard !batch.isEmpty else { return }
        var pending = Unflushed()  // empty arrays: no allocation
        swap(&pending, &unflushed)
        defer {
            pending.last = nil  // no image kept alive between batches
            swap(&pending, &unflushed)  // emptied by flushWrites, its capacity kept
        }
        var written: UInt64 = 0
        for op in batch {
            switch op {
            case .complete, .fail:
                // The stream may settle at once (published on the publisher thread): its
                // bytes are counted as written before that, so the listener's unsettled
                // count (written less settled) never goes below what is in flight.
                if written > 0 { parts.counters.bytesWritten.add(written, ordering: .relaxed) }
                written = 0
            case .open, .write: break
            }
            written += process(op, &pending)
        }
        batch.removeAll(keepingCapacity: true)
        flushWrites(&pending)
        if written > 0 { parts.counters.bytesWritten.add(written, ordering: .relaxed) }
    }

    /// Runs one op; returns the data bytes it wrote.
    private func process(_ op: SinkOp, _ pending: inout Unflushed) -> UInt64 {
        if case .write = op {} else { pending.last = nil }  // every other op may change `images`
        switch op {
        case let .open(session, stream):
            open(session: session, stream: stream)
        case let .write(write, buffer):
            // The writer may only have queued the fragment (coalescing): the buffer is
            // released after the flush.
            let n = self.write(write, &pending)
            pending.held.append(buffer)
            if pending.dirty.last != write.session { pending.dirty.append(write.session) }
            if pending.held.count >= holdAtMost { flushWrites(&pending) }
            return n
        case let .complete(session, crid, summary, seq):
            complete(session: session, crid: crid, summary: summary, seq: seq)
        case let .fail(session, parked):
            let failure = parts.failures.take(parked)
            if let session {
                guard let image = images.removeValue(forKey: session) else { return 0 }  // already failed here
                try? image.writer.keepCompleteRecords()  // keep every byte that arrived, its records whole
                parts.settler.settleFailed(session: session, image.settling, failure)
            } else {
                parts.settler.settledWithoutImage(failure)
            }
        }
        return 0
    }

    private func open(session: UInt64, stream: StreamStart) {
        let created: (fd: Int32, name: String, reserved: Bool)
        do {
            created = try parts.directory.createPartial(crid: stream.crid, fromReserve: parts.reserve.policy != .off)
        } catch {
            parts.settler.failWithoutFile(session: session, crid: stream.crid, error)
            return
        }
        var info = StreamImageInfo(crid: stream.crid, pid: stream.pid, captureStartNs: stream.captureStartNs,
                                   host: parts.host)
        info.fileName = created.name
        let file = ImageFile(crid: info.crid, fd: created.fd, name: created.name, reserved: created.reserved)
        do {
            let writer = try parts.makeWriter(created.fd, info)
            images[session] = OpenImage(file: file, writer: writer)
            parts.logger.info("stream began", metadata: ["crid": "\(info.crid)", "pid": "\(info.pid)", "file": "\(created.name)"])
        } catch {
            parts.settler.ioFailure(session: session, file, errorText(error))
        }
    }

    private func write(_ op: WriteOp, _ pending: inout Unflushed) -> UInt64 {
        let image: OpenImage
        if let last = pending.last, last.session == op.session {
            image = last.image
        } else {
            guard let found = images[op.session] else { return 0 }  // failed by the writer earlier
            image = found
            pending.last = (op.session, found)
        }
        do {
            if let head = op.head {
                image.file.lastRecordID = head.id
                try image.writer.beginRecord(head)
            }
            if op.data.count > 0 { try image.writer.appendData(op.data, checksum: op.dataChecksum) }
            if op.endsRecord { try image.writer.endRecord() }
        } catch {
            images[op.session] = nil
            pending.last = nil
            parts.settler.ioFailure(session: op.session, image.settling, errorText(error))
            return 0
        }
        image.file.bytes += UInt64(op.data.count)
        return UInt64(op.data.count)
    }

    /// Writes what the writers queued, then releases the buffers it came from.
    private func flushWrites(_ pending: inout Unflushed) {
        for session in pending.dirty {
            guard let image = images[session] else { continue }  // settled: its writer flushed or failed
            do {
                try image.writer.flush()
            } catch {
                images[session] = nil
                pending.last = nil
                parts.settler.ioFailure(session: session, image.settling, errorText(error))
            }
        }
        pending.dirty.removeAll(keepingCapacity: true)
        parts.pool.release(contentsOf: pending.held)
        pending.held.removeAll(keepingCapacity: true)
    }

    /// Finishes a verified stream: index and trailer (after the writer's own check of the
    /// sender's summary), then hands it to the publisher.
    private func complete(session: UInt64, crid: UInt64, summary: StreamSummary, seq: UInt32) {
        guard let image = images.removeValue(forKey: session) else { return }
        let endedAt = monotonicNanoseconds()
        do {
            do {
                try image.writer.finish(summary: summary)
            } catch ImageError.summaryMismatch {
                // The data's checksum (or count) differs from the sender's: the stream's
                // rule, not an I/O failure. No trailer was written.
                let rule = FailureRule.summaryMismatch(sent: summary, received: image.writer.written)
                parts.settler.settleFailed(session: session, image.settling,
                                           StreamFailure(crid: crid, seq: seq, recordID: nil, rule: rule))
                return
            }
        } catch {
            parts.settler.ioFailure(session: session, image.settling, errorText(error))
            return
        }
        parts.publish.submit(ImagePublisher.Finished(session: session, crid: crid, summary: summary, file: image.settling,
                                                     dataCheckedAtEnd: image.writer.dataCheckedAtEnd,
                                                     deferredCheck: image.writer.takeDeferredCheck(),
                                                     endedAt: endedAt, finishedAt: monotonicNanoseconds()))
    }
}
