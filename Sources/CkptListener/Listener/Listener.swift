#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import Logging
import CkptSystem
import SystemPackage

/// `ckpt listen`: receives capture streams from a netlink socket into a bounded pool,
/// reassembles them and writes each to an image file.
///
///     socket --recvmmsg--> pool buffers --decode--> Reassembler --actions--> ImageSink (writer thread)
///        ^                    ^                    (pure rules)             writes from the buffer,
///        |                    +------------------- release after write <----+ then releases it
///        +-- not read while the pool is empty: the socket fills, the sender blocks (backpressure)
///
/// One receive thread (`run`) owns the socket, the reassembler and the receive counters; one
/// writer thread writes the files (`ImageSink`; with `--writer inline` the receive thread
/// writes them itself between batches) and one publisher thread fsyncs and renames
/// the finished ones (`ImagePublisher`). Not Sendable: other threads get `stopHandle`. The receive path allocates nothing per message:
/// one `recvmmsg` lands up to `receiveBatch` datagrams in pool buffers, events point into
/// them, ops are collected in a preallocated outbox and handed to the writer once per batch
/// (one pool lock and one queue lock per batch, not per message).
public final class Listener {
    public enum StopReason: Equatable, Sendable {
        /// `stopHandle.requestStop()` (SIGTERM/SIGINT).
        case requested
        /// `--exit-after N` streams settled.
        case exitAfter
        /// `--idle-timeout` passed with nothing in flight.
        case idleTimeout
        /// The socket, or `poll` on it, failed (not ENOBUFS, not EINTR): nothing more can be
        /// received.
        case socketError(String)
    }

    public struct Outcome: Sendable {
        public var reason: StopReason
        public var stats: ListenerStats
    }

    public let configuration: ListenerConfiguration
    public let directory: ImageDirectory
    private let source: DatagramSource
    private let logger: Logger
    private let pool: BufferPool
    private var sink: ImageSink!
    private var reassembler: Reassembler
    private let feedback = Feedback()
    /// What other threads may hold of the listener: `requestStop()`.
    public let stopHandle: StopHandle
    private let decoder = StreamDecoder()

    // Receive-thread state.
    private var stats = ListenerStats()
    private var startedNs: UInt64 = 0
    private var lastMessageNs: UInt64 = 0
    /// The listener's own delays as of the last tick: time stalled on its own pool and, with
    /// `--writer inline`, time spent writing. The stream clock is monotonic time minus this,
    /// so time the listener is not reading never counts as a stream's silence.
    private var stalledAtTickNs: UInt64 = 0
    /// `--writer inline`: time spent in `sink.flush()`, writing.
    private var inlineWriteNs: UInt64 = 0
    private var bytesAtLastStats: UInt64 = 0
    private var lastStatsNs: UInt64 = 0
    private var malformedLogged = 0
    /// Bytes written to the files of settled streams, as of the last tick (the spool gate).
    private var settledBytesAtTick: UInt64 = 0
    /// The space reserve's allocated bytes at the last tick (`ImageSink.reservedBytes`).
    private var reservedAtTick: UInt64 = 0
    /// Ops queued for the writer since it was last woken (`ImageSink.flush`).
    private var unflushed = 0

