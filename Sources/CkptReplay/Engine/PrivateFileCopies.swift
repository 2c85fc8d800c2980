#if canImport(Glibc)
import Glibc
#endif
import CkptSystem
import SystemPackage

/// Before the kernel's restart writer writes pages into a private mapping of a file, makes
/// them the process's own copies, from this process: reads them through /proc/PID/mem and
/// writes the same bytes back (a forced write, as a debugger's, copies each page on write).
///
/// Why: the writer faults nothing in there (`ckpt_write_range()`, FOLL_NOFAULT). Such a fault
/// may read the file, and a FUSE daemon can keep that read, uninterruptibly once it has the
/// request, for as long as it likes; in the kernel's writer that would hold the session and
/// `rmmod`. Here it holds only this command, as reading the file would (the process is
/// killable, and the daemon's death or `/sys/fs/fuse/connections/N/abort` ends the read).
///
/// Which mappings: the process's own /proc/PID/maps, read once, private (`p`) with an inode
/// (a file, shared memory's files included: the kernel's rule does not tell them apart).
/// The caller must be allowed to write the process's memory (its tracer, or ptrace access).
public final class PrivateFileCopies {
    /// Private file mappings, ascending.
    public let ranges: [Range<UInt64>]
    private let pid: Int32
    private var mem: Int32 = -1
    private var scratch: UnsafeMutableRawBufferPointer?

    /// Reads `pid`'s mappings.
    public init(pid: Int32) throws(ReplayError) {
        self.pid = pid
        do throws(Errno) { ranges = Self.privateFileRanges(try ProcessMaps.read(pid: pid)) } catch {
            throw .memory(call: "read /proc/\(pid)/maps", address: nil, errno: error)
        }
    }

    deinit {
        if mem >= 0 { close(mem) }
        scratch?.deallocate()
    }

    /// The private mappings with an inode (a file), ascending.
    public static func privateFileRanges(_ maps: [MapsEntry]) -> [Range<UInt64>] {
        maps.filter { $0.isPrivate && $0.inode != 0 }.map(\.range).sorted { $0.lowerBound < $1.lowerBound }
    }

    /// Makes the part of `[address, address + count)` that lies in a private file mapping the
    /// process's own copy. Returns the bytes it rewrote (0: none of it did, or the range
    /// wraps past the end of the address space, which no mapping holds).
    @discardableResult
    public func ownCopies(address: UInt64, count: Int) throws(ReplayError) -> Int {
        let (end, wrapped) = address.addingReportingOverflow(UInt64(count))
        if wrapped { return 0 }
        var done = 0
        for r in ranges where r.lowerBound < end && address < r.upperBound {
            var at = max(address, r.lowerBound)
            let stop = min(end, r.upperBound)
            while at < stop {
                let n = Int(min(stop - at, 65536))
                try copyBack(at: at, count: n)
                at += UInt64(n)
                done += n
            }
        }
        return done
    }

    private func copyBack(at address: UInt64, count: Int) throws(ReplayError) {
        if mem < 0 {
            mem = open("/proc/\(pid)/mem", O_RDWR | O_CLOEXEC)
            guard mem >= 0 else { throw .memory(call: "open /proc/\(pid)/mem", address: nil, errno: Errno(rawValue: errno)) }
        }
        let buf = scratch ?? UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 4096)
        scratch = buf
        try whole("read", at: address, count: count) { pread(mem, buf.baseAddress! + $0, count - $0, $1) }
        try whole("write", at: address, count: count) { pwrite(mem, buf.baseAddress! + $0, count - $0, $1) }
    }

    /// Repeats `call(done, offset)` (a pread or pwrite of /proc/PID/mem) until `count` bytes
    /// from `address` are done (EINTR retried by `Syscall.retrying`; 0 bytes is EIO).
    private func whole(_ what: String, at address: UInt64, count: Int,
                       _ call: (Int, off_t) -> Int) throws(ReplayError) {
        var done = 0
        while done < count {
            let n: Int
            do {
                n = try Syscall.retrying(what) { call(done, off_t(Int64(bitPattern: address)) + off_t(done)) }
            } catch {
                throw failure(what, at: address + UInt64(done), error)
            }
            guard n > 0 else { throw failure(what, at: address + UInt64(done), Errno(rawValue: EIO)) }
            done += n
        }
    }

    private func failure(_ what: String, at address: UInt64, _ errno: Errno) -> ReplayError {
        .memory(call: "\(what) /proc/\(pid)/mem (a private file mapping's page, made the process's own before the kernel writes it)",
                address: address, errno: errno)
    }
}
