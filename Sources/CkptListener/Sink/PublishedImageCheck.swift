import CCkptShims
import CkptImage
import CkptSystem
import Logging

/// `ckpt listen --data-check after-publish`: reads back each image whose CRCs stand on its
/// sender's checksums (`StreamImageWriter.usedSenderChecksums`) once it is published, and
/// verifies it whole (`verifyImage`: every byte against the CRC that covers it, so every
/// data byte against the checksum the kernel computed as it copied the page).
///
/// The writer never compared those bytes with anything, so this is the listener's own check
/// moved behind the publication: the checkpointed task and `ckpt checkpoint` wait for the
/// durable image, not for a second pass over it. Until the check ends, an image is
/// published but unchecked; a restore of a bad one would refuse it anyway (it checks each
/// record's CRC before using the record).
///
/// One thread at `SCHED_IDLE`, images in publication order: it takes CPU time nothing else
/// wants. An image that verifies is logged ("image checked") and handed on (`onChecked`:
/// the store's upload waits for it). One that does not is renamed `<crid>.corrupt` (never
/// replacing a file), its reason written beside it, logged as an error and counted
/// (`onCorrupt`). `stop` checks everything submitted before it returns.
final class PublishedImageCheck {
    struct Item: Sendable {
        var crid: UInt64
        var name: String
        var bytes: UInt64
    }

    let queue = WorkQueue<Item>()
    private let worker: Worker
    private var thread: JoinableThread?

    init(directory: ImageDirectory, logger: Logger, onChecked: @escaping @Sendable (_ name: String, _ bytes: UInt64) -> Void,
         onCorrupt: @escaping @Sendable (_ crid: UInt64) -> Void) {
        worker = Worker(queue: queue, directory: directory, logger: logger, onChecked: onChecked, onCorrupt: onCorrupt)
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
        queue.close()
        thread?.join()
        thread = nil
    }

    struct Worker: Sendable {
        let queue: WorkQueue<Item>
        let directory: ImageDirectory
        let logger: Logger
        let onChecked: @Sendable (String, UInt64) -> Void
        let onCorrupt: @Sendable (UInt64) -> Void

        func run() {
            var batch: [Item] = []
            while queue.take(into: &batch) {
                for item in batch { check(item) }
                batch.removeAll(keepingCapacity: true)
            }
        }

        func check(_ item: Item) {
            let started = monotonicNanoseconds()
            do throws(ImageError) {
                let v = try verifyImage(path: directory.path + "/" + item.name)
                let ms = (monotonicNanoseconds() - started) / 1_000_000
                logger.info("image checked", metadata: [
                    "crid": "\(item.crid)", "file": "\(item.name)", "bytes": "\(v.fileSize)", "check_ms": "\(ms)",
                ])
                onChecked(item.name, item.bytes)
            } catch {
                // Not read (removed or renamed since, unreadable): nothing was found wrong.
                if case .io = error {
                    logger.warning("image not checked", metadata: [
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