    /// Opens the image directory (failing with its reason if it cannot be used) and sets up
    /// the pool and the writer; `run()` starts them.
    public init(
        configuration: ListenerConfiguration, source: DatagramSource, logger: Logger,
        makeWriter: @escaping StreamImageWriterFactory
    ) throws(ListenerFileError) {
        self.configuration = configuration
        self.source = source
        self.logger = logger
        directory = try ImageDirectory(path: configuration.directory)
        pool = BufferPool(count: configuration.poolBuffers, size: configuration.bufferSize, resumeAt: configuration.resumeAt)
        reassembler = Reassembler(configuration: Reassembler.Configuration(
            maxStreams: configuration.maxStreams, streamTimeoutNs: configuration.streamTimeoutNs, checkRecordData: true,
            checksumData: false))  // the image writer checksums (and compares) in its one pass
        do {
            stopHandle = try StopHandle()
        } catch {
            throw ListenerFileError("pipe", "stop pipe", error)
        }
        var name = [UInt8](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        let host = String(decoding: name.prefix { $0 != 0 }, as: UTF8.self)
        let feedback = self.feedback
        sink = ImageSink(
            directory: directory, pool: pool, logger: logger, host: host, makeWriter: makeWriter,
            onSettled: { [published = configuration.publishedImage] in
                feedback.settled($0)
                // An image checked after publication is handed on once it was (`onChecked`).
                if case let .completed(name, _) = $0.outcome, !$0.checkPending { published?(name, $0.bytes) }
            }, onWriterFailure: { feedback.writerFailed($0) }, writer: configuration.writer,
            reserve: configuration.reserve, reserveRoom: configuration.spoolRoom,
            onChecked: { [published = configuration.publishedImage] in published?($0, $1) },
            onCorrupt: { _ in feedback.corrupt() })
    }

    /// Asks `run()` to stop (the same as `stopHandle.requestStop()`, for the owner): stop
    /// reading, fail the streams in flight as interrupted (their bytes kept), finish writing,
    /// return.
    public func requestStop() { stopHandle.requestStop() }

    /// Receives until stopped (`stopHandle`, `--exit-after`, `--idle-timeout`, or a socket
    /// error). Returns why, with the final counters (also written to the stats file).
    public func run() -> Outcome {
        startedNs = monotonicNanoseconds()
        lastMessageNs = startedNs
        lastStatsNs = startedNs
        stats.pid = getpid()
        stats.transport = source.description
        stats.poolBuffers = pool.count
        stats.poolBufferBytes = pool.size
        recoverLeftovers()
        sink.start()
        logger.info("listening", metadata: [
            "transport": "\(source.description)", "dir": "\(directory.path)",
            "pool": "\(pool.count) x \(pool.size) bytes", "writer": "\(sink.writer.rawValue)",
            "crc32c": "\(CRC32C.implementation)",
        ])
        let reason = receiveLoop()
        settle(reason)
        return Outcome(reason: reason, stats: stats)
    }

    // MARK: the receive loop

    private static let tickNs: UInt64 = 100_000_000
    /// Datagrams read per poll wake-up before timers are looked at again.
    private static let burst = 256

    // Batch state of the receive thread (capacities reserved in `run`, so the loop allocates
    // nothing): the pool buffers held for the next `recvmmsg`, their bytes, what the last
    // batch received, how many writes point into each slot, and the ops not yet handed to
    // the writer.
    private var slots: [Int] = []
    private var slotBuffers: [UnsafeMutableRawBufferPointer] = []
    private var received: [ReceivedDatagram] = []
    private var retains: [Int32] = []
    private var outbox: [SinkOp] = []

    private func receiveLoop() -> StopReason {
        let batchSize = max(1, min(configuration.receiveBatch, pool.count))
        slots.reserveCapacity(batchSize)
        slotBuffers.reserveCapacity(batchSize)
        received.reserveCapacity(batchSize)
        retains = Array(repeating: 0, count: batchSize)
        outbox.reserveCapacity(pool.count * 2 + 64)
        defer {
            for slot in slots { pool.release(slot) }
            slots.removeAll()
        }
        var nextTickNs: UInt64 = 0
        var fds = [pollfd(fd: source.fileDescriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: stopHandle.readEnd.rawValue, events: Int16(POLLIN), revents: 0)]
        while true {
            let now = monotonicNanoseconds()
            if now >= nextTickNs {
                if let reason = tick(now: now) { return reason }
                nextTickNs = now + Self.tickNs
            }
            if slots.isEmpty {
                // Pool empty: this is where backpressure happens. Wait for the writer, a
                // tick at a time, still answering stop requests.
                guard let first = pool.acquire(deadlineNs: now + Self.tickNs) else {
                    if stopRequested() { return .requested }
                    continue
                }
                slots.append(first)
                pool.topUp(&slots, target: batchSize)
            }
            // Written but not settled: streams in flight and images not yet published (the
            // settled count is as of the last tick, so this errs on the full side), and the
            // space reserved for the next image (allocated in the spool's file system, as of
            // the last tick). A reserve that would hold a stream back is dropped instead:
            // uploads cannot drain it.
            if let spoolFull = configuration.spoolFull,
               spoolFull(unsettledBytes(droppingAReserveInTheWay: true) + reservedAtTick) {
                // The uploader's spool is full: read nothing (senders wait) until it drains.
                if unflushed > 0 { wakeWriter() }
                var stop = fds[1]
                if poll(&stop, 1, 10) > 0 { return .requested }
                continue
            }
            // Ops not yet shown to the writer: wait a millisecond for more datagrams before
            // waking it, so a trickle of small messages becomes one wake-up, not one each.
            let pending = unflushed > 0
            let ready = poll(&fds, 2, pending ? 1 : Int32(Self.tickNs / 1_000_000))
            if ready == 0, pending { wakeWriter() }
            if ready < 0 {
                // EINTR: look again. Anything else (EFAULT, EINVAL, ENOMEM) would fail on
                // every call: polling on would spin a core, so stop with the reason.
                if errno == EINTR { continue }
                let error = Syscall.failure("poll")
                logger.critical("poll failed; stopping", metadata: ["error": "\(error)"])
                return .socketError("poll: \(error)")
            }
            if ready == 0 { continue }
            if fds[1].revents != 0 { return .requested }
            if fds[0].revents == 0 { continue }
            var taken = 0
            burst: while taken < Self.burst {
                slotBuffers.removeAll(keepingCapacity: true)
                for slot in slots { slotBuffers.append(pool.buffer(slot)) }
                let outcome: BatchOutcome
                do {
                    outcome = try source.receive(batch: slotBuffers, into: &received)
                } catch {
                    logger.critical("socket receive failed; stopping", metadata: ["error": "\(error)"])
                    return .socketError("\(error)")
                }
                switch outcome {
                case .wouldBlock:
                    // Inline, the socket being empty is the time to write: waiting the
                    // millisecond below for more would leave the CPU idle.
                    if sink.writer == .inline, unflushed > 0 { wakeWriter() }
                    break burst
                case .overrun:
                    noteOverrun()
                    continue burst
                case let .datagrams(n):
                    // One clock reading per batch: stream timeouts count in 100 ms ticks.
                    let receivedAt = monotonicNanoseconds()
                    // The batch's state goes in as arguments, inout where it changes, so
                    // the run-time exclusivity check that each access to a stored property
                    // of this class costs is paid once per batch, not once per message.
                    var counts = BatchCounts()
                    process(batch: n, received: received, slots: slots, now: receivedAt, counts: &counts,
                            retains: &retains, reassembler: &reassembler, outbox: &outbox)
                    let bytes = counts.bytes, messages = counts.messages
                    unflushed += counts.ops
                    lastMessageNs = receivedAt
                    stats.datagrams += UInt64(n)
                    stats.bytesReceived += UInt64(bytes)
                    stats.messages += messages
                    taken += n
                    // Hand the buffers that writes point into to the writer (one lock for
                    // the batch), then the ops; keep the rest for the next receive. When
                    // no buffer is left, go back to the top (and wait there): the writer
                    // must run then, it is what frees buffers. Inline, the writer runs
                    // only then or when the socket is empty (above): the larger the
                    // batch, the more of each stream's fragments one write takes.
                    pool.recycle(&slots, used: n, retains: retains, target: batchSize)
                    submitOutbox()
                    if slots.isEmpty || (sink.writer == .thread && unflushed >= Self.wakeWriterEvery) { wakeWriter() }
                    if slots.isEmpty { break burst }
                }
            }
        }
    }

    /// Wake the writer thread at least every this many ops while datagrams keep coming:
    /// half the default pool, so the writer gets batches large enough for 1 MiB writes
    /// while the receive thread still has buffers to read into.
    private static let wakeWriterEvery = 32

    private func submitOutbox() {
        sink.submit(contentsOf: &outbox)
    }

    private func wakeWriter() {
        submitOutbox()
        if sink.writer == .inline {
            let started = monotonicNanoseconds()
            sink.flush()
            inlineWriteNs += monotonicNanoseconds() - started
        } else {
            sink.flush()
        }
        unflushed = 0
    }

    private func stopRequested() -> Bool { stopHandle.isRequested }

    /// What a batch adds to `stats` and `unflushed`, added by the caller once per batch.
    private struct BatchCounts {
        var bytes = 0
        var messages: UInt64 = 0
        /// Ops queued in the outbox.
        var ops = 0
    }

    /// The first `n` datagrams of a `recvmmsg` batch (`received[k]` in pool buffer
    /// `slots[k]`), received at `now`: `retains[k]` becomes how many writes point into
    /// `slots[k]`. The reassembler and the outbox come in inout, so that their run-time
    /// exclusivity checks are the caller's one per batch; nothing called from here may
    /// touch `self.reassembler` or `self.outbox` (that would be an overlapping access,
    /// which traps).
    private func process(batch n: Int, received: [ReceivedDatagram], slots: [Int], now: UInt64,
                         counts: inout BatchCounts, retains: inout [Int32],
                         reassembler: inout Reassembler, outbox: inout [SinkOp]) {
        for k in 0..<n {
            let d = received[k]
            counts.bytes += d.count
            retains[k] = process(buffer: slots[k], count: d.count, truncated: d.truncated, now: now,
                                 counts: &counts, reassembler: &reassembler, outbox: &outbox)
        }
    }

    /// One datagram in pool buffer `buffer`, received at `now`: decode it and act on each
    /// stream message.
    ///
    /// Returns how many writes point into `buffer`; adds the stream messages it held and the
    /// ops it queued to `counts` (the caller counts datagrams, bytes and messages into `stats`).
    private func process(buffer: Int, count: Int, truncated: Bool, now: UInt64,
                         counts: inout BatchCounts, reassembler: inout Reassembler,
                         outbox: inout [SinkOp]) -> Int32 {
        if truncated {
            // Its stream will also see the lost message as a sequence gap.
            malformed("datagram truncated: longer than the \(pool.size)-byte pool buffer (--buffer-size)")
            return 0
        }
        let clock = now - stalledAtTickNs
        let datagram = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(pool.buffer(buffer))[0..<count])
        var writes: Int32 = 0
        do {
            try decoder.decode(datagram: datagram, expectedType: source.messageType) { event in
                counts.messages += 1
                let action = reassembler.receive(event, now: clock)
                if case .write = action { writes += 1 }
                if queue(action, buffer: buffer, into: &outbox) { counts.ops += 1 }
            }
        } catch let error as ProtocolError {
            malformed("\(error)")
            if let crid = error.crid, let action = reassembler.malformed(crid: crid, seq: error.seq, "\(error)") {
                if queue(action, buffer: buffer, into: &outbox) { counts.ops += 1 }
            }
        } catch {
            malformed("\(error)")
        }
        return writes
    }

