import CkptSystem
#if canImport(Glibc)
import Glibc
#endif
import Logging

/// `ckpt listen --store`: uploads every published image from the spool (the listener's
/// directory) to the store, on threads of its own, so capture never waits for the network.
///
///     listener publishes NAME.ckpt --published()--> queue --> worker 1..N (one connection each)
///                                                              multipart upload (UploadJob)
///     spool bytes >= --store-spool-max: spoolFull() is true;   confirmed by a HEAD: size and
///     the listener stops reading until uploads free room       checksum; then the local copy
///                                                              is deleted (or marked stored)
///
/// An image counts as stored only after the store confirmed it. A failed attempt goes back
/// to the queue after a backoff (0.5 s doubling to 30 s), keeping the parts already sent
/// (`UploadState`); nothing is dropped: an image leaves the queue only stored, or abandoned
/// when its local bytes do not match its own trailer (kept on disk, logged), or when the
/// listener stops (it stays in the spool and the next start uploads it).
public final class ImageUploader: @unchecked Sendable {
    // Sendable: every mutable field below is read and written only under `lock`; the
    // configuration, directory and logger are immutable.
    public let configuration: UploaderConfiguration
    public let directory: String
    private let logger: Logger
    private let lock = ConditionLock()

    private struct Entry {
        var name: String
        var bytes: UInt64
        var notBeforeNs: UInt64 = 0
        var attempts = 0
        var busy = false
    }

    private var queue: [Entry] = []
    private var known: Set<String> = []
    private var stats = UploaderStats()
    private var stopping = false
    private var spoolStallStartNs: UInt64? = nil
    private var threads: [JoinableThread] = []

    public init(configuration: UploaderConfiguration, directory: String, logger: Logger) {
        self.configuration = configuration
        self.directory = directory
        self.logger = logger
        stats.spoolLimit = configuration.spoolLimit
    }

    /// Queues the images already in the spool (not marked stored), then starts the workers.
    public func start() {
        for (name, bytes) in spooledImages() { published(name: name, bytes: bytes) }
        for i in 0..<configuration.workers {
            threads.append(JoinableThread { [self] in work(worker: i) })
        }
    }

    /// The listener published `name` in the spool. Idempotent. Its size is taken from the
    /// file (`bytes`, the listener's count, is used only if it cannot be stat'ed).
    public func published(name: String, bytes: UInt64) {
        var st = stat()
        let bytes = stat(directory + "/" + name, &st) == 0 ? UInt64(st.st_size) : bytes
        lock.withLock {
            guard !known.contains(name) else { return }
            known.insert(name)
            queue.append(Entry(name: name, bytes: bytes))
            stats.pending += 1
            stats.pendingBytes += bytes
            stats.peakPendingBytes = max(stats.peakPendingBytes, stats.pendingBytes)
        }
        lock.broadcast()
    }

    /// The bytes the spool has room for below `spoolLimit` besides the images waiting for
    /// upload (nil: no limit). The listener's space reserve takes less than this
    /// (`ListenerConfiguration.spoolRoom`).
    public func spoolRoom() -> UInt64? {
        lock.withLock {
            guard let limit = configuration.spoolLimit else { return nil }
            return limit > stats.pendingBytes ? limit - stats.pendingBytes : 0
        }
    }

    /// True while the spool holds `spoolLimit` bytes or more: images waiting for upload plus
    /// `unsettledBytes`, what the listener wrote of streams not yet published and the space
    /// it keeps reserved for the next image. The listener asks before each read; the time it
    /// is held back is counted.
    public func spoolFull(unsettledBytes: UInt64) -> Bool {
        lock.withLock {
            guard let limit = configuration.spoolLimit else { return false }
            let (sum, overflow) = stats.pendingBytes.addingReportingOverflow(unsettledBytes)
            let spool = overflow ? UInt64.max : sum
            stats.peakSpoolBytes = max(stats.peakSpoolBytes, spool)
            let full = spool >= limit
            let now = monotonicNanoseconds()
            if full, spoolStallStartNs == nil {
                spoolStallStartNs = now
                stats.spoolStalls += 1
            } else if !full, let start = spoolStallStartNs {
                stats.spoolStalledNs += now - start
                spoolStallStartNs = nil
            }
            return full
        }
    }

    public func snapshot() -> UploaderStats {
        lock.withLock { stats }
    }

