#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import Logging
import SystemPackage

/// Makes finished images durable and visible: fsync, rename `<crid>.partial` to
/// `<crid>.ckpt` (never replacing a file), then one fsync of the directory for all the images
/// it took at once. On a thread of its own, so the image writer never waits for the disk:
/// while an fsync runs, the writer goes on writing the other streams' data and trailers and
/// the pool keeps draining (64 streams that end together would otherwise be 64 fsyncs in a
/// row with the receive loop stalled behind them). The writer does not start writeback
/// itself (`sync_file_range`): measured, that blocked the writer on the disk queue for a
/// second with 64 images ending together (docs/benchmarks.md).
///
/// A failure before the rename fails the stream through `onFailed` (its bytes kept as
/// `.failed`); after it, the image is complete and correct and only the durability of its
/// name is in doubt, which is logged.
final class ImagePublisher: @unchecked Sendable {
    struct Finished {
        var session: UInt64
        var crid: UInt64
        /// The sender's summary, which the writer checked before writing the trailer.
        var summary: StreamSummary
        var image: ImageSink.OpenImage
    }

    private let directory: ImageDirectory
    private let logger: Logger
    private let onSettled: ImageSink.Settled
    private let onFailed: (Finished, String) -> Void
    /// fsync(2); tests slow it down to show that the writer does not wait for it.
    private let syncFile: (Int32) throws(Errno) -> Void

    private let lock = ConditionLock()
    private var queue: [Finished] = []
    private var stopping = false
    private var thread: JoinableThread?

    init(directory: ImageDirectory, logger: Logger, onSettled: @escaping ImageSink.Settled,
         onFailed: @escaping (Finished, String) -> Void, syncFile: @escaping (Int32) throws(Errno) -> Void) {
        self.syncFile = syncFile
        self.directory = directory
        self.logger = logger
        self.onSettled = onSettled
        self.onFailed = onFailed
    }

    func start() {
        thread = JoinableThread { [self] in run() }
    }

    func submit(_ finished: Finished) {
        lock.withLock { queue.append(finished) }
        lock.signal()
    }

    /// Publishes everything submitted, then stops the thread.
    func stop() {
        lock.withLock { stopping = true }
        lock.signal()
        thread?.join()
        thread = nil
    }

    private func run() {
        var batch: [Finished] = []
        while true {
            lock.lock()
            while queue.isEmpty && !stopping { lock.wait() }
            if queue.isEmpty {
                lock.unlock()
                return
            }
            swap(&queue, &batch)
            lock.unlock()
            publish(batch)
            batch.removeAll(keepingCapacity: true)
        }
    }

    private func publish(_ batch: [Finished]) {
        var published: [(Finished, name: String)] = []
        for f in batch {
            let name: String
            do {
                name = try directory.publish(f.image.name, fd: f.image.fd, crid: f.crid, syncFile: syncFile)
            } catch {
                onFailed(f, errorText(error))
                continue
            }
            close(f.image.fd)
            published.append((f, name))
        }
        if published.isEmpty { return }
        var warning: String? = nil
        do {
            try directory.sync()
        } catch {
            warning = "\(error): the image is complete, but its name may not survive a crash"
        }
        for (f, name) in published {
            var metadata: Logger.Metadata = [
                "crid": "\(f.crid)", "file": "\(name)", "records": "\(f.summary.records)", "bytes": "\(f.summary.bytes)",
            ]
            if name != ImageDirectory.name(crid: f.crid, n: 0, ext: "ckpt") {
                metadata["note"] = "\(ImageDirectory.name(crid: f.crid, n: 0, ext: "ckpt")) already exists (crids repeat across reboots); not overwritten"
            }
            if let warning { metadata["warning"] = "\(warning)" }
            logger.info("image complete", metadata: metadata)
            onSettled(SettledStream(session: f.session, crid: f.crid, outcome: .completed(name: name, summary: f.summary),
                                    bytes: f.image.bytes))
        }
    }
}