    /// Queues the op of `action` in the outbox (the writer gets it at the next
    /// `submitOutbox`); a `.write` needs `buffer`, which the caller counts as retained.
    private func dispatch(_ action: ReassemblyAction, buffer: Int?) {
        if queue(action, buffer: buffer, into: &outbox) { unflushed += 1 }
    }

    /// `dispatch` into `outbox`, for the receive batch (which holds the outbox): true when
    /// it queued an op (the caller adds it to `unflushed`).
    private func queue(_ action: ReassemblyAction, buffer: Int?, into outbox: inout [SinkOp]) -> Bool {
        switch action {
        case .none:
            return false
        case let .open(session, crid, pid):
            stats.begun += 1
            outbox.append(.open(session: session, stream: StreamStart(
                crid: crid, pid: pid, captureStartNs: wallClockNanoseconds())))
        case let .write(op):
            outbox.append(.write(op, buffer: buffer!))
        case let .complete(session, crid, summary, seq):
            outbox.append(.complete(session: session, crid: crid, summary: summary, seq: seq))
        case let .fail(session, failure):
            outbox.append(sink.failOp(session: session, failure))
        }
        return true
    }

    private func malformed(_ what: String) {
        stats.malformedDatagrams += 1
        malformedLogged += 1
        if malformedLogged <= 10 || malformedLogged % 1000 == 0 {
            logger.warning("malformed datagram dropped", metadata: [
                "error": "\(what)", "count": "\(stats.malformedDatagrams)",
            ])
        }
    }

