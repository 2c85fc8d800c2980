#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptSystem
import SystemPackage

/// One small wrapper per system call (swift-system style): each retries EINTR where that
/// is right, turns -1 into a typed `Errno`, and names its C function. The rest of
/// CkptTransport never touches `errno` or raw socket structs.
///
/// Errno policy: CkptSystem's `Syscall` (one for all of ckpt): EFAULT (a bad pointer) traps,
/// `close` traps on EBADF (closed twice), every other errno becomes `TransportError.system`.
enum Sys {
    @inline(__always)
    static func check(_ call: String, _ detail: @autoclosure () -> String, _ e: Int32) -> TransportError {
        .system(call: call, errno: Syscall.failure(call, e), detail: detail())
    }

    /// `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol)`.
    static func netlinkSocket(protocol proto: Int32) throws(TransportError) -> Int32 {
        let fd = Glibc.socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
        if fd < 0 { throw check("socket", "AF_NETLINK, \(proto)", errno) }
        return fd
    }

    /// `bind(fd, sockaddr_nl{nl_pid: portID, nl_groups: groups})`.
    static func bind(_ fd: Int32, portID: UInt32, groups: UInt32) throws(TransportError) {
        let r = withNetlinkAddress(port: portID, groups: groups) { Glibc.bind(fd, $0, $1) }
        if r != 0 { throw check("bind", "netlink port \(portID)", errno) }
    }

    /// `connect(fd, sockaddr_nl{nl_pid: portID})`.
    static func connect(_ fd: Int32, portID: UInt32) throws(TransportError) {
        let r = withNetlinkAddress(port: portID) { Glibc.connect(fd, $0, $1) }
        if r != 0 { throw check("connect", "netlink port \(portID)", errno) }
    }

    /// `sockaddr_nl{nl_pid: port, nl_groups: groups}` as the `sockaddr` and length that
    /// bind, connect and sendto take, for the duration of `body`.
    @inline(__always)
    private static func withNetlinkAddress<R>(
        port: UInt32, groups: UInt32 = 0, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
    ) -> R {
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        address.nl_pid = port
        address.nl_groups = groups
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
    }

    /// `getsockname(fd)`: the bound `sockaddr_nl`'s `nl_pid`.
    static func localPortID(_ fd: Int32) throws(TransportError) -> UInt32 {
        var address = sockaddr_nl()
        var length = socklen_t(MemoryLayout<sockaddr_nl>.size)
        let r = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.getsockname(fd, $0, &length) }
        }
        if r != 0 { throw check("getsockname", "fd \(fd)", errno) }
        return address.nl_pid
    }

    /// `setsockopt(fd, level, name, &int, sizeof(int))`.
    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ what: String) throws(TransportError) {
        var v = value
        if Glibc.setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw check("setsockopt", what, errno)
        }
    }

    /// `getsockopt(fd, level, name, &int, &len)`.
    static func getOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ what: String) throws(TransportError) -> Int32 {
        var v: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if Glibc.getsockopt(fd, level, name, &v, &length) != 0 { throw check("getsockopt", what, errno) }
        return v
    }

    /// `recvmsg(fd, {name: sockaddr_nl, iov: [buffer]}, flags | MSG_TRUNC)`; retries EINTR.
    /// Returns the datagram's full length (MSG_TRUNC makes netlink report it even when it
    /// did not fit) and the sender's port, or nil on EAGAIN. ENOBUFS is `.overrun`.
    static func receiveMessage(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, flags: Int32
    ) throws(TransportError) -> (length: Int, sender: UInt32)? {
        var address = sockaddr_nl()
        var iov = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
        while true {
            let n = withUnsafeMutablePointer(to: &address) { addr in
                withUnsafeMutablePointer(to: &iov) { iovp in
                    var msg = msghdr()
                    msg.msg_name = UnsafeMutableRawPointer(addr)
                    msg.msg_namelen = socklen_t(MemoryLayout<sockaddr_nl>.size)
                    msg.msg_iov = iovp
                    msg.msg_iovlen = 1
                    return Glibc.recvmsg(fd, &msg, flags | Int32(MSG_TRUNC))
                }
            }
            if n >= 0 { return (n, address.nl_pid) }
            switch errno {
            case EINTR: continue
            case EAGAIN: return nil
            case ENOBUFS: throw .overrun
            case let e: throw check("recvmsg", "fd \(fd)", e)
            }
        }
    }

    /// `sendto(fd, bytes, flags, sockaddr_nl{nl_pid: port, nl_groups: groups})`; retries EINTR. Returns false on
    /// EAGAIN (only with MSG_DONTWAIT).
    static func send(
        _ fd: Int32, _ bytes: UnsafeRawBufferPointer, toPort port: UInt32, groups: UInt32 = 0, flags: Int32
    ) throws(TransportError) -> Bool {
        while true {
            let n = withNetlinkAddress(port: port, groups: groups) {
                Glibc.sendto(fd, bytes.baseAddress, bytes.count, flags, $0, $1)
            }
            if n >= 0 { return true }
            switch errno {
            case EINTR: continue
            case EAGAIN: return false
            case let e: throw check("sendto", "netlink port \(port), \(bytes.count) bytes", e)
            }
        }
    }

    /// `sendmsg(fd, {name: sockaddr_nl{nl_pid: port}, iov: [head, trailing, zeros(padding)]})`
    /// (one datagram from three buffers, none copied in userspace); retries EINTR.
    static func send(
        _ fd: Int32, _ head: UnsafeRawBufferPointer, _ trailing: UnsafeRawBufferPointer, padding: Int, toPort port: UInt32
    ) throws(TransportError) {
        precondition(padding >= 0 && padding < 4)
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        address.nl_pid = port
        var zeros: UInt32 = 0
        while true {
            let n = withUnsafeMutablePointer(to: &address) { addr in
                withUnsafeMutableBytes(of: &zeros) { z in
                    var iov = (iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress), iov_len: head.count),
                               iovec(iov_base: UnsafeMutableRawPointer(mutating: trailing.baseAddress), iov_len: trailing.count),
                               iovec(iov_base: z.baseAddress, iov_len: padding))
                    return withUnsafeMutableBytes(of: &iov) { iovs in
                        var msg = msghdr()
                        msg.msg_name = UnsafeMutableRawPointer(addr)
                        msg.msg_namelen = socklen_t(MemoryLayout<sockaddr_nl>.size)
                        msg.msg_iov = iovs.baseAddress!.assumingMemoryBound(to: iovec.self)
                        msg.msg_iovlen = 3
                        return Glibc.sendmsg(fd, &msg, 0)
                    }
                }
            }
            if n >= 0 { return }
            if errno == EINTR { continue }
            throw check("sendmsg", "netlink port \(port), \(head.count + trailing.count + padding) bytes", errno)
        }
    }

    /// `poll({fd, POLLIN}, 1, timeout)`. True when readable (or in error: the next receive
    /// says which). EINTR returns false so a caller's loop can look at its stop flag.
    static func pollReadable(_ fd: Int32, timeoutMilliseconds: Int32) throws(TransportError) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = Glibc.poll(&p, 1, timeoutMilliseconds)
        if r < 0 {
            if errno == EINTR { return false }
            throw check("poll", "fd \(fd)", errno)
        }
        if p.revents & Int16(POLLNVAL) != 0 { preconditionFailure("poll(fd \(fd)): POLLNVAL, descriptor not open") }
        return r > 0
    }

    /// `close(fd)` (`Syscall.close`: EINTR not retried, EBADF traps).
    static func close(_ fd: Int32) { Syscall.close(fd) }
}
