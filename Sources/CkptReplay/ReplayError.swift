import CkptImage
import CkptProtocol
import CkptTransport
import SystemPackage

/// Everything a replay can fail with, each case saying where (the stage of the session and,
/// when known, the record) in words an operator can act on. `ckpt replay` maps them to exit
/// codes: `.image` 65 (74 for `.io`), `.familyUnavailable` 69, `.rejected` 1, the rest 74.
public enum ReplayError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The image could not be read or is damaged (the verifier's or reader's error).
    case image(ImageError)
    /// A record's meta does not decode (it cannot be re-encoded for the kernel).
    case meta(recordID: UInt32, ProtocolError)
    /// The kernel has no `ckpt` family (module not loaded).
    case familyUnavailable(String)
    /// The kernel refused a request of the session, or its writer failed (restart-done):
    /// errno and the kernel's text. `recordID` is the record whose fragment was refused (nil
    /// for begin/commit and for a writer's failure).
    case rejected(stage: ReplayStage, recordID: UInt32?, errno: Errno, message: String?)
    /// The socket failed, or an answer broke the protocol.
    case transport(stage: ReplayStage, TransportError)
    /// A parent-pages record asks for a page its parent image (the pre-copy) does not hold.
    case parentMissing(recordID: UInt32, address: UInt64, parentPath: String)
    /// The image has parent-pages records and no parent image was given.
    case noParent(parentCrid: UInt64?)
    /// A pages record `ProcessMemoryWriter` does not write (nothing of it was written): not
    /// inside the vma record before it, behind the previous one, or in a mapping whose
    /// pages a restore never writes.
    case pagesRefused(recordID: UInt32, address: UInt64, why: String)
    /// The trailer counts other pages than the image's pages records hold.
    case trailerPages(counted: UInt64, trailer: UInt64)
    /// Writing the process's memory failed: the call, where, and its errno.
    case memory(call: String, address: UInt64?, errno: Errno)

    public var description: String {
        switch self {
        case let .image(e): return e.description
        case let .meta(id, e): return "record \(id): its meta does not decode: \(e)"
        case let .familyUnavailable(text): return text
        case let .rejected(stage, id, errno, message):
            let at = id.map { " of record \($0)" } ?? ""
            return "the kernel rejected \(stage)\(at): \(errno.shortName)" + (message.map { ": \($0)" } ?? " (no extack message)")
        case let .transport(stage, e): return "\(stage): \(e)"
        case let .parentMissing(id, address, path):
            return "record \(id): page 0x\(String(address, radix: 16)) is not in the parent image \(path): "
                + "not the pre-copy this checkpoint was taken after"
        case let .pagesRefused(id, address, why):
            return "record \(id): pages at 0x\(String(address, radix: 16)): \(why)"
        case let .trailerPages(counted, trailer):
            return "the trailer counts \(trailer) pages, the pages records hold \(counted)"
        case let .memory(call, address, errno):
            return "\(call)" + (address.map { " at 0x\(String($0, radix: 16))" } ?? "") + ": \(errno.shortName)"
        case let .noParent(crid):
            return "the image holds pages of its parent image (pre-copy crid \(crid.map { "\($0)" } ?? "unknown")), "
                + "which was not given"
        }
    }
}

/// Where in a session a request failed.
public enum ReplayStage: String, Sendable, CustomStringConvertible {
    case begin = "restart-begin"
    case record = "restart-record"
    case commit = "restart-commit"
    case streamBegin = "stream-begin"
    case streamRecord = "stream record"
    case streamEnd = "stream-end"

    public var description: String { rawValue }
}

extension Errno {
    /// `ESRCH`, `EINVAL`, ... for messages (falls back to the number).
    public var shortName: String {
        switch self {
        case .noSuchProcess: "ESRCH"
        case .invalidArgument: "EINVAL"
        case .notPermitted: "EPERM"
        case .permissionDenied: "EACCES"
        case .resourceBusy: "EBUSY"
        case .socketNotConnected: "ENOTCONN"
        case .noSuchFileOrDirectory: "ENOENT"
        case .notSupported: "EOPNOTSUPP"
        case .noSpace: "ENOSPC"
        case .timedOut: "ETIMEDOUT"
        case .brokenPipe: "EPIPE"
        case .interrupted: "EINTR"
        case .noMemory: "ENOMEM"
        case .badAddress: "EFAULT"
        case .ioError: "EIO"
        case .fileExists: "EEXIST"
        default: "errno \(rawValue)"
        }
    }
}
