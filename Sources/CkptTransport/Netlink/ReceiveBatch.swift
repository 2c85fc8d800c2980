#if canImport(Glibc)
import Glibc
#endif
import CCkptShims

/// The `mmsghdr`/`iovec` arrays of one `recvmmsg` call (in C, `ckpt_mmsg_*`: Swift cannot
/// see `struct mmsghdr`), allocated once for `capacity` slots and reused, so a batched
/// receive allocates nothing.
///
/// ```
///  slot i:  mmsghdr[i].msg_hdr.msg_iov -> iovec[i] -> buffer i (the caller's, e.g. a pool buffer)
///           mmsghdr[i].msg_len         <- bytes received into buffer i
/// ```
/// Contract: set the slots' buffers (`setBuffer`) before a receive; after it, slots
/// `0 ..< n` hold one datagram each, `length(i)` bytes. A datagram longer than its buffer
/// is flagged by `isTruncated(i)` (its tail is gone). No sender is asked for (the kernel
/// copies no address out per datagram): the listener's sink socket takes datagrams only
/// from the kernel (`NetlinkSocket.acceptOnly`), a usersock one from anyone. Not thread-safe.
public final class ReceiveBatch {
    public let capacity: Int
    private let vector: OpaquePointer

    public init(capacity: Int) {
        precondition(capacity >= 1)
        self.capacity = capacity
        guard let v = ckpt_mmsg_alloc(UInt32(capacity)) else { fatalError("out of memory for \(capacity) mmsghdr") }
        vector = v
    }

    deinit { ckpt_mmsg_free(vector) }

    /// Points slot `i` at `buffer`. O(1).
    public func setBuffer(_ i: Int, _ buffer: UnsafeMutableRawBufferPointer) {
        precondition(i >= 0 && i < capacity)
        ckpt_mmsg_set(vector, UInt32(i), buffer.baseAddress, buffer.count)
    }

    /// Bytes of the datagram in slot `i` after a receive.
    public func length(_ i: Int) -> Int { Int(ckpt_mmsg_len(vector, UInt32(i))) }

    /// True when slot `i`'s datagram did not fit its buffer.
    public func isTruncated(_ i: Int) -> Bool { ckpt_mmsg_flags(vector, UInt32(i)) & Int32(MSG_TRUNC) != 0 }

    /// `recvmmsg(fd, vec, slots, flags, NULL)` into the first `slots` slots (default: all);
    /// retries EINTR; 0 on EAGAIN; ENOBUFS is `.overrun`.
    func receive(from fd: Int32, slots: Int? = nil, flags: Int32) throws(TransportError) -> Int {
        let count = UInt32(min(slots ?? capacity, capacity))
        while true {
            let n = ckpt_mmsg_recv_n(fd, vector, count, flags)
            if n >= 0 { return Int(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN: return 0
            case ENOBUFS: throw .overrun
            case let e: throw Sys.check("recvmmsg", "fd \(fd)", e)
            }
        }
    }
}
