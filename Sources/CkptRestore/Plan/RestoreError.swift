import SystemPackage

/// Why a restore was refused or failed. Refusals (`.unsupported`) come before anything is
/// touched and name the thread, fd or mapping and what about it cannot be restored.
public enum RestoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// State the restorer does not restore, found while planning: nothing was started.
    case unsupported(what: String, why: String)
    /// The image cannot be read or is not a complete process image.
    case image(String)
    /// A system call on the restorer's side failed (spawning, ptrace, /proc).
    case system(call: String, errno: Errno)
    /// A system call injected into the new process failed: which, on what, and its errno.
    case remote(step: String, errno: Errno)
    /// The kernel refused the memory contents (restart session): its reason.
    case kernel(String)
    /// Writing the memory contents with process_vm_writev or /proc/PID/mem failed.
    case memory(String)
    /// The new process does not look like the image after the mappings were made.
    case mismatch(String)

    public var description: String {
        switch self {
        case let .unsupported(what, why): "\(what): \(why)"
        case let .image(why): "image: \(why)"
        case let .system(call, errno): "\(call): \(errno)"
        case let .remote(step, errno): "in the new process, \(step): \(errno)"
        case let .kernel(why): "the kernel refused the memory: \(why)"
        case let .memory(why): "writing the memory: \(why)"
        case let .mismatch(why): why
        }
    }
}
