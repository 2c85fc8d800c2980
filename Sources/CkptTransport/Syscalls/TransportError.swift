import CkptProtocol
import SystemPackage

/// Everything the transport can fail with. Each case says what happened in words an
/// operator can act on; `.system` carries the C call and its errno.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed (`call` names the C function, `detail` the object).
    case system(call: String, errno: Errno, detail: String)
    /// `recvmsg` reported ENOBUFS: the socket's receive queue overflowed and the kernel
    /// dropped messages for it. Loss happened; the socket stays usable.
    case overrun
    /// A datagram was longer than the buffer (MSG_TRUNC); its tail is gone.
    case truncated(capacity: Int, needed: Int)
    /// The generic netlink family is not registered (`genl_ctrl_resolve` found nothing).
    case familyNotFound(String)
    /// libnl failed (`nl_geterror` text).
    case libnl(call: String, code: Int32, message: String)
    /// The kernel refused a request: errno, and its extack message and attribute offset.
    case kernel(errno: Errno, message: String?, attributeOffset: UInt32?, requestSeq: UInt32)
    /// A reply or ack broke the protocol.
    case protocolViolation(ProtocolError)
    /// No reply within the caller's timeout.
    case timedOut(String)
    /// The loaded module speaks an older form of the protocol than this program needs.
    case moduleTooOld(String)

    public var description: String {
        switch self {
        case let .system(call, errno, detail): "\(call)(\(detail)): \(errno)"
        case .overrun: "netlink receive queue overflowed (ENOBUFS): the kernel dropped messages"
        case let .truncated(capacity, needed): "datagram of \(needed) bytes truncated to the \(capacity)-byte buffer"
        case let .familyNotFound(name):
            "kernel family \(name) not available: is the module loaded? (modprobe \(name) / insmod ckpt.ko)"
        case let .libnl(call, code, message): "\(call): \(message) (libnl error \(code))"
        case let .kernel(errno, message, offset, seq):
            "kernel refused request seq \(seq): \(errno)" + (message.map { ": \($0)" } ?? "")
                + (offset.map { " (attribute at byte \($0))" } ?? "")
        case let .protocolViolation(e): e.description
        case let .timedOut(what): "timed out waiting for \(what)"
        case let .moduleTooOld(what):
            "the loaded ckpt module is older than this ckpt: \(what); load the ckpt.ko built with it (README)"
        }
    }

    /// The errno, for `.system` and `.kernel`.
    public var errno: Errno? {
        switch self {
        case let .system(_, e, _), let .kernel(e, _, _, _): e
        default: nil
        }
    }
}
