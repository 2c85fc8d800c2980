#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import Logging
import CkptSystem
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
///
/// Owned by the `ImageSink`; the writer thread hands it work through `queue`, the publisher
/// thread runs a `Worker`, which holds only Sendable parts.
final class ImagePublisher {
    struct Finished: Sendable {
        var session: UInt64
        var crid: UInt64
        /// The sender's summary, which the writer checked before writing the trailer.
        var summary: StreamSummary
        var file: ImageFile
        /// `--data-check at-end`: the data bytes the writer read back after the stream's last
        /// message (what the trailing check had not), logged as `checked_at_end`.
        var dataCheckedAtEnd: UInt64? = nil
        /// `--data-check after-publish`: the check of the data written on its sender's
        /// checksums, run by `PublishedImageCheck` once the image is published.
        var deferredCheck: DeferredDataCheck? = nil
        /// Monotonic times: when the writer took the stream's end, and when its `finish` (the
        /// check of what was left, the footers, index and trailer) returned. Logged with
        /// the publication's own time as `finish_ms` and `publish_ms`: where an image's time
        /// goes after the sender's last message.
        var endedAt: UInt64 = 0
        var finishedAt: UInt64 = 0
    }

    /// Where the writer thread submits finished images.
    let queue = WorkQueue<Finished>()
    private let worker: Worker
    private var thread: JoinableThread?
    private let check: PublishedImageCheck

    /// `onFailed`: a stream failed before its rename (runs on the publisher thread).
    /// `syncFile`: fsync(2); tests slow it down to show that the writer does not wait for it.
    /// `onPublished`: the largest image file of a batch just published, in bytes (the space
    /// reserve sizes itself by it). `releaseSurplus`: takes the descriptor of a published
    /// image with blocks past its end (written into the reserve, or allocated ahead by its
    /// writer), to free them and close it
    /// (`SpaceReserve.release`: off this thread, so the next image's name does not wait for
    /// it). `onChecked`, `onCorrupt`: an image checked after its publication verified, or
    /// did not (`PublishedImageCheck`).
    init(directory: ImageDirectory, logger: Logger, onSettled: @escaping ImageSink.Settled,
         onFailed: @escaping @Sendable (Finished, String) -> Void,
         syncFile: @escaping @Sendable (Int32) throws(Errno) -> Void,
         onPublished: @escaping @Sendable (UInt64) -> Void = { _ in },
         releaseSurplus: @escaping @Sendable (Int32) -> Void,
         onChecked: @escaping @Sendable (_ name: String, _ bytes: UInt64) -> Void = { _, _ in },
         onCorrupt: @escaping @Sendable (_ crid: UInt64) -> Void = { _ in }) {
        check = PublishedImageCheck(directory: directory, logger: logger, onChecked: onChecked, onCorrupt: onCorrupt)
        worker = Worker(queue: queue, check: check.worker, directory: directory, logger: logger, onSettled: onSettled,
                        onFailed: onFailed, syncFile: syncFile, onPublished: onPublished, releaseSurplus: releaseSurplus)
    }

    func start() {
        check.start()
        let worker = self.worker
        thread = JoinableThread { worker.run() }
    }

    /// Publishes everything submitted, checks what needs it, then stops the threads.
    func stop() {
        queue.close()
        thread?.join()
        thread = nil
        check.stop()
    }
}

extension ImagePublisher {
    /// The publisher thread.
    struct Worker: Sendable {
        let queue: WorkQueue<Finished>
        let check: PublishedImageCheck.Worker
        let directory: ImageDirectory
        let logger: Logger
        let onSettled: ImageSink.Settled
        let onFailed: @Sendable (Finished, String) -> Void
        let syncFile: @Sendable (Int32) throws(Errno) -> Void
        let onPublished: @Sendable (UInt64) -> Void
        let releaseSurplus: @Sendable (Int32) -> Void

        func run() {
            var batch: [Finished] = []
            while queue.take(into: &batch) {
                publish(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }

        private func publish(_ batch: [Finished]) {
            var published: [(Finished, name: String)] = []
            var largest: UInt64 = 0
            for f in batch {
                let name: String
                do {
                    name = try directory.publish(f.file.name, fd: f.file.fd, crid: f.crid, syncFile: syncFile)
                } catch {
                    onFailed(f, errorText(error))
                    continue
                }
                var st = stat()
                if fstat(f.file.fd, &st) == 0 { largest = max(largest, UInt64(max(0, st.st_size))) }
                // Published first, and freed elsewhere: freeing a reserve's unfilled blocks
                // (250 MiB of tmpfs took 100-200 ms under qemu TCG) is on no image's path,
                // nor that of a pre-copy's second image, which finishes right after the first.
                if f.file.blocksPastEnd { releaseSurplus(f.file.fd) } else { Syscall.close(f.file.fd) }
                published.append((f, name))
            }
            if published.isEmpty { return }
            defer { onPublished(largest) }
            var warning: String? = nil
            do {
                try directory.sync()
            } catch {
                warning = "\(error): the image is complete, but its name may not survive a crash"
            }
            let publishedAt = monotonicNanoseconds()
            for (f, name) in published {
                var metadata: Logger.Metadata = [
                    "crid": "\(f.crid)", "file": "\(name)", "records": "\(f.summary.records)", "bytes": "\(f.summary.bytes)",
                ]
                if name != ImageDirectory.name(crid: f.crid, n: 0, ext: "ckpt") {
                    metadata["note"] = "\(ImageDirectory.name(crid: f.crid, n: 0, ext: "ckpt")) already exists (crids repeat across reboots); not overwritten"
                }
                if let n = f.dataCheckedAtEnd { metadata["checked_at_end"] = "\(n)" }
                if f.endedAt > 0 {
                    metadata["finish_ms"] = "\(milliseconds(f.finishedAt - f.endedAt))"
                    metadata["publish_ms"] = "\(milliseconds(publishedAt - f.finishedAt))"
                }
                if let warning { metadata["warning"] = "\(warning)" }
                if f.deferredCheck != nil { metadata["data_check"] = "after publication" }
                logger.info("image complete", metadata: metadata)
                onSettled(SettledStream(session: f.session, crid: f.crid, outcome: .completed(name: name, summary: f.summary),
                                        bytes: f.file.bytes, checkPending: f.deferredCheck != nil))
                if let deferred = f.deferredCheck { check.submit(.init(crid: f.crid, name: name, bytes: f.file.bytes, check: deferred)) }
            }
        }
    }
}

/// Nanoseconds as milliseconds with one decimal, for logs.
private func milliseconds(_ ns: UInt64) -> String { "\(ns / 1_000_000).\(ns / 100_000 % 10)" }
