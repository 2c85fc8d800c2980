#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptSystem
import Logging
import SystemPackage

/// A listener's first job: the `.partial` files a listener that died left in the directory.
/// One that is a complete image that verifies (the listener died after writing its trailer,
/// before the rename) is fsynced and published, since the trailer is only written once the
/// sender's summary matched; anything else is renamed to `.failed` with the reason "listener
/// crashed or was killed mid-capture" and what of it is sound. Never published unverified.
struct LeftoverRecovery {
    let directory: ImageDirectory
    let logger: Logger
    /// Told of each leftover published (name, bytes): the store's uploader.
    var onPublished: (@Sendable (String, UInt64) -> Void)? = nil

    /// Handles every leftover; returns how many were found and how many published.
    func run() -> (found: UInt64, published: UInt64) {
        var found: UInt64 = 0, published: UInt64 = 0
        let names: [String]
        do {
            names = try directory.partialFiles()
        } catch {
            logger.error("could not scan for leftovers", metadata: ["error": "\(error)"])
            return (0, 0)
        }
        for name in names {
            let crid = ImageDirectory.crid(ofName: name) ?? 0
            found += 1
            directory.releaseSurplus(ofFile: name)  // written into a reserve or allocated ahead: its unfilled blocks
            if publishIfComplete(name, crid: crid) {
                published += 1
                continue
            }
            let scan = Self.describe(directory.path + "/" + name)
            do {
                let kept = try directory.moveToFreeName(name, crid: crid, ext: "failed")
                try directory.writeReason(for: kept, partial: name, FailureRule.leftover.description + "\n" + scan)
                try directory.sync()
                logger.warning("leftover from an earlier listener marked failed", metadata: [
                    "crid": "\(crid)", "file": "\(name)", "now": "\(kept)", "reason": "\(FailureRule.leftover)",
                    "scan": "\(scan)",
                ])
            } catch {
                logger.error("leftover could not be marked failed", metadata: ["file": "\(name)", "error": "\(error)"])
            }
        }
        directory.removeOrphanReasonRooms()
        return (found, published)
    }

    /// Publishes leftover `name` if it is a complete image that verifies end to end (every
    /// CRC, the record tree, the stream summary); false if it is not (or could not be moved).
    func publishIfComplete(_ name: String, crid: UInt64) -> Bool {
        let path = directory.path + "/" + name
        let verified: ImageVerification
        do {
            verified = try verifyImage(path: path)
        } catch {
            return false
        }
        do throws(ListenerFileError) {
            let fd: Int32
            do { fd = try Syscall.openAt(directory.fd, name, O_RDONLY | O_CLOEXEC) } catch { throw ListenerFileError("open", name, error) }
            defer { Syscall.close(fd) }
            let published = try directory.publish(name, fd: fd, crid: crid)
            try directory.sync()
            logger.warning("leftover from an earlier listener was complete and verified: published", metadata: [
                "crid": "\(crid)", "file": "\(name)", "now": "\(published)",
                "records": "\(verified.trailer.summary.records)", "bytes": "\(verified.trailer.summary.bytes)",
            ])
            onPublished?(published, verified.fileSize)
            return true
        } catch {
            logger.error("complete leftover could not be published; marking it failed", metadata: [
                "file": "\(name)", "error": "\(error)",
            ])
            return false
        }
    }

    /// What of a leftover is sound, by CkptImage's `PartialImageScanner`: one line for the
    /// reason file and the log.
    static func describe(_ path: String) -> String {
        do {
            let result = try PartialImageScanner(path: path).scan()
            let stop: String = switch result.stop {
            case .endOfFile: "the file ends after the last sound record"
            case .reachedIndex: "an index follows the records"
            case let .damaged(error): "then: \(error)"
            }
            return "scan: \(result.summary.records) sound records"
                + (result.lastRecordID.map { " (last id \($0))" } ?? "")
                + ", \(result.goodBytes) of \(result.fileSize) bytes sound; \(stop)"
        } catch {
            return "scan: not readable as an image: \(error)"
        }
    }
}