    private func noteOverrun() {
        stats.overruns += 1
        let hit = reassembler.noteLoss()
        logger.error("socket overrun (ENOBUFS): the kernel dropped messages", metadata: [
            "streams-in-flight": "\(hit)",
            "note": "each affected stream fails at its next sequence gap; streams that stay gapless and verify are intact",
        ])
    }

    /// Bytes written of streams not yet settled (as of the last tick's settled count; never
    /// below 0: a stream can settle on the publisher thread before its last bytes are
    /// counted). With `droppingAReserveInTheWay`, a space reserve that would fill the spool's
    /// room together with them is dropped first.
    private func unsettledBytes(droppingAReserveInTheWay: Bool) -> UInt64 {
        let written = sink.bytesWritten
        let unsettled = written > settledBytesAtTick ? written - settledBytesAtTick : 0
        if droppingAReserveInTheWay, reservedAtTick > 0, let room = configuration.spoolRoom?(),
           unsettled + reservedAtTick >= room {
            sink.dropReserve()
            reservedAtTick = 0
        }
        return unsettled
    }

    // MARK: timers, stats, exit

    /// Every 100 ms: writer feedback, stream timeouts, stats; says when to stop.
    private func tick(now: UInt64) -> StopReason? {
        let snapshot = pool.snapshot()
        stalledAtTickNs = snapshot.stalledNs + inlineWriteNs
        let settled = feedback.drain()
        settledBytesAtTick = settled.counters.bytes
        if configuration.spoolFull != nil { reservedAtTick = sink.reservedBytes }
        for session in settled.writerFailures { reassembler.writerFailed(session: session) }
        if !snapshot.isStalled {
            for action in reassembler.expire(now: now - stalledAtTickNs) { dispatch(action, buffer: nil) }
        }
        wakeWriter()
        update(snapshot: snapshot, settled: settled.counters, now: now)
        if now - lastStatsNs >= configuration.statsIntervalNs { publishStats(now: now) }
        if stopRequested() { return .requested }
        if let n = configuration.exitAfter, settled.counters.settled >= UInt64(n) { return .exitAfter }
        if let idle = configuration.idleTimeoutNs, reassembler.streamsInFlight == 0,
           now - lastMessageNs >= idle, settled.counters.settled == stats.begun + settled.counters.withoutImage {
            return .idleTimeout
        }
        return nil
    }