    /// Waits until nothing is pending or `timeoutNs` passed; true when nothing is pending.
    public func drain(timeoutNs: UInt64) -> Bool {
        let deadline = monotonicNanoseconds() + timeoutNs
        lock.lock()
        defer { lock.unlock() }
        while stats.pending > 0, monotonicNanoseconds() < deadline {
            lock.wait(untilNs: min(deadline, monotonicNanoseconds() + 100_000_000))
        }
        return stats.pending == 0
    }

    /// Stops the workers after their current part; what is not stored stays in the spool.
    public func stop() {
        lock.withLock { stopping = true }
        lock.broadcast()
        for t in threads { t.join() }
        threads = []
    }

    var isStopping: Bool { lock.withLock { stopping } }

    // MARK: workers

    private func work(worker: Int) {
        // Uploads are background work: on a busy machine the capture threads (nice 0) get
        // the CPU first. On Linux the nice value is per thread, and `who` 0 is the calling
        // thread (setpriority(2), NOTES). Nice 19, the lowest normal priority: against nice
        // 10 it held capture better with an upload running (tools/bench/store A/B, in
        // docs/object-store.md); SCHED_IDLE did about as well but can starve uploads on a
        // host kept busy by anything else, where nice 19 still gets a share.
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        let client = S3Client(configuration: configuration.store)
        // One worker sweeps the prefix for stale uploads first; the others start uploading.
        if worker == 0, let age = configuration.staleUploadAge {
            let n = StaleUploads.sweep(self, client: client, maxAge: age)
            lock.withLock { stats.abortedStaleUploads += UInt64(n) }
        }
        while let entry = take() {
            let job = UploadJob(uploader: self, client: client, name: entry.name, bytes: entry.bytes, worker: worker)
            let outcome = job.run()
            finish(entry, outcome)
        }
    }

    /// The next entry due, marked busy; nil when stopping.
    private func take() -> Entry? {
        lock.lock()
        defer { lock.unlock() }
        while !stopping {
            let now = monotonicNanoseconds()
            if let i = queue.firstIndex(where: { !$0.busy && $0.notBeforeNs <= now }) {
                queue[i].busy = true
                stats.uploading += 1
                return queue[i]
            }
            let next = queue.filter { !$0.busy }.map(\.notBeforeNs).min() ?? now + 1_000_000_000
            lock.wait(untilNs: min(max(next, now + 1_000_000), now + 1_000_000_000))
        }
        return nil
    }

    private func finish(_ entry: Entry, _ outcome: UploadJob.Outcome) {
        lock.withLock {
            stats.uploading -= 1
            guard let i = queue.firstIndex(where: { $0.name == entry.name }) else { return }
            switch outcome {
            case .stored, .abandoned, .gone:
                queue.remove(at: i)
                known.remove(entry.name)
                stats.pending -= 1
                stats.pendingBytes -= entry.bytes
                if case .stored = outcome {
                    stats.stored += 1
                    stats.storedBytes += entry.bytes
                }
                if case .abandoned = outcome { stats.abandoned += 1 }
            case let .retry(error):
                stats.failures += 1
                stats.lastError = "\(entry.name): \(error)"
                queue[i].busy = false
                queue[i].attempts += 1
                let shift = UInt64(min(queue[i].attempts - 1, 16))
                queue[i].notBeforeNs = monotonicNanoseconds() + min(configuration.retryBaseNs << shift, configuration.retryMaxNs)
            case .interrupted:
                queue[i].busy = false
            }
        }
        lock.broadcast()
    }

    func noteSent(_ bytes: UInt64) { lock.withLock { stats.sentBytes += bytes } }
    func noteResumed(_ parts: Int) { lock.withLock { stats.resumedParts += UInt64(parts) } }
    func noteAbandoned(_ why: String) { lock.withLock { stats.lastError = why } }
    var log: Logger { logger }

    /// `*.ckpt` files of the spool without a stored marker, with their sizes.
    private func spooledImages() -> [(String, UInt64)] {
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if !name.hasPrefix("."), name.hasSuffix(".ckpt") { names.append(name) }
        }
        var result: [(String, UInt64)] = []
        for name in names.sorted() where access(directory + "/" + UploadState.storedMarker(for: name), F_OK) != 0 {
            var st = stat()
            if stat(directory + "/" + name, &st) == 0 { result.append((name, UInt64(st.st_size))) }
        }
        return result
    }
}
