import CCkptShims
import CkptImage
import CkptSystem
import Logging
import Synchronization

/// `ckpt listen --data-check after-publish`: finishes, once an image is published, the
/// check of the data its writer took on its sender's checksums (`DeferredDataCheck`: each
/// record's data read back from the file against the CRC its footer holds, which is the
/// kernel's, computed as it copied the page). A thread read most of it back behind the
/// writer while the stream arrived; what is left is read here.
///
/// The writer never compared those bytes with anything, so this is the listener's own check
/// moved behind the publication: the checkpointed task and `ckpt checkpoint` wait for the
/// durable image, not for the rest of the check. Until it ends, an image is published but
/// unchecked; a restore of a bad one would refuse it anyway (it checks each record's CRC
/// before using the record).
///
/// One thread at `SCHED_IDLE`, images in publication order: it takes CPU time nothing else
/// wants. An image that passes is logged ("image checked") and handed on (`onChecked`: the
/// store's upload waits for it). One that does not is renamed `<crid>.corrupt` (never
/// replacing a file), its reason written beside it, logged as an error and counted
/// (`onCorrupt`); one that cannot be read is logged and not handed on. `stop` checks
/// everything submitted before it returns.
///
/// Bounded: each image waiting holds a descriptor, its trailing thread and its records'
/// list, and at `SCHED_IDLE` the thread may get no CPU on a busy machine. So at most
/// `maxPending` wait; the image after them is checked by the submitting thread itself (the
/// publisher, at its own priority), which holds back the next publications until it is:
/// backpressure instead of growth.
final class PublishedImageCheck {
    struct Item: Sendable {
        var crid: UInt64
        var name: String
        var bytes: UInt64
        var check: DeferredDataCheck
    }

    static let defaultMaxPending = 16

    /// Where the publisher submits (`Worker.submit`); Sendable.
    let worker: Worker
    private var thread: JoinableThread?

    init(directory: ImageDirectory, logger: Logger, onChecked: @escaping @Sendable (_ name: String, _ bytes: UInt64) -> Void,
         onCorrupt: @escaping @Sendable (_ crid: UInt64) -> Void, maxPending: Int = PublishedImageCheck.defaultMaxPending) {
        worker = Worker(queue: WorkQueue(), pending: Pending(), maxPending: maxPending, directory: directory, logger: logger,
                        onChecked: onChecked, onCorrupt: onCorrupt)
    }

    func start() {
        let worker = self.worker
        thread = JoinableThread {
            _ = ckpt_sched_idle_self()  // lowering its own priority needs no privilege
            worker.run()
        }
    }

    /// Checks everything submitted, then stops the thread.
    func stop() {
        worker.queue.close()
        thread?.join()
        thread = nil
    }

    /// Images submitted and not yet checked.
    final class Pending: Sendable {
        let count = Atomic<Int>(0)
    }

    struct Worker: Sendable {
        let queue: WorkQueue<Item>
        let pending: Pending
        let maxPending: Int
        let directory: ImageDirectory
        let logger: Logger
        let onChecked: @Sendable (String, UInt64) -> Void
        let onCorrupt: @Sendable (UInt64) -> Void

        /// Queues `item` for the thread, or, with `maxPending` waiting already, checks it here.
        func submit(_ item: Item) {
            if pending.count.add(1, ordering: .relaxed).newValue > maxPending {
                pending.count.subtract(1, ordering: .relaxed)
                check(item)
                return
            }
            queue.submit(item)
        }

        func run() {
            var batch: [Item] = []
            while queue.take(into: &batch) {
                for item in batch {
                    check(item)
                    pending.count.subtract(1, ordering: .relaxed)
                }
                batch.removeAll(keepingCapacity: true)
            }
        }

        func check(_ item: Item) {
            let started = monotonicNanoseconds()
            do throws(ImageError) {
                try item.check.run()
                let ms = (monotonicNanoseconds() - started) / 1_000_000
                logger.info("image checked", metadata: [
                    "crid": "\(item.crid)", "file": "\(item.name)", "data_bytes": "\(item.check.dataBytes)",
                    "check_ms": "\(ms)",
                ])
                onChecked(item.name, item.bytes)
            } catch {
                // Not read (an I/O error): nothing was found wrong, nor shown right.
                if case .io = error {
                    logger.error("image not checked: its data could not be read back", metadata: [
                        "crid": "\(item.crid)", "file": "\(item.name)", "error": "\(error)",
                    ])
                    return
                }
                setAside(item, error)
            }
        }

        /// Renames the image `<crid>.corrupt` (its reason beside it), logs and counts it.
        private func setAside(_ item: Item, _ error: ImageError) {
            var metadata: Logger.Metadata = ["crid": "\(item.crid)", "file": "\(item.name)", "error": "\(error)"]
            do throws(ListenerFileError) {
                let kept = try directory.moveToFreeName(item.name, crid: item.crid, ext: "corrupt")
                metadata["kept_as"] = "\(kept)"
                try? directory.writeReason(for: kept, partial: nil,
                                           "published, then found to differ from its sender's checksums: \(error)")
            } catch {
                metadata["rename_error"] = "\(error)"
            }
            logger.error("image corrupt: its bytes differ from the sender's checksums", metadata: metadata)
            onCorrupt(item.crid)
        }
    }
}