    private func update(snapshot: BufferPool.Snapshot, settled: SettledCounters, now: UInt64) {
        stats.uptimeNs = now - startedNs
        stats.inFlight = reassembler.streamsInFlight
        stats.droppedMessages = reassembler.droppedMessages
        stats.completed = settled.completed
        stats.failed = settled.failed
        stats.corrupt = settled.corrupt
        stats.failuresByRule = settled.failuresByRule
        stats.recentFailures = settled.recentFailures
        stats.bytesWritten = sink.bytesWritten
        stats.poolInUse = snapshot.inUse
        stats.poolPeakInUse = snapshot.peakInUse
        stats.stalls = snapshot.stalls
        stats.stalledNs = snapshot.stalledNs
        stats.writer = sink.writer.rawValue
        stats.inlineWriteNs = inlineWriteNs
        stats.reservedBytes = sink.reservedBytes
        if let store = configuration.storeStats?() { (stats.store, stats.storeStatus) = (StatsSection(store.json), store.status) }
    }

    private func publishStats(now: UInt64) {
        let interval = Double(max(now - lastStatsNs, 1)) / 1e9
        let rate = Double(stats.bytesReceived - bytesAtLastStats) / interval
        bytesAtLastStats = stats.bytesReceived
        lastStatsNs = now
        writeStatsFile()
        if configuration.statusLine {
            writeStatusLine("\r\u{1B}[K" + stats.statusLine(rate: rate))
        }
    }

    /// The status line goes straight to fd 2 (stdio's `stderr` is shared mutable state that
    /// Swift 6 will not touch from here); a failed write of a cosmetic line is ignored.
    private func writeStatusLine(_ line: String) {
        _ = try? FileDescriptor.standardError.writeAll(Array(line.utf8))
    }

    private func writeStatsFile() {
        do {
            try directory.replaceFile(ListenerConfiguration.statsFileName, contents: stats.json())
        } catch {
            logger.debug("stats file not written", metadata: ["error": "\(error)"])
        }
    }

    /// Stop reading; fail what is in flight as interrupted (bytes kept); drain the writer.
    private func settle(_ reason: StopReason) {
        let interrupted = reassembler.failAll(.interrupted)
        if !interrupted.isEmpty {
            logger.warning("stopping with streams in flight: failing them as interrupted", metadata: [
                "streams": "\(interrupted.count)", "reason": "\(reason)",
            ])
        }
        for action in interrupted { dispatch(action, buffer: nil) }
        wakeWriter()
        sink.stop()
        source.shutdown()
        let now = monotonicNanoseconds()
        update(snapshot: pool.snapshot(), settled: feedback.drain().counters, now: now)
        stats.state = "stopped"
        if configuration.statusLine { writeStatusLine("\r\u{1B}[K") }
        writeStatsFile()
        logger.info("stopped", metadata: [
            "reason": "\(reason)", "completed": "\(stats.completed)", "failed": "\(stats.failed)", "corrupt": "\(stats.corrupt)",
            "bytes": "\(stats.bytesReceived)", "stalls": "\(stats.stalls)",
            "stalled-ms": "\(stats.stalledNs / 1_000_000)", "enobufs": "\(stats.overruns)",
        ])
    }

    // MARK: leftovers

    /// `.partial` files of a listener that died: published when complete and verified, else
    /// kept as `.failed` with the reason (`LeftoverRecovery`).
    private func recoverLeftovers() {
        let outcome = LeftoverRecovery(directory: directory, logger: logger, onPublished: configuration.publishedImage).run()
        stats.leftoversFound += outcome.found
        stats.leftoversPublished += outcome.published
    }
}
